//! Pulls through static deltas that Debian's `ostree` (2022.7) generated, served by a
//! real nginx: from scratch and upgrades, inline parts, bsdiff and plain, big-endian
//! metadata, several parts, fallback objects, with and without a summary; a
//! tampered part refused with nothing stored; and deltas ferro generated, pulled by
//! `ostree pull` and by ferro. Skipped with a message when nginx or
//! ostree is not installed.

#[path = "support/nginx.rs"]
mod nginx;
#[path = "support/oracle.rs"]
mod oracle;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::delta::DeltaError;
use ferro_ostree::delta::generate::{Compression, GenerateOptions, generate};
use ferro_ostree::fsck::fsck;
use ferro_ostree::pull::{PullError, PullOptions, PullReport, pull};
use ferro_ostree::summary::update_summary;
use ferro_ostree::{Checksum, ObjectType, Repo, RepoMode};
use nginx::Nginx;
use oracle::{have_ostree, ostree, ostree_checkout, repo_arg};

/// Deterministic bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

/// Version `v` of a tree: small and large files, a file that changes a little between
/// versions (bsdiff material), an executable, a symlink, nesting.
fn make_tree(root: &Path, v: u8) {
    fs::create_dir_all(root.join("usr/lib/deep")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/os-release"), format!("VERSION={v}\n")).unwrap();
    fs::write(root.join("usr/lib/deep/same"), "unchanged\n").unwrap();
    let mut edited = noise(7, 200_000);
    edited[100_000..100_010].fill(v);
    fs::write(root.join("usr/lib/edited.bin"), edited).unwrap();
    fs::write(root.join("usr/lib/large.bin"), noise(11, 1_500_000)).unwrap();
    fs::write(root.join("usr/lib/new.bin"), noise(u64::from(v), 30_000)).unwrap();
    fs::write(root.join("usr/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("usr/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    for i in 0..30 {
        fs::write(
            root.join(format!("usr/lib/f{i}")),
            format!("{i} {}\n", i % 3),
        )
        .unwrap();
    }
    let _ = std::os::unix::fs::symlink("os-release", root.join("etc/link"));
}

/// An archive repository by `ostree` with commit 1 on `main`; returns its path and id.
fn server_repo(dir: &Path) -> (PathBuf, Checksum) {
    let srv = dir.join("srv");
    ostree(&["init", &repo_arg(&srv), "--mode=archive"]);
    let id = server_commit(dir, &srv, 1);
    (srv, id)
}

fn server_commit(dir: &Path, srv: &Path, v: u8) -> Checksum {
    let tree = dir.join(format!("tree{v}"));
    make_tree(&tree, v);
    let tree_arg = format!("--tree=dir={}", tree.display());
    let subject = format!("v{v}");
    ostree(&[
        "commit",
        &repo_arg(srv),
        "-b",
        "main",
        &tree_arg,
        "--no-xattrs",
        "-s",
        &subject,
    ])
    .trim()
    .parse()
    .unwrap()
}

fn local(path: &Path, mode: RepoMode, url: &str) -> Repo {
    let repo = Repo::init(path, mode).unwrap();
    repo.remote_add("origin", url, &[], &[], true).unwrap();
    repo
}

fn pull_main(repo: &Repo) -> Result<PullReport, PullError> {
    pull(
        repo,
        "origin",
        &["main".to_owned()],
        &PullOptions::default(),
        &(),
    )
}

fn assert_same_as_server(local: &Path, srv: &Path, id: &Checksum, scratch: &Path) {
    let report = fsck(&Repo::open(local).unwrap()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    ostree(&["fsck", &repo_arg(local)]);
    let rev = id.to_hex();
    fs::create_dir_all(scratch).unwrap();
    assert_eq!(
        ostree_checkout(local, &rev, &scratch.join("co-local")),
        ostree_checkout(srv, &rev, &scratch.join("co-srv"))
    );
}

fn objects(repo: &Repo) -> usize {
    [
        ObjectType::File,
        ObjectType::DirTree,
        ObjectType::DirMeta,
        ObjectType::Commit,
    ]
    .into_iter()
    .map(|kind| repo.list_objects(kind).unwrap().len())
    .sum()
}

#[test]
fn pulls_through_scratch_deltas() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (srv, id) = server_repo(tmp.path());
    ostree(&[
        "static-delta",
        "generate",
        &repo_arg(&srv),
        "--empty",
        "--to=main",
    ]);
    ostree(&["summary", "-u", &repo_arg(&srv)]);
    let Some(server) = Nginx::serve(&srv) else {
        return;
    };
    for (mode, summary) in [(RepoMode::BareUser, true), (RepoMode::BareUserOnly, false)] {
        if !summary {
            fs::remove_file(srv.join("summary")).unwrap();
        }
        let path = tmp.path().join(mode.name());
        let repo = local(&path, mode, &server.url());
        let report = pull_main(&repo).unwrap();
        assert_eq!(report.deltas, vec![id.to_hex()], "{mode:?}");
        assert!(report.delta_notes.is_empty(), "{:?}", report.delta_notes);
        assert_eq!(report.status.delta_parts_fetched, 1);
        // Only the commit (and no dirtree or file) was fetched on its own; its
        // detached metadata request counts too, as `ostree pull` counts it.
        assert_eq!(report.status.content_fetched, 0, "{mode:?}");
        assert_eq!(report.status.metadata_fetched, 2, "{mode:?}");
        assert_same_as_server(
            &path,
            &srv,
            &id,
            &tmp.path().join(mode.name().to_owned() + "-co"),
        );
    }
    // Not when disabled.
    let path = tmp.path().join("disabled");
    let repo = local(&path, RepoMode::BareUser, &server.url());
    let options = PullOptions {
        disable_static_deltas: true,
        ..Default::default()
    };
    let report = pull(&repo, "origin", &["main".to_owned()], &options, &()).unwrap();
    assert!(report.deltas.is_empty());
    assert!(report.status.content_fetched > 0);
    // Never into an archive repository, as OSTree.
    let path = tmp.path().join("archive");
    let repo = local(&path, RepoMode::Archive, &server.url());
    let report = pull_main(&repo).unwrap();
    assert!(report.deltas.is_empty());
    assert!(report.status.content_fetched > 0);
}

#[test]
fn upgrades_through_from_to_deltas() {
    if !have_ostree() {
        return;
    }
    let variants: &[(&str, &[&str])] = &[
        ("default", &[]),
        ("inline", &["--inline"]),
        ("plain", &["--disable-bsdiff"]),
        ("inline-plain", &["--inline", "--disable-bsdiff"]),
        ("big-endian", &["--set-endianness=B"]),
        ("parts", &["--max-chunk-size=1"]),
    ];
    for (name, flags) in variants {
        let tmp = tempfile::tempdir().unwrap();
        let (srv, one) = server_repo(tmp.path());
        ostree(&["summary", "-u", &repo_arg(&srv)]);
        let Some(server) = Nginx::serve(&srv) else {
            return;
        };
        let path = tmp.path().join("local");
        let repo = local(&path, RepoMode::BareUser, &server.url());
        let first = pull_main(&repo).unwrap();
        assert!(first.deltas.is_empty(), "{name}: no delta is offered yet");
        let two = server_commit(tmp.path(), &srv, 2);
        let from = format!("--from={one}");
        let mut args = vec!["static-delta", "generate"];
        let r = repo_arg(&srv);
        args.extend([r.as_str(), from.as_str(), "--to=main"]);
        args.extend(flags.iter().copied());
        ostree(&args);
        // The bsdiff variants do patch the edited file; the others splice and copy
        // (`ostree static-delta show` cannot read inline parts).
        if !flags.contains(&"--inline") {
            let show = ostree(&["static-delta", "show", &r, &format!("{one}-{two}")]);
            let bspatch = show
                .split("bspatch=")
                .skip(1)
                .any(|rest| !rest.starts_with('0'));
            assert_eq!(
                bspatch,
                !flags.contains(&"--disable-bsdiff"),
                "{name}: {show}"
            );
        }
        ostree(&["summary", "-u", &repo_arg(&srv)]);
        let report = pull_main(&repo).unwrap();
        assert_eq!(report.deltas, vec![format!("{one}-{two}")], "{name}");
        assert!(report.status.delta_parts_fetched >= 1, "{name}");
        assert_eq!(report.status.content_fetched, 0, "{name}");
        assert_eq!(report.refs, vec![("origin:main".to_owned(), two)]);
        assert_same_as_server(&path, &srv, &two, tmp.path());
    }
}

#[test]
fn fallback_objects_are_fetched_one_by_one() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (srv, id) = server_repo(tmp.path());
    let r = repo_arg(&srv);
    ostree(&[
        "static-delta",
        "generate",
        &r,
        "--empty",
        "--to=main",
        "--min-fallback-size=1",
    ]);
    ostree(&["summary", "-u", &r]);
    let Some(server) = Nginx::serve(&srv) else {
        return;
    };
    let path = tmp.path().join("local");
    let repo = local(&path, RepoMode::BareUser, &server.url());
    let report = pull_main(&repo).unwrap();
    assert_eq!(report.deltas, vec![id.to_hex()]);
    // large.bin (1.5 MB) is a fallback object.
    assert_eq!(report.status.content_fetched, 1);
    assert_same_as_server(&path, &srv, &id, tmp.path());
}

#[test]
fn tampered_delta_part_is_refused() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (srv, _) = server_repo(tmp.path());
    let r = repo_arg(&srv);
    ostree(&["static-delta", "generate", &r, "--empty", "--to=main"]);
    ostree(&["summary", "-u", &r]);
    let part = walk_files(&srv.join("deltas"))
        .into_iter()
        .find(|p| p.file_name().unwrap() == "0")
        .unwrap();
    let mut bytes = fs::read(&part).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    fs::write(&part, bytes).unwrap();
    let Some(server) = Nginx::serve(&srv) else {
        return;
    };
    let path = tmp.path().join("local");
    let repo = local(&path, RepoMode::BareUser, &server.url());
    let err = pull_main(&repo).unwrap_err();
    assert!(
        matches!(err, PullError::Delta(DeltaError::Corrupt { .. })),
        "{err:?}"
    );
    assert_eq!(objects(&repo), 0);
    assert_eq!(repo.read_ref("origin:main").unwrap(), None);
    assert!(walk_files(&path.join("tmp")).is_empty());
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// An archive repository by ferro with commits 1 and 2 on `main`.
fn ferro_server(dir: &Path) -> (PathBuf, Repo, Checksum, Checksum) {
    let srv = dir.join("srv");
    let repo = Repo::init(&srv, RepoMode::Archive).unwrap();
    let mut ids = Vec::new();
    for v in [1, 2] {
        let tree = dir.join(format!("tree{v}"));
        make_tree(&tree, v);
        let options = CommitOptions {
            branch: Some("main".into()),
            subject: format!("v{v}"),
            timestamp: Some(1_700_000_000 + u64::from(v)),
            no_xattrs: true,
            ..Default::default()
        };
        ids.push(commit_dir(&repo, &tree, &options).unwrap().commit);
    }
    (srv, repo, ids[0], ids[1])
}

#[test]
fn ostree_pulls_ferro_deltas() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (srv, repo, one, two) = ferro_server(tmp.path());
    let scratch = generate(
        &repo,
        &GenerateOptions {
            from: None,
            to: one,
            inline: false,
            max_chunk_size: 500_000,
            compression: Compression::Xz,
            max_bsdiff_size: Some(128 << 20),
            swap_endianness: false,
            filename: None,
        },
    )
    .unwrap();
    assert!(scratch.parts > 1, "{scratch:?}");
    let upgrade = generate(
        &repo,
        &GenerateOptions {
            from: Some(one),
            to: two,
            inline: true,
            max_chunk_size: 32 << 20,
            compression: Compression::Xz,
            max_bsdiff_size: Some(128 << 20),
            // Big-endian, as a big-endian machine writes it: `ostree` must read it too.
            swap_endianness: true,
            filename: None,
        },
    )
    .unwrap();
    assert_eq!(upgrade.parts, 1);
    // The files that changed at the same path are patches of their old versions.
    assert!(upgrade.bsdiff > 0, "{upgrade:?}");
    update_summary(&repo).unwrap();
    let r = repo_arg(&srv);
    let listed = ostree(&["static-delta", "list", &r]);
    assert!(
        listed.contains(&scratch.name) && listed.contains(&upgrade.name),
        "{listed}"
    );
    let show = ostree(&["static-delta", "show", &r, &scratch.name]);
    assert!(
        show.contains(&format!("Number of parts: {}", scratch.parts)),
        "{show}"
    );
    let Some(server) = Nginx::serve(&srv) else {
        return;
    };
    // `ostree pull` through both deltas.
    let path = tmp.path().join("ostree-client");
    let c = repo_arg(&path);
    ostree(&["init", &c, "--mode=bare-user"]);
    let url = server.url();
    ostree(&["remote", "add", &c, "--no-gpg-verify", "origin", &url]);
    let out = ostree(&["pull", &c, "origin", &format!("main@{one}")]);
    assert!(
        out.contains(&format!("{} delta parts", scratch.parts)),
        "{out}"
    );
    let out = ostree(&["pull", &c, "origin", "main"]);
    // The part is inline, so no part request is counted; and OSTree scans the new
    // commit while it applies the part, so how many objects it also fetches loose
    // varies from run to run (usually none): only the result is checked.
    assert!(out.contains("content objects fetched"), "{out}");
    assert_same_as_server(&path, &srv, &two, &tmp.path().join("co-ostree"));
    // ferro through both, too.
    let path = tmp.path().join("ferro-client");
    let client = local(&path, RepoMode::BareUser, &url);
    let report = pull(
        &client,
        "origin",
        &[one.to_hex()],
        &PullOptions::default(),
        &(),
    )
    .unwrap();
    assert_eq!(report.deltas, vec![scratch.name.clone()]);
    client.set_ref("origin:main", Some(&one)).unwrap();
    let report = pull_main(&client).unwrap();
    assert_eq!(report.deltas, vec![upgrade.name.clone()]);
    assert_eq!(report.status.content_fetched, 0);
    assert_same_as_server(&path, &srv, &two, &tmp.path().join("co-ferro"));
}
