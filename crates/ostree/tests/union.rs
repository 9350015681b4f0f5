//! `checkout --union` / `--union-add` against Debian's real `ostree` (2022.7): the
//! same commit checked out over the same pre-populated destination leaves the same
//! tree, and the same type conflicts are refused. Skipped when `ostree` is absent.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ferro_ostree::checkout::{CheckoutOptions, LinkMode, Overwrite, checkout};
use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::{Checksum, Repo, RepoMode};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{have_ostree, try_ostree};

/// Type, permission bits and bytes or target of every path below `root`.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let st = fs::symlink_metadata(&path).unwrap();
            let perms = st.mode() & 0o7777;
            let node = if st.file_type().is_symlink() {
                format!("link -> {}", fs::read_link(&path).unwrap().display())
            } else if st.is_dir() {
                walk(root, &path, out);
                format!("dir {perms:o}")
            } else {
                let bytes = fs::read(&path).unwrap();
                format!("file {perms:o} {:?}", String::from_utf8_lossy(&bytes))
            };
            out.insert(path.strip_prefix(root).unwrap().to_owned(), node);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The committed tree: `d/f`, `d/sub/`, `top`, `lnk -> top`, `fileb`, `dira/`.
fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("d/sub")).unwrap();
    fs::create_dir_all(root.join("dira")).unwrap();
    fs::write(root.join("d/f"), b"new\n").unwrap();
    fs::write(root.join("top"), b"top\n").unwrap();
    fs::write(root.join("fileb"), b"x\n").unwrap();
    fs::set_permissions(root.join("fileb"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("top", root.join("lnk")).unwrap();
}

/// A destination that overlaps the commit: a 0700 `d/` holding an old `d/f` (0600)
/// and a file of its own, a symlink where the commit has a file, a file where it has
/// a symlink, and an extra directory.
fn populate(dest: &Path) {
    fs::create_dir_all(dest.join("d")).unwrap();
    fs::create_dir_all(dest.join("extra")).unwrap();
    fs::set_permissions(dest.join("d"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(dest.join("d/f"), b"old\n").unwrap();
    fs::set_permissions(dest.join("d/f"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(dest.join("d/mine"), b"keep\n").unwrap();
    std::os::unix::fs::symlink("elsewhere", dest.join("top")).unwrap();
    fs::write(dest.join("lnk"), b"oldlnk\n").unwrap();
}

struct Setup {
    tmp: tempfile::TempDir,
    repo: Repo,
    commit: Checksum,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    let repo = Repo::init(&tmp.path().join("repo"), RepoMode::BareUser).unwrap();
    let options = CommitOptions {
        branch: Some("main".into()),
        timestamp: Some(0),
        ..Default::default()
    };
    let commit = commit_dir(&repo, &src, &options).unwrap().commit;
    Setup { tmp, repo, commit }
}

fn ferro(setup: &Setup, dest: &Path, overwrite: Overwrite, link: LinkMode) -> Result<(), String> {
    let options = CheckoutOptions {
        user_mode: true,
        link,
        overwrite,
        ..Default::default()
    };
    checkout(&setup.repo, &setup.commit, dest, &options)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn real(setup: &Setup, dest: &Path, flag: &str) -> Result<(), String> {
    let repo = format!("--repo={}", setup.repo.path().display());
    try_ostree(&[
        "checkout",
        &repo,
        "-U",
        flag,
        "main",
        dest.to_str().unwrap(),
    ])
    .map(drop)
}

/// Over the same destination, ferro (copying or hardlinking) and `ostree checkout -U`
/// leave identical trees for `--union` and `--union-add`.
#[test]
fn union_and_union_add_match_ostree() {
    if !have_ostree() {
        return;
    }
    let setup = setup();
    for (flag, overwrite) in [
        ("--union", Overwrite::UnionFiles),
        ("--union-add", Overwrite::AddFiles),
    ] {
        let theirs = setup.tmp.path().join(format!("ostree{flag}"));
        populate(&theirs);
        real(&setup, &theirs, flag).unwrap();
        let want = snapshot(&theirs);
        for link in [LinkMode::Copy, LinkMode::Auto] {
            let ours = setup.tmp.path().join(format!("ferro{flag}-{link:?}"));
            populate(&ours);
            ferro(&setup, &ours, overwrite, link).unwrap();
            assert_eq!(snapshot(&ours), want, "{flag} {link:?}");
            // Checking out again over itself changes nothing.
            ferro(&setup, &ours, overwrite, link).unwrap();
            assert_eq!(snapshot(&ours), want, "{flag} {link:?} twice");
        }
    }
    let ours = setup.tmp.path().join("ferro-union-hardlinks");
    ferro(&setup, &ours, Overwrite::Never, LinkMode::Require).unwrap();
    ferro(&setup, &ours, Overwrite::UnionFiles, LinkMode::Require).unwrap();
    let leftovers: Vec<_> = fs::read_dir(&ours)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary names left: {leftovers:?}");
}

/// A directory where the commit has a file fails `--union` (and is kept by
/// `--union-add`); a file where it has a directory fails both; without a union mode an
/// existing destination fails — each exactly when `ostree` fails.
#[test]
fn conflicts_fail_like_ostree() {
    if !have_ostree() {
        return;
    }
    let setup = setup();
    type Prepare = fn(&Path);
    let cases: [(&str, Prepare); 2] = [
        ("dir-for-file", |d| {
            fs::create_dir_all(d.join("fileb")).unwrap()
        }),
        ("file-for-dir", |d| {
            fs::create_dir_all(d).unwrap();
            fs::write(d.join("dira"), b"z").unwrap();
        }),
    ];
    for (name, prepare) in cases {
        for (flag, overwrite) in [
            ("--union", Overwrite::UnionFiles),
            ("--union-add", Overwrite::AddFiles),
        ] {
            let theirs = setup.tmp.path().join(format!("ostree-{name}{flag}"));
            let ours = setup.tmp.path().join(format!("ferro-{name}{flag}"));
            prepare(&theirs);
            prepare(&ours);
            let real_ok = real(&setup, &theirs, flag).is_ok();
            let ours_ok = ferro(&setup, &ours, overwrite, LinkMode::Copy).is_ok();
            assert_eq!(ours_ok, real_ok, "{name} {flag}");
            let only_kept = name == "dir-for-file" && flag == "--union-add";
            assert_eq!(real_ok, only_kept, "ostree {name} {flag}");
            if real_ok {
                assert_eq!(snapshot(&ours), snapshot(&theirs), "{name} {flag}");
            }
        }
    }
    let existing = setup.tmp.path().join("existing");
    fs::create_dir(&existing).unwrap();
    assert!(ferro(&setup, &existing, Overwrite::Never, LinkMode::Copy).is_err());
}

/// `--union --whiteouts` of a base and then a layer with AUFS whiteouts (`.wh.NAME`,
/// an opaque directory, a file replacing a directory) leaves the tree `ostree` leaves;
/// `--process-passthrough-whiteouts` makes `.ostree-wh.NAME` a whiteout device.
#[test]
fn whiteouts_match_ostree() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    for dir in ["baz/another", "deeper", "gone", "wh"] {
        fs::create_dir_all(base.join(dir)).unwrap();
    }
    for (path, data) in [
        ("baz/cow", "cow"),
        ("baz/another/y", "y"),
        ("deeper/x", "x"),
        ("gone/z", "z"),
        ("wh/.ostree-wh.marker", ""),
    ] {
        fs::write(base.join(path), data).unwrap();
    }
    let layer = tmp.path().join("layer");
    fs::create_dir_all(layer.join("baz/another")).unwrap();
    fs::create_dir_all(layer.join("anewdir")).unwrap();
    for path in [
        "baz/.wh.cow",
        ".wh.deeper",
        "baz/another/.wh..wh..opq",
        "anewfile",
        "anewdir/blah",
    ] {
        fs::write(layer.join(path), "").unwrap();
    }
    fs::write(layer.join("gone"), "a file where a directory was").unwrap();
    let repo = Repo::init(&tmp.path().join("repo"), RepoMode::BareUser).unwrap();
    for (branch, src) in [("base", &base), ("layer", &layer)] {
        let options = CommitOptions {
            branch: Some(branch.into()),
            timestamp: Some(0),
            ..Default::default()
        };
        commit_dir(&repo, src, &options).unwrap();
    }
    let r = format!("--repo={}", repo.path().display());
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    for branch in ["base", "layer"] {
        let options = CheckoutOptions {
            user_mode: true,
            overwrite: Overwrite::UnionFiles,
            whiteouts: true,
            ..Default::default()
        };
        let id = repo.resolve_rev(branch).unwrap();
        checkout(&repo, &id, &ours, &options).unwrap();
        let dest = theirs.to_str().unwrap();
        try_ostree(&["checkout", &r, "-U", "--union", "--whiteouts", branch, dest]).unwrap();
    }
    let snap = snapshot(&ours);
    assert_eq!(snap, snapshot(&theirs));
    assert!(!snap.contains_key(Path::new("baz/cow")) && !snap.contains_key(Path::new("deeper")));
    assert!(snap[Path::new("gone")].starts_with("file"), "{snap:?}");

    let passthrough = tmp.path().join("passthrough");
    let options = CheckoutOptions {
        user_mode: true,
        passthrough_whiteouts: true,
        ..Default::default()
    };
    checkout(
        &repo,
        &repo.resolve_rev("base").unwrap(),
        &passthrough,
        &options,
    )
    .unwrap();
    let st = fs::symlink_metadata(passthrough.join("wh/marker")).unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(st.file_type().is_char_device() && st.rdev() == 0, "{st:?}");
    assert!(!passthrough.join("wh/.ostree-wh.marker").exists());
}
