//! Runs the Ignition conformance cases (upstream blackbox tests extracted to JSON in
//! `shared/conformance/ignition/`) through the same code path as `ferro ignition run`:
//! the stages fetch-offline (then fetch when the network is needed), disks, mount, files
//! and umount, against a temporary root, with the upstream HTTP fixture server on
//! loopback. Positive cases must succeed and leave the expected nodes; negative cases
//! must fail in some stage.

#[path = "support/server.rs"]
mod server;
#[path = "support/workdir.rs"]
mod workdir;

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferro_ignition::engine::{self, Outcome, Stage};
use ferro_ignition::fetch;
use ferro_ignition::sources::{Platform, Sources};
use serde_json::Value;
use server::{Reply, Request, TestServer};

const HEADER_AUTH: &str = "r8ewap98gfh4d8";

/// Cases that fail for reasons outside fetching and stages, with the reason. They are
/// still run and reported; one that starts passing fails the test so the list shrinks.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/ignition")
}

#[test]
fn ignition_conformance() {
    let dir = corpus();
    if !dir.is_dir() {
        eprintln!(
            "skipping Ignition conformance: no corpus at {}",
            dir.display()
        );
        return;
    }
    let fixtures: Value = read_json(&dir.join("_server_fixtures.json"));
    let server = fixture_server(&fixtures);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        })
        .collect();
    names.sort();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for path in names {
        let case: Value = read_json(&path);
        let name = case["name"].as_str().unwrap_or("?").to_owned();
        if let Some(reason) = skip_reason(&case) {
            println!("SKIP {name}: {reason}");
            skipped += 1;
            continue;
        }
        match run_case(&case, server.port()) {
            Ok(()) => {
                println!("PASS {name}");
                passed += 1;
            }
            Err(reason) => {
                println!("FAIL {name}: {reason}");
                failures.push(name);
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    let known = |name: &str| KNOWN_FAILURES.iter().any(|(known, _)| *known == name);
    for (name, reason) in KNOWN_FAILURES {
        println!("known failure {name}: {reason}");
    }
    let unexpected: Vec<&String> = failures.iter().filter(|name| !known(name)).collect();
    assert!(unexpected.is_empty(), "failing cases: {unexpected:?}");
    let fixed: Vec<&str> = KNOWN_FAILURES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !failures.iter().any(|failed| failed == name))
        .collect();
    assert!(
        fixed.is_empty(),
        "known failures that now pass (remove them from KNOWN_FAILURES): {fixed:?}"
    );
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn skip_reason(case: &Value) -> Option<String> {
    let needs: Vec<&str> = case["needs"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if needs.contains(&"tftp-server") {
        return Some(
            "needs a TFTP server (tftp sources are not supported by ferrocore yet)".into(),
        );
    }
    if needs.contains(&"extra-disk") {
        return Some("needs an extra disk (ignition.config.device)".into());
    }
    None
}

/// The upstream test server's routes: bodies from the fixtures, `_compressed` gzipped,
/// `_headers` checking the config's headers and Ignition's defaults, `_headers_redirect`
/// redirecting to `_headers_redirected` (which must not see the config's headers),
/// `_headers_overwrite` checking headers that replace the defaults.
fn fixture_server(fixtures: &Value) -> TestServer {
    let config = fixtures["served_config"].as_str().unwrap_or("").to_owned();
    let contents = fixtures["served_contents"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    TestServer::start(move |request: &Request| {
        let path = request.path.split('?').next().unwrap_or("");
        let (base, variant) = match path.trim_start_matches('/').split_once('_') {
            Some((base, variant)) => (base, variant),
            None => (path.trim_start_matches('/'), ""),
        };
        let body = match base {
            "config" => config.clone().into_bytes(),
            "contents" => contents.clone().into_bytes(),
            _ => return Reply::status(404),
        };
        let defaults_ok = request
            .header("accept")
            .is_some_and(|a| a == fetch::accept_header())
            && request.header("accept-encoding") == Some("identity")
            && request
                .header("user-agent")
                .is_some_and(|ua| ua.starts_with("Ignition/"));
        let auth_ok = request.header("x-auth") == Some(HEADER_AUTH)
            && request.header("keep-alive") == Some("300");
        match variant {
            "" => Reply::ok(body),
            "compressed" => Reply::ok(gzip(&body)),
            "headers" if auth_ok && defaults_ok => Reply::ok(body),
            "headers_redirect" if auth_ok && defaults_ok => {
                Reply::redirect(&format!("/{base}_headers_redirected"))
            }
            "headers_redirected" if request.header("x-auth").is_none() && defaults_ok => {
                Reply::ok(body)
            }
            "headers_overwrite"
                if request.header("keep-alive") == Some("1000")
                    && request.header("accept") == Some("application/json")
                    && request.header("accept-encoding") == Some("identity, compress")
                    && request.header("user-agent") == Some("MyUA") =>
            {
                Reply::ok(body)
            }
            "headers" | "headers_redirect" | "headers_redirected" | "headers_overwrite" => {
                Reply::status(401)
            }
            _ => Reply::status(404),
        }
    })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn run_case(case: &Value, port: u16) -> Result<(), String> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let w = work.path();
    let root = w.join("root");
    let sys = w.join("sys");
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let rewrite = |text: &str| {
        text.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
            .replace("localhost:8080", &format!("localhost:{port}"))
    };
    if case["harness_passwd_prep"].as_bool() == Some(true) {
        for d in ["home", "usr/bin", "usr/sbin", "usr/lib64", "etc"] {
            std::fs::create_dir_all(root.join(d)).map_err(|e| e.to_string())?;
        }
    }
    lay_out(&root, &case["preexisting"])?;
    let dirs = [
        ("system", "usr"),
        ("system-local", "etc"),
        ("system-runtime", "run"),
    ];
    for (key, sub) in dirs {
        for file in case["system_config_dirs"][key]
            .as_array()
            .into_iter()
            .flatten()
        {
            let path = sys.join(sub).join(rel(file["path"].as_str().unwrap_or("")));
            write_file(
                &path,
                rewrite(file["contents"].as_str().unwrap_or("")).as_bytes(),
            )?;
        }
    }
    write_file(&w.join("cmdline"), b"")?;
    write_file(
        &w.join("config.ign"),
        rewrite(case["config"].as_str().unwrap_or("")).as_bytes(),
    )?;
    let mut env = workdir::ignition_env(w);
    for entry in case["env"].as_array().into_iter().flatten() {
        let entry = entry.as_str().unwrap_or("");
        let entry = entry.replace("$SYSTEM_CONFIG_DIR", &sys.join("usr").display().to_string());
        if let Some((key, value)) = entry.split_once('=') {
            env.insert(key.to_owned(), value.to_owned());
        }
    }
    let sources = Sources::from_lookup(Platform::File, |name| env.get(name).cloned());
    let options = |stage| engine::Options {
        config_cache: w.join("run/ignition.json"),
        state_file: w.join("run/state"),
        neednet: w.join("run/neednet"),
        fetch_timeout: Some(Duration::from_secs(10)),
        authorized_keys_fragment: env
            .get("IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT")
            .is_none_or(|v| v != "false"),
        ..engine::Options::new(stage, sources.clone(), root.clone())
    };
    let outcome = run_stages(&options);
    let expect_fail = case["expect_fail"].as_bool() == Some(true);
    match (outcome, expect_fail) {
        (Err(_), true) => Ok(()),
        (Ok(()), true) => Err("expected a stage to fail, but all succeeded".into()),
        (Err(error), false) => Err(error),
        (Ok(()), false) => check(&root, &case["expected"]),
    }
}

fn run_stages(options: &dyn Fn(Stage) -> engine::Options) -> Result<(), String> {
    let fail = |stage: Stage, error: engine::EngineError| format!("{stage}: {error}");
    let offline =
        engine::run(&options(Stage::FetchOffline)).map_err(|e| fail(Stage::FetchOffline, e))?;
    if matches!(offline, Outcome::NeedNetwork { .. }) {
        engine::run(&options(Stage::Fetch)).map_err(|e| fail(Stage::Fetch, e))?;
    }
    for stage in [Stage::Disks, Stage::Mount, Stage::Files, Stage::Umount] {
        engine::run(&options(stage)).map_err(|e| fail(stage, e))?;
    }
    Ok(())
}

fn rel(path: &str) -> &str {
    path.trim_start_matches('/')
}

fn write_file(path: &Path, data: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, data).map_err(|e| format!("{}: {e}", path.display()))
}

/// Creates the case's preexisting nodes: directories, then files, then links.
fn lay_out(root: &Path, nodes: &Value) -> Result<(), String> {
    let nodes: Vec<&Value> = nodes.as_array().into_iter().flatten().collect();
    let of = |kind: &'static str| nodes.iter().copied().filter(move |n| n["type"] == kind);
    let owner = |path: &Path, node: &Value| {
        let id = |key: &str| node[key].as_u64().and_then(|v| u32::try_from(v).ok());
        std::os::unix::fs::lchown(path, id("uid"), id("gid")).map_err(|e| e.to_string())
    };
    for node in of("dir") {
        let path = root.join(rel(node["path"].as_str().unwrap_or("")));
        std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
        if let Some(mode) = node["mode"].as_u64() {
            std::fs::set_permissions(&path, PermissionsExt::from_mode(mode as u32))
                .map_err(|e| e.to_string())?;
        }
        owner(&path, node)?;
    }
    for node in of("file") {
        let path = root.join(rel(node["path"].as_str().unwrap_or("")));
        write_file(&path, node["contents"].as_str().unwrap_or("").as_bytes())?;
        let mode = node["mode"].as_u64().unwrap_or(0) as u32;
        std::fs::set_permissions(&path, PermissionsExt::from_mode(mode))
            .map_err(|e| e.to_string())?;
        owner(&path, node)?;
    }
    for node in of("link").chain(of("hardlink")) {
        let path = root.join(rel(node["path"].as_str().unwrap_or("")));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let target = node["target"].as_str().unwrap_or("");
        if node["type"] == "link" {
            std::os::unix::fs::symlink(target, &path).map_err(|e| e.to_string())?;
            owner(&path, node)?;
        } else {
            std::fs::hard_link(root.join(rel(target)), &path).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Account databases written by upstream's stub tools: compared by account names.
const PASSWD_DBS: [&str; 4] = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"];

fn check(root: &Path, expected: &Value) -> Result<(), String> {
    for node in expected.as_array().into_iter().flatten() {
        let shown = node["path"].as_str().unwrap_or("");
        let path = root.join(rel(shown));
        let kind = node["type"].as_str().unwrap_or("");
        let meta = std::fs::symlink_metadata(&path);
        if kind == "absent" {
            if meta.is_ok() {
                return Err(format!("{shown} exists but should not"));
            }
            continue;
        }
        let meta = meta.map_err(|e| format!("{shown}: {e}"))?;
        let type_ok = match kind {
            "file" => meta.file_type().is_file(),
            // A hard link to a symlink is a symlink: only the inode matters.
            "hardlink" => !meta.is_dir(),
            "dir" => meta.is_dir(),
            "link" => meta.file_type().is_symlink(),
            other => return Err(format!("{shown}: unknown expected type {other}")),
        };
        if !type_ok {
            return Err(format!("{shown}: not a {kind} ({:?})", meta.file_type()));
        }
        if let Some(contents) = node["contents"].as_str().filter(|_| kind == "file") {
            let actual = std::fs::read(&path).map_err(|e| format!("{shown}: {e}"))?;
            if PASSWD_DBS.contains(&shown) {
                if account_names(&actual) != account_names(contents.as_bytes()) {
                    return Err(format!(
                        "{shown}: accounts {:?}, expected {:?}",
                        account_names(&actual),
                        account_names(contents.as_bytes())
                    ));
                }
            } else if actual != contents.as_bytes() {
                return Err(format!(
                    "{shown}: contents {:?}, expected {contents:?}",
                    String::from_utf8_lossy(&actual)
                ));
            }
        }
        let actual_mode = u64::from(meta.mode() & 0o7777);
        if let Some(mode) = node["mode"]
            .as_u64()
            .filter(|m| *m != 0 && *m != actual_mode)
        {
            return Err(format!("{shown}: mode {actual_mode:o}, expected {mode:o}"));
        }
        let (uid, gid) = (
            node["uid"].as_u64().unwrap_or(0),
            node["gid"].as_u64().unwrap_or(0),
        );
        if (u64::from(meta.uid()), u64::from(meta.gid())) != (uid, gid) {
            return Err(format!(
                "{shown}: owner {}:{}, expected {uid}:{gid}",
                meta.uid(),
                meta.gid()
            ));
        }
        let target = node["target"].as_str().unwrap_or("");
        if kind == "link" {
            let actual = std::fs::read_link(&path).map_err(|e| format!("{shown}: {e}"))?;
            if actual != Path::new(target) {
                return Err(format!(
                    "{shown}: points to {}, expected {target}",
                    actual.display()
                ));
            }
        }
        if kind == "hardlink" {
            let other = std::fs::symlink_metadata(root.join(rel(target)))
                .map_err(|e| format!("{target}: {e}"))?;
            if (other.dev(), other.ino()) != (meta.dev(), meta.ino()) {
                return Err(format!("{shown}: not a hard link to {target}"));
            }
        }
    }
    Ok(())
}

fn account_names(db: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(db)
        .lines()
        .filter_map(|line| line.split(':').next())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}
