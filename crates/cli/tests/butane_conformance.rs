//! Runs every case of the Butane conformance corpus (`../shared/conformance/butane`,
//! outputs of the reference Butane v0.29.0) through the real `ferro butane` binary.
//!
//! Each case must give the same exit code (also under `--strict`), the same stdout
//! (gzip data URLs compared decoded: Go's deflate bytes cannot be reproduced), and the
//! same report in both the `--raw-errors` and the default snippet form. Deviations that
//! fix reference bugs are listed in `DEVIATIONS` and explained in docs/compatibility.md.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferro_spec::DataUrl;
use ferro_sys::CommandRunExt;
use serde_json::Value;

/// Cases whose expected output we deliberately do not reproduce (see docs/compatibility.md).
const DEVIATIONS: &[(&str, &str)] = &[];

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/butane");
    dir.join("manifest.json").is_file().then_some(dir)
}

/// A private copy of the corpus. The shared copy has no write bits, and copies of it
/// have been seen to turn the symlink `files-dir/tree/directory/symlink` into a regular
/// file holding the link text; the copy restores it, since case 111 is about symlinks.
fn working_copy(corpus: &Path) -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temporary directory");
    copy_tree(corpus, temp.path());
    let link = temp.path().join("files-dir/tree/directory/symlink");
    if fs::symlink_metadata(&link).is_ok_and(|meta| meta.is_file()) {
        let target = fs::read_to_string(&link).expect("read link text");
        fs::remove_file(&link).expect("remove link stand-in");
        std::os::unix::fs::symlink(target.trim_end(), &link).expect("restore symlink");
    }
    temp
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create directory");
    for entry in fs::read_dir(from).expect("read corpus") {
        let entry = entry.expect("corpus entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            let link = fs::read_link(entry.path()).expect("read link");
            std::os::unix::fs::symlink(link, &target).expect("copy link");
        } else {
            fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn ferro(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_ferro"))
        .arg("butane")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .run_capture()
        .expect("run ferro");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `value` with every gzip data URL replaced by its decoded payload, decoded by the
/// codec the engine uses.
fn decode_gzip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let gzipped = map.get("compression").and_then(Value::as_str) == Some("gzip");
            if gzipped
                && let Some(Value::String(source)) = map.get_mut("source")
                && let Ok(url) = DataUrl::parse(source)
            {
                let mut text = Vec::new();
                let _ = flate2::read::GzDecoder::new(url.data()).read_to_end(&mut text);
                *source = format!("gunzipped:{}", String::from_utf8_lossy(&text));
            }
            map.values_mut().for_each(decode_gzip);
        }
        Value::Array(items) => items.iter_mut().for_each(decode_gzip),
        _ => {}
    }
}

fn same_json(actual: &str, expected: &str) -> bool {
    if actual == expected {
        return true;
    }
    if !expected.contains("\"gzip\"") {
        return false;
    }
    let (Ok(mut a), Ok(mut e)) = (
        serde_json::from_str::<Value>(actual),
        serde_json::from_str::<Value>(expected),
    ) else {
        return false;
    };
    decode_gzip(&mut a);
    decode_gzip(&mut e);
    a == e
}

fn check_case(dir: &Path, case: &Value) -> Vec<String> {
    let id = case["id"].as_str().unwrap_or_default();
    let args: Vec<&str> = case["args"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let expected_files: Vec<&str> = case["expected_files"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let has = |suffix: &str| expected_files.contains(&format!("{id}{suffix}").as_str());
    let read =
        |suffix: &str| fs::read_to_string(dir.join(format!("{id}{suffix}"))).unwrap_or_default();
    let input = format!("{id}.bu");
    let mut problems = Vec::new();
    let with = |extra: &[&str]| {
        let mut all: Vec<&str> = args.clone();
        all.extend_from_slice(extra);
        all.push(&input);
        ferro(dir, &all)
    };

    let pretty = with(&[]);
    let raw = with(&["--raw-errors"]);
    let rc = case["rc"].as_i64().unwrap_or(0) as i32;
    if pretty.code != rc {
        problems.push(format!(
            "exit code {} instead of {rc}: {}",
            pretty.code, pretty.stderr
        ));
    }
    if let Some(strict_rc) = case["rc_strict"].as_i64() {
        let strict = with(&["--strict"]);
        if strict.code != strict_rc as i32 {
            problems.push(format!(
                "--strict exit code {} instead of {strict_rc}",
                strict.code
            ));
        }
    }
    let mut compare = |what: &str, actual: &str, expected: &str| {
        if actual != expected {
            problems.push(format!(
                "{what} differs:\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
    };
    if has(".expected.json") && !same_json(&pretty.stdout, &read(".expected.json")) {
        compare("stdout", &pretty.stdout, &read(".expected.json"));
    }
    if has(".expected.yaml") {
        compare("MachineConfig", &pretty.stdout, &read(".expected.yaml"));
    }
    if has(".expected.raw.json") {
        let raw_mode = with(&["-r"]);
        if !same_json(&raw_mode.stdout, &read(".expected.raw.json")) {
            compare(
                "raw-mode stdout",
                &raw_mode.stdout,
                &read(".expected.raw.json"),
            );
        }
        if has(".expected-stderr.rawmode.txt") {
            compare(
                "raw-mode stderr",
                &raw_mode.stderr,
                &read(".expected-stderr.rawmode.txt"),
            );
        }
    }
    for (suffix, raw_suffix) in [
        (".expected-stderr.txt", ".expected-stderr.raw.txt"),
        (".expected-error.txt", ".expected-error.raw.txt"),
    ] {
        if has(raw_suffix) {
            compare("--raw-errors report", &raw.stderr, &read(raw_suffix));
        }
        if has(suffix) {
            compare("report", &pretty.stderr, &read(suffix));
        }
    }
    if rc == 0 && !has(".expected-stderr.txt") && !has(".expected-stderr.rawmode.txt") {
        compare("report (none expected)", &pretty.stderr, "");
    }
    problems
}

#[test]
fn butane_conformance_corpus() {
    let Some(corpus) = corpus() else {
        eprintln!(
            "skipping: ../shared/conformance/butane is not present (it is not part of the repository)"
        );
        return;
    };
    let copy = working_copy(&corpus);
    let manifest: Vec<Value> =
        serde_json::from_str(&fs::read_to_string(corpus.join("manifest.json")).unwrap()).unwrap();
    let deviations: BTreeMap<&str, &str> = DEVIATIONS.iter().copied().collect();
    let mut failed = Vec::new();
    let mut passed = 0;
    for case in &manifest {
        let id = case["id"].as_str().unwrap_or_default();
        let problems = check_case(copy.path(), case);
        if problems.is_empty() {
            passed += 1;
            assert!(
                !deviations.contains_key(id),
                "case {id} passes now: remove it from DEVIATIONS"
            );
        } else if !deviations.contains_key(id) {
            failed.push(format!("case {id}:\n{}", problems.join("\n")));
        }
    }
    eprintln!(
        "butane conformance: {passed} of {} cases identical, {} documented deviations",
        manifest.len(),
        deviations.len()
    );
    assert!(
        failed.is_empty(),
        "{} cases differ:\n\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}
