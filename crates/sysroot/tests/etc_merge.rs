//! The `/etc` merge on deploy, every case of reference/ostree.md §4 step 5.

mod support;

use std::fs;

use ferro_sysroot::{DeployOptions, Error};
use support::{Scratch, commit};

#[test]
fn local_changes_win_removals_stick_new_defaults_appear() {
    let scratch = Scratch::new();
    let (sysroot, tree) = scratch.testos(
        "k",
        &[
            ("a.conf", Some("a")),
            ("b.conf", Some("b")),
            ("c.conf", Some("c")),
            ("d/x", Some("x")),
        ],
    );
    commit(sysroot.repo(), &tree, "testos/v", "1");
    let first = sysroot
        .deploy("testos/v", &DeployOptions::default())
        .unwrap();
    let etc = sysroot.dir_of(&first.deployment).join("etc");
    // /etc is a copy, never a hardlink into the repository.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(etc.join("a.conf")).unwrap().nlink(), 1);
    fs::write(etc.join("a.conf"), "local a").unwrap();
    fs::remove_file(etc.join("b.conf")).unwrap();
    fs::write(etc.join("local.conf"), "mine").unwrap();
    fs::create_dir(etc.join("local.d")).unwrap();
    fs::write(etc.join("local.d/y"), "y").unwrap();
    let changes = sysroot.etc_changes(&first.deployment).unwrap();
    assert_eq!(changes.modified, ["a.conf"]);
    assert_eq!(changes.removed, ["b.conf"]);
    assert_eq!(changes.added, ["local.conf", "local.d"]);

    for (path, text) in [
        ("a.conf", "a2"),
        ("b.conf", "b2"),
        ("c.conf", "c2"),
        ("e.conf", "e"),
    ] {
        fs::write(tree.join("usr/etc").join(path), text).unwrap();
    }
    commit(sysroot.repo(), &tree, "testos/v", "2");
    let second = sysroot
        .deploy("testos/v", &DeployOptions::default())
        .unwrap();
    assert_eq!(second.etc, Some(changes));
    let etc = sysroot.dir_of(&second.deployment).join("etc");
    let read = |p: &str| fs::read_to_string(etc.join(p)).ok();
    assert_eq!(
        read("a.conf").as_deref(),
        Some("local a"),
        "local edit kept"
    );
    assert_eq!(read("b.conf"), None, "local removal kept");
    assert_eq!(
        read("c.conf").as_deref(),
        Some("c2"),
        "untouched file takes the new default"
    );
    assert_eq!(
        read("e.conf").as_deref(),
        Some("e"),
        "new default file appears"
    );
    assert_eq!(read("local.conf").as_deref(), Some("mine"));
    assert_eq!(read("local.d/y").as_deref(), Some("y"));
    assert_eq!(read("d/x").as_deref(), Some("x"));
}

#[test]
fn file_to_directory_conflict_is_a_clear_error() {
    let scratch = Scratch::new();
    let (sysroot, tree) = scratch.testos("k", &[("f.conf", Some("f"))]);
    commit(sysroot.repo(), &tree, "testos/v", "1");
    let first = sysroot
        .deploy("testos/v", &DeployOptions::default())
        .unwrap();
    fs::write(
        sysroot.dir_of(&first.deployment).join("etc/f.conf"),
        "local",
    )
    .unwrap();
    fs::remove_file(tree.join("usr/etc/f.conf")).unwrap();
    fs::create_dir(tree.join("usr/etc/f.conf")).unwrap();
    fs::write(tree.join("usr/etc/f.conf/inner"), "i").unwrap();
    commit(sysroot.repo(), &tree, "testos/v", "2");
    let before = sysroot.load().unwrap();
    let err = sysroot
        .deploy("testos/v", &DeployOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, Error::EtcConflict { path, local: "file", default: "directory" } if path == "f.conf"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "/etc merge conflict at 'f.conf': local file would replace the new default directory \
         (Modified config file newly defaults to directory)"
    );
    assert_eq!(sysroot.load().unwrap(), before);
    assert!(sysroot.verify().unwrap().is_empty());
}
