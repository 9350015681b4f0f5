//! Compatibility with Debian's real `ostree` (2022.7): repositories written by ferro are
//! accepted and checked out identically by `ostree`, both make the same commit ids, and
//! repositories written by `ostree` are read by ferro. Skipped when `ostree` is absent.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use ferro_sys::CommandRunExt;

use ferro_ostree::checkout::{CheckoutOptions, checkout};
use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::fsck::{ProblemKind, fsck};
use ferro_ostree::{Checksum, ObjectType, Repo, RepoMode};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{have_ostree, ostree, repo_arg};

const TIMESTAMP: u64 = 1_577_836_800;

/// A tree with files of several modes, an empty file, a larger file, nested and empty
/// directories, and relative, absolute and dangling symlinks.
fn make_tree(root: &Path) {
    let write = |rel: &str, data: &[u8], mode: u32| {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    };
    fs::create_dir_all(root).unwrap();
    write("hello.txt", b"hello\n", 0o644);
    write("empty", b"", 0o600);
    write("bin/run.sh", b"#!/bin/sh\necho hi\n", 0o755);
    write("etc/secret", b"s3cret", 0o640);
    write("with space/ünïcode.txt", "ünïcode\n".as_bytes(), 0o664);
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    write("usr/lib/big.bin", &big, 0o644);
    fs::create_dir_all(root.join("var/empty")).unwrap();
    fs::set_permissions(root.join("var/empty"), fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink("hello.txt", root.join("link")).unwrap();
    std::os::unix::fs::symlink("/usr/lib/big.bin", root.join("bin/abs")).unwrap();
    std::os::unix::fs::symlink("../nowhere", root.join("bin/dangling")).unwrap();
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir(u32),
    /// Permission bits and the SHA-256 of the bytes (short failure messages).
    File(u32, Checksum),
    Link(PathBuf),
}

/// Everything a checkout must reproduce: paths, types, permission bits, bytes, targets.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Node>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_owned();
            let st = fs::symlink_metadata(&path).unwrap();
            let perms = st.mode() & 0o7777;
            if st.file_type().is_symlink() {
                out.insert(rel, Node::Link(fs::read_link(&path).unwrap()));
            } else if st.is_dir() {
                out.insert(rel, Node::Dir(perms));
                walk(root, &path, out);
            } else {
                out.insert(
                    rel,
                    Node::File(perms, Checksum::of(&fs::read(&path).unwrap())),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    out.insert(
        PathBuf::new(),
        Node::Dir(fs::metadata(root).unwrap().mode() & 0o7777),
    );
    walk(root, root, &mut out);
    out
}

/// What bare-user-only's forced canonical permissions make of a tree: modes & 0755.
fn canonical(tree: &BTreeMap<PathBuf, Node>) -> BTreeMap<PathBuf, Node> {
    tree.iter()
        .map(|(path, node)| {
            let node = match node {
                Node::Dir(mode) => Node::Dir(mode & 0o755),
                Node::File(mode, id) => Node::File(mode & 0o755, *id),
                Node::Link(target) => Node::Link(target.clone()),
            };
            (path.clone(), node)
        })
        .collect()
}

fn options() -> CommitOptions {
    CommitOptions {
        branch: Some("main".into()),
        subject: "A subject".into(),
        body: "A body\nof two lines".into(),
        timestamp: Some(TIMESTAMP),
        owner_uid: Some(0),
        owner_gid: Some(0),
        ..Default::default()
    }
}

fn modes() -> Vec<RepoMode> {
    let mut modes = vec![
        RepoMode::Archive,
        RepoMode::BareUser,
        RepoMode::BareUserOnly,
    ];
    if rustix::process::geteuid().is_root() {
        modes.push(RepoMode::Bare);
    }
    modes
}

/// (a) Trees committed by ferro pass `ostree fsck` and check out identically with
/// `ostree checkout -U`; the commit id does not depend on the mode.
#[test]
fn ferro_repos_pass_ostree_fsck_and_checkout() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    let expected = snapshot(&src);
    let mut ids = Vec::new();
    for mode in modes() {
        let repo_path = tmp.path().join(mode.name());
        let repo = Repo::init(&repo_path, mode).unwrap();
        let id = commit_dir(&repo, &src, &options()).unwrap().commit;
        let r = repo_arg(&repo_path);
        ostree(&["fsck", &r]);
        assert_eq!(ostree(&["rev-parse", &r, "main"]).trim(), id.to_hex());
        let out = tmp.path().join(format!("co-{}", mode.name()));
        ostree(&["checkout", &r, "-U", "main", out.to_str().unwrap()]);
        let want = if mode == RepoMode::BareUserOnly {
            canonical(&expected)
        } else {
            expected.clone()
        };
        assert_eq!(
            snapshot(&out),
            want,
            "ostree checkout from a ferro {} repo",
            mode.name()
        );
        if mode != RepoMode::BareUserOnly {
            ids.push(id);
        }
    }
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "commit ids differ across modes: {ids:?}"
    );
}

/// (b) The same tree committed by `ostree commit` and by ferro gets the same commit id
/// (fixed timestamp, owner 0:0), in an archive repo and in a bare-user-only repo
/// (where both force canonical permissions).
#[test]
fn same_commit_id_as_ostree_commit() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    for mode in [RepoMode::Archive, RepoMode::BareUserOnly] {
        let theirs = tmp.path().join(format!("ostree-{}", mode.name()));
        let r = repo_arg(&theirs);
        ostree(&["init", &r, &format!("--mode={}", mode.name())]);
        let tree = format!("--tree=dir={}", src.display());
        let stamp = format!("--timestamp=@{TIMESTAMP}");
        let args = [
            "commit",
            &r,
            "-b",
            "main",
            &tree,
            "-s",
            "A subject",
            "-m",
            "A body\nof two lines",
            &stamp,
        ];
        let mut args = args.to_vec();
        args.extend(["--owner-uid=0", "--owner-gid=0", "--no-xattrs"]);
        let their_id: Checksum = ostree(&args).trim().parse().unwrap();
        let ours = Repo::init(&tmp.path().join(format!("ferro-{}", mode.name())), mode).unwrap();
        let our_id = commit_dir(&ours, &src, &options()).unwrap().commit;
        assert_eq!(our_id, their_id, "{} commit id", mode.name());
        // A second commit on the branch records the first as parent, like ostree.
        let stamp2 = format!("--timestamp=@{}", TIMESTAMP + 1);
        let second: Checksum = ostree(&[
            "commit",
            &r,
            "-b",
            "main",
            &tree,
            "-s",
            "again",
            &stamp2,
            "--owner-uid=0",
            "--owner-gid=0",
            "--no-xattrs",
        ])
        .trim()
        .parse()
        .unwrap();
        let again = CommitOptions {
            subject: "again".into(),
            body: String::new(),
            timestamp: Some(TIMESTAMP + 1),
            ..options()
        };
        assert_eq!(commit_dir(&ours, &src, &again).unwrap().commit, second);
    }
}

/// (c) Repositories written by `ostree` are read, checked out and fsck'ed by ferro.
#[test]
fn ostree_repos_are_read_by_ferro() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    let expected = snapshot(&src);
    for mode in modes() {
        let path = tmp.path().join(mode.name());
        let r = repo_arg(&path);
        ostree(&["init", &r, &format!("--mode={}", mode.name())]);
        let tree = format!("--tree=dir={}", src.display());
        let id: Checksum = ostree(&["commit", &r, "-b", "main", &tree, "-s", "s", "--no-xattrs"])
            .trim()
            .parse()
            .unwrap();
        let repo = Repo::open(&path).unwrap();
        assert_eq!(repo.mode(), mode);
        assert_eq!(repo.resolve_rev("main").unwrap(), id);
        let report = fsck(&repo).unwrap();
        assert!(
            report.problems.is_empty(),
            "{}: {:?}",
            mode.name(),
            report.problems
        );
        assert_eq!(report.commits, 1);
        let out = tmp.path().join(format!("co-{}", mode.name()));
        checkout(
            &repo,
            &id,
            &out,
            &CheckoutOptions {
                user_mode: true,
                ..Default::default()
            },
        )
        .unwrap();
        let got = snapshot(&out);
        if mode == RepoMode::BareUserOnly {
            assert_eq!(
                got,
                canonical(&expected),
                "ferro checkout, ostree bare-user-only repo"
            );
        } else if mode == RepoMode::BareUser {
            // Hardlinked objects carry bare-user's stored permissions; compare contents.
            for (path, node) in &expected {
                match (node, &got[path]) {
                    (Node::File(_, a), Node::File(_, b)) => assert_eq!(a, b, "{}", path.display()),
                    (a, b) => assert_eq!(a, b, "{}", path.display()),
                }
            }
        } else {
            assert_eq!(
                got,
                expected,
                "ferro checkout from an ostree {} repo",
                mode.name()
            );
        }
        let ls: Vec<String> = ferro_ostree::browse::ls(&repo, &id, "/", true)
            .unwrap()
            .iter()
            .map(|e| e.to_line(true))
            .collect();
        let theirs: Vec<String> = ostree(&["ls", &r, "-R", "-C", "main"])
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(ls, theirs, "ls -R -C of an ostree {} repo", mode.name());
    }
}

/// (d) A flipped byte in any object type is named by ferro's fsck (and by ostree's).
#[test]
fn fsck_names_corrupt_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    for kind in [
        ObjectType::File,
        ObjectType::DirTree,
        ObjectType::DirMeta,
        ObjectType::Commit,
    ] {
        for mode in [RepoMode::Archive, RepoMode::BareUser] {
            let path = tmp.path().join(format!("{kind:?}-{}", mode.name()));
            let repo = Repo::init(&path, mode).unwrap();
            commit_dir(&repo, &src, &options()).unwrap();
            let victim = repo.list_objects(kind).unwrap()[0];
            let file = repo.object_path(kind, &victim);
            if fs::symlink_metadata(&file)
                .unwrap()
                .file_type()
                .is_symlink()
            {
                continue;
            }
            let mut bytes = fs::read(&file).unwrap();
            let at = bytes.len() - 1;
            bytes[at] ^= 0x01;
            fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
            fs::write(&file, &bytes).unwrap();
            let report = fsck(&repo).unwrap();
            let named = format!("{victim}.{}", kind.extension(false));
            assert!(
                report
                    .problems
                    .iter()
                    .any(|p| p.kind == ProblemKind::Corrupt && p.object == named),
                "{kind:?} in {}: {:?}",
                mode.name(),
                report.problems
            );
            if have_ostree() {
                let status = Command::new("ostree")
                    .args(["fsck", &repo_arg(&path)])
                    .run_capture()
                    .unwrap()
                    .status;
                assert!(!status.success(), "ostree fsck accepted a corrupt {kind:?}");
            }
        }
    }
}
