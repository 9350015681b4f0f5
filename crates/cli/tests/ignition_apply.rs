//! `ferro ignition apply` end to end: what a user trying a config on a directory sees,
//! including bad input and configs or roots that try to write outside the root.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output};

use ferro_sys::CommandRunExt;

fn apply(root: &Path, config: &str, extra: &[&str]) -> Output {
    let dir = root.parent().expect("root has a parent");
    fs::write(dir.join("config.ign"), config).unwrap();
    Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(["ignition", "apply", "--offline", "--root"])
        .arg(root)
        .args(extra)
        .arg(dir.join("config.ign"))
        .run_capture()
        .expect("run ferro")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A root inside a scratch dir, with a sentinel file beside it that nothing may touch.
fn scratch() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(dir.path().join("outside")).unwrap();
    fs::write(dir.path().join("outside/sentinel"), "untouched").unwrap();
    (dir, root)
}

fn outside_untouched(dir: &Path) {
    let names: Vec<_> = fs::read_dir(dir.join("outside"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["sentinel"],
        "something was written outside the root"
    );
    assert_eq!(
        fs::read_to_string(dir.join("outside/sentinel")).unwrap(),
        "untouched"
    );
}

fn file_config(path: &str) -> String {
    format!(
        r#"{{"ignition":{{"version":"3.4.0"}},"storage":{{"files":[{{"path":"{path}","contents":{{"source":"data:,x"}}}}]}}}}"#
    )
}

#[test]
fn symlinks_in_the_root_cannot_lead_writes_outside() {
    // Absolute and relative symlinks in intermediate components resolve inside the root.
    let (dir, root) = scratch();
    symlink("/../../outside", root.join("abs")).unwrap();
    symlink("../../../../outside", root.join("etc/rel")).unwrap();
    for path in ["/abs/a", "/etc/rel/b"] {
        let out = apply(&root, &file_config(path), &[]);
        assert!(out.status.success(), "{path}: {}", text(&out.stderr));
    }
    // `..` in a config path is refused outright, as Ignition's validation does.
    let out = apply(&root, &file_config("/../outside/c"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("path is not fully simplified"),
        "{}",
        text(&out.stderr)
    );
    outside_untouched(dir.path());
    assert!(root.join("outside/a").is_file(), "absolute link re-rooted");
    assert!(
        root.join("outside/b").is_file(),
        "relative link clamped at the root"
    );
}

#[test]
fn symlink_loops_fail_clearly() {
    let (dir, root) = scratch();
    symlink("/loop2", root.join("loop1")).unwrap();
    symlink("/loop1", root.join("loop2")).unwrap();
    let out = apply(&root, &file_config("/loop1/x"), &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("$.storage.files.0") && stderr.contains("loop"),
        "{stderr}"
    );
    outside_untouched(dir.path());
}

#[test]
fn invalid_configs_are_rejected_before_anything_is_written() {
    let (dir, root) = scratch();
    let config = r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/ok","contents":{"source":"data:,x"}},{"path":"relative"}]}}"#;
    let out = apply(&root, config, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("path not absolute"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !root.join("ok").exists(),
        "nothing written for an invalid config"
    );
    outside_untouched(dir.path());
}

#[test]
fn hash_mismatch_leaves_no_file() {
    let (_dir, root) = scratch();
    let config = r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/f","contents":{"source":"data:,hello","verification":{"hash":"sha256-0000000000000000000000000000000000000000000000000000000000000000"}}}]}}"#;
    let out = apply(&root, config, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("hash"), "{stderr}");
    assert!(!root.join("etc/f").exists());
    let leftovers: Vec<_> = fs::read_dir(root.join("etc")).unwrap().collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn unknown_owner_and_wrong_node_type_are_named() {
    let (_dir, root) = scratch();
    let config = r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/f","contents":{"source":"data:,x"},"user":{"name":"nobody-here"}}]}}"#;
    let out = apply(&root, config, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nobody-here"),
        "{}",
        text(&out.stderr)
    );
    assert!(!root.join("etc/f").exists());

    fs::write(root.join("etc/d"), "a file").unwrap();
    let config =
        r#"{"ignition":{"version":"3.4.0"},"storage":{"directories":[{"path":"/etc/d"}]}}"#;
    let out = apply(&root, config, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("$.storage.directories.0") && stderr.contains("non-directory"),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(root.join("etc/d")).unwrap(), "a file");
}

#[test]
fn offline_refuses_the_network_and_dry_run_writes_nothing() {
    let (_dir, root) = scratch();
    let remote = r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/f","contents":{"source":"http://127.0.0.1:9/f"}}]}}"#;
    let out = apply(&root, remote, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!root.join("etc/f").exists());

    let out = apply(&root, &file_config("/etc/planned"), &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("/etc/planned"),
        "{}",
        text(&out.stdout)
    );
    assert!(!root.join("etc/planned").exists());
}
