//! HTTP pulls against a real nginx serving archive repositories: ferro pulling what
//! Debian's `ostree` (2022.7) wrote, `ostree pull` pulling what ferro wrote, tampered
//! objects, resumption, depth/mirror/commit-metadata-only. Skipped with a message when
//! nginx or ostree is not installed.

#[path = "support/nginx.rs"]
mod nginx;
#[path = "support/oracle.rs"]
mod oracle;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::fsck::fsck;
use ferro_ostree::pull::{PullError, PullOptions, PullReport, pull};
use ferro_ostree::sign::{SecretKey, SignError, sign_commit, sign_summary};
use ferro_ostree::{Checksum, ObjectType, Repo, RepoMode};
use nginx::Nginx;
use oracle::{have_ostree, ostree, ostree_checkout, repo_arg, try_ostree};

/// Files of several sizes (two over 1 MiB, one of them incompressible), duplicates, an empty file
/// and directory, an executable, a symlink, nesting.
fn make_tree(root: &Path, tag: &str) {
    fs::create_dir_all(root.join("a/b/c")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::create_dir_all(root.join("many")).unwrap();
    fs::write(root.join("hello.txt"), format!("hello {tag}\n")).unwrap();
    fs::write(root.join("a/b/c/deep.txt"), "deep\n").unwrap();
    fs::write(root.join("dup1"), "same\n").unwrap();
    fs::write(root.join("a/dup2"), "same\n").unwrap();
    fs::write(root.join("zero"), "").unwrap();
    fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(root.join("big.bin"), big).unwrap();
    // Incompressible: its `.filez` is over 1 MiB, so a pull streams it through a file.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let noise: Vec<u8> = (0..1_500_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    fs::write(root.join("noise.bin"), noise).unwrap();
    for i in 0..40 {
        fs::write(root.join(format!("many/f{i}")), format!("{i}\n")).unwrap();
    }
    let _ = std::os::unix::fs::symlink("hello.txt", root.join("link"));
}

/// An archive repository written by `ostree`, one signed commit on `main`, summary.
/// `ostree_archive` in a new temporary directory, or `None` (said on stderr) when
/// `ostree` is not installed.
fn ostree_archive_in_tmp() -> Option<(tempfile::TempDir, std::path::PathBuf, Checksum)> {
    if !have_ostree() {
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (srv, id) = ostree_archive(tmp.path());
    Some((tmp, srv, id))
}

fn ostree_archive(dir: &Path) -> (std::path::PathBuf, Checksum) {
    let srv = dir.join("srv");
    let tree = dir.join("tree");
    make_tree(&tree, "one");
    let r = repo_arg(&srv);
    ostree(&["init", &r, "--mode=archive"]);
    let tree_arg = format!("--tree=dir={}", tree.display());
    let id = ostree(&[
        "commit",
        &r,
        "-b",
        "main",
        &tree_arg,
        "--no-xattrs",
        "-s",
        "one",
    ]);
    ostree(&["sign", &r, "-s", "dummy", "main", "abcd"]);
    ostree(&["summary", &r, "-u"]);
    (srv, id.trim().parse().unwrap())
}

fn local(path: &Path, mode: RepoMode, url: &str) -> Repo {
    let repo = Repo::init(path, mode).unwrap();
    if repo.remote("origin").is_err() {
        repo.remote_add("origin", url, &[], &[], true).unwrap();
    }
    repo
}

fn pull_main(repo: &Repo, options: &PullOptions) -> Result<PullReport, PullError> {
    pull(repo, "origin", &["main".to_owned()], options, &())
}

fn assert_fsck_clean(path: &Path) {
    let repo = Repo::open(path).unwrap();
    let report = fsck(&repo).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    ostree(&["fsck", &repo_arg(path)]);
}

/// No staging files are left in `tmp/` (directories such as `tmp/cache` are fine).
fn tmp_is_empty(path: &Path) -> bool {
    fs::read_dir(path.join("tmp"))
        .unwrap()
        .all(|e| e.unwrap().file_type().unwrap().is_dir())
}

#[test]
fn ferro_pulls_ostree_archive_into_every_mode() {
    let Some((tmp, srv, id)) = ostree_archive_in_tmp() else {
        return;
    };
    let Some(server) = Nginx::serve(&srv) else {
        return;
    };
    let expected = ostree_checkout(&srv, "main", &tmp.path().join("co-srv"));
    let content = Repo::open(&srv)
        .unwrap()
        .list_objects(ObjectType::File)
        .unwrap()
        .len() as u64;
    for mode in [
        RepoMode::Archive,
        RepoMode::BareUser,
        RepoMode::BareUserOnly,
    ] {
        let path = tmp.path().join(mode.name());
        let repo = local(&path, mode, &server.url());
        let report = pull_main(&repo, &PullOptions::default()).unwrap();
        assert_eq!(
            report.refs,
            vec![("origin:main".to_owned(), id)],
            "{mode:?}"
        );
        assert_eq!(report.status.content_fetched, content, "{mode:?}");
        assert_eq!(report.status.content_total, content, "{mode:?}");
        assert_fsck_clean(&path);
        assert!(tmp_is_empty(&path));
        assert!(repo.read_commitmeta(&id).unwrap().is_some(), "{mode:?}");
        let co = tmp.path().join(format!("co-{}", mode.name()));
        assert_eq!(ostree_checkout(&path, "origin:main", &co), expected);
        // `ostree` sees the remote ferro added.
        assert_eq!(
            ostree(&["remote", "list", "-u", &repo_arg(&path)]),
            format!("origin  {}\n", server.url())
        );
        // Everything is present: a second pull fetches nothing.
        let again = pull_main(&repo, &PullOptions::default()).unwrap();
        assert_eq!(again.status, Default::default());
    }
}

#[test]
fn ostree_pulls_ferro_archive() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let srv_path = tmp.path().join("srv");
    let srv = Repo::init(&srv_path, RepoMode::Archive).unwrap();
    let tree = tmp.path().join("tree");
    make_tree(&tree, "ferro");
    let options = CommitOptions {
        branch: Some("main".into()),
        subject: "from ferro".into(),
        timestamp: Some(1_700_000_000),
        ..Default::default()
    };
    let id = commit_dir(&srv, &tree, &options).unwrap().commit;
    ferro_ostree::summary::update_summary(&srv).unwrap();
    let Some(server) = Nginx::serve(&srv_path) else {
        return;
    };
    let expected = ostree_checkout(&srv_path, "main", &tmp.path().join("co-srv"));
    for (mode, with_summary) in [("bare-user", true), ("archive", false)] {
        if !with_summary {
            fs::remove_file(srv_path.join("summary")).unwrap();
        }
        let path = tmp.path().join(mode);
        let r = repo_arg(&path);
        ostree(&["init", &r, &format!("--mode={mode}")]);
        // A remote added by ferro, pulled by ostree.
        Repo::open(&path)
            .unwrap()
            .remote_add("origin", &server.url(), &["main".into()], &[], true)
            .unwrap();
        ostree(&["pull", &r, "origin"]);
        ostree(&["fsck", &r]);
        assert_eq!(
            ostree(&["rev-parse", &r, "origin:main"]).trim(),
            id.to_hex()
        );
        let co = tmp.path().join(format!("co-{mode}"));
        assert_eq!(ostree_checkout(&path, "origin:main", &co), expected);
        // A remote deleted by ostree is gone for ferro.
        ostree(&["remote", "delete", &r, "origin"]);
        assert!(Repo::open(&path).unwrap().remote_list().unwrap().is_empty());
    }
    // A remote added by ostree, read by ferro.
    let r = repo_arg(&tmp.path().join("archive"));
    ostree(&[
        "remote",
        "add",
        &r,
        "--no-gpg-verify",
        "o2",
        "http://h/x",
        "a",
        "b",
    ]);
    let o2 = Repo::open(&tmp.path().join("archive"))
        .unwrap()
        .remote("o2")
        .unwrap();
    assert_eq!(
        (o2.url.as_str(), &o2.branches[..]),
        ("http://h/x", &["a".to_owned(), "b".to_owned()][..])
    );
    assert!(!o2.flag("gpg-verify", true));
}

/// Replaces an object file's bytes, returning the original.
fn tamper(path: &Path, bytes: &[u8]) -> Vec<u8> {
    let original = fs::read(path).unwrap();
    fs::write(path, bytes).unwrap();
    original
}

#[test]
fn tampered_objects_fail_naming_them_and_leave_nothing() {
    let Some((tmp, srv_path, id)) = ostree_archive_in_tmp() else {
        return;
    };
    let Some(server) = Nginx::serve(&srv_path) else {
        return;
    };
    let srv = Repo::open(&srv_path).unwrap();
    let files = srv.list_objects(ObjectType::File).unwrap();
    let trees = srv.list_objects(ObjectType::DirTree).unwrap();
    let (victim, other) = (files[0], files[1]);
    let victim_path = srv.object_path(ObjectType::File, &victim);
    let tree_path = srv.object_path(ObjectType::DirTree, &trees[0]);
    let other_bytes = fs::read(srv.object_path(ObjectType::File, &other)).unwrap();
    // The largest object arrives through a file in tmp/ rather than in memory.
    let large = *files
        .iter()
        .max_by_key(|f| {
            fs::metadata(srv.object_path(ObjectType::File, f))
                .unwrap()
                .len()
        })
        .unwrap();
    let large_path = srv.object_path(ObjectType::File, &large);
    let mut large_bytes = fs::read(&large_path).unwrap();
    assert!(large_bytes.len() > 1 << 20);
    let last = large_bytes.len() - 100;
    large_bytes[last] ^= 1;
    let cases = [
        (large, ObjectType::File, large_path.clone(), large_bytes),
        (victim, ObjectType::File, victim_path.clone(), other_bytes),
        (
            trees[0],
            ObjectType::DirTree,
            tree_path.clone(),
            [fs::read(&tree_path).unwrap(), vec![0]].concat(),
        ),
    ];
    for mode in [RepoMode::BareUser, RepoMode::Archive] {
        for (bad, kind, path, bytes) in &cases {
            let local_path = tmp.path().join(format!("local-{}", mode.name()));
            let repo = local(&local_path, mode, &server.url());
            // An earlier case's pull may have stored this object intact.
            let _ = fs::remove_file(repo.object_path(*kind, bad));
            let original = tamper(path, bytes);
            let err = pull_main(&repo, &PullOptions::default()).unwrap_err();
            fs::write(path, original).unwrap();
            let message = err.to_string();
            assert!(
                message.contains(&bad.to_hex()) && message.contains("corrupt"),
                "{message}"
            );
            assert!(!repo.has_object(*kind, bad), "{mode:?} {kind:?}");
            assert!(!repo.has_object(ObjectType::Commit, &id));
            assert_eq!(repo.read_ref("origin:main").unwrap(), None);
            assert!(tmp_is_empty(&local_path));
            assert_fsck_clean(&local_path);
        }
        // Restored: the same repository completes the pull.
        let local_path = tmp.path().join(format!("local-{}", mode.name()));
        let repo = Repo::open(&local_path).unwrap();
        pull_main(&repo, &PullOptions::default()).unwrap();
        assert_eq!(repo.read_ref("origin:main").unwrap(), Some(id));
        assert_fsck_clean(&local_path);
    }
}

#[test]
fn resumed_pull_fetches_only_what_is_missing() {
    let Some((tmp, srv, id)) = ostree_archive_in_tmp() else {
        return;
    };
    // No summary: refs come from refs/heads/REF; no commitmeta either.
    fs::remove_file(srv.join("summary")).unwrap();
    let srv_repo = Repo::open(&srv).unwrap();
    fs::remove_file(srv_repo.commitmeta_path(&id)).unwrap();
    let Some(server) = Nginx::serve(&srv) else {
        return;
    };
    let path = tmp.path().join("local");
    let repo = local(&path, RepoMode::BareUser, &server.url());
    pull_main(&repo, &PullOptions::default()).unwrap();
    // Simulate an interruption: the commit, a dirtree and three files are not stored.
    let files = repo.list_objects(ObjectType::File).unwrap();
    let commit = repo.load_commit(&id).unwrap();
    let subtree = repo
        .list_objects(ObjectType::DirTree)
        .unwrap()
        .into_iter()
        .find(|t| *t != commit.root_tree)
        .unwrap();
    for (kind, object) in [
        (ObjectType::Commit, id),
        (ObjectType::DirTree, subtree),
        (ObjectType::File, files[0]),
        (ObjectType::File, files[1]),
        (ObjectType::File, files[2]),
    ] {
        fs::remove_file(repo.object_path(kind, &object)).unwrap();
    }
    repo.set_ref("origin:main", None).unwrap();
    let report = pull_main(&repo, &PullOptions::default()).unwrap();
    assert_eq!(report.status.content_fetched, 3);
    // The commit, the dirtree, and the commit's detached metadata request.
    assert_eq!(report.status.metadata_fetched, 3);
    assert_eq!(repo.read_ref("origin:main").unwrap(), Some(id));
    assert_fsck_clean(&path);
}

#[test]
fn depth_mirror_metadata_only_and_refusals() {
    let Some((tmp, srv, first)) = ostree_archive_in_tmp() else {
        return;
    };
    let tree = tmp.path().join("tree");
    fs::write(tree.join("hello.txt"), "second\n").unwrap();
    let r = repo_arg(&srv);
    let tree_arg = format!("--tree=dir={}", tree.display());
    let second: Checksum = ostree(&["commit", &r, "-b", "main", &tree_arg, "--no-xattrs"])
        .trim()
        .parse()
        .unwrap();
    ostree(&["summary", &r, "-u"]);
    let Some(server) = Nginx::serve(&srv) else {
        return;
    };

    // --mirror --depth=-1 with no refs: every ref of the summary, as local branches.
    let path = tmp.path().join("mirror");
    let repo = local(&path, RepoMode::Archive, &server.url());
    let options = PullOptions {
        depth: None,
        mirror: true,
        ..Default::default()
    };
    let report = pull(&repo, "origin", &[], &options, &()).unwrap();
    assert_eq!(report.refs, vec![("main".to_owned(), second)]);
    assert!(repo.has_object(ObjectType::Commit, &first));
    assert_fsck_clean(&path);
    let co = tmp.path().join("co-first");
    let expected = ostree_checkout(&srv, &first.to_hex(), &tmp.path().join("co-srv-first"));
    assert_eq!(ostree_checkout(&path, &first.to_hex(), &co), expected);

    // Commit metadata only: the commit, marked partial; then the full pull.
    let path = tmp.path().join("meta-only");
    let repo = local(&path, RepoMode::BareUser, &server.url());
    let options = PullOptions {
        commit_metadata_only: true,
        ..Default::default()
    };
    pull_main(&repo, &options).unwrap();
    let partial = path.join(format!("state/{second}.commitpartial"));
    assert!(repo.has_object(ObjectType::Commit, &second) && partial.exists());
    assert!(repo.list_objects(ObjectType::File).unwrap().is_empty());
    ostree(&["fsck", &repo_arg(&path)]);
    pull_main(&repo, &PullOptions::default()).unwrap();
    assert!(!partial.exists());
    assert!(!repo.has_object(ObjectType::Commit, &first));
    assert_fsck_clean(&path);

    // Unknown refs and non-archive remotes are errors.
    let err = pull(
        &repo,
        "origin",
        &["nope".into()],
        &PullOptions::default(),
        &(),
    )
    .unwrap_err();
    assert!(matches!(err, PullError::RefNotFound { .. }), "{err}");
    let bare = tmp.path().join("bare-srv");
    ostree(&["init", &repo_arg(&bare), "--mode=bare-user"]);
    let Some(bare_server) = Nginx::serve(&bare) else {
        return;
    };
    repo.remote_add("bare", &bare_server.url(), &[], &[], true)
        .unwrap();
    let err = pull(
        &repo,
        "bare",
        &["main".into()],
        &PullOptions::default(),
        &(),
    )
    .unwrap_err();
    assert!(matches!(err, PullError::NotArchive { .. }), "{err}");
}

/// An archive repository written by ferro with one commit on `main`, signed with
/// `key` by [`sign_commit`] (what `ferro ostree sign` runs), and a summary.
fn ferro_signed_archive(dir: &Path, key: &SecretKey) -> (std::path::PathBuf, Checksum, Vec<u8>) {
    let srv_path = dir.join("srv");
    let srv = Repo::init(&srv_path, RepoMode::Archive).unwrap();
    let tree = dir.join("tree");
    make_tree(&tree, "signed");
    let options = CommitOptions {
        branch: Some("main".into()),
        subject: "signed".into(),
        timestamp: Some(1_700_000_000),
        ..Default::default()
    };
    let id = commit_dir(&srv, &tree, &options).unwrap().commit;
    let signature = sign_commit(&srv, &id, key).unwrap();
    ferro_ostree::summary::update_summary(&srv).unwrap();
    (srv_path, id, signature)
}

/// A fresh bare-user repository with remote `origin` set up by `options`.
fn local_with(path: &Path, url: &str, options: &[(&str, &str)]) -> Repo {
    let _ = fs::remove_dir_all(path);
    let repo = Repo::init(path, RepoMode::BareUser).unwrap();
    let options: Vec<_> = options
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    repo.remote_add("origin", url, &[], &options, true).unwrap();
    repo
}

/// Nothing of a refused commit is stored: no object, no detached metadata, no ref,
/// no staging file.
fn assert_nothing_stored(path: &Path, repo: &Repo, id: &Checksum) {
    for kind in [
        ObjectType::Commit,
        ObjectType::DirTree,
        ObjectType::DirMeta,
        ObjectType::File,
    ] {
        assert!(repo.list_objects(kind).unwrap().is_empty(), "{kind:?}");
    }
    assert_eq!(repo.read_commitmeta(id).unwrap(), None);
    assert_eq!(repo.read_ref("origin:main").unwrap(), None);
    assert!(tmp_is_empty(path));
}

#[test]
fn sign_verify_accepts_trusted_signatures_and_refuses_the_rest() {
    if !have_ostree() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[21; 32]);
    let trusted = key.public_key().to_base64();
    let wrong = SecretKey::from_seed(&[22; 32]).public_key().to_base64();
    let (srv_path, id, signature) = ferro_signed_archive(tmp.path(), &key);
    let Some(server) = Nginx::serve(&srv_path) else {
        return;
    };
    let keys_file = tmp.path().join("trusted.ed25519");
    fs::write(&keys_file, format!("{wrong}\n{trusted}\n")).unwrap();
    let keys_file = keys_file.to_str().unwrap();
    let path = tmp.path().join("local");

    // The trusted key inline, or in a key file among others: pulled and verified.
    for options in [
        &[
            ("sign-verify", "true"),
            ("verification-ed25519-key", trusted.as_str()),
        ][..],
        &[
            ("sign-verify", "ed25519"),
            ("verification-ed25519-file", keys_file),
        ][..],
    ] {
        let repo = local_with(&path, &server.url(), options);
        let report = pull_main(&repo, &PullOptions::default()).unwrap();
        assert_eq!(report.refs, vec![("origin:main".to_owned(), id)]);
        assert!(repo.read_commitmeta(&id).unwrap().is_some());
        assert_fsck_clean(&path);
        // Pulling again checks the stored commit and fetches nothing.
        let again = pull_main(&repo, &PullOptions::default()).unwrap();
        assert_eq!(again.status, Default::default());
    }

    // A remote without sign-verify takes the commit whatever its signatures.
    let commitmeta = Repo::open(&srv_path).unwrap().commitmeta_path(&id);
    let original = fs::read(&commitmeta).unwrap();
    let at = original
        .windows(signature.len())
        .position(|w| w == signature)
        .expect("the signature is in the commitmeta");
    let mut tampered = original.clone();
    tampered[at + 10] ^= 0x40;
    fs::write(&commitmeta, &tampered).unwrap();
    let repo = local_with(&path, &server.url(), &[]);
    pull_main(&repo, &PullOptions::default()).unwrap();
    assert_eq!(repo.read_ref("origin:main").unwrap(), Some(id));

    // Refused: a tampered signature, a key that did not sign, no signature at all.
    let verified = [
        ("sign-verify", "true"),
        ("verification-ed25519-key", trusted.as_str()),
    ];
    let wrong_key = [
        ("sign-verify", "true"),
        ("verification-ed25519-key", wrong.as_str()),
    ];
    let cases = [
        ("tampered", &verified, Some(&tampered)),
        ("wrong key", &wrong_key, Some(&original)),
        ("unsigned", &verified, None),
    ];
    for (case, options, served) in cases {
        match served {
            Some(bytes) => fs::write(&commitmeta, bytes).unwrap(),
            None => fs::remove_file(&commitmeta).unwrap(),
        }
        let repo = local_with(&path, &server.url(), options);
        let err = pull_main(&repo, &PullOptions::default()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("'origin'") && message.contains(&id.to_hex()),
            "{case}: {message}"
        );
        let PullError::Signature { source, .. } = &err else {
            panic!("{case}: {err:?}");
        };
        match (case, source.as_ref()) {
            // OSTree's "No signatures found": no required type found one of its own.
            ("unsigned", SignError::NoSignatures) => {}
            ("tampered" | "wrong key", SignError::NotVerified { .. }) => {}
            _ => panic!("{case}: {err:?}"),
        }
        assert_nothing_stored(&path, &repo, &id);
        assert_fsck_clean(&path);
    }
}

#[test]
fn sign_verify_refuses_ostree_dummy_signatures_and_bad_settings() {
    let Some((tmp, srv, id)) = ostree_archive_in_tmp() else {
        return;
    };
    let Some(server) = Nginx::serve(&srv) else {
        return;
    };
    let trusted = SecretKey::from_seed(&[21; 32]).public_key().to_base64();
    let path = tmp.path().join("local");
    // Signed by ostree with its `dummy` type only: no ed25519 signature.
    let repo = local_with(
        &path,
        &server.url(),
        &[
            ("sign-verify", "true"),
            ("verification-ed25519-key", &trusted),
        ],
    );
    let err = pull_main(&repo, &PullOptions::default()).unwrap_err();
    assert!(
        matches!(&err, PullError::Signature { source, commit, .. }
            if matches!(**source, SignError::NoSignatures) && *commit == id),
        "{err:?}"
    );
    assert_nothing_stored(&path, &repo, &id);
    // Settings that cannot be honoured stop the pull before it fetches anything.
    for options in [
        &[
            ("sign-verify", "dummy"),
            ("verification-ed25519-key", trusted.as_str()),
        ][..],
        &[("sign-verify", "true")][..],
        &[
            ("sign-verify", "true"),
            ("verification-ed25519-file", "/nonexistent/keys"),
        ][..],
    ] {
        let repo = local_with(&path, &server.url(), options);
        let err = pull_main(&repo, &PullOptions::default()).unwrap_err();
        assert!(matches!(err, PullError::Policy(_)), "{options:?}: {err:?}");
        assert!(err.to_string().contains("'origin'"), "{err}");
        assert_nothing_stored(&path, &repo, &id);
    }
}

/// `sign-verify-summary`: a summary that `summary.sig` vouches for with a trusted key
/// is pulled from; a wrong key, a missing `summary.sig`, a tampered summary and a
/// missing summary are refused before any object is fetched.
#[test]
fn sign_verify_summary_accepts_signed_summaries_and_refuses_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed(&[31; 32]);
    let (srv_path, id, _) = ferro_signed_archive(tmp.path(), &key);
    sign_summary(&Repo::open(&srv_path).unwrap(), &[key]).unwrap();
    let Some(server) = Nginx::serve(&srv_path) else {
        return;
    };
    let trusted = SecretKey::from_seed(&[31; 32]).public_key().to_base64();
    let wrong = SecretKey::from_seed(&[32; 32]).public_key().to_base64();
    let path = tmp.path().join("local");
    let verified = [
        ("sign-verify-summary", "true"),
        ("verification-ed25519-key", trusted.as_str()),
    ];
    let repo = local_with(&path, &server.url(), &verified);
    let report = pull_main(&repo, &PullOptions::default()).unwrap();
    assert_eq!(report.refs, vec![("origin:main".to_owned(), id)]);

    let summary_path = srv_path.join("summary");
    let (summary, sig) = (
        fs::read(&summary_path).unwrap(),
        fs::read(srv_path.join("summary.sig")).unwrap(),
    );
    let mut tampered = summary.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let wrong_key = [
        ("sign-verify-summary", "true"),
        ("verification-ed25519-key", wrong.as_str()),
    ];
    /// What the server serves as `summary` and `summary.sig` (`None`: nothing).
    struct Served<'a> {
        summary: Option<&'a [u8]>,
        sig: Option<&'a [u8]>,
    }
    let cases = [
        (
            "wrong key",
            &wrong_key,
            Served {
                summary: Some(&summary),
                sig: Some(&sig),
            },
        ),
        (
            "no summary.sig",
            &verified,
            Served {
                summary: Some(&summary),
                sig: None,
            },
        ),
        (
            "tampered summary",
            &verified,
            Served {
                summary: Some(&tampered),
                sig: Some(&sig),
            },
        ),
        (
            "no summary",
            &verified,
            Served {
                summary: None,
                sig: Some(&sig),
            },
        ),
    ];
    for (case, options, served) in cases {
        for (file, bytes) in [("summary", served.summary), ("summary.sig", served.sig)] {
            let target = srv_path.join(file);
            match bytes {
                Some(bytes) => fs::write(&target, bytes).unwrap(),
                None => fs::remove_file(&target).unwrap(),
            }
        }
        let repo = local_with(&path, &server.url(), options);
        let err = pull_main(&repo, &PullOptions::default()).unwrap_err();
        let PullError::SummarySignature { source, .. } = &err else {
            panic!("{case}: {err:?}");
        };
        match (case, source.as_ref()) {
            ("wrong key" | "tampered summary", SignError::NotVerified { .. })
            | ("no summary.sig", SignError::NoSignatures)
            | ("no summary", SignError::NoSummary) => {}
            _ => panic!("{case}: {err:?}"),
        }
        assert!(err.to_string().contains("'origin'"), "{case}: {err}");
        assert_nothing_stored(&path, &repo, &id);
    }
}

/// `ostree` keeps reading a `summary.sig` that ferro added an Ed25519 signature to: a
/// summary `ostree summary --sign-type=dummy` signed is pulled by `ostree pull` with
/// `sign-verify-summary` after ferro's signing (and refused with a wrong dummy key),
/// and ferro's pull verifies its own signature in the same file.
#[test]
fn ostree_verifies_summary_sig_that_ferro_signed() {
    let Some((tmp, srv_path, id)) = ostree_archive_in_tmp() else {
        return;
    };
    let srv = repo_arg(&srv_path);
    ostree(&["summary", &srv, "-u", "--sign-type=dummy", "--sign=abcd"]);
    let key = SecretKey::from_seed(&[33; 32]);
    sign_summary(&Repo::open(&srv_path).unwrap(), &[key]).unwrap();
    let Some(server) = Nginx::serve(&srv_path) else {
        return;
    };
    for (dummy_key, accepted) in [("abcd", true), ("wxyz", false)] {
        let path = tmp.path().join(format!("ostree-{dummy_key}"));
        let r = repo_arg(&path);
        ostree(&["init", &r, "--mode=bare-user"]);
        ostree(&[
            "remote",
            "add",
            &r,
            "--no-gpg-verify",
            "--set=sign-verify-summary=true",
            &format!("--set=verification-dummy-key={dummy_key}"),
            "origin",
            &server.url(),
        ]);
        let pulled = try_ostree(&["pull", &r, "origin", "main"]);
        assert_eq!(pulled.is_ok(), accepted, "{dummy_key}: {pulled:?}");
    }
    let trusted = SecretKey::from_seed(&[33; 32]).public_key().to_base64();
    let repo = local_with(
        &tmp.path().join("ferro"),
        &server.url(),
        &[
            ("sign-verify-summary", "true"),
            ("verification-ed25519-key", &trusted),
        ],
    );
    let report = pull_main(&repo, &PullOptions::default()).unwrap();
    assert_eq!(report.refs, vec![("origin:main".to_owned(), id)]);
}
