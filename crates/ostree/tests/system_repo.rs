//! What a repository opened through a sysroot sees: remotes of a deployment's system
//! repository in its `etc/ostree/remotes.d`, and `fsck`'s binding checks between refs
//! and the refs their commits were made for.

use std::fs;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::fsck_bindings::{BindingChecks, check};
use ferro_ostree::remote::RemoteAdd;
use ferro_ostree::{Repo, RepoMode};

#[test]
fn a_deployments_remotes_live_in_its_remotes_d() {
    let tmp = tempfile::tempdir().unwrap();
    let physical = tmp.path().join("sysroot");
    let repo_path = physical.join("ostree/repo");
    Repo::init(&repo_path, RepoMode::Bare).unwrap();
    // A deployment: its own root, with the physical root visible under sysroot/.
    let deployment = tmp.path().join("deploy");
    fs::create_dir_all(deployment.join("etc")).unwrap();
    std::os::unix::fs::symlink(&physical, deployment.join("sysroot")).unwrap();
    std::os::unix::fs::symlink(physical.join("ostree"), deployment.join("ostree")).unwrap();
    let located = deployment.join("ostree/repo");

    // Opened through the physical root: remotes in the repository's config.
    let repo = Repo::open_located(&repo_path, Some(&physical)).unwrap();
    repo.remote_add_with("physical", "file:///srv", &RemoteAdd::default())
        .unwrap();
    assert!(
        fs::read_to_string(repo_path.join("config"))
            .unwrap()
            .contains("physical")
    );

    // Through the deployment: a file of its own in remotes.d.
    let repo = Repo::open_located(&located, Some(&deployment)).unwrap();
    repo.remote_add_with("system", "file:///srv2", &RemoteAdd::default())
        .unwrap();
    let file = deployment.join("etc/ostree/remotes.d/system.conf");
    assert!(
        fs::read_to_string(&file)
            .unwrap()
            .contains("url=file:///srv2")
    );
    assert!(
        !fs::read_to_string(repo_path.join("config"))
            .unwrap()
            .contains("srv2")
    );
    assert_eq!(repo.remote("system").unwrap().url, "file:///srv2");
    let names: Vec<String> = repo
        .remote_list()
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["physical", "system"]);
    let again = repo.remote_add_with("system", "file:///x", &RemoteAdd::default());
    assert!(
        again.is_err(),
        "an existing remote is not replaced without --force"
    );
    repo.remote_delete("system").unwrap();
    assert!(repo.remote("system").is_err());

    // add-remotes-config-dir=false: the repository's config after all.
    let config = fs::read_to_string(repo_path.join("config")).unwrap();
    let config = config.replacen("[core]\n", "[core]\nadd-remotes-config-dir=false\n", 1);
    fs::write(repo_path.join("config"), config).unwrap();
    let repo = Repo::open_located(&located, Some(&deployment)).unwrap();
    repo.remote_add_with("configured", "file:///srv3", &RemoteAdd::default())
        .unwrap();
    assert!(
        !deployment
            .join("etc/ostree/remotes.d/configured.conf")
            .exists()
    );
    assert!(
        fs::read_to_string(repo_path.join("config"))
            .unwrap()
            .contains("srv3")
    );
}

#[test]
fn fsck_checks_bindings_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"), RepoMode::Archive).unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), b"x").unwrap();
    let options = CommitOptions {
        branch: Some("ref1".into()),
        timestamp: Some(0),
        ..Default::default()
    };
    let id = commit_dir(&repo, &src, &options).unwrap().commit;
    let both = BindingChecks {
        verify_bindings: true,
        verify_back_refs: true,
    };
    assert!(check(&repo, both).unwrap().is_empty());
    // A ref the commit was not made for.
    repo.set_ref("new-ref", Some(&id)).unwrap();
    let found = check(&repo, both).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].to_string(),
        "Commit has no requested ref ‘new-ref’ in ref binding metadata (‘ref1’)"
    );
    // Not checked unless asked.
    assert!(check(&repo, BindingChecks::default()).unwrap().is_empty());
    // The ref it was made for, gone: only the back-reference check minds.
    repo.set_ref("ref1", None).unwrap();
    repo.set_ref("new-ref", None).unwrap();
    let found = check(&repo, both).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .to_string()
            .contains("‘ref1’ in bindings for commit"),
        "{}",
        found[0]
    );
}
