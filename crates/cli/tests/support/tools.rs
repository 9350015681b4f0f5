//! Running `ferro ostree` and the real `ostree` the same way, for tests that compare
//! the two on one repository. Each test includes this module and uses what it needs.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use ferro_sys::CommandRunExt;

/// Runs `ferro ostree` (`tool` "ferro") or `tool` itself with `--repo=REPO ARGS…`, in
/// the UTC time zone, in which both show times alike.
pub fn run(tool: &str, repo: &Path, args: &[&str]) -> Output {
    let mut command = match tool {
        "ferro" => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_ferro"));
            c.arg("ostree");
            c
        }
        _ => Command::new(tool),
    };
    command
        .arg(format!("--repo={}", repo.display()))
        .args(args)
        .env("TZ", "UTC")
        .run_capture()
        .unwrap()
}

/// A one-file tree (`hello`) under `dir`, to commit.
pub fn hello_tree(dir: &Path) -> std::path::PathBuf {
    let tree = dir.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("hello"), "hello\n").unwrap();
    tree
}
