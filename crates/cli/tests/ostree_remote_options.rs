//! `ferro ostree remote add --contenturl`, `remote add-cookie|list-cookies|delete-cookie`
//! and the pull options that only the command line parses (`--http-header`), as
//! processes: what they write where `ostree` reads it, and usage errors for bad input.
//! The pulls themselves are tested in crates/ostree/tests/pull_sources.rs.

#[path = "support/tools.rs"]
mod tools;

use std::process::Output;

fn ferro(args: &[&str]) -> Output {
    tools::ferro_ostree(args)
}

fn ok(args: &[&str]) -> String {
    tools::success_stdout(ferro(args), args)
}

#[test]
fn contenturl_and_cookie_jar_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = format!("--repo={}", tmp.path().join("r").display());
    ok(&[&repo, "init", "--mode=archive"]);
    ok(&[
        &repo,
        "remote",
        "add",
        "--no-sign-verify",
        "--contenturl=mirrorlist=http://127.0.0.1:9/list",
        "origin",
        "http://127.0.0.1:9/repo",
    ]);
    let config = std::fs::read_to_string(tmp.path().join("r/config")).unwrap();
    assert!(
        config.contains("contenturl=mirrorlist=http://127.0.0.1:9/list\n"),
        "{config}"
    );
    ok(&[
        &repo,
        "remote",
        "add-cookie",
        "origin",
        "127.0.0.1",
        "/",
        "foo",
        "bar",
    ]);
    ok(&[
        &repo,
        "remote",
        "add-cookie",
        "origin",
        "127.0.0.1",
        "/",
        "baz",
        "badger",
    ]);
    let listed = ok(&[&repo, "remote", "list-cookies", "origin"]);
    assert!(listed.contains("Name: foo\nValue: bar"), "{listed}");
    // `ostree` takes the value after the name too; it is ignored.
    ok(&[
        &repo,
        "remote",
        "delete-cookie",
        "origin",
        "127.0.0.1",
        "/",
        "baz",
        "badger",
    ]);
    let jar = std::fs::read_to_string(tmp.path().join("r/origin.cookies.txt")).unwrap();
    assert!(jar.contains("\tfoo\tbar"), "{jar}");
    assert!(!jar.contains("baz"), "{jar}");
    let again = ferro(&[
        &repo,
        "remote",
        "delete-cookie",
        "origin",
        "127.0.0.1",
        "/",
        "baz",
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("Cookie not found in jar"));
    let unknown = ferro(&[&repo, "remote", "add-cookie", "nope", "h", "/", "a", "b"]);
    assert_eq!(unknown.status.code(), Some(1));

    let bad = ferro(&[&repo, "pull", "--http-header", "novalue", "origin", "main"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a malformed header is a usage error"
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not NAME=VALUE"));
}
