//! `ferro installer iso …` through the binary: the round trip a user does on a live
//! ISO (here a file with the ISO's customisation headers), exit codes and messages.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use ferro_installer::iso::{IgnitionArea, KargAreas, karg_area_bytes, write_headers};
use ferro_sys::CommandRunExt;

fn ferro(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(args)
        .current_dir(dir)
        .run_capture()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A 64 KiB stand-in for a live ISO: an embed area of 4 KiB and one argument area.
fn fake_iso(dir: &Path) {
    let path = dir.join("live.iso");
    let mut bytes = vec![0u8; 64 << 10];
    let area = karg_area_bytes("boot=ferrolive ferro.live=1", 128).unwrap();
    bytes[36 << 10..(36 << 10) + 128].copy_from_slice(&area);
    bytes[37 << 10..(37 << 10) + 128].copy_from_slice(&area);
    fs::write(&path, &bytes).unwrap();
    let mut file = fs::File::options()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    write_headers(
        &mut file,
        &path,
        IgnitionArea {
            offset: 40 << 10,
            length: 4 << 10,
        },
        &KargAreas {
            length: 128,
            default_offset: 37 << 10,
            offsets: vec![36 << 10],
        },
    )
    .unwrap();
}

#[test]
fn iso_ignition_and_kargs_round_trip_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fake_iso(d);
    let config = r#"{"ignition":{"version":"3.4.0"}}"#;
    fs::write(d.join("c.ign"), config).unwrap();

    let none = ferro(d, &["installer", "iso", "ignition", "show", "live.iso"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(text(&none.stderr).contains("no embedded Ignition config"));

    let embed = [
        "installer",
        "iso",
        "ignition",
        "embed",
        "-i",
        "c.ign",
        "live.iso",
    ];
    assert!(ferro(d, &embed).status.success());
    let shown = ferro(d, &["installer", "iso", "ignition", "show", "live.iso"]);
    assert_eq!(text(&shown.stdout), config);
    let again = ferro(d, &embed);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("--force"),
        "{}",
        text(&again.stderr)
    );
    let forced = [
        "installer",
        "iso",
        "ignition",
        "embed",
        "-f",
        "-i",
        "c.ign",
        "live.iso",
    ];
    assert!(ferro(d, &forced).status.success());
    assert!(
        ferro(d, &["installer", "iso", "ignition", "remove", "live.iso"])
            .status
            .success()
    );
    assert_eq!(
        ferro(d, &["installer", "iso", "ignition", "show", "live.iso"])
            .status
            .code(),
        Some(1)
    );

    let modify = [
        "installer",
        "iso",
        "kargs",
        "modify",
        "-a",
        "coreos.inst.install_dev=/dev/sda",
        "-d",
        "ferro.live",
        "-o",
        "custom.iso",
        "live.iso",
    ];
    let out = ferro(d, &modify);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let show = |iso: &str, extra: &[&str]| {
        let mut args = vec!["installer", "iso", "kargs", "show"];
        args.extend_from_slice(extra);
        args.push(iso);
        text(&ferro(d, &args).stdout)
    };
    assert_eq!(
        show("custom.iso", &[]),
        "boot=ferrolive coreos.inst.install_dev=/dev/sda\n"
    );
    assert_eq!(
        show("custom.iso", &["--default"]),
        "boot=ferrolive ferro.live=1\n"
    );
    assert_eq!(
        show("live.iso", &[]),
        "boot=ferrolive ferro.live=1\n",
        "input unchanged"
    );

    let plain = d.join("plain.iso");
    fs::write(&plain, vec![0u8; 40_000]).unwrap();
    let out = ferro(d, &["installer", "iso", "kargs", "show", "plain.iso"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a ferrocore or CoreOS live ISO"),
        "{}",
        text(&out.stderr)
    );
}
