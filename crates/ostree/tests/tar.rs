//! `commit --tree=tar=` against Debian's real `ostree` (2022.7) and GNU tar: the same
//! tree committed as a directory and as a plain or gzip archive gets one commit id, the
//! one `ostree commit --tree=tar=` makes. Skipped when `ostree` or `tar` is absent.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use ferro_sys::CommandRunExt;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::commit_tar::commit_tar;
use ferro_ostree::{Checksum, Repo, RepoMode};

fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .run_capture()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipping: `{tool}` is not installed");
    }
    found
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .run_capture()
        .expect("run tool");
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Files of several modes, an empty file, a symlink, a hardlink, a 0750 directory and
/// an empty one.
fn make_tree(root: &Path) {
    let write = |rel: &str, data: &[u8], mode: u32| {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    };
    write("hello.txt", b"hello\n", 0o644);
    write("empty", b"", 0o600);
    write("bin/run.sh", b"#!/bin/sh\necho hi\n", 0o755);
    write("etc/secret/key", b"s3cret", 0o640);
    fs::set_permissions(root.join("etc/secret"), fs::Permissions::from_mode(0o750)).unwrap();
    fs::create_dir_all(root.join("var/empty")).unwrap();
    std::os::unix::fs::symlink("../hello.txt", root.join("bin/link")).unwrap();
    fs::hard_link(root.join("hello.txt"), root.join("bin/hard")).unwrap();
}

fn options() -> CommitOptions {
    CommitOptions {
        branch: Some("main".into()),
        subject: "s".into(),
        timestamp: Some(1_577_836_800),
        ..Default::default()
    }
}

fn ostree_commit(repo: &Path, tree: &str, extra: &[&str]) -> String {
    let r = format!("--repo={}", repo.display());
    let mut args = vec![
        "commit",
        &r,
        "-b",
        "main",
        tree,
        "--timestamp=@1577836800",
        "-s",
        "s",
    ];
    args.extend_from_slice(extra);
    run("ostree", &args).trim().to_owned()
}

fn ferro_tar(repo: &Path, tar: &Path, options: &CommitOptions) -> Result<Checksum, String> {
    let repo = Repo::init(repo, RepoMode::Archive).unwrap();
    commit_tar(&repo, fs::File::open(tar).unwrap(), tar, options)
        .map(|o| o.commit)
        .map_err(|e| e.to_string())
}

/// Directory, plain tar and gzip tar give ferro one commit id, and `ostree commit
/// --tree=tar=` gives the same; `ostree fsck` accepts the ferro repository.
#[test]
fn tar_commit_matches_dir_and_ostree() {
    if !have("ostree") || !have("tar") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    let plain = tmp.path().join("tree.tar");
    let gz = tmp.path().join("tree.tar.gz");
    let owner = ["--owner=0", "--group=0", "--numeric-owner", "-C"];
    let s = src.to_str().unwrap();
    run(
        "tar",
        &[&owner[..], &[s, "-cf", plain.to_str().unwrap(), "."]].concat(),
    );
    run(
        "tar",
        &[&owner[..], &[s, "-czf", gz.to_str().unwrap(), "."]].concat(),
    );

    let dir_repo = Repo::init(&tmp.path().join("dir"), RepoMode::Archive).unwrap();
    let from_dir = commit_dir(
        &dir_repo,
        &src,
        &CommitOptions {
            owner_uid: Some(0),
            owner_gid: Some(0),
            ..options()
        },
    )
    .unwrap()
    .commit;
    let from_tar = ferro_tar(&tmp.path().join("tar"), &plain, &options()).unwrap();
    let from_gz = ferro_tar(&tmp.path().join("gz"), &gz, &options()).unwrap();
    assert_eq!((from_tar, from_gz), (from_dir, from_dir));

    let theirs = tmp.path().join("ostree");
    let r = format!("--repo={}", theirs.display());
    run("ostree", &["init", &r, "--mode=archive"]);
    let tree = format!("--tree=tar={}", gz.display());
    assert_eq!(ostree_commit(&theirs, &tree, &[]), from_dir.to_hex());
    run(
        "ostree",
        &[
            "fsck",
            &format!("--repo={}", tmp.path().join("gz").display()),
        ],
    );
}

/// An archive that lists files but not their directories is refused, as by `ostree`;
/// with `tar_autocreate_parents` the implied directories are 0755 and owned like the
/// entry that needs them, giving `ostree --tar-autocreate-parents`' commit id.
#[test]
fn tar_autocreate_parents_like_ostree() {
    if !have("ostree") || !have("tar") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    let tar = tmp.path().join("noparents.tar");
    run(
        "tar",
        &[
            "--owner=7",
            "--group=8",
            "--numeric-owner",
            "-C",
            src.to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            "etc/secret/key",
            "hello.txt",
            "bin/link",
            "var/empty",
        ],
    );
    let refused = ferro_tar(&tmp.path().join("refused"), &tar, &options()).unwrap_err();
    assert!(refused.contains("'etc'"), "{refused}");
    let ours = ferro_tar(
        &tmp.path().join("auto"),
        &tar,
        &CommitOptions {
            tar_autocreate_parents: true,
            ..options()
        },
    )
    .unwrap();
    let theirs = tmp.path().join("ostree");
    run(
        "ostree",
        &[
            "init",
            &format!("--repo={}", theirs.display()),
            "--mode=archive",
        ],
    );
    let tree = format!("--tree=tar={}", tar.display());
    assert_eq!(
        ostree_commit(&theirs, &tree, &["--tar-autocreate-parents"]),
        ours.to_hex()
    );
}

/// GNU tar `--xattrs` records `user.*` attributes as `SCHILY.xattr.*`; they become the
/// objects' xattrs, so the commit equals the directory's, as with `ostree`.
#[test]
fn tar_xattrs_match_dir_and_ostree() {
    if !have("ostree") || !have("tar") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    let set = |rel: &str, name: &str, value: &[u8]| {
        rustix::fs::lsetxattr(src.join(rel), name, value, rustix::fs::XattrFlags::empty())
    };
    if let Err(e) = set("hello.txt", "user.zeta", b"z") {
        eprintln!("skipping: the filesystem refuses user xattrs ({e})");
        return;
    }
    set("hello.txt", "user.alpha", b"a").unwrap();
    set("etc/secret", "user.dir", b"d").unwrap();
    let tar = tmp.path().join("x.tar");
    run(
        "tar",
        &[
            "--xattrs",
            "--xattrs-include=user.*",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-C",
            src.to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            ".",
        ],
    );
    let dir_repo = Repo::init(&tmp.path().join("dir"), RepoMode::Archive).unwrap();
    let dir_options = CommitOptions {
        owner_uid: Some(0),
        owner_gid: Some(0),
        ..options()
    };
    let from_dir = commit_dir(&dir_repo, &src, &dir_options).unwrap().commit;
    let from_tar = ferro_tar(&tmp.path().join("tar"), &tar, &options()).unwrap();
    assert_eq!(from_tar, from_dir);
    let no_xattrs = CommitOptions {
        no_xattrs: true,
        ..options()
    };
    let stripped = ferro_tar(&tmp.path().join("nox"), &tar, &no_xattrs).unwrap();
    assert_ne!(stripped, from_dir);
    let theirs = tmp.path().join("ostree");
    run(
        "ostree",
        &[
            "init",
            &format!("--repo={}", theirs.display()),
            "--mode=archive",
        ],
    );
    let tree = format!("--tree=tar={}", tar.display());
    assert_eq!(ostree_commit(&theirs, &tree, &[]), from_dir.to_hex());
}
