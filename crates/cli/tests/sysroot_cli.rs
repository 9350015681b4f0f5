//! `ferro ostree admin …` and the host commands as processes: what scripts see (output,
//! `--json` shapes, exit codes).

#[path = "../../sysroot/tests/support/mod.rs"]
mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use ferro_ostree::{Checksum, Repo};
use ferro_sys::CommandRunExt;
use support::{Scratch, commit, make_tree};

/// `ferro ARGS… --run-dir SCRATCH/run`: never the host's run directory.
fn ferro(scratch: &Scratch, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(args)
        .arg("--run-dir")
        .arg(scratch.path().join("run"))
        .run_capture()
        .expect("run ferro")
}

fn ok(scratch: &Scratch, args: &[&str]) -> String {
    let out = ferro(scratch, args);
    assert!(
        out.status.success(),
        "ferro {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(scratch: &Scratch, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(scratch, args)).unwrap()
}

/// A sysroot made by `init-fs` + `os-init`, with `testos/v` at version 1 committed.
fn setup(scratch: &Scratch) -> (String, std::path::PathBuf) {
    let s = scratch.sysroot();
    let sysroot = s.to_str().unwrap().to_owned();
    ok(scratch, &["ostree", "admin", "init-fs", &sysroot]);
    let out = admin(scratch, &sysroot, &["os-init", "testos"]);
    assert_eq!(out, "ostree/deploy/testos initialized as OSTree root\n");
    let tree = scratch.path().join("tree");
    make_tree(&tree, "kernel", &[("a.conf", Some("a"))]);
    commit(&repo(&s), &tree, "testos/v", "1");
    (sysroot, tree)
}

/// `ferro ostree admin --sysroot SYSROOT ARGS`, which must succeed; its output.
fn admin(scratch: &Scratch, sysroot: &str, args: &[&str]) -> String {
    let mut all = vec!["ostree", "admin", "--sysroot", sysroot];
    all.extend(args);
    ok(scratch, &all)
}

/// A sysroot with version 1 deployed by `ferro ostree admin deploy` (kargs `rw`) and a
/// version 2, which adds `/etc/b.conf`, committed but not deployed.
fn deployed_with_update(scratch: &Scratch) -> (String, Checksum) {
    let (s, tree) = setup(scratch);
    admin(
        scratch,
        &s,
        &["deploy", "--os", "testos", "--karg", "rw", "testos/v"],
    );
    fs::write(tree.join("usr/etc/b.conf"), "b").unwrap();
    let v2 = commit(&repo(Path::new(&s)), &tree, "testos/v", "2");
    (s, v2)
}

fn repo(sysroot: &Path) -> Repo {
    Repo::open(&sysroot.join("ostree/repo")).unwrap()
}

#[test]
fn admin_deploy_status_and_host_commands() {
    let scratch = Scratch::new();
    let (s, v2) = deployed_with_update(&scratch);
    let admin = |args: &[&str]| admin(&scratch, &s, args);
    let out = admin(&["deploy", "--os", "testos", "testos/v"]);
    assert!(
        out.contains("Copying /etc changes: 0 modified, 0 removed, 0 added"),
        "{out}"
    );
    let status = admin(&["status"]);
    let first = status.lines().next().unwrap();
    assert_eq!(first, format!("  testos {v2}.0"));
    assert!(status.contains("    Version: 2\n    origin refspec: testos/v\n"));

    // `ferro status --json`: rpm-ostree's shape.
    let doc = json(&scratch, &["status", "--sysroot", &s, "--json"]);
    assert!(doc["transaction"].is_null());
    let list = doc["deployments"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let d = &list[0];
    assert_eq!(d["id"], format!("testos-{v2}.0"));
    assert_eq!(d["osname"], "testos");
    assert_eq!(d["checksum"], v2.to_string());
    assert_eq!(d["serial"], 0);
    assert_eq!(d["origin"], "testos/v");
    assert_eq!(d["version"], "2");
    assert_eq!(d["timestamp"], 1_700_000_000);
    for key in ["booted", "staged", "pinned"] {
        assert_eq!(d[key], false, "{key}");
    }

    // rollback: the previous deployment becomes the default.
    let out = ok(&scratch, &["rollback", "--sysroot", &s]);
    assert!(
        out.starts_with("Moving deployment 1 to be booted next"),
        "{out}"
    );
    let doc = json(&scratch, &["status", "--sysroot", &s, "--json"]);
    assert_eq!(doc["deployments"][0]["version"], "1");
    assert_eq!(doc["deployments"][1]["version"], "2");

    // kargs --append writes a new boot entry with the argument.
    let out = ok(&scratch, &["kargs", "--sysroot", &s, "--append", "quiet"]);
    assert!(
        out.starts_with("Kernel arguments updated: rw ostree=/ostree/boot.")
            && out.ends_with(" quiet\n"),
        "{out}"
    );
    assert!(ok(&scratch, &["kargs", "--sysroot", &s]).ends_with(" quiet\n"));

    // upgrade --check: the default (version 1 after the rollback) is behind the ref.
    let check = ferro(&scratch, &["upgrade", "--sysroot", &s, "--check", "--json"]);
    assert_eq!(check.status.code(), Some(0));
    let check: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(check["available"], true);
    assert_eq!(check["latest"], v2.to_string());
    let doc = json(&scratch, &["upgrade", "--sysroot", &s, "--json"]);
    assert_eq!(doc["checksum"], v2.to_string());
    assert_eq!(doc["staged"], false);
    let check = ferro(&scratch, &["upgrade", "--sysroot", &s, "--check"]);
    assert_eq!(check.status.code(), Some(77), "no update: exit 77");
    assert_eq!(
        String::from_utf8_lossy(&check.stdout),
        "No updates available for testos/v\n"
    );
}

#[test]
fn staged_deploy_is_listed_then_finalized() {
    let scratch = Scratch::new();
    let (s, v2) = deployed_with_update(&scratch);
    let admin = |args: &[&str]| admin(&scratch, &s, args);
    let doc = json(
        &scratch,
        &[
            "deploy",
            "--sysroot",
            &s,
            "--stage",
            "--json",
            &v2.to_string(),
        ],
    );
    assert_eq!(doc["staged"], true);
    assert_eq!(doc["origin"], "testos/v");
    assert!(
        scratch
            .path()
            .join("run/ostree/staged-deployment")
            .is_file()
    );

    let status = json(&scratch, &["status", "--sysroot", &s, "--json"]);
    let list = status["deployments"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["staged"], true);
    assert_eq!(list[0]["checksum"], v2.to_string());
    let text = ok(&scratch, &["status", "--sysroot", &s]);
    assert!(text.contains("Staged: yes"), "{text}");
    assert!(admin(&["status"]).starts_with(&format!("  testos {v2}.0 (staged)\n")));

    let out = admin(&["finalize-staged"]);
    assert!(
        out.ends_with(&format!("Finalized staged deployment testos {v2}.0\n")),
        "{out}"
    );
    let status = json(&scratch, &["status", "--sysroot", &s, "--json"]);
    assert_eq!(status["deployments"][0]["checksum"], v2.to_string());
    assert_eq!(status["deployments"][0]["staged"], false);
    assert_eq!(
        admin(&["finalize-staged"]),
        "No deployment staged for finalization\n"
    );
}

#[test]
fn locked_staging_waits_for_finalize_deployment_and_a_driver_needs_bypass() {
    let scratch = Scratch::new();
    let (s, v2) = deployed_with_update(&scratch);
    let admin = |args: &[&str]| admin(&scratch, &s, args);
    // An update driver owns updates: a manual deploy says so and changes nothing.
    let driver = scratch.path().join("run/ferro/update-driver");
    fs::create_dir_all(driver.parent().unwrap()).unwrap();
    fs::write(
        &driver,
        "[driver]\nname=ferro agent\nunit=ferro-agent.service\n",
    )
    .unwrap();
    let out = ferro(
        &scratch,
        &[
            "deploy",
            "--sysroot",
            &s,
            "--lock-finalization",
            &v2.to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("driven by ferro agent (ferro-agent.service)"),
        "{err}"
    );
    assert!(!scratch.path().join("run/ostree/staged-deployment").exists());

    let doc = json(
        &scratch,
        &[
            "deploy",
            "--sysroot",
            &s,
            "--lock-finalization",
            "--bypass-driver",
            "--json",
            &v2.to_string(),
        ],
    );
    assert_eq!(doc["staged"], true);
    assert_eq!(doc["finalization-locked"], true);
    assert!(
        scratch
            .path()
            .join("run/ostree/staged-deployment-locked")
            .is_file()
    );
    let status = json(&scratch, &["status", "--sysroot", &s, "--json"]);
    assert_eq!(status["deployments"][0]["finalization-locked"], true);
    assert_eq!(status["update-driver"]["unit"], "ferro-agent.service");
    let text = ok(&scratch, &["status", "--sysroot", &s]);
    assert!(text.contains("Staged: yes (finalization locked)"), "{text}");

    // Shutdown does not finalize a locked deployment.
    assert_eq!(
        admin(&["finalize-staged"]),
        "Not finalizing; found /run/ostree/staged-deployment-locked\n"
    );
    let status = json(&scratch, &["status", "--sysroot", &s, "--json"]);
    assert_eq!(status["deployments"][0]["staged"], true);
    // finalize-deployment refuses another checksum (before any reboot).
    let out = ferro(
        &scratch,
        &["finalize-deployment", "--sysroot", &s, &"0".repeat(64)],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Expected staged base checksum"), "{err}");
    assert!(
        scratch
            .path()
            .join("run/ostree/staged-deployment-locked")
            .is_file()
    );
}

#[test]
fn errors_are_clear_and_exit_1() {
    let scratch = Scratch::new();
    let (s, _) = setup(&scratch);
    let out = ferro(&scratch, &["rollback", "--sysroot", &s]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: No rollback deployment found\n"
    );
    let out = ferro(&scratch, &["rebase", "--sysroot", &s, "nosuch:testos/v"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nosuch"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
