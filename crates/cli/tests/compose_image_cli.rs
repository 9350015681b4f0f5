//! `ferro compose image` argument handling and error rendering (building images is
//! tested in crates/compose/tests/image.rs).

use std::process::{Command, Output};

use ferro_sys::CommandRunExt;

fn ferro(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(["compose", "image"])
        .args(args)
        .run_capture()
        .unwrap()
}

#[test]
fn a_bad_size_is_a_usage_error() {
    let out = ferro(&["--repo", "r", "--ref", "x", "-o", "d.raw", "--size", "8X"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown size suffix 'X'"), "{stderr}");
}

#[test]
fn a_missing_repository_fails_before_any_disk_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("d.raw");
    let out = ferro(&[
        "--repo",
        dir.path().join("nope").to_str().unwrap(),
        "--ref",
        "x",
        "-o",
        output.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!output.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
