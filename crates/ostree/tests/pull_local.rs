//! `pull-local`: between modes, from and to repositories written by Debian's `ostree`
//! (those parts skipped when it is absent), depth, and tampered objects.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::fsck::fsck;
use ferro_ostree::pull_local::{PullLocalOptions, copy_commit, pull_local};
use ferro_ostree::{Checksum, ObjectType, Repo, RepoMode};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{have_ostree, ostree};

fn make_tree(root: &Path, tag: &str) {
    fs::create_dir_all(root.join("a/b")).unwrap();
    fs::write(root.join("a/b/deep.txt"), format!("deep {tag}\n")).unwrap();
    fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(root.join("big.bin"), big).unwrap();
    let _ = std::os::unix::fs::symlink("run.sh", root.join("link"));
}

fn commit(repo: &Repo, src: &Path, tag: &str, ts: u64) -> Checksum {
    make_tree(src, tag);
    let options = CommitOptions {
        branch: Some("main".into()),
        timestamp: Some(ts),
        owner_uid: Some(0),
        owner_gid: Some(0),
        ..Default::default()
    };
    commit_dir(repo, src, &options).unwrap().commit
}

fn object_ids(repo: &Repo) -> BTreeSet<(u8, Checksum)> {
    let mut out = BTreeSet::new();
    for kind in [
        ObjectType::Commit,
        ObjectType::DirTree,
        ObjectType::DirMeta,
        ObjectType::File,
    ] {
        for id in repo.list_objects(kind).unwrap() {
            out.insert((kind as u8, id));
        }
    }
    out
}

#[test]
fn pulls_between_all_modes() {
    let tmp = tempfile::tempdir().unwrap();
    for from in [
        RepoMode::Archive,
        RepoMode::BareUser,
        RepoMode::BareUserOnly,
    ] {
        let src = Repo::init(&tmp.path().join(format!("src-{}", from.name())), from).unwrap();
        let id = commit(&src, &tmp.path().join("tree"), "x", 1000);
        for to in [
            RepoMode::Archive,
            RepoMode::BareUser,
            RepoMode::BareUserOnly,
        ] {
            let dest_path = tmp.path().join(format!("{}-{}", from.name(), to.name()));
            let dest = Repo::init(&dest_path, to).unwrap();
            let stats = copy_commit(&src, &dest, &id, None).unwrap();
            assert_eq!(stats.content, 4, "{from:?} -> {to:?}");
            assert!(fsck(&dest).unwrap().problems.is_empty());
            assert_eq!(object_ids(&dest), object_ids(&src));
            // A second pull copies nothing.
            assert_eq!(copy_commit(&src, &dest, &id, None).unwrap().metadata, 0);
        }
    }
}

#[test]
fn depth_zero_pulls_only_the_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let src = Repo::init(&tmp.path().join("src"), RepoMode::Archive).unwrap();
    let first = commit(&src, &tmp.path().join("t1"), "one", 1000);
    let second = commit(&src, &tmp.path().join("t2"), "two", 2000);
    let dest = Repo::init(&tmp.path().join("dest"), RepoMode::BareUser).unwrap();
    copy_commit(&src, &dest, &second, Some(0)).unwrap();
    assert!(dest.has_object(ObjectType::Commit, &second));
    assert!(!dest.has_object(ObjectType::Commit, &first));
    copy_commit(&src, &dest, &second, None).unwrap();
    assert!(dest.has_object(ObjectType::Commit, &first));
}

/// The verb moves the refs it was given by name (not commits given by checksum or
/// `REV^`); with no refs it pulls every ref of the source, and refuses, as `ostree`
/// does, when one is a remote's (which cannot become a local branch).
#[test]
fn pull_local_moves_named_refs_only() {
    let tmp = tempfile::tempdir().unwrap();
    let src = Repo::init(&tmp.path().join("src"), RepoMode::Archive).unwrap();
    let first = commit(&src, &tmp.path().join("t1"), "one", 1000);
    let second = commit(&src, &tmp.path().join("t2"), "two", 2000);
    src.set_ref("origin:remote", Some(&first)).unwrap();
    let dest = Repo::init(&tmp.path().join("dest"), RepoMode::BareUser).unwrap();
    let options = PullLocalOptions {
        refs: vec![first.to_string(), "main^".into()],
        depth: Some(0),
        remote: None,
        ..PullLocalOptions::default()
    };
    let outcome = pull_local(&dest, &src, &options).unwrap();
    assert!(outcome.refs.is_empty());
    assert_eq!(outcome.stats.content, 4, "the first commit's files, once");
    assert!(dest.list_refs().unwrap().is_empty());
    let err = pull_local(&dest, &src, &PullLocalOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "Invalid ref name origin:remote");
    assert!(dest.list_refs().unwrap().is_empty());
    src.set_ref("origin:remote", None).unwrap();
    let outcome = pull_local(&dest, &src, &PullLocalOptions::default()).unwrap();
    assert_eq!(outcome.refs, vec![("main".to_owned(), second)]);
    assert_eq!(outcome.stats.content, 1, "only the file that changed");
    assert_eq!(dest.list_refs().unwrap(), vec![("main".to_owned(), second)]);
    assert!(dest.has_object(ObjectType::Commit, &second));
}

#[test]
fn tampered_objects_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let src = Repo::init(&tmp.path().join("src"), RepoMode::BareUserOnly).unwrap();
    let id = commit(&src, &tmp.path().join("t"), "x", 1000);
    let root = src.load_commit(&id).unwrap().root_tree;
    let tree = src.load_dirtree(&root).unwrap();
    let (_, big) = tree.files.iter().find(|(n, _)| n == "big.bin").unwrap();
    let path = src.object_path(ObjectType::File, big);
    let mut bytes = fs::read(&path).unwrap();
    bytes[500] ^= 1;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&path, bytes).unwrap();
    let dest = Repo::init(&tmp.path().join("dest"), RepoMode::Archive).unwrap();
    let err = copy_commit(&src, &dest, &id, None).unwrap_err();
    assert!(format!("{err}").contains(&big.to_hex()[..2]), "{err}");
    assert!(!dest.has_object(ObjectType::Commit, &id));
    assert!(!dest.has_object(ObjectType::File, big));
    assert!(!dest.has_object(ObjectType::DirTree, &root));

    // A tampered dirtree.
    let src2 = Repo::init(&tmp.path().join("src2"), RepoMode::Archive).unwrap();
    let id2 = commit(&src2, &tmp.path().join("t"), "x", 1000);
    let path = src2.object_path(ObjectType::DirTree, &root);
    let mut bytes = fs::read(&path).unwrap();
    bytes[3] ^= 0x20;
    fs::write(&path, bytes).unwrap();
    let dest2 = Repo::init(&tmp.path().join("dest2"), RepoMode::Archive).unwrap();
    assert!(copy_commit(&src2, &dest2, &id2, None).is_err());
    assert!(!dest2.has_object(ObjectType::Commit, &id2));
    assert!(!dest2.has_object(ObjectType::DirTree, &root));
}

/// ferro pulls from an `ostree`-written repository and `ostree fsck` accepts the result;
/// `ostree pull-local` from the ferro-pulled repository gives the same objects.
#[test]
fn compatible_with_ostree_both_ways() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let theirs = tmp.path().join("theirs");
    let t = format!("--repo={}", theirs.display());
    make_tree(&tmp.path().join("tree"), "o");
    ostree(&["init", &t, "--mode=archive"]);
    let tree = format!("--tree=dir={}", tmp.path().join("tree").display());
    ostree(&["commit", &t, "-b", "main", &tree, "-s", "one"]);
    fs::write(tmp.path().join("tree/extra"), "more\n").unwrap();
    ostree(&["commit", &t, "-b", "main", &tree, "-s", "two"]);
    let id: Checksum = ostree(&["rev-parse", &t, "main"]).trim().parse().unwrap();

    let src = Repo::open(&theirs).unwrap();
    for mode in [RepoMode::BareUser, RepoMode::Archive] {
        let ours = tmp.path().join(format!("ours-{}", mode.name()));
        let dest = Repo::init(&ours, mode).unwrap();
        copy_commit(&src, &dest, &id, None).unwrap();
        dest.set_ref("main", Some(&id)).unwrap();
        let o = format!("--repo={}", ours.display());
        ostree(&["fsck", &o]);
        assert_eq!(object_ids(&dest), object_ids(&src));

        let back = tmp.path().join(format!("back-{}", mode.name()));
        let b = format!("--repo={}", back.display());
        ostree(&["init", &b, "--mode=archive"]);
        ostree(&[
            "pull-local",
            "--untrusted",
            "--depth=-1",
            &b,
            ours.to_str().unwrap(),
            "main",
        ]);
        ostree(&["fsck", &b]);
        assert_eq!(object_ids(&Repo::open(&back).unwrap()), object_ids(&src));
    }
}
