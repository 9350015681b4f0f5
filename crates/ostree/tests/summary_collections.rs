//! The summary of a repository with a collection id: `ostree.summary.collection-id`,
//! the other collections' refs in `ostree.summary.collection-map` (shown by `--view`
//! as `ostree` shows them, checked against `ostree summary --view` when installed),
//! and the `ostree-metadata` commit `summary -u` makes there.

#[path = "support/oracle.rs"]
mod oracle;

use std::fs;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::object::Variant;
use ferro_ostree::summary::{METADATA_REF, update_summary_and_metadata_ref, view};
use ferro_ostree::{Repo, RepoMode};
use oracle::{have_ostree, ostree, repo_arg};

#[test]
fn collection_map_and_metadata_ref() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("repo");
    let repo = Repo::init(&path, RepoMode::Archive).unwrap();
    repo.set_collection_id("org.example.A").unwrap();
    let tree = tmp.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("a"), "a\n").unwrap();
    let options = CommitOptions {
        branch: Some("main".into()),
        timestamp: Some(1_700_000_000),
        ..Default::default()
    };
    let id = commit_dir(&repo, &tree, &options).unwrap().commit;
    ferro_ostree::refs::create_in_collection(&repo, "org.example.B:mirrored", "main", false)
        .unwrap();
    let extra = vec![("key".to_owned(), Variant::string("value"))];
    for _ in 0..2 {
        update_summary_and_metadata_ref(&repo, &extra).unwrap();
    }
    let shown = view(&fs::read(path.join("summary")).unwrap()).unwrap();
    for line in [
        "* (org.example.A, main)",
        "* (org.example.A, ostree-metadata)",
        "* (org.example.B, mirrored)",
        "Collection ID (ostree.summary.collection-id): org.example.A",
        "Collection Map (ostree.summary.collection-map): (printed above)",
    ] {
        assert!(shown.lines().any(|l| l == line), "{line} in\n{shown}");
    }
    assert!(shown.contains(&id.to_hex()));
    // Two updates, two commits on the metadata ref, each bound to it and the collection.
    let tip = repo.read_ref(METADATA_REF).unwrap().unwrap();
    let commit = repo.load_commit(&tip).unwrap();
    assert_eq!(commit.metadata_string("key").as_deref(), Some("value"));
    assert_eq!(
        commit
            .metadata_string("ostree.collection-binding")
            .as_deref(),
        Some("org.example.A")
    );
    let parent = commit.parent.expect("the first update's commit");
    assert_eq!(repo.load_commit(&parent).unwrap().parent, None);
    if !have_ostree() {
        eprintln!("skipping the comparison with ostree: not installed");
        return;
    }
    let theirs = ostree(&["summary", &repo_arg(&path), "--view"]);
    assert_eq!(theirs, shown);
    ostree(&["fsck", &repo_arg(&path)]);
}
