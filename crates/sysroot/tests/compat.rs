//! Compatibility with Debian's `ostree` 2022.7 as the oracle: each tool reads and
//! extends the other's sysroots, and both write the same boot entries and links.
//!
//! `ostree admin` runs on a plain directory with only `--sysroot=S` (no root
//! filesystem, bootloader "none" is detected, so only BLS files are written);
//! `init-fs` needs the directory to exist first.

mod support;

use std::fs;
use std::path::Path;

use ferro_sysroot::{DeployOptions, Sysroot, init_fs};
use support::{Scratch, commit, have_ostree, make_tree, ostree, snapshot};

/// `(name, version)` of each deployment in `ostree admin status` order.
fn ostree_status(sysroot: &Path) -> Vec<(String, Option<String>, bool)> {
    let text = ostree(&[
        "admin",
        &format!("--sysroot={}", sysroot.display()),
        "status",
    ]);
    let mut out: Vec<(String, Option<String>, bool)> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("Version: ") {
            out.last_mut().unwrap().1 = Some(v.to_owned());
        } else if line.trim() == "Pinned: yes" {
            out.last_mut().unwrap().2 = true;
        } else if !line.starts_with("    ") {
            let name = line.split_whitespace().nth(1).unwrap().to_owned();
            out.push((
                format!("{} {name}", line.split_whitespace().next().unwrap()),
                None,
                false,
            ));
        }
    }
    out
}

fn ferro_status(sysroot: &Sysroot) -> Vec<(String, Option<String>, bool)> {
    sysroot
        .status()
        .unwrap()
        .into_iter()
        .map(|s| {
            (
                format!("{} {}", s.deployment.osname, s.deployment.name()),
                s.version,
                s.deployment.pinned(),
            )
        })
        .collect()
}

fn admin(sysroot: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "admin".to_owned(),
        format!("--sysroot={}", sysroot.display()),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    ostree(&all.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `ostree commit` of a tree to `testos/v`, with a subject, a `version` and any extra
/// arguments: the reference tool writes what the ferro side then reads.
fn ostree_commit(repo: &str, tree_arg: &str, subject: &str, version: &str, extra: &[&str]) {
    let version = format!("--add-metadata-string=version={version}");
    let mut args = vec![
        "commit", repo, "-b", "testos/v", tree_arg, "-s", subject, &version,
    ];
    args.extend_from_slice(extra);
    ostree(&args);
}

/// `ostree admin deploy` of `testos/v` with the kernel arguments every test boots with.
fn ostree_deploy_testos(sysroot: &Path) {
    admin(
        sysroot,
        &[
            "deploy",
            "--os=testos",
            "--karg=root=LABEL=root",
            "--karg=rw",
            "testos/v",
        ],
    );
}

#[test]
fn ostree_lists_and_fscks_a_ferro_sysroot() {
    if !have_ostree("ostree_lists_and_fscks_a_ferro_sysroot") {
        return;
    }
    let scratch = Scratch::new();
    let (sysroot, tree) = scratch.testos("kernel", &[("a.conf", Some("a"))]);
    commit(sysroot.repo(), &tree, "testos/v", "1.0");
    sysroot
        .deploy(
            "testos/v",
            &DeployOptions {
                kargs: Some(vec!["rw".into()]),
                ..Default::default()
            },
        )
        .unwrap();
    fs::write(tree.join("usr/lib/modules/6.1.0/vmlinuz"), "kernel 2").unwrap();
    commit(sysroot.repo(), &tree, "testos/v", "2.0");
    sysroot
        .deploy("testos/v", &DeployOptions::default())
        .unwrap();
    sysroot.set_pinned(1, true).unwrap();
    let ours = ferro_status(&sysroot);
    assert_eq!(ours.len(), 2);
    assert_eq!(ostree_status(sysroot.path()), ours);
    ostree(&[
        "fsck",
        &format!("--repo={}", sysroot.repo().path().display()),
    ]);
    // ostree can keep going on top of it, and ferro reads the result.
    admin(sysroot.path(), &["deploy", "--os=testos", "testos/v"]);
    let reread = Sysroot::open(sysroot.path()).unwrap();
    assert_eq!(ferro_status(&reread), ostree_status(sysroot.path()));
    assert_eq!(
        ferro_status(&reread).len(),
        3,
        "pinned deployment kept by both"
    );
    assert!(reread.verify().unwrap().is_empty(), "{:?}", reread.verify());
}

#[test]
fn ferro_deploys_on_and_rolls_back_an_ostree_sysroot() {
    if !have_ostree("ferro_deploys_on_and_rolls_back_an_ostree_sysroot") {
        return;
    }
    let scratch = Scratch::new();
    let s = scratch.sysroot();
    ostree(&["admin", "init-fs", s.to_str().unwrap()]);
    admin(&s, &["os-init", "testos"]);
    let repo = format!("--repo={}", s.join("ostree/repo").display());
    let tree = scratch.path().join("tree");
    make_tree(&tree, "kernel", &[("a.conf", Some("a"))]);
    let tree_arg = format!("--tree=dir={}", tree.display());
    ostree_commit(&repo, &tree_arg, "one", "1", &[]);
    ostree_deploy_testos(&s);
    let sysroot = Sysroot::open(&s).unwrap();
    assert_eq!(ferro_status(&sysroot), ostree_status(&s));
    let first = sysroot.load().unwrap().deployments[0].clone();
    fs::write(sysroot.dir_of(&first).join("etc/a.conf"), "local").unwrap();

    fs::write(tree.join("usr/etc/b.conf"), "b").unwrap();
    ostree_commit(&repo, &tree_arg, "two", "2", &[]);
    let report = sysroot
        .deploy("testos/v", &DeployOptions::default())
        .unwrap();
    assert_eq!(report.etc.unwrap().modified, ["a.conf"]);
    let listed = ostree_status(&s);
    assert_eq!(ferro_status(&sysroot), listed);
    assert_eq!(
        listed.iter().map(|l| l.1.as_deref()).collect::<Vec<_>>(),
        [Some("2"), Some("1")]
    );
    let new_etc = sysroot.dir_of(&report.deployment).join("etc");
    assert_eq!(fs::read_to_string(new_etc.join("a.conf")).unwrap(), "local");
    assert_eq!(fs::read_to_string(new_etc.join("b.conf")).unwrap(), "b");

    sysroot.rollback().unwrap();
    let listed = ostree_status(&s);
    assert_eq!(
        listed.iter().map(|l| l.1.as_deref()).collect::<Vec<_>>(),
        [Some("1"), Some("2")]
    );
    assert_eq!(ferro_status(&sysroot), listed);
    // Undeploying OSTree's own deployment clears its immutable attribute.
    sysroot.undeploy(0).unwrap();
    assert_eq!(ostree_status(&s).len(), 1);
    assert!(!sysroot.dir_of(&first).exists());
    ostree(&["fsck", &repo]);
    admin(&s, &["cleanup"]);
}

/// The same commit deployed twice by each tool into its own sysroot gives identical
/// `/boot` trees and `ostree/boot.*` links, byte for byte.
#[test]
fn boot_entries_and_links_match_ostree() {
    if !have_ostree("boot_entries_and_links_match_ostree") {
        return;
    }
    let scratch = Scratch::new();
    let theirs = scratch.path().join("theirs");
    fs::create_dir(&theirs).unwrap();
    ostree(&["admin", "init-fs", theirs.to_str().unwrap()]);
    admin(&theirs, &["os-init", "testos"]);
    let repo = format!("--repo={}", theirs.join("ostree/repo").display());
    let tree = scratch.path().join("tree");
    make_tree(&tree, "kernel", &[("a.conf", Some("a"))]);
    let tree_arg = format!("--tree=dir={}", tree.display());
    ostree_commit(&repo, &tree_arg, "one", "1.0", &[]);
    // A second stateroot-free kernel: no initramfs, so OSTree adds `init=`.
    let ours = init_fs(&scratch.sysroot()).unwrap();
    ours.os_init("testos").unwrap();
    let pull = |_: ()| {
        ostree(&[
            "pull-local",
            &format!("--repo={}", ours.repo().path().display()),
            theirs.join("ostree/repo").to_str().unwrap(),
            "testos/v",
        ])
    };
    pull(());
    ostree_deploy_testos(&theirs);
    ours.deploy(
        "testos/v",
        &DeployOptions {
            osname: Some("testos".into()),
            kargs: Some(vec!["root=LABEL=root".into(), "rw".into()]),
            ..Default::default()
        },
    )
    .unwrap();
    let compare = |what: &str| {
        for dir in [
            "boot",
            "ostree/boot.0",
            "ostree/boot.1",
            "ostree/boot.0.1",
            "ostree/boot.1.1",
        ] {
            assert_eq!(
                snapshot(&ours.path().join(dir)),
                snapshot(&theirs.join(dir)),
                "{what}: {dir}"
            );
        }
        assert_eq!(
            fs::read_link(ours.path().join("ostree/boot.1")).ok(),
            fs::read_link(theirs.join("ostree/boot.1")).ok()
        );
        let refs = |p: &Path| {
            snapshot(&p.join("ostree/repo/refs/heads/ostree"))
                .into_iter()
                .filter(|e| e.1 != "<dir>")
                .collect::<Vec<_>>()
        };
        assert_eq!(refs(ours.path()), refs(&theirs), "{what}: deployment refs");
    };
    assert!(
        snapshot(&ours.path().join("boot")).len() >= 7,
        "{:?}",
        snapshot(&ours.path().join("boot"))
    );
    compare("first deploy");
    // Second deploy: new kernel without initramfs, kargs inherited, bootversion 0.
    fs::remove_file(tree.join("usr/lib/modules/6.1.0/initramfs.img")).unwrap();
    fs::write(tree.join("usr/lib/modules/6.1.0/vmlinuz"), "kernel 2").unwrap();
    ostree_commit(&repo, &tree_arg, "two", "2.0", &["--timestamp=2024-01-01"]);
    pull(());
    admin(
        &theirs,
        &["deploy", "--os=testos", "--karg-append=quiet", "testos/v"],
    );
    ours.deploy(
        "testos/v",
        &DeployOptions {
            karg_append: vec!["quiet".into()],
            ..Default::default()
        },
    )
    .unwrap();
    compare("second deploy");
    // The deployment directories themselves, /etc included.
    let d = ours.load().unwrap().deployments[0].clone();
    let rel = format!("ostree/deploy/testos/deploy/{}", d.name());
    assert_eq!(
        snapshot(&ours.path().join(&rel)),
        snapshot(&theirs.join(&rel))
    );
    assert_eq!(
        fs::read(ours.path().join(format!("{rel}.origin"))).unwrap(),
        fs::read(theirs.join(format!("{rel}.origin"))).unwrap()
    );
}
