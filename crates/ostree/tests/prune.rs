//! `prune`: what it keeps and deletes, alone and against Debian's `ostree prune`
//! (skipped when `ostree` is absent).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use ferro_sys::CommandRunExt;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::fsck::fsck;
use ferro_ostree::prune::{PruneOptions, prune};
use ferro_ostree::{Checksum, Repo, RepoMode};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{have_ostree, ostree};

fn write_tree(root: &Path, tag: &str, shared: &str) {
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::write(root.join("shared.txt"), shared).unwrap();
    fs::write(root.join("sub").join(format!("{tag}.txt")), tag).unwrap();
    std::os::unix::fs::symlink(format!("sub/{tag}.txt"), root.join("link")).unwrap();
}

fn commit(repo: &Repo, tmp: &Path, branch: &str, tag: &str, timestamp: u64) -> Checksum {
    let src = tmp.join(format!("src-{tag}"));
    write_tree(&src, tag, "common\n");
    let options = CommitOptions {
        branch: Some(branch.into()),
        subject: tag.into(),
        timestamp: Some(timestamp),
        owner_uid: Some(0),
        owner_gid: Some(0),
        ..Default::default()
    };
    commit_dir(repo, &src, &options).unwrap().commit
}

/// Every object file (relative to `objects/`).
fn objects(repo: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for fan in fs::read_dir(repo.join("objects")).unwrap() {
        let fan = fan.unwrap();
        for entry in fs::read_dir(fan.path()).unwrap() {
            out.insert(format!(
                "{}/{}",
                fan.file_name().to_string_lossy(),
                entry.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    out
}

/// Repo with: `main` = c1 <- c2 <- c3 (timestamps 1000, 2000, 3000) and `other` = o1
/// (timestamp 1500), each with a distinct file.
fn setup(path: &Path, tmp: &Path, mode: RepoMode) -> (Repo, [Checksum; 4]) {
    let repo = Repo::init(path, mode).unwrap();
    let c1 = commit(&repo, tmp, "main", "one", 1000);
    let c2 = commit(&repo, tmp, "main", "two", 2000);
    let c3 = commit(&repo, tmp, "main", "three", 3000);
    let o1 = commit(&repo, tmp, "other", "other", 1500);
    (repo, [c1, c2, c3, o1])
}

fn has_commit(repo: &Repo, id: &Checksum) -> bool {
    repo.has_object(ferro_ostree::ObjectType::Commit, id)
}

#[test]
fn default_prune_keeps_every_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, ids) = setup(&tmp.path().join("r"), tmp.path(), RepoMode::BareUser);
    repo.set_ref("other", None).unwrap();
    let report = prune(&repo, &PruneOptions::default()).unwrap();
    assert_eq!(report.deleted, 0);
    assert!(ids.iter().all(|id| has_commit(&repo, id)));
}

#[test]
fn refs_only_deletes_unreferenced_commits_and_their_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, [c1, c2, c3, o1]) = setup(&tmp.path().join("r"), tmp.path(), RepoMode::Archive);
    let before = objects(repo.path()).len();
    repo.set_ref("other", None).unwrap();
    let options = PruneOptions {
        refs_only: true,
        ..Default::default()
    };
    let report = prune(&repo, &options).unwrap();
    // o1's commit, root dirtree, sub dirtree, its own file and its own symlink.
    assert_eq!(report.deleted, 5, "{report:?}");
    assert!(report.freed > 0);
    assert_eq!(report.total, before);
    assert!(!has_commit(&repo, &o1));
    assert!([c1, c2, c3].iter().all(|id| has_commit(&repo, id)));
    assert!(fsck(&repo).unwrap().problems.is_empty());
    // Idempotent.
    assert_eq!(prune(&repo, &options).unwrap().deleted, 0);
}

#[test]
fn depth_limits_history() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, [c1, c2, c3, o1]) = setup(&tmp.path().join("r"), tmp.path(), RepoMode::BareUser);
    let options = PruneOptions {
        refs_only: true,
        depth: Some(1),
        ..Default::default()
    };
    prune(&repo, &options).unwrap();
    assert!(!has_commit(&repo, &c1));
    assert!([c2, c3, o1].iter().all(|id| has_commit(&repo, id)));
    assert!(fsck(&repo).unwrap().problems.is_empty());
    let options = PruneOptions {
        depth: Some(0),
        ..options
    };
    prune(&repo, &options).unwrap();
    assert!(!has_commit(&repo, &c2));
    assert!(has_commit(&repo, &c3));
}

#[test]
fn keep_younger_than_deletes_old_history_but_not_tips() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, [c1, c2, c3, o1]) = setup(&tmp.path().join("r"), tmp.path(), RepoMode::BareUser);
    let options = PruneOptions {
        keep_younger_than: Some(2500),
        ..Default::default()
    };
    let report = prune(&repo, &options).unwrap();
    assert!(report.deleted >= 2);
    assert!(!has_commit(&repo, &c1) && !has_commit(&repo, &c2));
    assert!(
        has_commit(&repo, &c3) && has_commit(&repo, &o1),
        "tips stay"
    );
    assert!(fsck(&repo).unwrap().problems.is_empty());
}

#[test]
fn no_prune_deletes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _) = setup(&tmp.path().join("r"), tmp.path(), RepoMode::BareUser);
    repo.set_ref("other", None).unwrap();
    let before = objects(repo.path());
    let options = PruneOptions {
        refs_only: true,
        no_prune: true,
        ..Default::default()
    };
    assert_eq!(prune(&repo, &options).unwrap().deleted, 5);
    assert_eq!(objects(repo.path()), before);
}

/// ferro prune deletes exactly what `ostree prune` deletes on a copy of the same
/// repository, and `ostree fsck` accepts the result.
#[test]
fn same_objects_deleted_as_ostree_prune() {
    if !have_ostree() {
        return;
    }
    for (flags, depth) in [
        (&["--refs-only"][..], None),
        (&["--refs-only", "--depth=1"][..], Some(1)),
    ] {
        for mode in [RepoMode::BareUser, RepoMode::Archive] {
            let tmp = tempfile::tempdir().unwrap();
            let ours = tmp.path().join("ours");
            let theirs = tmp.path().join("theirs");
            let (repo, _) = setup(&ours, tmp.path(), mode);
            repo.set_ref("other", None).unwrap();
            let status = Command::new("cp")
                .args(["-a", ours.to_str().unwrap(), theirs.to_str().unwrap()])
                .run_status()
                .unwrap();
            assert!(status.success());
            let options = PruneOptions {
                refs_only: true,
                depth,
                ..Default::default()
            };
            prune(&repo, &options).unwrap();
            let repo_arg = format!("--repo={}", theirs.display());
            let mut args = vec!["prune", repo_arg.as_str()];
            args.extend_from_slice(flags);
            ostree(&args);
            assert_eq!(objects(&ours), objects(&theirs), "{flags:?} {mode:?}");
            ostree(&["fsck", &format!("--repo={}", ours.display())]);
        }
    }
}
