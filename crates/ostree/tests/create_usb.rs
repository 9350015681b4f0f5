//! `create-usb`: collection refs copied onto a "medium" (a directory) as an archive
//! repository with mirrored refs and a summary, at `.ostree/repo` or elsewhere behind a
//! `.ostree/repos.d` link; bad requests write nothing. When `ostree` is installed it
//! reads the medium's repository (`refs --collections`, `fsck`).

use std::fs;
use std::path::Path;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::create_usb::{CreateUsbOptions, create_usb};
use ferro_ostree::{Repo, RepoMode};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{have_ostree, ostree, repo_arg, write_file};

const COLLECTION: &str = "org.example.Collection1";

/// A repository with collection id [`COLLECTION`] and refs test-1..test-3, each a
/// commit of a growing file.
fn source(dir: &Path) -> Repo {
    let repo = Repo::init(&dir.join("src"), RepoMode::BareUserOnly).unwrap();
    repo.set_collection_id(COLLECTION).unwrap();
    let tree = dir.join("tree");
    for i in 1..=3 {
        write_file(&tree, "root/a", "a\n".repeat(i).as_bytes(), 0o644);
        let options = CommitOptions {
            branch: Some(format!("test-{i}")),
            subject: "test".into(),
            timestamp: Some(1_600_000_000),
            ..Default::default()
        };
        commit_dir(&repo, &tree, &options).unwrap();
    }
    repo
}

fn pairs(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| (COLLECTION.to_owned(), (*n).to_owned()))
        .collect()
}

#[test]
fn refs_land_as_mirrored_collection_refs_in_an_archive_repo_with_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path());
    let mount = tmp.path().join("mount");
    fs::create_dir(&mount).unwrap();
    let options = CreateUsbOptions {
        refs: pairs(&["test-1", "test-2"]),
        ..Default::default()
    };
    let outcome = create_usb(&src, &mount, &options).unwrap();
    assert_eq!(outcome.link, None);
    let dest = Repo::open(&mount.join(".ostree/repo")).unwrap();
    assert_eq!(dest.mode(), RepoMode::Archive);
    let got: Vec<(String, String)> = dest
        .collection_refs()
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!(src.resolve_rev(&r.name).unwrap(), r.commit);
            (r.collection, r.name)
        })
        .collect();
    assert_eq!(got, pairs(&["test-1", "test-2"]));
    assert!(mount.join(".ostree/repo/summary").is_file());
    assert!(!mount.join(".ostree/repos.d").exists());
    if have_ostree() {
        let r = repo_arg(&mount.join(".ostree/repo"));
        let refs = ostree(&["refs", "--collections", &r]);
        assert!(
            refs.contains("(org.example.Collection1, test-1)\n"),
            "{refs}"
        );
        assert!(!refs.contains("test-3"), "{refs}");
        ostree(&["fsck", &r]);
    }
}

#[test]
fn another_destination_gets_one_repos_d_link_and_later_refs_add_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path());
    let mount = tmp.path().join("mount");
    fs::create_dir(&mount).unwrap();
    let options = |names: &[&str]| CreateUsbOptions {
        refs: pairs(names),
        destination_repo: Some("some-dest".into()),
        ..Default::default()
    };
    let first = create_usb(&src, &mount, &options(&["test-1"])).unwrap();
    let link = mount.join(".ostree/repos.d/00-generated");
    assert_eq!(first.link.as_deref(), Some(link.as_path()));
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("../../some-dest"));
    let second = create_usb(&src, &mount, &options(&["test-2", "test-3"])).unwrap();
    assert_eq!(second.link, None, "the existing link is reused");
    assert_eq!(
        fs::read_dir(mount.join(".ostree/repos.d")).unwrap().count(),
        1
    );
    let dest = Repo::open(&link).unwrap();
    assert_eq!(dest.collection_refs().unwrap().len(), 3);
    // The well-known places need no link.
    let plain = tmp.path().join("plain");
    fs::create_dir(&plain).unwrap();
    let options = CreateUsbOptions {
        refs: pairs(&["test-1"]),
        destination_repo: Some("ostree/repo".into()),
        ..Default::default()
    };
    assert_eq!(create_usb(&src, &plain, &options).unwrap().link, None);
    assert!(!plain.join(".ostree/repos.d").exists());
}

#[test]
fn bad_requests_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path());
    let mount = tmp.path().join("mount");
    fs::create_dir(&mount).unwrap();
    let cases = [
        CreateUsbOptions::default(),
        CreateUsbOptions {
            refs: pairs(&["no-such-ref"]),
            ..Default::default()
        },
        CreateUsbOptions {
            refs: vec![("notreversedns".into(), "test-1".into())],
            ..Default::default()
        },
        CreateUsbOptions {
            refs: pairs(&["test-1"]),
            destination_repo: Some("../outside".into()),
            ..Default::default()
        },
        CreateUsbOptions {
            refs: pairs(&["test-1", "test-2"]),
            commit: Some(src.resolve_rev("test-1").unwrap()),
            ..Default::default()
        },
    ];
    for options in cases {
        let result = create_usb(&src, &mount, &options);
        assert!(result.is_err(), "{options:?}");
        assert_eq!(fs::read_dir(&mount).unwrap().count(), 0, "{options:?}");
    }
    assert!(!tmp.path().join("outside").exists());
    assert!(
        create_usb(
            &src,
            &tmp.path().join("absent"),
            &CreateUsbOptions {
                refs: pairs(&["test-1"]),
                ..Default::default()
            }
        )
        .is_err()
    );
}
