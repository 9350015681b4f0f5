//! Behaviour of the `ferro` binary beyond the reference corpus: our own cases for the
//! features users asked Butane for, and for failure handling.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use ferro_sys::CommandRunExt;

fn ferro(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .run_capture()
        .expect("run ferro")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const HELLO: &str = "variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n    - path: /etc/hello\n      mode: 0644\n      contents:\n        inline: hello\n";

#[test]
fn output_file_is_private_and_complete() {
    // Butane #276: configs hold secrets, so the output is not world-readable.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.bu"), HELLO).unwrap();
    let out = ferro(dir.path(), &["butane", "-o", "a.ign", "a.bu"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let meta = fs::metadata(dir.path().join("a.ign")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let json = fs::read_to_string(dir.path().join("a.ign")).unwrap();
    assert!(json.ends_with("}\n"));
    assert!(json.contains("\"source\":\"data:,hello\""));
}

#[test]
fn failed_translation_leaves_previous_output_intact() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("bad.bu"),
        "variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n    - path: relative\n",
    )
    .unwrap();
    fs::write(dir.path().join("out.ign"), "previous").unwrap();
    let out = ferro(dir.path(), &["butane", "-o", "out.ign", "bad.bu"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("path not absolute"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("out.ign")).unwrap(),
        "previous"
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ferro-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn several_inputs_merge_and_reports_point_into_each_file() {
    // Butane #118: fragments merged at transpile time.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("base.bu"), HELLO).unwrap();
    fs::write(
        dir.path().join("extra.bu"),
        "variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n    - path: /etc/hello\n      mode: 0600\n    - path: /etc/other\n      mode: 755\n",
    )
    .unwrap();
    let out = ferro(
        dir.path(),
        &["butane", "--raw-errors", "base.bu", "extra.bu"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = config["storage"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["mode"], 384, "the later file's mode wins");
    assert_eq!(
        files[0]["contents"]["source"], "data:,hello",
        "the earlier contents stay"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning at $.storage.files.1.mode, line 8 col 13: unreasonable mode"),
        "{stderr}"
    );
}

#[test]
fn ignition_converts_back_to_butane() {
    // Butane #302: readable Butane from an Ignition config, which translates back.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.bu"), HELLO).unwrap();
    let first = ferro(dir.path(), &["butane", "-o", "a.ign", "a.bu"]);
    assert!(first.status.success());
    let back = ferro(dir.path(), &["butane", "--from-ignition", "a.ign"]);
    assert!(back.status.success(), "{}", text(&back.stderr));
    let yaml = text(&back.stdout);
    assert!(yaml.contains("inline: hello"), "{yaml}");
    fs::write(dir.path().join("b.bu"), &yaml).unwrap();
    let again = ferro(dir.path(), &["butane", "b.bu"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(
        text(&again.stdout),
        fs::read_to_string(dir.path().join("a.ign")).unwrap()
    );
}

#[test]
fn schema_describes_the_version() {
    // Butane #580: a JSON Schema for editors.
    let dir = tempfile::tempdir().unwrap();
    let out = ferro(
        dir.path(),
        &[
            "butane",
            "schema",
            "--variant",
            "fcos",
            "--version",
            "1.6.0",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let storage = &schema["properties"]["storage"]["properties"];
    assert!(storage["trees"].is_object());
    assert_eq!(
        storage["files"]["items"]["properties"]["mode"]["type"],
        "integer"
    );
    assert!(schema["properties"]["boot_device"].is_object());
    let old = ferro(dir.path(), &["butane", "schema", "--version", "1.0.0"]);
    let old: serde_json::Value = serde_json::from_slice(&old.stdout).unwrap();
    assert!(
        old["properties"]["storage"]["properties"]["trees"].is_null(),
        "trees came with 1.1.0"
    );
}

#[test]
fn usage_errors_exit_2_and_bad_input_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        ferro(dir.path(), &["butane", "--bogus"]).status.code(),
        Some(2)
    );
    let missing = ferro(dir.path(), &["butane", "missing.bu"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("failed to open missing.bu: no such file or directory"));
    fs::write(
        dir.path().join("x.bu"),
        "variant: fcos\nversion: 1.6.0\nstorage: [\n",
    )
    .unwrap();
    let broken = ferro(dir.path(), &["butane", "x.bu"]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        text(&broken.stderr).starts_with("Error translating config: "),
        "{}",
        text(&broken.stderr)
    );
}

#[test]
fn files_dir_does_not_leak() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("files")).unwrap();
    fs::write(dir.path().join("secret"), "outside").unwrap();
    fs::write(
        dir.path().join("a.bu"),
        "variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n    - path: /x\n      contents:\n        local: ../secret\n",
    )
    .unwrap();
    let out = ferro(
        dir.path(),
        &["butane", "--raw-errors", "-d", "files", "a.bu"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error at $.storage.files.0.contents.local, line 7 col 16: local file path traverses outside the files directory"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn ignition_validate_reports_like_ignition_validate() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("c.ign"),
        "{\"ignition\":{\"version\":\"3.4.0\"},\"storage\":{\"files\":[{\"path\":\"x\"}]}}",
    )
    .unwrap();
    let out = ferro(dir.path(), &["ignition", "validate", "c.ign"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("error at $.storage.files.0.path, line 1 col"),
        "{}",
        text(&out.stdout)
    );
    fs::write(
        dir.path().join("ok.ign"),
        "{\"ignition\":{\"version\":\"3.4.0\"}}",
    )
    .unwrap();
    assert!(
        ferro(dir.path(), &["ignition", "validate", "ok.ign"])
            .status
            .success()
    );
}

#[test]
fn ignition_validate_speaks_json_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("c.ign"),
        "{\"ignition\":{\"version\":\"3.4.0\"},\"storage\":{\"files\":[{\"path\":\"x\"}]}}",
    )
    .unwrap();
    let out = ferro(dir.path(), &["ignition", "validate", "--json", "c.ign"]);
    assert_eq!(out.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(document["valid"], false);
    let entry = &document["entries"][0];
    assert_eq!(entry["kind"], "error");
    assert_eq!(entry["path"], "$.storage.files.0.path");
    assert_eq!(entry["message"], "path not absolute");
    assert_eq!(entry["line"], 1);
}
