//! Debian's real `ostree` CLI (2022.7) as the tests' oracle. Each integration test
//! includes this module and uses what it needs.
#![allow(dead_code)]

use std::process::Command;

/// Whether `ostree` is installed; says why the test is skipped when it is not.
pub fn have_ostree() -> bool {
    let found = try_ostree(&["--version"]).is_ok();
    if !found {
        eprintln!("skipping: `ostree` is not installed (apt-get install ostree)");
    }
    found
}

/// Runs `ostree ARGS` and returns its standard output, or its standard error when it
/// fails (or cannot be started).
pub fn try_ostree(args: &[&str]) -> Result<String, String> {
    match Command::new("ostree").args(args).output() {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        Err(e) => Err(format!("cannot run ostree: {e}")),
    }
}

/// Runs `ostree ARGS`, which must succeed, and returns its standard output.
pub fn ostree(args: &[&str]) -> String {
    try_ostree(args).unwrap_or_else(|stderr| panic!("ostree {args:?} failed: {stderr}"))
}
