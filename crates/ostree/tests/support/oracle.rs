//! Debian's real `ostree` CLI (2022.7) as the tests' oracle. Each integration test
//! includes this module and uses what it needs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use ferro_sys::CommandRunExt;

use ferro_ostree::Checksum;

/// Whether `ostree` is installed; says why the test is skipped when it is not.
pub fn have_ostree() -> bool {
    let found = try_ostree(&["--version"]).is_ok();
    if !found {
        eprintln!("skipping: `ostree` is not installed (apt-get install ostree)");
    }
    found
}

/// Runs `ostree ARGS` and returns its standard output, or its standard error when it
/// fails (or cannot be started). The `dummy` signature type is enabled, so tests can
/// sign with it, and the time zone is UTC, in which ferro shows times.
pub fn try_ostree(args: &[&str]) -> Result<String, String> {
    let run = Command::new("ostree")
        .args(args)
        .env("OSTREE_DUMMY_SIGN_ENABLED", "1")
        .env("TZ", "UTC")
        .run_capture();
    match run {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        Err(e) => Err(format!("cannot run ostree: {e}")),
    }
}

/// Runs `ostree ARGS`, which must succeed, and returns its standard output.
pub fn ostree(args: &[&str]) -> String {
    try_ostree(args).unwrap_or_else(|stderr| panic!("ostree {args:?} failed: {stderr}"))
}

/// The `--repo=PATH` argument.
pub fn repo_arg(path: &Path) -> String {
    format!("--repo={}", path.display())
}

/// Checks `rev` out of `repo` with `ostree checkout -U` into `dest` and digests it.
pub fn ostree_checkout(repo: &Path, rev: &str, dest: &Path) -> BTreeMap<String, String> {
    let dest_arg = dest.display().to_string();
    ostree(&["checkout", &repo_arg(repo), "-U", rev, &dest_arg]);
    digest(dest)
}

/// Path → kind, mode and content hash of every entry below `root`.
pub fn digest(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let value = if meta.file_type().is_symlink() {
                format!("l {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                walk(root, &path, out);
                format!("d {mode:o}")
            } else {
                format!("f {mode:o} {}", Checksum::of(&fs::read(&path).unwrap()))
            };
            out.insert(rel, value);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}
