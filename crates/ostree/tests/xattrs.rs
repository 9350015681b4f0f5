//! Extended attributes against Debian's real `ostree` (2022.7): ferro records them as
//! `ostree commit` does (same commit ids), stores them per repository mode so `ostree`
//! reads them back, and applies them on checkout outside user mode. Skipped when
//! `ostree` is absent or the temporary filesystem refuses `user.*` xattrs.

use std::fs;
use std::path::Path;

use ferro_ostree::checkout::{CheckoutOptions, checkout};
use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::fsck::fsck;
use ferro_ostree::{Repo, RepoMode};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{have_ostree, ostree};

type Xattrs = Vec<(String, Vec<u8>)>;

fn set(path: &Path, name: &str, value: &[u8]) -> rustix::io::Result<()> {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty())
}

/// A path's own attributes (a symlink's, not its target's), sorted by name.
fn xattrs(path: &Path) -> Xattrs {
    let mut names = vec![0u8; 65536];
    let n = rustix::fs::llistxattr(path, &mut names[..]).unwrap();
    let mut out: Xattrs = names[..n]
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| {
            let mut value = vec![0u8; 65536];
            let len = rustix::fs::lgetxattr(path, name, &mut value[..]).unwrap();
            value.truncate(len);
            (String::from_utf8(name.to_vec()).unwrap(), value)
        })
        .collect();
    out.sort();
    out
}

/// The test tree and the attributes expected on each path.
struct Tree {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    expected: Vec<(&'static str, Xattrs)>,
}

/// `d/f` with two `user.*` attributes set out of order, `d` with one, and — when the
/// filesystem allows it, which for symlinks means `trusted.*` as root — the symlink `l`;
/// `None` (with a message) when the test cannot run here.
fn make_tree() -> Option<Tree> {
    if !have_ostree() {
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("src");
    fs::create_dir_all(root.join("d")).unwrap();
    fs::write(root.join("d/f"), b"with xattrs\n").unwrap();
    fs::write(root.join("p"), b"plain\n").unwrap();
    std::os::unix::fs::symlink("d/f", root.join("l")).unwrap();
    if let Err(e) = set(&root.join("d/f"), "user.zeta", b"1") {
        eprintln!(
            "skipping: the filesystem under {} refuses user xattrs ({e})",
            tmp.path().display()
        );
        return None;
    }
    set(&root.join("d/f"), "user.alpha", b"hello").unwrap();
    set(&root.join("d"), "user.dir", b"\x00binary\xff").unwrap();
    let mut expected = vec![
        ("", vec![]),
        ("p", vec![]),
        ("d", vec![("user.dir".into(), b"\x00binary\xff".to_vec())]),
        (
            "d/f",
            vec![
                ("user.alpha".into(), b"hello".to_vec()),
                ("user.zeta".into(), b"1".to_vec()),
            ],
        ),
    ];
    match set(&root.join("l"), "trusted.link", b"lv") {
        Ok(()) => expected.push(("l", vec![("trusted.link".into(), b"lv".to_vec())])),
        Err(e) => eprintln!("note: no xattr on the symlink ({e}); needs root for trusted.*"),
    }
    Some(Tree {
        _tmp: tmp,
        root,
        expected,
    })
}

fn assert_xattrs(checkout: &Path, expected: &[(&str, Xattrs)], what: &str) {
    for (rel, want) in expected {
        assert_eq!(&xattrs(&checkout.join(rel)), want, "{what}: /{rel}");
    }
}

fn options(branch: &str, no_xattrs: bool) -> CommitOptions {
    CommitOptions {
        branch: Some(branch.into()),
        subject: "s".into(),
        timestamp: Some(1_577_836_800),
        owner_uid: Some(0),
        owner_gid: Some(0),
        no_xattrs,
        ..Default::default()
    }
}

fn ostree_commit(repo: &Path, branch: &str, tree: &str, extra: &[&str]) -> String {
    let r = format!("--repo={}", repo.display());
    let b = format!("--branch={branch}");
    let mut args = vec![
        "commit",
        &r,
        &b,
        tree,
        "--timestamp=@1577836800",
        "-s",
        "s",
        "--owner-uid=0",
        "--owner-gid=0",
    ];
    args.extend_from_slice(extra);
    ostree(&args).trim().to_owned()
}

fn modes() -> Vec<RepoMode> {
    let mut modes = vec![RepoMode::BareUser, RepoMode::Archive];
    if rustix::process::geteuid().is_root() {
        modes.push(RepoMode::Bare);
    }
    modes
}

/// The same tree committed by ferro and by `ostree commit` gets the same commit id in
/// every mode, with and without `--no-xattrs`; in bare-user-only both drop them.
#[test]
fn commit_ids_match_ostree_with_xattrs() {
    let Some(tree) = make_tree() else { return };
    let dir_arg = format!("--tree=dir={}", tree.root.display());
    let tmp = tempfile::tempdir().unwrap();
    for mode in modes().into_iter().chain([RepoMode::BareUserOnly]) {
        let ferro_path = tmp.path().join(format!("ferro-{}", mode.name()));
        let ostree_path = tmp.path().join(format!("ostree-{}", mode.name()));
        let ferro = Repo::init(&ferro_path, mode).unwrap();
        ostree(&[
            "init",
            &format!("--repo={}", ostree_path.display()),
            &format!("--mode={}", mode.name()),
        ]);
        for no_xattrs in [false, true] {
            let branch = if no_xattrs { "nox" } else { "main" };
            let ours = commit_dir(&ferro, &tree.root, &options(branch, no_xattrs))
                .unwrap()
                .commit;
            let flag: &[&str] = if no_xattrs { &["--no-xattrs"] } else { &[] };
            let theirs = ostree_commit(&ostree_path, branch, &dir_arg, flag);
            assert_eq!(
                ours.to_hex(),
                theirs,
                "{} no_xattrs={no_xattrs}",
                mode.name()
            );
        }
        let tree_of = |rev| {
            let id = ferro.resolve_rev(rev).unwrap();
            ferro.load_commit(&id).unwrap().content_checksum()
        };
        assert_eq!(
            tree_of("main") == tree_of("nox"),
            mode == RepoMode::BareUserOnly,
            "{}: xattrs change the id unless the mode drops them",
            mode.name()
        );
    }
}

/// Repositories ferro wrote pass `ostree fsck`, and `ostree checkout` (not `-U`)
/// restores the attributes; ferro's own fsck re-hashes them too.
#[test]
fn ostree_reads_ferro_xattrs() {
    let Some(tree) = make_tree() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for mode in modes() {
        let path = tmp.path().join(mode.name());
        let repo = Repo::init(&path, mode).unwrap();
        commit_dir(&repo, &tree.root, &options("main", false)).unwrap();
        let r = format!("--repo={}", path.display());
        ostree(&["fsck", &r]);
        assert!(fsck(&repo).unwrap().problems.is_empty(), "{}", mode.name());
        let out = tmp.path().join(format!("co-{}", mode.name()));
        ostree(&["checkout", &r, "main", out.to_str().unwrap()]);
        assert_xattrs(
            &out,
            &tree.expected,
            &format!("ostree checkout of ferro {mode:?}"),
        );
    }
}

/// ferro checks out commits `ostree` wrote with their attributes (read from the
/// `.filez` header, `user.ostreemeta`, or the `bare` object's own xattrs); `-U` sets
/// none, as `ostree checkout -U` does.
#[test]
fn ferro_checks_out_ostree_xattrs() {
    let Some(tree) = make_tree() else { return };
    let dir_arg = format!("--tree=dir={}", tree.root.display());
    let tmp = tempfile::tempdir().unwrap();
    for mode in modes() {
        let path = tmp.path().join(mode.name());
        ostree(&[
            "init",
            &format!("--repo={}", path.display()),
            &format!("--mode={}", mode.name()),
        ]);
        let id = ostree_commit(&path, "main", &dir_arg, &[]).parse().unwrap();
        let repo = Repo::open(&path).unwrap();
        assert!(fsck(&repo).unwrap().problems.is_empty(), "{}", mode.name());
        let out = tmp.path().join(format!("co-{}", mode.name()));
        checkout(&repo, &id, &out, &CheckoutOptions::default()).unwrap();
        assert_xattrs(
            &out,
            &tree.expected,
            &format!("ferro checkout of ostree {mode:?}"),
        );
        let user = tmp.path().join(format!("co-U-{}", mode.name()));
        let options = CheckoutOptions {
            user_mode: true,
            link: ferro_ostree::checkout::LinkMode::Copy,
            ..Default::default()
        };
        checkout(&repo, &id, &user, &options).unwrap();
        for (rel, _) in &tree.expected {
            assert_eq!(xattrs(&user.join(rel)), vec![], "-U sets no xattrs: /{rel}");
        }
    }
}
