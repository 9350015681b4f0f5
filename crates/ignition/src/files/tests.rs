use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use serde_json::json;

use ferro_spec::Config;

use super::{Changes, Error, Options};
use crate::test_support::{TestFetch, TestRoot, as_root};

/// The whole files stage, as the engine runs it.
trait ApplyStage {
    fn apply(&self, json: serde_json::Value, dry_run: bool) -> Result<Changes, Error>;
}

impl ApplyStage for TestRoot {
    fn apply(&self, json: serde_json::Value, dry_run: bool) -> Result<Changes, Error> {
        let config: Config = serde_json::from_value(json).expect("config");
        super::apply(
            &config,
            &self.root,
            &TestFetch,
            &Options::for_config(&config, dry_run),
        )
    }
}

fn mode(t: &TestRoot, rel: &str) -> u32 {
    fs::symlink_metadata(t.host(rel)).expect("lstat").mode() & 0o7777
}

fn owner(t: &TestRoot, rel: &str) -> (u32, u32) {
    let m = fs::symlink_metadata(t.host(rel)).expect("lstat");
    (m.uid(), m.gid())
}

fn files(list: serde_json::Value) -> serde_json::Value {
    json!({"storage": {"files": list}})
}

#[test]
fn creates_file_with_defaults_and_reports_it() {
    let t = TestRoot::new();
    let changes = t
        .apply(
            files(json!([{"path": "/etc/hello", "contents": {"source": "data:,hello world\n"}}])),
            false,
        )
        .expect("apply");
    assert_eq!(t.read("etc/hello"), "hello world\n");
    assert_eq!((mode(&t, "etc/hello"), mode(&t, "etc")), (0o644, 0o755));
    if as_root() {
        assert_eq!(owner(&t, "etc/hello"), (0, 0));
        assert_eq!(changes.to_string(), "created file /etc/hello (0644, 0:0)\n");
    }
    assert_eq!(changes.changes[0].entry, "$.storage.files.0");
}

#[test]
fn depth_order_and_hard_links_last() {
    let t = TestRoot::new();
    let config = json!({"storage": {
        "files": [{"path": "/lnk/deep/file", "contents": {"source": "data:,x"}}],
        "directories": [{"path": "/real"}],
        "links": [
            {"path": "/hard", "target": "/lnk/deep/file", "hard": true},
            {"path": "/lnk", "target": "/real"}
        ]
    }});
    t.apply(config, false).expect("apply");
    // The symlink (depth 1) came before the file (depth 3) and was followed in the root.
    assert_eq!(t.read("real/deep/file"), "x");
    let (a, b) = (
        fs::metadata(t.host("hard")).expect("a"),
        fs::metadata(t.host("real/deep/file")).expect("b"),
    );
    assert_eq!(a.ino(), b.ino());
    assert_eq!(
        fs::read_link(t.host("lnk")).expect("readlink").to_str(),
        Some("/real")
    );
}

#[test]
fn existing_nodes_follow_ignitions_rules() {
    let t = TestRoot::new();
    t.write("f", "old");
    fs::set_permissions(t.host("f"), fs::Permissions::from_mode(0o600)).expect("chmod");
    fs::create_dir(t.host("d")).expect("mkdir");
    symlink("target", t.host("s")).expect("symlink");

    let err = |json| t.apply(json, false).expect_err("must fail").to_string();
    assert_eq!(
        err(files(
            json!([{"path": "/f", "contents": {"source": "data:,new"}}])
        )),
        "$.storage.files.0: /f: A file exists there already and overwrite is false"
    );
    assert!(
        err(files(json!([{"path": "/d"}]))).contains("A non regular file exists there already")
    );
    assert!(
        err(json!({"storage": {"directories": [{"path": "/f"}]}}))
            .contains("A non-directory already exists")
    );
    assert!(
        err(json!({"storage": {"links": [{"path": "/f", "target": "x"}]}}))
            .contains("a non-symlink already exists")
    );
    assert!(
        err(json!({"storage": {"links": [{"path": "/s", "target": "other"}]}}))
            .contains("points to \"target\"")
    );
    assert!(
        err(json!({"storage": {"links": [{"path": "/f", "target": "/s", "hard": true}]}}))
            .contains("a different file already exists")
    );
    assert_eq!(t.read("f"), "old");

    // No source: the content stays, the mode is kept unless given.
    t.apply(
        files(json!([{"path": "/f", "append": [{"source": "data:,+more"}]}])),
        false,
    )
    .expect("append");
    assert_eq!(
        (t.read("f"), mode(&t, "f")),
        ("old+more".to_string(), 0o600)
    );
    t.apply(files(json!([{"path": "/f", "mode": 0o640}])), false)
        .expect("chmod");
    assert_eq!(
        (t.read("f"), mode(&t, "f")),
        ("old+more".to_string(), 0o640)
    );
    // Same symlink: nothing to do.
    let c = t
        .apply(
            json!({"storage": {"links": [{"path": "/s", "target": "./target"}]}}),
            false,
        )
        .expect("same");
    assert!(c.changes[0].summary.contains("already exists"));
}

#[test]
fn overwrite_replaces_files_and_wipes_directories() {
    let t = TestRoot::new();
    t.write("f", "old");
    t.write("d/inner", "x");
    let config = json!({"storage": {
        "files": [{"path": "/f", "overwrite": true, "contents": {"source": "data:,new"}, "append": [{"source": "data:,!"}]}],
        "directories": [{"path": "/d", "overwrite": true, "mode": 0o700}]
    }});
    let changes = t.apply(config, false).expect("apply");
    assert_eq!(t.read("f"), "new!");
    assert_eq!(fs::read_dir(t.host("d")).expect("ls").count(), 0);
    assert_eq!(mode(&t, "d"), 0o700);
    assert!(
        changes
            .changes
            .iter()
            .any(|c| c.summary.starts_with("replaced file /f"))
    );
}

#[test]
fn failed_fetch_leaves_target_untouched() {
    let t = TestRoot::new();
    t.write("etc/f", "old");
    let config = files(json!([
        {"path": "/etc/f", "overwrite": true, "contents": {"source": "data:,new"}, "append": [{"source": "http://fail"}]},
    ]));
    let err = t.apply(config, false).expect_err("fetch fails");
    assert!(
        err.to_string()
            .starts_with("$.storage.files.0.append.0: failed to fetch http://fail"),
        "{err}"
    );
    assert_eq!(err.path, "/etc/f");
    assert_eq!(t.read("etc/f"), "old");
    let names: Vec<_> = fs::read_dir(t.host("etc"))
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(names, ["f"], "no temp files");
    t.apply(
        files(json!([{"path": "/new/f", "contents": {"source": "ftp://x"}}])),
        false,
    )
    .expect_err("fails");
    assert!(!t.host("new").exists(), "nothing created before the fetch");
}

#[test]
fn owners_by_id_and_name_with_special_bits() {
    let t = TestRoot::new();
    let config = json!({
        "ignition": {"version": "3.6.0"},
        "passwd": {"users": [{"name": "core", "noCreateHome": true}]},
        "storage": {
            "files": [{"path": "/usr/bin/tool", "mode": 0o4755, "user": {"name": "core"}, "group": {"id": 7}}],
            "directories": [{"path": "/srv/x", "mode": 0o1777, "user": {"id": 1000}}],
            "links": [{"path": "/srv/l", "target": "x", "user": {"name": "core"}}]
        }
    });
    t.apply(config, false).expect("apply");
    assert_eq!(
        (mode(&t, "usr/bin/tool"), mode(&t, "srv/x"), mode(&t, "usr")),
        (0o4755, 0o1777, 0o755)
    );
    // Before spec 3.6.0 special bits of files have no effect.
    let old = json!({
        "ignition": {"version": "3.5.0"},
        "storage": {"files": [{"path": "/usr/bin/old", "mode": 0o6755}]}
    });
    t.apply(old, false).expect("apply 3.5.0");
    assert_eq!(mode(&t, "usr/bin/old"), 0o755);
    if as_root() {
        assert_eq!(owner(&t, "usr/bin/tool"), (1000, 7));
        assert_eq!(owner(&t, "srv/x"), (1000, 0));
        assert_eq!(owner(&t, "srv/l").0, 1000);
    }
    let err = t
        .apply(
            files(json!([{"path": "/a", "user": {"name": "ghost"}}])),
            false,
        )
        .expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "$.storage.files.0: /a: no such user \"ghost\""
    );
}

#[test]
fn dry_run_writes_nothing() {
    let t = TestRoot::new();
    let config = json!({
        "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA"]}]},
        "storage": {"files": [{"path": "/etc/hello", "contents": {"source": "data:,x"}}],
                    "links": [{"path": "/h", "target": "/etc/hello", "hard": true}]},
        "systemd": {"units": [{"name": "a.service", "contents": "[Unit]", "enabled": true}]}
    });
    let changes = t.apply(config, true).expect("dry run");
    assert_eq!(
        fs::read_dir(&t.dir).expect("ls").count(),
        0,
        "root still empty"
    );
    let text = changes.to_string();
    assert!(text.starts_with("dry run, nothing written"), "{text}");
    for expected in [
        "added user core (1000:1000",
        "created file /etc/hello",
        "wrote unit",
        "preset enable a.service",
    ] {
        assert!(text.contains(expected), "{expected} missing in {text}");
    }
}
