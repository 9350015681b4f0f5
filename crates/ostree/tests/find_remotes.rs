//! `find-remotes` with the config finder: remotes are matched by `collection-id` and
//! their summary (served from a `file://` URL), refs no remote has are reported, and
//! `--pull --mirror` keeps collection refs as mirrors (`refs/mirrors/COLLECTION/REF`)
//! without touching the local summary.

use std::fs;
use std::path::Path;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::find_remotes::{FindRemotesOptions, find_remotes};
use ferro_ostree::pull::{PullOptions, pull};
use ferro_ostree::remote::RemoteAdd;
use ferro_ostree::{Checksum, Repo, RepoMode};

const APPS: &str = "org.example.Apps";

/// An archive repository of collection [`APPS`] with refs app1 and app2 and a summary.
fn server(dir: &Path) -> (Repo, Checksum, Checksum) {
    let repo = Repo::init(&dir.join("apps"), RepoMode::Archive).unwrap();
    repo.set_collection_id(APPS).unwrap();
    let tree = dir.join("files");
    fs::create_dir_all(&tree).unwrap();
    let mut ids = Vec::new();
    for name in ["app1", "app2"] {
        fs::write(tree.join("x"), name).unwrap();
        let options = CommitOptions {
            branch: Some(name.into()),
            ..Default::default()
        };
        ids.push(commit_dir(&repo, &tree, &options).unwrap().commit);
    }
    ferro_ostree::summary::update_summary(&repo).unwrap();
    (repo, ids[0], ids[1])
}

fn client(dir: &Path, name: &str, server: &Repo) -> Repo {
    let repo = Repo::init(&dir.join(name), RepoMode::BareUserOnly).unwrap();
    let how = RemoteAdd {
        no_gpg_verify: true,
        collection_id: Some(APPS.into()),
        ..Default::default()
    };
    let url = format!("file://{}", server.path().display());
    repo.remote_add_with("apps-remote", &url, &how).unwrap();
    // A remote of another collection is not asked.
    let other = RemoteAdd {
        no_gpg_verify: true,
        collection_id: Some("org.example.Other".into()),
        ..Default::default()
    };
    repo.remote_add_with("other", "file:///nonexistent", &other)
        .unwrap();
    repo
}

fn pairs(names: &[&str]) -> Vec<(String, String)> {
    names.iter().map(|n| (APPS.into(), (*n).into())).collect()
}

#[test]
fn finds_refs_by_collection_and_reports_missing_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, app1, _) = server(tmp.path());
    let repo = client(tmp.path(), "local", &server);
    let options = FindRemotesOptions {
        refs: pairs(&["app1", "not-an-app"]),
        ..Default::default()
    };
    let outcome = find_remotes(&repo, &options, &()).unwrap();
    assert_eq!(outcome.results.len(), 1);
    let result = &outcome.results[0];
    assert_eq!(result.remote, "apps-remote");
    assert_eq!(
        result.refs,
        vec![
            (APPS.into(), "app1".into(), Some(app1)),
            (APPS.into(), "not-an-app".into(), None)
        ]
    );
    assert_eq!(outcome.not_found, pairs(&["not-an-app"]));
    assert_eq!(outcome.pulled, 0);
    // Pulling refuses before fetching anything when a ref is in no remote.
    let pull_all = FindRemotesOptions {
        pull: true,
        ..options
    };
    assert!(find_remotes(&repo, &pull_all, &()).is_err());
    assert!(repo.list_refs().unwrap().is_empty());
}

#[test]
fn pull_mirror_keeps_collection_refs_as_mirrors_and_the_summary_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, app1, app2) = server(tmp.path());
    let repo = client(tmp.path(), "mirror", &server);
    ferro_ostree::summary::update_summary(&repo).unwrap();
    let before = fs::read(repo.path().join("summary")).unwrap();
    let options = FindRemotesOptions {
        refs: pairs(&["app1"]),
        pull: true,
        mirror: true,
    };
    assert_eq!(find_remotes(&repo, &options, &()).unwrap().pulled, 1);
    // A plain mirror pull of the same remote also writes a mirrored ref.
    let mirror = PullOptions {
        mirror: true,
        ..Default::default()
    };
    pull(&repo, "apps-remote", &["app2".into()], &mirror, &()).unwrap();
    assert!(
        repo.list_refs().unwrap().is_empty(),
        "no local or remote refs"
    );
    let mirrored: Vec<(String, Checksum)> = repo
        .mirror_refs()
        .unwrap()
        .into_iter()
        .map(|r| (r.name, r.commit))
        .collect();
    assert_eq!(mirrored, vec![("app1".into(), app1), ("app2".into(), app2)]);
    assert_eq!(fs::read(repo.path().join("summary")).unwrap(), before);
    // A plain pull writes the remote's refs.
    let local = client(tmp.path(), "plain", &server);
    let plain = FindRemotesOptions {
        refs: pairs(&["app2"]),
        pull: true,
        mirror: false,
    };
    find_remotes(&local, &plain, &()).unwrap();
    assert_eq!(local.resolve_rev("apps-remote:app2").unwrap(), app2);
}
