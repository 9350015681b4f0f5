//! Issue 15: `OSTREE_SYSROOT` names the sysroot of `ferro ostree admin` (and the
//! repository of the other verbs when no `--repo` is given), as in `ostree`, and a
//! command run that way never touches `/`. As root, the commands run in a private
//! mount namespace whose `/` is read-only except the test's directory (as OSTree's
//! test suite is run here), so any write outside it fails the test with EROFS.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use ferro_sys::CommandRunExt;

#[path = "support/tools.rs"]
mod tools;

/// `ferro ARGS…` with `OSTREE_SYSROOT=sysroot` (relative, as OSTree's scripts set it)
/// and no `--sysroot` or `--repo`, in `dir`; in a read-only `/` when run as root.
fn ferro_in(dir: &Path, args: &[&str]) -> Output {
    let ferro = env!("CARGO_BIN_EXE_ferro");
    let mut command = if rustix::process::geteuid().is_root() {
        let mut c = Command::new("unshare");
        let script = r#"mount --bind "$1" "$1" && mount -o remount,bind,ro / && cd "$1" && shift && exec "$@""#;
        c.args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(dir)
        .arg(ferro);
        c
    } else {
        Command::new(ferro)
    };
    command
        .args(args)
        .current_dir(dir)
        .env("OSTREE_SYSROOT", "sysroot")
        .env_remove("OSTREE_REPO")
        .run_capture()
        .expect("run ferro")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    tools::success_stdout(ferro_in(dir, args), args)
}

#[test]
fn admin_with_ostree_sysroot_works_there_and_never_touches_root() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("usr/lib/modules/6.1.0")).unwrap();
    fs::create_dir_all(tree.join("usr/etc")).unwrap();
    fs::write(tree.join("usr/lib/modules/6.1.0/vmlinuz"), "a kernel").unwrap();
    fs::write(
        tree.join("usr/lib/modules/6.1.0/initramfs.img"),
        "an initramfs",
    )
    .unwrap();
    fs::write(tree.join("usr/etc/os-release"), "NAME=TestOS\n").unwrap();
    fs::create_dir(dir.join("sysroot")).unwrap();

    ok(dir, &["ostree", "admin", "init-fs", "sysroot"]);
    ok(dir, &["ostree", "admin", "os-init", "testos"]);
    // No --repo: the sysroot's repository.
    let commit = ok(
        dir,
        &[
            "ostree",
            "commit",
            "--bootable",
            "-b",
            "testos/v",
            "--tree=dir=tree",
        ],
    );
    assert!(
        dir.join("sysroot/ostree/repo/refs/heads/testos/v")
            .is_file()
    );
    ok(
        dir,
        &["ostree", "admin", "deploy", "--os=testos", "testos/v"],
    );
    let deployed = dir.join(format!(
        "sysroot/ostree/deploy/testos/deploy/{}.0",
        commit.trim()
    ));
    assert!(deployed.join("etc/os-release").is_file());
    let status = ok(dir, &["ostree", "admin", "status"]);
    assert!(
        status.contains(&format!("testos {}.0", commit.trim())),
        "{status}"
    );
    let current = ok(dir, &["ostree", "admin", "--print-current-dir"]);
    assert_eq!(
        Path::new(current.trim()),
        fs::canonicalize(&deployed).unwrap()
    );
    // Staging needs a system booted from the sysroot: refused before anything is
    // written (ostree's message), in particular nothing under /run.
    let staged = ferro_in(
        dir,
        &[
            "ostree",
            "admin",
            "deploy",
            "--stage",
            "--os=testos",
            "testos/v",
        ],
    );
    assert!(!staged.status.success());
    let stderr = String::from_utf8_lossy(&staged.stderr);
    assert!(
        stderr.contains("Cannot stage deployment: Not currently booted into an OSTree system"),
        "{stderr}"
    );
}

#[test]
fn without_repo_or_sysroot_a_verb_asks_for_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(["ostree", "refs"])
        .current_dir(tmp.path())
        .env_remove("OSTREE_SYSROOT")
        .env_remove("OSTREE_REPO")
        .run_capture()
        .expect("run ferro");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Command requires a --repo argument"));
}
