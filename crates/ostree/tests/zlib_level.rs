//! `[archive] zlib-level` in a repository's `config` sets how hard `.filez` objects are
//! compressed, as in OSTree: the objects differ in size, not in content, and `ostree`
//! (when installed) reads them all.

use std::fs;
use std::path::Path;

use ferro_ostree::checkout::{CheckoutOptions, checkout};
use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::fsck::fsck;
use ferro_ostree::{Repo, RepoMode};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{have_ostree, ostree, repo_arg};

/// Text that compresses well but not trivially: a small object (compressed whole) and
/// one of 3 MB (streamed).
fn make_tree(root: &Path) {
    fs::create_dir_all(root).unwrap();
    let line = |i: u64| format!("line {i} of {} {}\n", i * 7919 % 1013, i.pow(3) % 99991);
    let text = |lines: u64| (0..lines).map(line).collect::<String>();
    fs::write(root.join("small.txt"), text(2_000)).unwrap();
    fs::write(root.join("large.txt"), text(100_000)).unwrap();
}

/// Total bytes of the repository's `.filez` objects.
fn filez_bytes(repo: &Path) -> u64 {
    let mut total = 0;
    for fanout in fs::read_dir(repo.join("objects")).unwrap() {
        for object in fs::read_dir(fanout.unwrap().path()).unwrap() {
            let path = object.unwrap().path();
            if path.extension().is_some_and(|e| e == "filez") {
                total += fs::metadata(&path).unwrap().len();
            }
        }
    }
    total
}

fn archive_repo_at_level(path: &Path, level: &str) -> Repo {
    Repo::init(path, RepoMode::Archive).unwrap();
    let config = path.join("config");
    let text = fs::read_to_string(&config).unwrap() + &format!("[archive]\nzlib-level={level}\n");
    fs::write(&config, text).unwrap();
    Repo::open(path).unwrap()
}

#[test]
fn zlib_level_sets_the_compression_of_archive_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    let options = CommitOptions {
        branch: Some("main".into()),
        timestamp: Some(0),
        ..Default::default()
    };
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    for level in ["1", "9"] {
        let path = tmp.path().join(format!("level{level}"));
        let repo = archive_repo_at_level(&path, level);
        let id = commit_dir(&repo, &src, &options).unwrap().commit;
        ids.push(id);
        assert!(fsck(&repo).unwrap().problems.is_empty());
        let out = tmp.path().join(format!("co{level}"));
        checkout(&repo, &id, &out, &CheckoutOptions::default()).unwrap();
        for name in ["small.txt", "large.txt"] {
            assert_eq!(
                fs::read(out.join(name)).unwrap(),
                fs::read(src.join(name)).unwrap()
            );
        }
        if have_ostree() {
            ostree(&["fsck", &repo_arg(&path)]);
        }
        sizes.push(filez_bytes(&path));
    }
    assert_eq!(
        ids[0], ids[1],
        "the level changes the bytes stored, not the commit"
    );
    assert!(
        sizes[0] > sizes[1] * 11 / 10,
        "level 1 should store at least 10% more than level 9: {sizes:?}"
    );
}

#[test]
fn a_zlib_level_that_is_not_a_number_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("repo");
    Repo::init(&path, RepoMode::Archive).unwrap();
    let config = path.join("config");
    let text = fs::read_to_string(&config).unwrap() + "[archive]\nzlib-level=fast\n";
    fs::write(&config, text).unwrap();
    let error = Repo::open(&path).unwrap_err().to_string();
    assert!(error.contains("[archive] zlib-level=fast"), "{error}");
}
