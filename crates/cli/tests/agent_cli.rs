//! `ferro agent` as a process on a scratch sysroot: the control socket (`status`,
//! `defer`, `check-now`), the metrics socket, the driver registration, config warnings,
//! and an unreachable update server reported in `status` while nothing changes.

#[path = "../../sysroot/tests/support/mod.rs"]
mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ferro_sys::CommandRunExt;
use ferro_sysroot::DeployOptions;
use support::{Scratch, commit};

/// Kills the agent when the test ends, passed or not.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ferro(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(args)
        .run_capture()
        .expect("run ferro")
}

/// Polls `check` every 50 ms for up to 60 s (a generous deadline, not a timing).
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn agent_reports_an_unreachable_server_and_obeys_its_sockets() {
    let scratch = Scratch::new();
    let (mut sysroot, tree) = scratch.testos("kernel", &[("a.conf", Some("a"))]);
    commit(sysroot.repo(), &tree, "testos/v", "1");
    let options = DeployOptions {
        osname: Some("testos".into()),
        ..Default::default()
    };
    sysroot.deploy("testos/v", &options).unwrap();
    let cmdline = scratch.path().join("cmdline");
    fs::write(
        &cmdline,
        sysroot.load().unwrap().deployments[0].kargs.to_string(),
    )
    .unwrap();
    sysroot.set_cmdline_path(&cmdline);
    let before = sysroot.load().unwrap();

    let root = scratch.path().join("root");
    let dropins = root.join("etc/ferro/agent.d");
    fs::create_dir_all(&dropins).unwrap();
    // Port 9 on loopback: nothing listens (discard is not run in test machines).
    fs::write(
        dropins.join("50-test.toml"),
        "[identity]\nnode_uuid = \"0123456789abcdef0123456789abcdef\"\n\
         [cincinnati]\nbase_url = \"http://127.0.0.1:9/\"\n[updates]\nenable = false\n",
    )
    .unwrap();
    fs::write(dropins.join("90-off.yaml"), "updates: {enabled: false}\n").unwrap();

    let p = |name: &str| scratch.path().join(name).to_str().unwrap().to_owned();
    let (socket, metrics) = (p("control.sock"), p("metrics.promsock"));
    let common = ["--socket", &socket, "--metrics-socket", &metrics];
    let sysroot_path = sysroot.path().to_str().unwrap().to_owned();
    let child = Command::new(env!("CARGO_BIN_EXE_ferro"))
        .arg("agent")
        .args(common)
        .args([
            "--sysroot",
            &sysroot_path,
            "--config-root",
            root.to_str().unwrap(),
        ])
        .args([
            "--run-dir",
            &p("run"),
            "--state",
            &p("state.json"),
            "--cmdline",
            cmdline.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .start()
        .unwrap();
    let agent = Running(child);

    let status = |extra: &[&str]| -> Option<serde_json::Value> {
        let mut args = vec!["agent", "status", "--json"];
        args.extend(common);
        args.extend(extra);
        let out = ferro(&args);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    };
    let doc = wait_for("the unreachable server in status", || {
        status(&[]).filter(|d| {
            d["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("update graph"))
        })
    });
    assert_eq!(doc["state"]["state"], "no_new_update");
    assert_eq!(doc["strategy"], "immediate");
    assert_eq!(doc["lock_held"], false);
    assert_eq!(
        doc["identity"]["node_uuid"],
        "0123456789abcdef0123456789abcdef"
    );
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("unknown key 'updates.enable'"),
        "{warnings}"
    );
    assert!(warnings.contains("90-off.yaml: ignored"), "{warnings}");
    // It registered as the update driver: a manual upgrade needs --bypass-driver.
    assert!(Path::new(&p("run/ferro/update-driver")).is_file());
    let out = ferro(&[
        "upgrade",
        "--sysroot",
        &sysroot_path,
        "--run-dir",
        &p("run"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--bypass-driver"), "{err}");

    let out = ferro(&["agent", "metrics", "--metrics-socket", &metrics]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("zincati_updates_strategy_mode{strategy=\"immediate\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains("zincati_cincinnati_update_checks_errors_total 0\n"),
        "{text}"
    );

    let mut args = vec!["agent", "defer", "2h"];
    args.extend(common);
    assert!(ferro(&args).status.success());
    assert!(status(&[]).unwrap()["deferred_until"].as_u64().is_some());
    let mut args = vec!["agent", "check-now"];
    args.extend(common);
    assert!(ferro(&args).status.success());
    let out = ferro(&["agent", "defer", "soon", "--socket", &socket]);
    assert_eq!(out.status.code(), Some(1));

    drop(agent);
    // Nothing about the deployments changed.
    assert_eq!(sysroot.load().unwrap(), before);
}
