//! Deploying onto a `/boot` that fills up or is read-only: a clear error, and the
//! previous deployments and boot entries exactly as they were. Needs `mount` (root);
//! skipped with a message when mounting is not permitted.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferro_sys::CommandRunExt;
use ferro_sysroot::{DeployOptions, Sysroot, init_fs};
use support::{Scratch, commit, make_tree, snapshot};

/// A mount made by a test, lazily unmounted when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).run_status();
    }
}

/// Runs `mount ARGS… TARGET`; `None` (and a message) when mounting is not permitted.
fn mount(test: &str, args: &[&str], target: &Path) -> Option<Mounted> {
    let out = Command::new("mount")
        .args(args)
        .arg(target)
        .run_capture()
        .ok()?;
    if out.status.success() {
        Some(Mounted(target.to_owned()))
    } else {
        eprintln!(
            "skipping {test}: cannot mount ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        None
    }
}

fn setup(scratch: &Scratch) -> (Sysroot, PathBuf) {
    let sysroot = init_fs(&scratch.sysroot()).unwrap();
    sysroot.os_init("testos").unwrap();
    let tree = scratch.path().join("tree");
    make_tree(&tree, "small kernel", &[("a.conf", Some("a"))]);
    commit(sysroot.repo(), &tree, "testos/v", "1");
    (sysroot, tree)
}

fn deploy(sysroot: &Sysroot) -> Result<(), ferro_sysroot::Error> {
    sysroot
        .deploy(
            "testos/v",
            &DeployOptions {
                osname: Some("testos".into()),
                kargs: Some(vec!["rw".into()]),
                ..Default::default()
            },
        )
        .map(drop)
}

/// Everything a failed deploy must leave alone.
fn state(sysroot: &Sysroot) -> (ferro_sysroot::BootState, Vec<(String, String)>, usize) {
    let deployments = fs::read_dir(sysroot.path().join("ostree/deploy/testos/deploy"))
        .unwrap()
        .count();
    (
        sysroot.load().unwrap(),
        snapshot(&sysroot.path().join("boot")),
        deployments,
    )
}

#[test]
fn full_boot_partition_fails_cleanly() {
    let scratch = Scratch::new();
    let (sysroot, tree) = setup(&scratch);
    let boot = sysroot.path().join("boot");
    let Some(_boot) = mount(
        "full_boot_partition_fails_cleanly",
        &["-t", "tmpfs", "-o", "size=256k", "tmpfs"],
        &boot,
    ) else {
        return;
    };
    deploy(&sysroot).unwrap();
    // A kernel larger than the free space of /boot.
    let big: Vec<u8> = (0..600_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    fs::write(tree.join("usr/lib/modules/6.1.0/vmlinuz"), big).unwrap();
    commit(sysroot.repo(), &tree, "testos/v", "2");
    let before = state(&sysroot);

    let err = deploy(&sysroot).unwrap_err();
    let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(text.contains("No space left on device"), "{text}");
    assert!(text.contains("/boot/ostree/"), "names the file: {text}");
    assert_eq!(
        state(&sysroot),
        before,
        "previous deployments and entries untouched"
    );
    assert!(sysroot.verify().unwrap().is_empty());
    // The space the failed deploy used is free again: a small kernel deploys.
    fs::write(tree.join("usr/lib/modules/6.1.0/vmlinuz"), "kernel 3").unwrap();
    commit(sysroot.repo(), &tree, "testos/v", "3");
    deploy(&sysroot).unwrap();
    assert!(sysroot.verify().unwrap().is_empty());
}

#[test]
fn read_only_boot_fails_cleanly() {
    let scratch = Scratch::new();
    let (sysroot, tree) = setup(&scratch);
    deploy(&sysroot).unwrap();
    let boot = sysroot.path().join("boot");
    let test = "read_only_boot_fails_cleanly";
    let Some(_bind) = mount(test, &["--bind", boot.to_str().unwrap()], &boot) else {
        return;
    };
    let Some(_ro) = mount(test, &["-o", "remount,bind,ro"], &boot) else {
        return;
    };
    fs::write(tree.join("usr/lib/modules/6.1.0/vmlinuz"), "kernel 2").unwrap();
    commit(sysroot.repo(), &tree, "testos/v", "2");
    let before = state(&sysroot);

    let err = deploy(&sysroot).unwrap_err();
    let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(text.contains("Read-only file system"), "{text}");
    assert_eq!(
        state(&sysroot),
        before,
        "previous deployments and entries untouched"
    );
    assert!(sysroot.verify().unwrap().is_empty());
}
