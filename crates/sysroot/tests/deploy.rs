//! Deployments made and managed by ferro alone: layout, operations, failpoints.

mod support;

use std::fs;

use ferro_sysroot::{DeployOptions, KargEdit, Sysroot, init_fs};
use support::{Scratch, commit, make_tree, snapshot};

fn setup(scratch: &Scratch) -> Sysroot {
    let sysroot = init_fs(&scratch.sysroot()).unwrap();
    sysroot.os_init("testos").unwrap();
    sysroot
}

fn options(kargs: &[&str]) -> DeployOptions {
    DeployOptions {
        osname: Some("testos".into()),
        kargs: Some(kargs.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

#[test]
fn first_deploy_writes_ostree_layout() {
    let scratch = Scratch::new();
    let sysroot = setup(&scratch);
    let tree = scratch.path().join("tree");
    make_tree(&tree, "kernel", &[("a.conf", Some("a"))]);
    let id = commit(sysroot.repo(), &tree, "testos/v", "1.0");
    let report = sysroot
        .deploy("testos/v", &options(&["root=LABEL=root", "rw"]))
        .unwrap();
    assert_eq!(report.deployment.serial, 0);
    assert!(report.etc.is_none());
    let s = sysroot.path();
    assert_eq!(
        fs::read_link(s.join("boot/loader")).unwrap().to_str(),
        Some("loader.1")
    );
    assert_eq!(
        fs::read_link(s.join("ostree/boot.1")).unwrap().to_str(),
        Some("boot.1.1")
    );
    assert_eq!(
        fs::read_link(s.join("boot/boot")).unwrap().to_str(),
        Some(".")
    );
    let bootcsum = &report.deployment.bootcsum;
    let link = s.join(format!("ostree/boot.1.1/testos/{bootcsum}/0"));
    assert_eq!(
        fs::read_link(link).unwrap().to_string_lossy(),
        format!("../../../deploy/testos/deploy/{id}.0")
    );
    let entry = fs::read_to_string(s.join("boot/loader.1/entries/ostree-1-testos.conf")).unwrap();
    assert_eq!(
        entry,
        format!(
            "title Test OS 1.0 (ostree:0)\nversion 1\noptions root=LABEL=root rw ostree=/ostree/boot.1/testos/{bootcsum}/0\n\
             linux /ostree/testos-{bootcsum}/vmlinuz-6.1.0\ninitrd /ostree/testos-{bootcsum}/initramfs-6.1.0.img\n"
        )
    );
    let dir = s.join(format!("ostree/deploy/testos/deploy/{id}.0"));
    assert_eq!(fs::read_to_string(dir.join("etc/a.conf")).unwrap(), "a");
    assert_eq!(
        fs::read_to_string(s.join(format!("ostree/deploy/testos/deploy/{id}.0.origin"))).unwrap(),
        "[origin]\nrefspec=testos/v\n"
    );
    assert_eq!(sysroot.repo().read_ref("ostree/1/1/0").unwrap(), Some(id));
    assert_eq!(
        fs::read(s.join(format!("boot/ostree/testos-{bootcsum}/vmlinuz-6.1.0"))).unwrap(),
        b"kernel"
    );
    assert!(sysroot.verify().unwrap().is_empty());
}

#[test]
fn deploy_keeps_previous_then_drops_older_and_reuses_serials() {
    let scratch = Scratch::new();
    let sysroot = setup(&scratch);
    let tree = scratch.path().join("tree");
    make_tree(&tree, "kernel", &[]);
    let a = commit(sysroot.repo(), &tree, "testos/v", "1");
    sysroot.deploy("testos/v", &options(&["rw"])).unwrap();
    // Same commit again: serial 1, both kept, same boot checksum → boot serials 0, 1.
    let second = sysroot
        .deploy("testos/v", &DeployOptions::default())
        .unwrap();
    assert_eq!(
        (second.deployment.checksum, second.deployment.serial),
        (a, 1)
    );
    let state = sysroot.load().unwrap();
    assert_eq!(state.deployments.len(), 2);
    assert_eq!(state.bootversion, 0);
    assert_eq!(
        state
            .deployments
            .iter()
            .map(|d| d.bootserial)
            .collect::<Vec<_>>(),
        [0, 1]
    );
    // Kernel arguments are inherited from the merge deployment.
    assert_eq!(state.deployments[0].kargs.args()[0], "rw");
    fs::write(tree.join("usr/lib/modules/6.1.0/vmlinuz"), "kernel 2").unwrap();
    let b = commit(sysroot.repo(), &tree, "testos/v", "2");
    let third = sysroot
        .deploy("testos/v", &DeployOptions::default())
        .unwrap();
    assert_eq!(third.deployment.checksum, b);
    assert_eq!(third.cleanup.deployments, [format!("testos/{a}.0")]);
    let state = sysroot.load().unwrap();
    assert_eq!(
        state
            .deployments
            .iter()
            .map(|d| d.name())
            .collect::<Vec<_>>(),
        [format!("{b}.0"), format!("{a}.1")]
    );
    // The unused boot dir of nothing is gone; both kernels are present.
    assert_eq!(
        fs::read_dir(sysroot.path().join("boot/ostree"))
            .unwrap()
            .count(),
        2
    );
    assert!(!sysroot.path().join("boot/loader.0").exists());
    assert!(sysroot.verify().unwrap().is_empty());
}

#[test]
fn rollback_undeploy_pin_and_kargs() {
    let scratch = Scratch::new();
    let sysroot = setup(&scratch);
    let tree = scratch.path().join("tree");
    make_tree(&tree, "kernel", &[]);
    let a = commit(sysroot.repo(), &tree, "testos/v", "1");
    sysroot.deploy("testos/v", &options(&["rw"])).unwrap();
    fs::write(tree.join("usr/lib/os-release"), "ID=other\n").unwrap();
    let b = commit(sysroot.repo(), &tree, "testos/v", "2");
    sysroot
        .deploy("testos/v", &DeployOptions::default())
        .unwrap();
    let order = |s: &Sysroot| {
        s.load()
            .unwrap()
            .deployments
            .iter()
            .map(|d| d.checksum)
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&sysroot), [b, a]);
    assert_eq!(sysroot.rollback().unwrap(), 1);
    assert_eq!(order(&sysroot), [a, b]);
    // Booted = the deployment the command line names: rollback returns to it.
    let cmdline = scratch.path().join("cmdline");
    let booted = sysroot.load().unwrap().deployments[1]
        .kargs
        .get("ostree")
        .unwrap()
        .to_owned();
    fs::write(&cmdline, format!("rw ostree={booted}\n")).unwrap();
    let mut sysroot = sysroot;
    sysroot.set_cmdline_path(&cmdline);
    let status = sysroot.status().unwrap();
    assert!(status[1].booted && !status[0].booted);
    assert_eq!(sysroot.rollback().unwrap(), 1);
    assert_eq!(order(&sysroot), [b, a]);
    // Outside a live system the booted entry is found by its `ostree=` path, which a
    // new boot version replaces: point the command line at the new path.
    let booted = sysroot.load().unwrap().deployments[0]
        .kargs
        .get("ostree")
        .unwrap()
        .to_owned();
    fs::write(&cmdline, format!("rw ostree={booted}\n")).unwrap();
    assert!(
        sysroot.undeploy(0).is_err(),
        "the booted deployment cannot be undeployed"
    );

    sysroot.set_pinned(1, true).unwrap();
    assert!(sysroot.load().unwrap().deployments[1].pinned());
    let d = sysroot
        .edit_kargs(
            1,
            &[
                KargEdit::Append("quiet".into()),
                KargEdit::Replace("rw=ro".into()),
            ],
        )
        .unwrap();
    assert_eq!(d.kargs.args()[0], "rw=ro");
    assert_eq!(d.kargs.args().last().unwrap(), "quiet");
    let entries = sysroot.path().join(format!(
        "boot/loader.{}/entries/ostree-1-testos.conf",
        sysroot.load().unwrap().bootversion
    ));
    assert!(
        fs::read_to_string(entries)
            .unwrap()
            .contains("options rw=ro ostree=/ostree/boot.")
    );
    assert!(
        sysroot
            .edit_kargs(1, &[KargEdit::Delete("nosuch".into())])
            .is_err()
    );
    // Pinned survives deploys that would otherwise drop it.
    sysroot.set_default(1).unwrap();
    sysroot.set_pinned(0, false).unwrap();
    sysroot.set_pinned(1, true).unwrap();
    sysroot
        .deploy("testos/v", &DeployOptions::default())
        .unwrap();
    assert_eq!(sysroot.load().unwrap().deployments.len(), 3);
    sysroot.set_pinned(2, false).unwrap();
    sysroot.undeploy(2).unwrap();
    assert_eq!(sysroot.load().unwrap().deployments.len(), 2);
    assert!(sysroot.verify().unwrap().is_empty());
}

#[test]
fn missing_kernel_is_a_clear_error_and_changes_nothing() {
    let scratch = Scratch::new();
    let sysroot = setup(&scratch);
    let tree = scratch.path().join("tree");
    fs::create_dir_all(tree.join("usr/etc")).unwrap();
    commit(sysroot.repo(), &tree, "testos/v", "1");
    let before = snapshot(&sysroot.path().join("boot"));
    let err = sysroot.deploy("testos/v", &options(&[])).unwrap_err();
    assert!(err.to_string().contains("Failed to find kernel"), "{err}");
    assert_eq!(snapshot(&sysroot.path().join("boot")), before);
}

/// Stops each operation before every one of its steps in turn: the committed boot
/// entries are always complete, and re-running the operation finishes it.
/// A sysroot with `testos/v` version 1 (its tree in `scratch/tree`) deployed once.
fn deployed(scratch: &Scratch) -> Sysroot {
    let sysroot = setup(scratch);
    let tree = scratch.path().join("tree");
    make_tree(&tree, "kernel", &[("a", Some("1"))]);
    commit(sysroot.repo(), &tree, "testos/v", "1");
    sysroot.deploy("testos/v", &options(&["rw"])).unwrap();
    sysroot
}

#[test]
fn failpoints_leave_the_old_entries_valid() {
    let scratch = Scratch::new();
    let sysroot = deployed(&scratch);
    let tree = scratch.path().join("tree");
    fs::write(tree.join("usr/lib/modules/6.1.0/vmlinuz"), "kernel 2").unwrap();
    commit(sysroot.repo(), &tree, "testos/v", "2");
    type Op = fn(&Sysroot) -> Result<(), ferro_sysroot::Error>;
    let ops: [(&str, Op); 4] = [
        ("deploy", |s| {
            s.deploy("testos/v", &DeployOptions::default()).map(drop)
        }),
        ("rollback", |s| s.rollback().map(drop)),
        ("kargs", |s| {
            s.edit_kargs(0, &[KargEdit::Append("x".into())]).map(drop)
        }),
        ("undeploy", |s| s.undeploy(1).map(drop)),
    ];
    for (name, op) in ops {
        let mut n = 0;
        loop {
            if sysroot.load().unwrap().deployments.len() < 2 {
                sysroot
                    .deploy("testos/v", &DeployOptions::default())
                    .unwrap();
            }
            let before = sysroot.load().unwrap();
            sysroot.set_failpoint(Some(n));
            let result = op(&sysroot);
            sysroot.set_failpoint(None);
            match result {
                Ok(()) => break,
                Err(ferro_sysroot::Error::Injected(step)) => {
                    let after = sysroot.load().unwrap();
                    assert!(
                        sysroot.verify().unwrap().is_empty(),
                        "{name} stopped before {step}: {:?}",
                        sysroot.verify()
                    );
                    if after.bootversion == before.bootversion {
                        // Not committed: the old list is intact.
                        assert_eq!(after, before, "{name} stopped before {step}");
                    } else {
                        // Committed: cleanup finishes the garbage collection.
                        sysroot.cleanup().unwrap();
                    }
                    n += 1;
                }
                Err(e) => panic!("{name}: {e}"),
            }
            assert!(n < 50, "{name} never finished");
        }
        assert!(n >= 5, "{name} had only {n} steps");
        assert!(sysroot.verify().unwrap().is_empty());
        // A cleanup after all the interrupted runs leaves no leftovers.
        sysroot.cleanup().unwrap();
        let state = sysroot.load().unwrap();
        let other = 1 - state.bootversion;
        assert!(!sysroot.path().join(format!("boot/loader.{other}")).exists());
        assert!(
            !sysroot
                .path()
                .join("ostree/deploy/testos/.ferro-staging")
                .exists()
        );
        let dirs = fs::read_dir(sysroot.path().join("ostree/deploy/testos/deploy"))
            .unwrap()
            .count();
        assert_eq!(
            dirs,
            2 * state.deployments.len(),
            "{name}: dirs + origins only"
        );
    }
}

#[test]
fn cleanup_removes_what_killed_writers_left() {
    let scratch = Scratch::new();
    let sysroot = deployed(&scratch);
    let s = sysroot.path();
    // A symlink swap killed before its rename, and a named-fallback write of an origin.
    let leftovers = [
        s.join("boot/.ferro-tmp-1-0"),
        s.join("ostree/.ferro-tmp-1-1"),
        s.join("ostree/deploy/testos/deploy/.ferro-tmp-1-2"),
    ];
    std::os::unix::fs::symlink("loader.0", &leftovers[0]).unwrap();
    std::os::unix::fs::symlink("boot.0.0", &leftovers[1]).unwrap();
    fs::write(&leftovers[2], "[origin]\n").unwrap();
    let before = snapshot(&s.join("boot"));
    sysroot.cleanup().unwrap();
    for path in &leftovers {
        assert!(fs::symlink_metadata(path).is_err(), "{}", path.display());
    }
    let after = snapshot(&s.join("boot"));
    assert_eq!(after.len(), before.len() - 1, "only the leftover went");
    assert!(sysroot.verify().unwrap().is_empty());
}
