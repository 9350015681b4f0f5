//! `ferro ostree show --print-metadata-key|--print-detached-metadata-key|--raw [-B]`
//! prints what `ostree show` prints for the same commit, and fails where it fails.
//! Skipped with a message when `ostree` is not installed.

use std::fs;
use std::process::{Command, Output};

#[path = "support/tools.rs"]
mod tools;
use tools::run;

#[test]
fn show_prints_metadata_and_raw_commits_as_ostree_does() {
    if !Command::new("ostree")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("skipping: `ostree` is not installed (apt-get install ostree)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("hello"), "hello\n").unwrap();
    let repo = tmp.path().join("repo");
    let ferro_ok = |args: &[&str]| {
        let out = run("ferro", &repo, args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    ferro_ok(&["init", "--mode=archive"]);
    let tree_arg = format!("--tree=dir={}", tree.display());
    let id = ferro_ok(&[
        "commit",
        "-b",
        "main",
        "-s",
        "it's a subject",
        "--add-metadata-string=version=1.2",
        "--timestamp=@1600000000",
        &tree_arg,
    ]);
    let id = id.trim();
    let key = ferro_ostree::sign::SecretKey::from_seed(&[9; 32]);
    ferro_ok(&["sign", id, &key.to_base64()]);

    let cases: [&[&str]; 7] = [
        &["show", "--print-metadata-key=version", "main"],
        &["show", "--print-metadata-key=ostree.ref-binding", "main"],
        &["show", "--print-metadata-key=nope", "main"],
        &[
            "show",
            "--print-detached-metadata-key=ostree.sign.ed25519",
            "main",
        ],
        &["show", "--print-detached-metadata-key=nope", "main"],
        &["show", "--raw", "main"],
        &["show", "--raw", id],
    ];
    for args in cases {
        let ours = run("ferro", &repo, args);
        let theirs = run("ostree", &repo, args);
        assert_eq!(
            ours.status.success(),
            theirs.status.success(),
            "{args:?}: {ours:?} {theirs:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{args:?}"
        );
        if !theirs.status.success() {
            let said = |o: &Output| String::from_utf8_lossy(&o.stderr).trim().to_owned();
            assert_eq!(said(&ours), said(&theirs), "{args:?}");
        }
    }
    // With -B the integers are shown as stored; `ostree` then also prints the usual
    // commit description after the raw form, which ferro leaves out.
    let args = ["show", "--raw", "-B", "main"];
    let ours = String::from_utf8(run("ferro", &repo, &args).stdout).unwrap();
    let theirs = String::from_utf8(run("ostree", &repo, &args).stdout).unwrap();
    assert!(theirs.starts_with(&ours), "{ours}\n{theirs}");
    let stored = 1_600_000_000u64.to_be();
    assert!(ours.contains(&format!("uint64 {stored},")), "{ours}");
}
