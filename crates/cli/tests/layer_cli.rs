//! `ferro install|uninstall|override` and the layering part of `ferro status` as
//! processes, against a signed archive on loopback: output, `--json` keys as
//! rpm-ostree names them, exit codes. Needs root and the archive tools; skips otherwise.

#[path = "../../sysroot/tests/support/archive.rs"]
mod archive;
#[path = "../../sysroot/tests/support/mod.rs"]
mod support;

use std::process::{Command, Output};

use archive::{Archive, Key, Pkg, can_layer, debianize};
use ferro_ostree::Repo;
use ferro_sys::CommandRunExt;
use support::{Scratch, commit, make_tree};

fn ferro(scratch: &Scratch, args: &[&str]) -> Output {
    let sysroot = scratch.path().join("sysroot");
    Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(args)
        .arg("--sysroot")
        .arg(&sysroot)
        .arg("--run-dir")
        .arg(scratch.path().join("run"))
        .arg("--cmdline")
        .arg(scratch.path().join("cmdline"))
        .run_capture()
        .expect("run ferro")
}

fn ok(scratch: &Scratch, args: &[&str]) -> String {
    let out = ferro(scratch, args);
    assert!(
        out.status.success(),
        "ferro {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(scratch: &Scratch, args: &[&str]) -> (Option<i32>, String) {
    let out = ferro(scratch, args);
    assert!(!out.status.success(), "ferro {args:?} succeeded");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status(scratch: &Scratch) -> serde_json::Value {
    serde_json::from_str(&ok(scratch, &["status", "--json"])).unwrap()
}

#[test]
fn install_status_override_uninstall_through_the_cli() {
    if !can_layer("install_status_override_uninstall_through_the_cli") {
        return;
    }
    let scratch = Scratch::new();
    std::fs::write(scratch.path().join("cmdline"), "rw\n").unwrap();
    let key = Key::new(&scratch.path().join("gnupg"));
    let archive = Archive::new(&scratch.path().join("archive"));
    archive.add(&[
        Pkg {
            depends: "libhello",
            ..Pkg::new("hello", "1.0")
        },
        Pkg::new("libhello", "1.0"),
        Pkg::new("tool", "1.0"),
    ]);
    archive.publish(&key);
    let sysroot = scratch.sysroot();
    let s = sysroot.to_str().unwrap();
    ok(&scratch, &["ostree", "admin", "init-fs", s]);
    ok(&scratch, &["ostree", "admin", "os-init", "testos"]);
    let tree = scratch.path().join("tree");
    make_tree(&tree, "kernel", &[]);
    debianize(
        &tree,
        &[("basepkg", "1.0"), ("extra", "1.0")],
        &archive.url,
        &key.public,
    );
    let repo = Repo::open(&sysroot.join("ostree/repo")).unwrap();
    let base = commit(&repo, &tree, "testos/stable", "1");
    ok(
        &scratch,
        &[
            "ostree",
            "admin",
            "deploy",
            "--os",
            "testos",
            "testos/stable",
        ],
    );

    let out = ok(&scratch, &["install", "hello"]);
    assert!(out.contains("Transaction:"), "{out}");
    assert!(out.contains("install libhello 1.0 (all)"), "{out}");
    assert!(out.contains("install hello 1.0 (all)"), "{out}");
    let doc = status(&scratch);
    let d = &doc["deployments"][0];
    assert_eq!(d["requested-packages"], serde_json::json!(["hello"]));
    assert_eq!(d["packages"], serde_json::json!(["hello"]));
    assert_eq!(d["requested-local-packages"], serde_json::json!([]));
    assert_eq!(d["requested-base-removals"], serde_json::json!([]));
    assert_eq!(d["base-removals"], serde_json::json!([]));
    assert_eq!(d["base-checksum"], serde_json::json!(base.to_string()));
    let text = ok(&scratch, &["status"]);
    assert!(text.contains("LayeredPackages: hello"), "{text}");
    assert!(text.contains(&format!("BaseCommit: {base}")), "{text}");

    // Repeats and dry runs.
    let (_, err) = fails(&scratch, &["install", "hello"]);
    assert!(err.contains("already requested"), "{err}");
    let out = ferro(
        &scratch,
        &["install", "--idempotent", "--unchanged-exit-77", "hello"],
    );
    assert_eq!(out.status.code(), Some(77));
    let out = ok(&scratch, &["install", "--dry-run", "tool"]);
    assert!(out.contains("install tool 1.0 (all)"), "{out}");
    assert_eq!(status(&scratch), doc, "a dry run changes nothing");

    // Base packages: inactive requests, removals.
    let (_, err) = fails(&scratch, &["install", "basepkg"]);
    assert!(err.contains("--allow-inactive"), "{err}");
    ok(&scratch, &["install", "--allow-inactive", "basepkg"]);
    let text = ok(&scratch, &["status", "-v"]);
    assert!(text.contains("InactiveRequests: basepkg"), "{text}");
    assert!(!ok(&scratch, &["status"]).contains("InactiveRequests"));
    ok(&scratch, &["override", "remove", "extra"]);
    let doc = status(&scratch);
    assert_eq!(
        doc["deployments"][0]["requested-base-removals"],
        serde_json::json!(["extra"])
    );
    assert_eq!(
        doc["deployments"][0]["base-removals"],
        serde_json::json!(["extra"])
    );
    assert!(ok(&scratch, &["status"]).contains("RemovedBasePackages: extra"));
    ok(&scratch, &["override", "reset", "--all"]);
    ok(&scratch, &["uninstall", "hello", "basepkg"]);
    let doc = status(&scratch);
    let d = &doc["deployments"][0];
    assert_eq!(d["requested-packages"], serde_json::json!([]));
    assert_eq!(d["checksum"], serde_json::json!(base.to_string()));
    assert!(d.get("base-checksum").is_none(), "{d}");
}
