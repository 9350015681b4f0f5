//! `ostree commit` with several `--tree` sources and the per-path rules
//! (`--statoverride`, `--skip-list`, `--mode-ro-executables`), and `ostree diff` against
//! a directory, compared with Debian's real `ostree` on the same input: the same
//! commit ids, the same changed paths. Skipped when `ostree` is absent.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use ferro_ostree::commit::{CommitOptions, FsChecksumOptions, commit_dir};
use ferro_ostree::commit_modifier::CommitModifiers;
use ferro_ostree::diff::{DiffSide, diff};
use ferro_ostree::tree_source::{TreeSource, commit_trees};
use ferro_ostree::{Checksum, Repo, RepoMode};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{have_ostree, ostree, repo_arg, write_file};

const TIMESTAMP: u64 = 1_577_836_800;

fn base(root: &Path) {
    write_file(root, "usr/bin/tool", b"#!/bin/sh\n", 0o775);
    write_file(root, "usr/bin/helper", b"helper", 0o755);
    write_file(root, "usr/share/doc/readme", b"docs", 0o644);
    write_file(root, "etc/config", b"a=1\n", 0o664);
    write_file(root, "etc/secret", b"s", 0o644);
}

fn overlay(root: &Path) {
    write_file(root, "etc/config", b"a=2\n", 0o644);
    write_file(root, "usr/lib/new.so", b"\x7fELF", 0o755);
    write_file(root, "opt/extra/file", b"x", 0o600);
}

fn options(branch: &str) -> CommitOptions {
    CommitOptions {
        branch: Some(branch.into()),
        subject: "s".into(),
        timestamp: Some(TIMESTAMP),
        owner_uid: Some(0),
        owner_gid: Some(0),
        no_xattrs: true,
        ..Default::default()
    }
}

#[test]
fn layered_trees_and_modifiers_make_ostrees_commit_id() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (src, top) = (tmp.path().join("base"), tmp.path().join("top"));
    base(&src);
    overlay(&top);
    let statoverride = tmp.path().join("statoverride");
    fs::write(&statoverride, "2048 /usr/bin/helper\n=384 /etc/config\n").unwrap();
    let skip = tmp.path().join("skip");
    fs::write(&skip, "/usr/share/doc\n").unwrap();

    let theirs = tmp.path().join("theirs");
    let r = repo_arg(&theirs);
    ostree(&["init", &r, "--mode=archive"]);
    let common = [
        "--owner-uid=0".to_owned(),
        "--owner-gid=0".to_owned(),
        "--no-xattrs".to_owned(),
        format!("--timestamp=@{TIMESTAMP}"),
        "-s".to_owned(),
        "s".to_owned(),
    ];
    let mut args = vec!["commit".to_owned(), r.clone(), "-b".into(), "base".into()];
    args.push(format!("--tree=dir={}", src.display()));
    args.extend(common.iter().cloned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let their_base: Checksum = ostree(&refs).trim().parse().unwrap();
    let mut args = vec![
        "commit".to_owned(),
        r.clone(),
        "-b".into(),
        "layered".into(),
    ];
    args.push("--tree=ref=base".into());
    args.push(format!("--tree=dir={}", top.display()));
    args.push(format!("--statoverride={}", statoverride.display()));
    args.push(format!("--skip-list={}", skip.display()));
    args.push("--mode-ro-executables".into());
    args.extend(common.iter().cloned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let their_layered: Checksum = ostree(&refs).trim().parse().unwrap();

    let ours = Repo::init(&tmp.path().join("ours"), RepoMode::Archive).unwrap();
    let our_base = commit_dir(&ours, &src, &options("base")).unwrap().commit;
    assert_eq!(our_base, their_base, "the base commit");
    let mut modifiers = CommitModifiers {
        ro_executables: true,
        ..Default::default()
    };
    modifiers
        .add_statoverride(&fs::read_to_string(&statoverride).unwrap())
        .unwrap();
    modifiers.add_skip_list(&fs::read_to_string(&skip).unwrap());
    let layered = CommitOptions {
        modifiers,
        ..options("layered")
    };
    let sources = [TreeSource::Ref("base".into()), TreeSource::Dir(top.clone())];
    let outcome = commit_trees(&ours, &sources, &layered).unwrap();
    assert_eq!(outcome.commit, their_layered, "the layered commit");
    // The overlay's three files, and the base's files whose modes the rules change.
    assert!(outcome.stats.content_written >= 5, "{:?}", outcome.stats);

    // A statoverride path the tree lacks refuses the commit and moves no ref.
    let mut missing = CommitModifiers::default();
    missing.add_statoverride("2048 /no/such/file\n").unwrap();
    let refused = CommitOptions {
        modifiers: missing,
        ..options("refused")
    };
    let err = commit_trees(&ours, &sources, &refused).unwrap_err();
    assert!(err.to_string().contains("/no/such/file"), "{err}");
    assert!(ours.read_ref("refused").unwrap().is_none());
}

#[test]
fn diff_against_a_directory_lists_what_ostree_lists() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    base(&src);
    let r = repo_arg(&tmp.path().join("repo"));
    ostree(&["init", &r, "--mode=bare-user"]);
    let tree = format!("--tree=dir={}", src.display());
    ostree(&["commit", &r, "-b", "main", &tree]);
    // Change the directory: one file edited, one removed, one added, one mode changed.
    fs::write(src.join("etc/config"), b"a=3\n").unwrap();
    fs::remove_file(src.join("etc/secret")).unwrap();
    write_file(&src, "usr/bin/added", b"new", 0o755);
    fs::set_permissions(
        src.join("usr/share/doc/readme"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let dir = format!("{}/", src.display());
    let lines = |text: &str| -> BTreeSet<String> {
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let want = lines(&ostree(&["diff", &r, "main", &dir]));
    let repo = Repo::open(&tmp.path().join("repo")).unwrap();
    let ours = diff(
        &repo,
        &DiffSide::parse(&repo, "main").unwrap(),
        &DiffSide::Dir(src.clone()),
        &FsChecksumOptions::default(),
    )
    .unwrap();
    let mut got = BTreeSet::new();
    for (mark, paths) in [('M', ours.modified), ('D', ours.removed), ('A', ours.added)] {
        for path in paths {
            got.insert(format!("{mark} {path}"));
        }
    }
    assert_eq!(got, want);
    assert!(got.contains("A usr/bin/added"), "{got:?}");
    // Another owner for the directory's files: every file and directory differs.
    let other = FsChecksumOptions {
        owner_uid: Some(rustix::process::getuid().as_raw() + 1),
        ..FsChecksumOptions::default()
    };
    let side = DiffSide::Dir(src.clone());
    let all = diff(
        &repo,
        &DiffSide::parse(&repo, "main").unwrap(),
        &side,
        &other,
    )
    .unwrap();
    assert!(
        all.modified.contains(&"/usr/bin/tool".to_owned()),
        "{all:?}"
    );
    assert!(all.modified.contains(&"/usr".to_owned()), "{all:?}");
}
