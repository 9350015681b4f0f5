//! Staged deployments and the host operations that follow an origin (upgrade, rebase,
//! deploy of a revision).

mod support;

use std::fs;

use ferro_sysroot::{Apply, DeployOptions, Sysroot};
use support::{Scratch, commit, snapshot};

fn booted(scratch: &Scratch) -> Sysroot {
    support::booted_testos(scratch)
}

fn new_version(scratch: &Scratch, sysroot: &Sysroot, version: &str) -> ferro_ostree::Checksum {
    support::new_testos_version(scratch, sysroot, version)
}

#[test]
fn staged_deployment_is_finalized_with_etc_changes_made_after_staging() {
    let scratch = Scratch::new();
    let sysroot = booted(&scratch);
    let v2 = new_version(&scratch, &sysroot, "2");
    let boot_before = snapshot(&sysroot.path().join("boot"));
    let state_before = sysroot.load().unwrap();

    let report = sysroot
        .stage("testos/v", &DeployOptions::default())
        .unwrap();
    assert_eq!(report.deployment.checksum, v2);
    // Nothing boots differently until finalization.
    assert_eq!(snapshot(&sysroot.path().join("boot")), boot_before);
    assert_eq!(sysroot.load().unwrap(), state_before);
    let status = sysroot.status().unwrap();
    assert_eq!(status.len(), 2);
    assert!(status[0].staged && !status[0].booted);
    assert_eq!(status[0].deployment.checksum, v2);
    assert!(status[1].booted && !status[1].staged);
    // A cleanup keeps the staged directory.
    sysroot.cleanup().unwrap();
    let staged_dir = sysroot.dir_of(&report.deployment);
    assert!(staged_dir.join("usr").is_dir());
    assert!(sysroot.verify().unwrap().is_empty());

    // An edit of the running system's /etc after staging is carried over.
    let booted_dir = sysroot.dir_of(&state_before.deployments[0]);
    fs::write(booted_dir.join("etc/a.conf"), "edited after staging").unwrap();
    let report = sysroot
        .finalize_staged()
        .unwrap()
        .expect("a staged deployment");
    assert_eq!(report.deployment.checksum, v2);
    assert_eq!(report.etc.unwrap().modified, ["a.conf"]);
    let state = sysroot.load().unwrap();
    assert_eq!(state.deployments.len(), 2);
    assert_eq!(state.deployments[0].checksum, v2);
    assert_eq!(state.deployments[0].kargs.args()[0], "rw");
    let dir = sysroot.dir_of(&state.deployments[0]);
    assert_eq!(
        fs::read_to_string(dir.join("etc/a.conf")).unwrap(),
        "edited after staging"
    );
    assert_eq!(fs::read_to_string(dir.join("etc/new.conf")).unwrap(), "2");
    assert!(sysroot.staged().unwrap().is_none());
    assert!(!scratch.path().join("run/ostree/staged-deployment").exists());
    assert!(sysroot.verify().unwrap().is_empty());
    assert!(sysroot.finalize_staged().unwrap().is_none());
}

#[test]
fn restaging_replaces_and_deploying_discards_the_staged_deployment() {
    let scratch = Scratch::new();
    let sysroot = booted(&scratch);
    new_version(&scratch, &sysroot, "2");
    let first = sysroot
        .stage("testos/v", &DeployOptions::default())
        .unwrap();
    let v3 = new_version(&scratch, &sysroot, "3");
    let second = sysroot
        .stage("testos/v", &DeployOptions::default())
        .unwrap();
    assert_eq!(second.deployment.checksum, v3);
    assert!(!sysroot.dir_of(&first.deployment).exists());
    assert_eq!(sysroot.staged().unwrap().unwrap().checksum, v3);

    new_version(&scratch, &sysroot, "4");
    sysroot
        .deploy("testos/v", &DeployOptions::default())
        .unwrap();
    assert!(sysroot.staged().unwrap().is_none());
    assert!(!sysroot.dir_of(&second.deployment).exists());
    assert!(sysroot.status().unwrap().iter().all(|r| !r.staged));
}

/// Finalization stopped before each of its steps: the boot entries stay valid and
/// running it again finishes it.
#[test]
fn interrupted_finalization_is_finished_by_running_it_again() {
    let scratch = Scratch::new();
    let sysroot = booted(&scratch);
    let v2 = new_version(&scratch, &sysroot, "2");
    sysroot
        .stage("testos/v", &DeployOptions::default())
        .unwrap();
    let mut n = 0;
    loop {
        sysroot.set_failpoint(Some(n));
        let result = sysroot.finalize_staged();
        sysroot.set_failpoint(None);
        match result {
            Ok(report) => {
                assert!(
                    report.is_some(),
                    "stopped before the last step, then finished"
                );
                break;
            }
            Err(ferro_sysroot::Error::Injected(step)) => {
                assert!(sysroot.verify().unwrap().is_empty(), "before {step}");
                n += 1;
            }
            Err(e) => panic!("{e}"),
        }
        assert!(n < 30);
    }
    assert!(n >= 5, "only {n} steps");
    assert_eq!(sysroot.load().unwrap().deployments[0].checksum, v2);
    assert!(sysroot.staged().unwrap().is_none());
    assert!(sysroot.verify().unwrap().is_empty());
}

#[test]
fn upgrade_follows_the_origin_and_reports_when_nothing_is_new() {
    let scratch = Scratch::new();
    let sysroot = booted(&scratch);
    let check = sysroot.check_upgrade().unwrap();
    assert!(!check.available());
    assert_eq!(check.refspec, "testos/v");
    let (_, report) = sysroot.upgrade(Apply::Now).unwrap();
    assert!(report.is_none());

    let v2 = new_version(&scratch, &sysroot, "2");
    let check = sysroot.check_upgrade().unwrap();
    assert!(check.available());
    assert_eq!(check.latest, v2);
    let (_, report) = sysroot.upgrade(Apply::Staged).unwrap();
    assert_eq!(report.unwrap().deployment.checksum, v2);
    // The staged deployment counts as deployed.
    assert!(!sysroot.check_upgrade().unwrap().available());
    sysroot.finalize_staged().unwrap();
    assert_eq!(sysroot.load().unwrap().deployments[0].checksum, v2);
    assert!(!sysroot.check_upgrade().unwrap().available());
}

#[test]
fn deploy_revision_pins_a_commit_and_rebase_changes_the_origin() {
    let scratch = Scratch::new();
    let sysroot = booted(&scratch);
    let v1 = sysroot.load().unwrap().deployments[0].checksum;
    let v2 = new_version(&scratch, &sysroot, "2");
    // An older commit than the ref's head: recorded as override-commit.
    let report = sysroot.deploy_revision("testos/v^", Apply::Now).unwrap();
    let d = &report.deployment;
    assert_eq!(d.checksum, v1);
    assert_eq!(d.refspec().as_deref(), Some("testos/v"));
    assert_eq!(
        d.origin.get("origin", "override-commit"),
        Some(v1.to_string())
    );
    // An upgrade drops the override and follows the ref again.
    let (_, report) = sysroot.upgrade(Apply::Now).unwrap();
    let d = report.unwrap().deployment;
    assert_eq!(d.checksum, v2);
    assert_eq!(d.origin.get("origin", "override-commit"), None);

    let tree = scratch.path().join("tree");
    fs::write(tree.join("usr/etc/other.conf"), "other").unwrap();
    let other = commit(sysroot.repo(), &tree, "testos/other", "9");
    let report = sysroot.rebase("testos/other", Apply::Now).unwrap();
    assert_eq!(report.deployment.checksum, other);
    assert_eq!(report.deployment.refspec().as_deref(), Some("testos/other"));
    assert_eq!(sysroot.check_upgrade().unwrap().refspec, "testos/other");
    assert!(sysroot.verify().unwrap().is_empty());
}

#[test]
fn upgrade_from_an_unconfigured_remote_is_a_clear_error() {
    let scratch = Scratch::new();
    let sysroot = booted(&scratch);
    let err = sysroot.rebase("nosuch:testos/v", Apply::Now).unwrap_err();
    assert!(err.to_string().contains("nosuch"), "{err}");
    assert_eq!(sysroot.load().unwrap().deployments.len(), 1);
}

#[test]
fn etc_edits_of_a_staged_deployment_survive_the_merge_at_finalization() {
    use ferro_sysroot::etc_edits::EtcEdit;
    let scratch = Scratch::new();
    let sysroot = booted(&scratch);
    let state_before = sysroot.load().unwrap();
    let booted_commit = state_before.deployments[0].checksum.to_string();
    let options = DeployOptions {
        etc_edits: vec![
            EtcEdit::Write {
                path: "systemd/system/pool.service".into(),
                data: b"[Service]\nExecStart=/bin/true\n".to_vec(),
                mode: 0o644,
            },
            EtcEdit::Symlink {
                path: "systemd/system/multi-user.target.wants/pool.service".into(),
                target: "/etc/systemd/system/pool.service".into(),
            },
        ],
        lock_finalization: false,
        ..DeployOptions::default()
    };
    let report = sysroot.stage(&booted_commit, &options).unwrap();
    let staged_dir = sysroot.dir_of(&report.deployment);
    assert!(staged_dir.join("etc/systemd/system/pool.service").is_file());
    let kept = scratch.path().join("run/ferro/staged-etc-edits.json");
    assert!(kept.is_file());

    // The running system's /etc does not get them; a local edit made after staging is
    // carried over beside them at finalization.
    let booted_dir = sysroot.dir_of(&state_before.deployments[0]);
    assert!(!booted_dir.join("etc/systemd/system/pool.service").exists());
    fs::write(booted_dir.join("etc/a.conf"), "edited after staging").unwrap();
    sysroot.finalize_staged().unwrap().expect("staged");
    let state = sysroot.load().unwrap();
    let dir = sysroot.dir_of(&state.deployments[0]);
    assert_eq!(
        fs::read_to_string(dir.join("etc/systemd/system/pool.service")).unwrap(),
        "[Service]\nExecStart=/bin/true\n"
    );
    assert_eq!(
        fs::read_link(dir.join("etc/systemd/system/multi-user.target.wants/pool.service")).unwrap(),
        std::path::Path::new("/etc/systemd/system/pool.service")
    );
    assert_eq!(
        fs::read_to_string(dir.join("etc/a.conf")).unwrap(),
        "edited after staging"
    );
    // The rollback deployment is untouched, and the kept edits are gone.
    assert!(!booted_dir.join("etc/systemd/system/pool.service").exists());
    assert!(!kept.exists());
    assert!(sysroot.verify().unwrap().is_empty());

    // An edit that would leave /etc is refused before anything is staged.
    let bad = DeployOptions {
        etc_edits: vec![EtcEdit::Remove {
            path: "../usr/bin/sh".into(),
        }],
        ..DeployOptions::default()
    };
    let before = sysroot.load().unwrap();
    let err = sysroot.stage(&booted_commit, &bad).unwrap_err();
    assert!(err.to_string().contains("/etc edit"), "{err}");
    assert!(sysroot.staged().unwrap().is_none());
    assert_eq!(sysroot.load().unwrap(), before);
    assert!(sysroot.verify().unwrap().is_empty());
}

#[test]
fn an_override_commit_outside_the_refs_history_is_pulled_pinned() {
    use ferro_ostree::{Repo, RepoMode};
    use ferro_sysroot::upgrade::UpgradeOptions;
    let scratch = Scratch::new();
    let (mut sysroot, tree) = scratch.testos("kernel", &[("a.conf", Some("a"))]);
    sysroot.set_run_dir(&scratch.path().join("run"));
    // The server's repository: the ref at version 1, version 3 on another ref only
    // (as an update graph may offer it).
    let served = Repo::init(&scratch.path().join("served"), RepoMode::Archive).unwrap();
    let v1 = commit(&served, &tree, "testos/v", "1");
    fs::write(tree.join("usr/etc/new.conf"), "3").unwrap();
    let v3 = commit(&served, &tree, "testos/elsewhere", "3");
    let url = format!("file://{}", scratch.path().join("served").display());
    sysroot
        .repo()
        .remote_add("origin", &url, &[], &[], true)
        .unwrap();
    sysroot.fetch_refspec("origin:testos/v", false).unwrap();
    let options = DeployOptions {
        osname: Some("testos".into()),
        refspec: Some("origin:testos/v".into()),
        ..Default::default()
    };
    sysroot.deploy(&v1.to_string(), &options).unwrap();
    assert!(sysroot.repo().load_commit(&v3).is_err(), "not pulled yet");

    let how = UpgradeOptions {
        apply: Apply::Now,
        override_commit: Some(v3.to_string()),
        ..UpgradeOptions::default()
    };
    let (_, report) = sysroot.upgrade_with(&how).unwrap();
    let d = report.unwrap().deployment;
    assert_eq!(d.checksum, v3);
    assert_eq!(d.refspec().as_deref(), Some("origin:testos/v"));
    assert_eq!(
        d.origin.get("origin", "override-commit"),
        Some(v3.to_string())
    );
    let dir = sysroot.dir_of(&d);
    assert_eq!(fs::read_to_string(dir.join("etc/new.conf")).unwrap(), "3");
    assert!(sysroot.verify().unwrap().is_empty());
}
