//! Behaviour OSTree's own test suite checks (test-refs, basic-user*, rofiles-fuse),
//! through ferro's library: ref aliases, metadata keys, user-mode checkouts of
//! unreadable files and `bare-user-only` directories, pulls into `bare-user-only`, and
//! the devino cache.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use ferro_ostree::Checksum;
use ferro_ostree::checkout::{CheckoutOptions, checkout};
use ferro_ostree::commit::{CommitOptions, commit_dir, devino_cache};
use ferro_ostree::commit_modifier::CommitModifiers;
use ferro_ostree::object::ObjectType;
use ferro_ostree::object::Variant;
use ferro_ostree::pull_local::{PullLocalOptions, pull_local};
use ferro_ostree::refs;
use ferro_ostree::repo::{Repo, RepoMode};
use ferro_ostree::tree_source::{TreeSource, commit_trees};

fn commit(repo: &Repo, tree: &Path, branch: &str, options: CommitOptions) -> Checksum {
    let options = CommitOptions {
        branch: Some(branch.into()),
        ..options
    };
    commit_dir(repo, tree, &options).unwrap().commit
}

fn tree_with(dir: &Path, files: &[(&str, u32)]) -> std::path::PathBuf {
    let tree = dir.join("tree");
    fs::create_dir_all(&tree).unwrap();
    for (name, mode) in files {
        let path = tree.join(name);
        fs::write(&path, format!("{name}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).unwrap();
    }
    tree
}

#[test]
fn aliases_follow_their_ref_and_protect_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::init(&dir.path().join("repo"), RepoMode::Archive).unwrap();
    let tree = tree_with(dir.path(), &[("a", 0o644)]);
    let v26 = commit(
        &repo,
        &tree,
        "os/x86_64/26/server",
        CommitOptions::default(),
    );
    refs::create_alias(
        &repo,
        "os/x86_64/stable/server",
        "os/x86_64/26/server",
        false,
    )
    .unwrap();
    assert_eq!(
        refs::aliases(&repo).unwrap(),
        [(
            "os/x86_64/stable/server".to_owned(),
            "os/x86_64/26/server".to_owned()
        )]
    );
    assert_eq!(repo.resolve_rev("os/x86_64/stable/server").unwrap(), v26);
    fs::write(tree.join("b"), "b").unwrap();
    let newer = commit(
        &repo,
        &tree,
        "os/x86_64/26/server",
        CommitOptions::default(),
    );
    assert_eq!(repo.resolve_rev("os/x86_64/stable/server").unwrap(), newer);

    // Repointed without --force; the ref it names cannot go while it does.
    let v27 = commit(
        &repo,
        &tree,
        "os/x86_64/27/server",
        CommitOptions::default(),
    );
    refs::create_alias(
        &repo,
        "os/x86_64/stable/server",
        "os/x86_64/27/server",
        false,
    )
    .unwrap();
    assert_eq!(repo.resolve_rev("os/x86_64/stable/server").unwrap(), v27);
    let err = refs::delete(&repo, &["os/x86_64/27/server".to_owned()]).unwrap_err();
    assert!(err.to_string().contains("has an active alias"), "{err}");
    assert_eq!(repo.read_ref("os/x86_64/27/server").unwrap(), Some(v27));

    let remote = refs::create_alias(&repo, "origin:x", "os/x86_64/27/server", false);
    assert!(
        remote
            .unwrap_err()
            .to_string()
            .contains("Cannot create alias to remote ref")
    );
    let missing = refs::create_alias(&repo, "foobar", "nonexistent", false);
    assert!(
        missing
            .unwrap_err()
            .to_string()
            .contains("Cannot create alias to non-existent ref")
    );
}

#[test]
fn remote_dot_selects_every_ref_of_the_remote() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::init(&dir.path().join("repo"), RepoMode::Archive).unwrap();
    let tree = tree_with(dir.path(), &[("a", 0o644)]);
    commit(&repo, &tree, "origin:one", CommitOptions::default());
    commit(&repo, &tree, "origin:two/deep", CommitOptions::default());
    commit(&repo, &tree, "local", CommitOptions::default());
    let names = |prefix: &str| -> Vec<String> {
        let found = repo.refs_under(prefix, false).unwrap();
        found.into_iter().map(|(name, _, _)| name).collect()
    };
    assert_eq!(names("origin:."), names("origin:"));
    assert_eq!(names("origin:.").len(), 2);
}

#[test]
fn an_empty_metadata_key_is_refused_and_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::init(&dir.path().join("repo"), RepoMode::Archive).unwrap();
    let tree = tree_with(dir.path(), &[("a", 0o644)]);
    let options = CommitOptions {
        branch: Some("m".into()),
        metadata: vec![(String::new(), Variant::string("FOO"))],
        ..CommitOptions::default()
    };
    let err = commit_dir(&repo, &tree, &options).unwrap_err();
    assert!(err.to_string().contains("Empty metadata key"), "{err}");
    assert_eq!(repo.read_ref("m").unwrap(), None);
}

#[test]
fn user_mode_copies_what_its_owner_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::init(&dir.path().join("repo"), RepoMode::BareUser).unwrap();
    let tree = tree_with(dir.path(), &[("unreadable", 0o644), ("plain", 0o644)]);
    let mut modifiers = CommitModifiers::default();
    modifiers.add_statoverride("=0 /unreadable\n").unwrap();
    let options = CommitOptions {
        modifiers,
        ..CommitOptions::default()
    };
    let id = commit(&repo, &tree, "t", options);
    let out = dir.path().join("out");
    let options = CheckoutOptions {
        user_mode: true,
        ..CheckoutOptions::default()
    };
    checkout(&repo, &id, &out, &options).unwrap();
    let meta = fs::metadata(out.join("unreadable")).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.nlink()), (0o400, 1));
    assert!(
        fs::metadata(out.join("plain")).unwrap().nlink() > 1,
        "others are linked"
    );
}

#[test]
fn bare_user_only_takes_canonical_bare_user_objects_by_link_and_refuses_setuid() {
    let dir = tempfile::tempdir().unwrap();
    let src = Repo::init(&dir.path().join("src"), RepoMode::BareUser).unwrap();
    let dest = Repo::init(&dir.path().join("dest"), RepoMode::BareUserOnly).unwrap();
    let tree = tree_with(dir.path(), &[("afile", 0o644)]);
    let canonical = CommitOptions {
        canonical_permissions: true,
        ..CommitOptions::default()
    };
    commit(&src, &tree, "t", canonical);
    let options = PullLocalOptions {
        refs: vec!["t".into()],
        ..PullLocalOptions::default()
    };
    pull_local(&dest, &src, &options).unwrap();
    let linked = dest
        .list_objects(ObjectType::File)
        .unwrap()
        .iter()
        .filter(|id| {
            let meta = fs::symlink_metadata(dest.object_path(ObjectType::File, id)).unwrap();
            meta.is_file() && meta.nlink() > 1
        })
        .count();
    assert_eq!(linked, 1, "afile is hardlinked, as OSTree links it");
    // A checkout of a bare-user-only repository never has a world-writable directory.
    let archive = Repo::init(&dir.path().join("archive"), RepoMode::Archive).unwrap();
    let open_tree = dir.path().join("open-tree");
    fs::create_dir_all(open_tree.join("open")).unwrap();
    fs::set_permissions(open_tree.join("open"), fs::Permissions::from_mode(0o777)).unwrap();
    let open_id = commit(&archive, &open_tree, "w", CommitOptions::default());
    let options = PullLocalOptions {
        refs: vec!["w".into()],
        ..PullLocalOptions::default()
    };
    pull_local(&dest, &archive, &options).unwrap();
    let out = dir.path().join("out");
    let user = CheckoutOptions {
        user_mode: true,
        ..CheckoutOptions::default()
    };
    checkout(&dest, &open_id, &out, &user).unwrap();
    assert_eq!(
        fs::metadata(out.join("open")).unwrap().mode() & 0o7777,
        0o775
    );

    let suid_src = Repo::init(&dir.path().join("suid"), RepoMode::Archive).unwrap();
    let mut modifiers = CommitModifiers::default();
    modifiers.add_statoverride("2048 /afile\n").unwrap();
    let with_suid = CommitOptions {
        modifiers,
        ..CommitOptions::default()
    };
    commit(&suid_src, &tree, "s", with_suid);
    let options = PullLocalOptions {
        refs: vec!["s".into()],
        ..PullLocalOptions::default()
    };
    let err = pull_local(&dest, &suid_src, &options).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Content object") && text.contains("invalid mode"),
        "{text}"
    );
    assert!(text.contains("with bits 04000"), "{text}");
    assert_eq!(dest.read_ref("s").unwrap(), None);
}

#[test]
fn devino_canonical_takes_linked_files_as_their_objects_and_counts_the_hits() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::init(&dir.path().join("repo"), RepoMode::BareUser).unwrap();
    let tree = tree_with(dir.path(), &[("cow", 0o600)]);
    let owned = CommitOptions {
        owner_uid: Some(4242),
        owner_gid: Some(4343),
        ..CommitOptions::default()
    };
    let id = commit(&repo, &tree, "t", owned);
    let co = dir.path().join("co");
    let user = CheckoutOptions {
        user_mode: true,
        ..CheckoutOptions::default()
    };
    checkout(&repo, &id, &co, &user).unwrap();
    let cache = Some(Arc::new(devino_cache(&repo).unwrap()));
    let rewrite = |canonical: bool| CommitOptions {
        owner_uid: Some(1),
        owner_gid: Some(2),
        devino: cache.clone(),
        devino_canonical: canonical,
        ..CommitOptions::default()
    };
    // Without -I, the commit's owners apply: the file is read again.
    let sources = [TreeSource::Dir(co.clone())];
    let plain = commit_trees(
        &repo,
        &sources,
        &CommitOptions {
            branch: Some("p".into()),
            ..rewrite(false)
        },
    );
    assert_eq!(plain.unwrap().stats.content_cache_hits, 0);
    // With -I the linked file is its object, owner included.
    let out = commit_trees(
        &repo,
        &sources,
        &CommitOptions {
            branch: Some("i".into()),
            ..rewrite(true)
        },
    )
    .unwrap();
    assert_eq!(out.stats.content_cache_hits, 1);
}
