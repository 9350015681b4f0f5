//! `ferro ostree show --print-metadata-key|--print-detached-metadata-key|--raw [-B]`
//! prints what `ostree show` prints for the same commit, and fails where it fails.
//! Skipped with a message when `ostree` is not installed.

use std::process::Output;

#[path = "support/tools.rs"]
mod tools;
use tools::{hello_tree, run};

#[path = "../../ostree/tests/support/oracle.rs"]
mod oracle;
use oracle::have_ostree;

#[test]
fn show_prints_metadata_and_raw_commits_as_ostree_does() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = hello_tree(tmp.path());
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

/// `commit` makes the same commit ids as `ostree commit`: `--add-metadata KEY=VALUE`
/// read as `ostree` reads VALUE, for values of every GVariant type (and shown back
/// alike), metadata in the order given, and the ref and collection bindings after it
/// (none with `--no-bindings`, an empty ref binding for `--orphan`). Text that is not
/// a value is refused by name.
#[test]
fn commits_get_the_same_ids_as_ostree_commits() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = hello_tree(tmp.path());
    let tree_arg = format!("--tree=dir={}", tree.display());
    let values = [
        "'text'",
        "\"it's\\t\\u00e9\"",
        "uint64 5",
        "-7",
        "2.5",
        "true",
        "[1, 2]",
        "[uint32 1, 2]",
        "['a', 'b']",
        "@as []",
        "{'a': <1>, 'b': <'x'>}",
        "@a{sv} {}",
        "(1, 'x', <true>)",
        "b'bytes'",
        "b'\\001\\377x'",
        "[byte 0x01, 0x02]",
        "<int16 -3>",
        "@mi nothing",
        "objectpath '/a/b'",
        "[(byte 1, 2), (byte 3, 4)]",
    ];
    let mut cases: Vec<Vec<String>> = values
        .iter()
        .map(|v| vec!["-b".into(), "main".into(), format!("--add-metadata=k={v}")])
        .collect();
    for extra in [
        &[
            "--add-metadata-string=zz=1",
            "--add-metadata=aa='2'",
            "-b",
            "main",
        ][..],
        &["--orphan"],
        &["-b", "main", "--no-bindings"],
    ] {
        cases.push(extra.iter().map(|a| a.to_string()).collect());
    }
    for init in [
        &["init", "--mode=archive"][..],
        &["init", "--mode=archive", "--collection-id=org.example.Os"],
    ] {
        let repos: Vec<_> = ["ferro", "ostree"]
            .into_iter()
            .map(|tool| {
                let repo = tmp.path().join(format!("{tool}{}", init.len()));
                assert!(run(tool, &repo, init).status.success());
                (tool, repo)
            })
            .collect();
        for case in &cases {
            let mut args = vec!["commit", "--timestamp=@0", &tree_arg];
            args.extend(case.iter().map(String::as_str));
            let ids: Vec<String> = repos
                .iter()
                .map(|(tool, repo)| {
                    let out = run(tool, repo, &args);
                    assert!(out.status.success(), "{tool} {args:?}: {out:?}");
                    String::from_utf8(out.stdout).unwrap()
                })
                .collect();
            assert_eq!(ids[0], ids[1], "commit ids for {args:?}");
            let show = ["show", "--print-metadata-key=k", ids[0].trim()];
            let shown: Vec<_> = repos
                .iter()
                .map(|(tool, repo)| run(tool, repo, &show).stdout)
                .collect();
            assert_eq!(shown[0], shown[1], "{args:?}");
        }
    }
    let repo = tmp.path().join("ferro2");
    let out = run(
        "ferro",
        &repo,
        &["commit", "-b", "main", &tree_arg, "--add-metadata=k=[1,"],
    );
    // A value the parser would have refused, had it known the GVariant text form: a
    // usage error (2), like every option value clap refuses.
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--add-metadata 'k=[1,'"), "{said}");
}
