//! `ferro vm run|list|stop` end to end with real QEMU, on a one-sector disk that prints
//! a line and halts; skipped with a message when QEMU is not installed.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ferro_sys::CommandRunExt;

fn ferro(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferro"))
        .arg("vm")
        .args(args)
        .env("FERRO_VM_STATE_DIR", state)
        .run_capture()
        .unwrap()
}

#[test]
fn run_list_stop() {
    if let Err(e) = Command::new("qemu-system-x86_64")
        .arg("--version")
        .run_capture()
    {
        eprintln!("skipped: {e}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // Boot sector: print "halted" on COM1, then cli; hlt.
    #[rustfmt::skip]
    let code = [
        0x31, 0xc0, 0x8e, 0xd8, 0xba, 0xf8, 0x03, 0xbe, 0x16, 0x7c, 0xac, 0x84, 0xc0,
        0x74, 0x03, 0xee, 0xeb, 0xf8, 0xfa, 0xf4, 0xeb, 0xfc,
    ];
    let mut disk = vec![0u8; 1 << 20];
    disk[..code.len()].copy_from_slice(&code);
    disk[0x16..0x1e].copy_from_slice(b"halted\n\0");
    disk[510..512].copy_from_slice(&[0x55, 0xaa]);
    let image = dir.path().join("disk.raw");
    fs::write(&image, &disk).unwrap();
    let config = dir.path().join("config.ign");
    fs::write(&config, r#"{"ignition":{"version":"3.4.0"}}"#).unwrap();

    let run = ferro(
        &state,
        &[
            "run",
            image.to_str().unwrap(),
            "--ignition",
            config.to_str().unwrap(),
            "--name",
            "t",
            "--accel",
            "tcg",
            "--memory",
            "128",
            "--cpus",
            "1",
            "--publish",
            "18082:80",
            "--ssh-port",
            "18022",
        ],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let console = state.join("t/console.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fs::read_to_string(&console)
        .unwrap_or_default()
        .contains("halted")
    {
        assert!(Instant::now() < deadline, "no console output");
        std::thread::sleep(Duration::from_millis(200));
    }

    let list = ferro(&state, &["list", "--json"]);
    let vms: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(vms[0]["name"], "t");
    assert_eq!(vms[0]["running"], true);
    assert_eq!(vms[0]["ssh_port"], 18022);
    assert_eq!(vms[0]["publish"][0]["host"], 18082);

    // A running VM of the same name is not replaced.
    let again = ferro(
        &state,
        &[
            "run",
            image.to_str().unwrap(),
            "--ignition",
            config.to_str().unwrap(),
            "--name",
            "t",
            "--accel",
            "tcg",
        ],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));

    let stop = ferro(&state, &["stop", "t", "--timeout", "0"]);
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    assert!(String::from_utf8_lossy(&stop.stderr).contains("stopped"));
    let list = ferro(&state, &["list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.lines().nth(1).unwrap().contains("stopped"), "{text}");

    // A stopped VM is replaced; SSH never answers on a halted guest, so --wait-ssh
    // gives up after its timeout with an error.
    let wait = ferro(
        &state,
        &[
            "run",
            image.to_str().unwrap(),
            "--ignition",
            config.to_str().unwrap(),
            "--name",
            "t",
            "--accel",
            "tcg",
            "--memory",
            "128",
            "--wait-ssh",
            "--wait-timeout",
            "2",
        ],
    );
    assert!(!wait.status.success());
    assert!(String::from_utf8_lossy(&wait.stderr).contains("did not answer within 2 s"));
    assert!(
        ferro(&state, &["stop", "t", "--timeout", "0"])
            .status
            .success()
    );

    let bad = ferro(&state, &["run", "x", "--ignition", "y", "--publish", "80"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "usage error for a bad --publish"
    );
}
