//! `ferro ostree refs` against `ostree refs` on the same repository: listing (all,
//! under a prefix, `--list`, `REMOTE:`), `--create` and `--delete` of prefixes. OSTree
//! prints refs in hash-table order, so outputs are compared sorted.

use std::fs;
use std::path::Path;
use std::process::Output;

#[path = "support/tools.rs"]
mod tools;
use tools::run;

#[path = "../../ostree/tests/support/oracle.rs"]
mod oracle;
use oracle::have_ostree;

/// Exit success and the sorted output lines.
fn outcome(out: &Output) -> (bool, Vec<String>) {
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    (out.status.success(), lines)
}

/// One repository per tool with the same refs: `a/b`, `a/c`, `x` made by `--create`,
/// and remote refs `origin:main`, `origin:sub/z`.
fn setup(tool: &str, root: &Path, src: &Path) -> std::path::PathBuf {
    let repo = root.join(tool);
    assert!(
        run(tool, &repo, &["init", "--mode=archive"])
            .status
            .success()
    );
    let tree = format!("--tree=dir={}", src.display());
    let out = run(
        tool,
        &repo,
        &["commit", "-b", "a/b", "--timestamp=@0", &tree],
    );
    assert!(out.status.success(), "{out:?}");
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    for args in [
        ["refs", "--create=a/c", id.as_str()],
        ["refs", "--create=x", "a/b"],
    ] {
        let out = run(tool, &repo, &args);
        assert!(out.status.success(), "{tool} {args:?}: {out:?}");
    }
    fs::create_dir_all(repo.join("refs/remotes/origin/sub")).unwrap();
    fs::write(repo.join("refs/remotes/origin/main"), format!("{id}\n")).unwrap();
    fs::write(repo.join("refs/remotes/origin/sub/z"), format!("{id}\n")).unwrap();
    repo
}

/// A fresh directory holding `src/f` with `text`; `None`, saying why, when `ostree` is
/// not installed.
fn source_tree(text: &[u8]) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    if !have_ostree() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), text).unwrap();
    Some((dir, src))
}

#[test]
fn refs_matches_ostree_refs() {
    let Some((dir, src)) = source_tree(b"f\n") else {
        return;
    };
    let ferro = setup("ferro", dir.path(), &src);
    let ostree = setup("ostree", dir.path(), &src);
    let same = |args: &[&str]| {
        let ours = outcome(&run("ferro", &ferro, args));
        let theirs = outcome(&run("ostree", &ostree, args));
        assert_eq!(ours, theirs, "refs {args:?}");
    };
    same(&["refs"]);
    same(&["refs", "a"]);
    same(&["refs", "a", "x"]);
    same(&["refs", "--list", "a"]);
    same(&["refs", "a/b"]);
    same(&["refs", "origin:"]);
    same(&["refs", "--create=x", "a/b"]);
    same(&["refs", "--delete", "a"]);
    same(&["refs", "--delete", "origin:main"]);
    same(&["refs", "--delete", "nothing"]);
    same(&["refs"]);
}

/// Mirrored refs (`refs/mirrors/COLLECTION/NAME`) as OSTree treats them: not in plain
/// `refs`, listed by `refs --collections` with local refs under the repository's
/// collection id and a remote's under its own; their commits survive `prune
/// --refs-only`; a dangling one fails `fsck`.
#[test]
fn mirrored_refs_are_listed_by_collection_kept_by_prune_and_checked_by_fsck() {
    let Some((dir, src)) = source_tree(b"mirrored\n") else {
        return;
    };
    let tree = format!("--tree=dir={}", src.display());
    let mut repos = vec![];
    for tool in ["ferro", "ostree"] {
        let repo = dir.path().join(tool);
        let init = run(
            tool,
            &repo,
            &["init", "--mode=archive", "--collection-id=org.example.Os"],
        );
        assert!(init.status.success(), "{tool}: {init:?}");
        let out = run(
            tool,
            &repo,
            &["commit", "-b", "main", "--timestamp=@0", &tree],
        );
        assert!(out.status.success(), "{tool}: {out:?}");
        let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        // The commit is named only by a mirrored ref and a remote's.
        fs::create_dir_all(repo.join("refs/mirrors/org.other.Col/os")).unwrap();
        fs::rename(
            repo.join("refs/heads/main"),
            repo.join("refs/mirrors/org.other.Col/os/stable"),
        )
        .unwrap();
        fs::create_dir_all(repo.join("refs/remotes/peer")).unwrap();
        fs::write(repo.join("refs/remotes/peer/local"), format!("{id}\n")).unwrap();
        fs::write(repo.join("refs/heads/kept"), format!("{id}\n")).unwrap();
        let mut config = fs::read_to_string(repo.join("config")).unwrap();
        config
            .push_str("\n[remote \"peer\"]\nurl=http://127.0.0.1:9/\ncollection-id=org.peer.Os\n");
        fs::write(repo.join("config"), config).unwrap();
        repos.push((tool, repo, id));
    }
    let same = |args: &[&str]| {
        let ours = outcome(&run("ferro", &repos[0].1, args));
        let theirs = outcome(&run("ostree", &repos[1].1, args));
        assert_eq!(ours, theirs, "{args:?}");
        ours
    };
    same(&["refs"]);
    let (ok, listed) = same(&["refs", "--collections"]);
    assert!(ok);
    assert_eq!(
        listed,
        [
            "(org.example.Os, kept)",
            "(org.other.Col, os/stable)",
            "(org.peer.Os, local)"
        ]
    );
    for (tool, repo, id) in &repos {
        fs::remove_file(repo.join("refs/heads/kept")).unwrap();
        fs::remove_dir_all(repo.join("refs/remotes/peer")).unwrap();
        let pruned = run(tool, repo, &["prune", "--refs-only"]);
        assert!(pruned.status.success(), "{tool}: {pruned:?}");
        let shown = run(tool, repo, &["show", id]);
        assert!(
            shown.status.success(),
            "{tool} pruned the mirrored commit: {shown:?}"
        );
    }
    // A mirrored ref to a missing commit is a dangling ref for ferro's fsck.
    let (_, repo, _) = &repos[0];
    fs::write(
        repo.join("refs/mirrors/org.other.Col/os/gone"),
        format!("{}\n", "ab".repeat(32)),
    )
    .unwrap();
    let fsck = run("ferro", repo, &["fsck"]);
    assert!(!fsck.status.success(), "{fsck:?}");
    let report = String::from_utf8_lossy(&fsck.stdout) + String::from_utf8_lossy(&fsck.stderr);
    assert!(report.contains("(org.other.Col, os/gone)"), "{report}");
}
