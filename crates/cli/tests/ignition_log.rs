//! `ferro ignition run --log-file`: the log the initramfs keeps in `/run` for the
//! booted system to replay into the journal (`systemd-cat`, identifier `ignition`).

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use ferro_sys::CommandRunExt;

/// Runs `ferro ignition run --stage fetch-offline --platform file` on `config` with
/// every Ignition location inside `dir`, logging to `dir/ignition.log`.
fn fetch_offline(dir: &Path, config: &str) -> Output {
    fs::write(dir.join("config.ign"), config).unwrap();
    fs::write(dir.join("cmdline"), "quiet\n").unwrap();
    let at = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args([
            "ignition",
            "run",
            "--stage",
            "fetch-offline",
            "--platform",
            "file",
        ])
        .args([
            "--config-cache",
            &at("cache.json"),
            "--state-file",
            &at("state"),
        ])
        .args([
            "--neednet",
            &at("neednet"),
            "--log-file",
            &at("ignition.log"),
        ])
        .env("IGNITION_CONFIG_FILE", at("config.ign"))
        .env("IGNITION_KERNEL_CMDLINE_PATH", at("cmdline"))
        .env("IGNITION_SYSTEM_RUNTIME_CONFIG_DIR", at("run"))
        .env("IGNITION_SYSTEM_LOCAL_CONFIG_DIR", at("etc"))
        .env("IGNITION_SYSTEM_CONFIG_DIR", at("usr"))
        .run_capture()
        .unwrap()
}

#[test]
fn stages_append_their_log_with_syslog_priorities() {
    let dir = tempfile::tempdir().unwrap();
    let ok = fetch_offline(dir.path(), "{\"ignition\":{\"version\":\"3.4.0\"}}");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = fetch_offline(dir.path(), "{\"ignition\":");
    assert_eq!(bad.status.code(), Some(1));
    // The console (standard error) still has every line.
    assert!(String::from_utf8_lossy(&bad.stderr).contains("CRITICAL : Ignition failed"));

    let log = fs::read_to_string(dir.path().join("ignition.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines.contains(&"<6>fetch-offline: Stage: fetch-offline"),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<6>fetch-offline: fetched config from platform file")),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<2>fetch-offline: Ignition failed:")),
        "the failure is appended after the first run's lines, critical: {log}"
    );
    let first_failure = lines.iter().position(|l| l.starts_with("<2>")).unwrap();
    assert!(
        lines[..first_failure]
            .iter()
            .any(|l| l.contains("finished successfully"))
    );
}
