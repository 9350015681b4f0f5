//! Conformance against the configs of upstream Ignition's blackbox tests
//! (`shared/conformance/ignition/*.json`), and, where Debian's `ignition-validate` 2.14 is
//! installed, a differential check of our verdicts against its exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferro_spec::parse::{ParseError, parse_report};
use ferro_sys::CommandRunExt;
use serde_json::Value;

/// Negative cases that upstream rejects because the config itself is invalid, with the
/// message Ignition gives.
const CONFIG_INVALID: &[(&str, &str)] = &[
    ("config.version.2.5.0-exp", "unsupported config version"),
    ("config.versions.3.8.0-exp", "unsupported config version"),
];

/// Negative cases that fail only when run: the config is valid.
const RUNTIME_FAILURES: &[(&str, &str)] = &[
    (
        "cmdline.device.notfound",
        "kernel cmdline names a config device that does not exist",
    ),
    (
        "cmdline.path.without.device",
        "kernel cmdline gives a config path without a device",
    ),
    (
        "config.merge.http.invalidheader",
        "server rejects the header value at fetch time",
    ),
    ("config.merge.tftp.notfound", "TFTP server has no such file"),
    (
        "config.replace.http.invalidheader",
        "server rejects the header value at fetch time",
    ),
    ("config.replace.http.notfound", "HTTP 404 at fetch time"),
    (
        "directories.create.overwrite.false",
        "a file already exists at the path",
    ),
    (
        "files.create.http.invalidheader",
        "server rejects the header value at fetch time",
    ),
    ("files.create.http.notfound", "HTTP 404 at fetch time"),
    ("files.create.tftp.notfound", "TFTP server has no such file"),
    (
        "files.creates.overwrite.false.overdir",
        "a directory already exists at the path",
    ),
    (
        "files.verification.badhash.dataurl.sha256",
        "well-formed hash that does not match the data",
    ),
    (
        "files.verification.badhash.http",
        "well-formed hash that does not match the fetched data",
    ),
    (
        "links.hard.badmatch",
        "an existing node differs from the requested hard link",
    ),
    (
        "links.hard.create.overwrite.false",
        "a node already exists at the link path",
    ),
    (
        "links.sym.badmatch",
        "an existing node differs from the requested symlink",
    ),
    (
        "links.sym.create.overwrite.false",
        "a node already exists at the link path",
    ),
    (
        "links.sym.overwritelink",
        "an existing link is in the way and overwrite is false",
    ),
];

/// Cases where `ignition-validate` 2.14 and current Ignition rules legitimately differ.
const KNOWN_ORACLE_DIFFERENCES: &[(&str, &str)] = &[];

fn corpus() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join("shared/conformance/ignition"))
        .find(|dir| dir.is_dir())
}

struct Case {
    name: String,
    expect_fail: bool,
    /// (version, config text) pairs: the template for every listed version, or the config.
    configs: Vec<(String, String)>,
    /// Base configs (`*.ign`) placed in system config dirs; always expected to be valid.
    extra: Vec<String>,
}

fn load(dir: &Path) -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("case readable");
            let case: Value = serde_json::from_str(&text).expect("case is JSON");
            let config = case["config"].as_str().unwrap_or_default().to_owned();
            let versions: Vec<String> = case["versions"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let configs = match case["config_template"].as_str() {
                Some(template) if !versions.is_empty() => versions
                    .iter()
                    .map(|v| (v.clone(), template.replace("$version", v)))
                    .collect(),
                _ => vec![(String::new(), config)],
            };
            let mut extra = Vec::new();
            if let Some(dirs) = case["system_config_dirs"].as_object() {
                for files in dirs.values() {
                    for file in files.as_array().into_iter().flatten() {
                        let is_config = file["path"].as_str().is_some_and(|p| p.ends_with(".ign"));
                        if let Some(contents) = file["contents"].as_str().filter(|_| is_config) {
                            extra.push(contents.to_owned());
                        }
                    }
                }
            }
            Case {
                name: case["name"].as_str().unwrap_or_default().to_owned(),
                expect_fail: case["expect_fail"].as_bool().unwrap_or(false),
                configs,
                extra,
            }
        })
        .collect()
}

fn verdict(text: &str) -> Result<(), String> {
    match parse_report(text.as_bytes()) {
        (_, Ok(_)) => Ok(()),
        (report, Err(error)) => Err(format!("{error}\n{report}")),
    }
}

#[test]
fn upstream_blackbox_configs() {
    let Some(dir) = corpus() else {
        eprintln!("SKIP: shared/conformance/ignition not found above CARGO_MANIFEST_DIR");
        return;
    };
    let cases = load(&dir);
    let mut failures = Vec::new();
    let (mut positive, mut negative_config, mut negative_runtime) = (0, 0, 0);
    for case in &cases {
        let invalid = CONFIG_INVALID.iter().find(|(n, _)| *n == case.name);
        let runtime = RUNTIME_FAILURES.iter().any(|(n, _)| *n == case.name);
        if case.expect_fail && invalid.is_none() && !runtime {
            failures.push(format!("{}: negative case not classified", case.name));
            continue;
        }
        for text in &case.extra {
            if let Err(error) = verdict(text) {
                failures.push(format!("{}: base config rejected: {error}", case.name));
            }
        }
        for (version, text) in &case.configs {
            if text.is_empty() {
                // No user config at all: Ignition runs with the base configs only.
                continue;
            }
            match (invalid, verdict(text)) {
                (Some((_, message)), Ok(())) => failures.push(format!(
                    "{} {version}: accepted, upstream says {message}",
                    case.name
                )),
                (Some((_, message)), Err(error)) => {
                    if !error.contains(message) {
                        failures.push(format!("{} {version}: wrong error {error}", case.name));
                    }
                }
                (None, Err(error)) => {
                    failures.push(format!("{} {version}: rejected: {error}", case.name))
                }
                (None, Ok(())) => {}
            }
        }
        match (case.expect_fail, invalid.is_some()) {
            (false, _) => positive += 1,
            (true, true) => negative_config += 1,
            (true, false) => negative_runtime += 1,
        }
    }
    eprintln!(
        "{} cases: {positive} positive valid, {negative_config} negative rejected as invalid configs, {negative_runtime} negative valid (runtime failures)",
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether `ignition-validate` 2.14 understands `version` (it knows 3.0.0–3.3.0).
fn oracle_knows(version: &str) -> bool {
    matches!(version, "3.0.0" | "3.1.0" | "3.2.0" | "3.3.0")
}

fn spec_version(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    value["ignition"]["version"].as_str().map(str::to_owned)
}

#[test]
fn agrees_with_ignition_validate() {
    let Some(dir) = corpus() else {
        eprintln!("SKIP: shared/conformance/ignition not found above CARGO_MANIFEST_DIR");
        return;
    };
    let probe = Command::new("ignition-validate")
        .arg("-")
        .stdin(Stdio::null())
        .run_capture();
    if let Err(error) = probe {
        eprintln!("SKIP: {error}");
        return;
    }
    let mut compared = 0;
    let mut differences = Vec::new();
    for case in load(&dir) {
        let texts = case
            .configs
            .iter()
            .map(|(_, t)| t.clone())
            .chain(case.extra.iter().cloned());
        for text in texts {
            let Some(version) = spec_version(&text) else {
                continue;
            };
            if !oracle_knows(&version) {
                continue;
            }
            let mut file = std::env::temp_dir();
            file.push(format!("ferro-conformance-{}.ign", std::process::id()));
            std::fs::write(&file, &text).expect("temp file writable");
            // Any status: the verdict is the exit status.
            let output = Command::new("ignition-validate")
                .arg(&file)
                .run_capture()
                .unwrap_or_else(|error| panic!("{error}"));
            let _ = std::fs::remove_file(&file);
            let theirs = output.status.success();
            let ours = !matches!(
                parse_report(text.as_bytes()).1,
                Err(ParseError::Invalid { .. } | ParseError::Version(_) | ParseError::Empty)
            );
            compared += 1;
            if theirs != ours
                && !KNOWN_ORACLE_DIFFERENCES
                    .iter()
                    .any(|(n, _)| *n == case.name)
            {
                differences.push(format!(
                    "{} ({version}): ignition-validate {}, ferrocore {}: {}",
                    case.name,
                    if theirs { "accepts" } else { "rejects" },
                    if ours { "accepts" } else { "rejects" },
                    String::from_utf8_lossy(&output.stdout).trim()
                ));
            }
        }
    }
    eprintln!(
        "compared {compared} configs with ignition-validate, {} differences",
        differences.len()
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
