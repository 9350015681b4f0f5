//! Damaged repositories: every kind of damage is found by `fsck`, named by object, and
//! (where the real `ostree` is installed) also rejected by `ostree fsck`; `--delete`
//! removes what is corrupt; hostile bytes never panic or hang the checker.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use ferro_sys::CommandRunExt;

use ferro_ostree::commit::{CommitOptions, commit_dir};
use ferro_ostree::fsck::{ProblemKind, delete_corrupt, fsck};
use ferro_ostree::{Checksum, FileHeader, ObjectType, Repo, RepoMode};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::have_ostree;

const KINDS: [ObjectType; 4] = [
    ObjectType::Commit,
    ObjectType::DirTree,
    ObjectType::DirMeta,
    ObjectType::File,
];
const MODES: [RepoMode; 2] = [RepoMode::BareUser, RepoMode::Archive];

fn ostree_fsck_fails(repo: &Path) -> bool {
    let arg = format!("--repo={}", repo.display());
    !Command::new("ostree")
        .args(["fsck", &arg])
        .run_capture()
        .unwrap()
        .status
        .success()
}

/// A repository with one commit of a small tree: two regular files (one large enough
/// to span several deflate blocks) and a subdirectory.
fn setup(dir: &Path, mode: RepoMode) -> (Repo, Checksum) {
    let src = dir.join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("hello"), b"hello\n").unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(src.join("sub/big"), big).unwrap();
    let repo = Repo::init(&dir.join("repo"), mode).unwrap();
    let options = CommitOptions {
        branch: Some("main".into()),
        timestamp: Some(0),
        ..Default::default()
    };
    let id = commit_dir(&repo, &src, &options).unwrap().commit;
    assert!(fsck(&repo).unwrap().problems.is_empty());
    (repo, id)
}

/// The largest object of a kind (for content: the big file), so damage hits data.
fn victim(repo: &Repo, kind: ObjectType) -> Checksum {
    let size = |id: &Checksum| fs::metadata(repo.object_path(kind, id)).unwrap().len();
    let ids = repo.list_objects(kind).unwrap();
    ids.into_iter().max_by_key(size).unwrap()
}

fn rewrite(path: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = fs::read(path).unwrap();
    change(&mut bytes);
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(path, bytes).unwrap();
}

/// Asserts fsck names `object` with `kind` (and that ostree agrees something is wrong).
fn assert_found(repo: &Repo, kind: ProblemKind, object: &str, case: &str, ostree: bool) {
    let report = fsck(repo).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == kind && p.object == object),
        "{case}: expected {kind:?} {object}, got {:#?}",
        report.problems
    );
    if ostree {
        assert!(ostree_fsck_fails(repo.path()), "{case}: ostree fsck passed");
    }
}

fn name(kind: ObjectType, id: &Checksum) -> String {
    format!("{id}.{}", kind.extension(false))
}

#[test]
fn flipped_byte_in_every_object_type_and_mode() {
    let ostree = have_ostree();
    for mode in MODES {
        for kind in KINDS {
            let tmp = tempfile::tempdir().unwrap();
            let (repo, _) = setup(tmp.path(), mode);
            let id = victim(&repo, kind);
            rewrite(&repo.object_path(kind, &id), |b| {
                let at = b.len() / 2;
                b[at] ^= 0x40;
            });
            let case = format!("flipped {kind:?} in {}", mode.name());
            assert_found(&repo, ProblemKind::Corrupt, &name(kind, &id), &case, ostree);
        }
    }
}

#[test]
fn truncated_objects() {
    let ostree = have_ostree();
    for mode in MODES {
        for kind in KINDS {
            let tmp = tempfile::tempdir().unwrap();
            let (repo, _) = setup(tmp.path(), mode);
            let id = victim(&repo, kind);
            rewrite(&repo.object_path(kind, &id), |b| b.truncate(b.len() / 2));
            let case = format!("truncated {kind:?} in {}", mode.name());
            assert_found(&repo, ProblemKind::Corrupt, &name(kind, &id), &case, ostree);
        }
    }
}

#[test]
fn missing_objects_and_dangling_refs() {
    let ostree = have_ostree();
    for mode in MODES {
        for kind in [ObjectType::DirTree, ObjectType::DirMeta, ObjectType::File] {
            let tmp = tempfile::tempdir().unwrap();
            let (repo, _) = setup(tmp.path(), mode);
            let id = victim(&repo, kind);
            fs::remove_file(repo.object_path(kind, &id)).unwrap();
            let case = format!("missing {kind:?} in {}", mode.name());
            assert_found(&repo, ProblemKind::Missing, &name(kind, &id), &case, ostree);
        }
        // The commit itself: its ref now dangles.
        let tmp = tempfile::tempdir().unwrap();
        let (repo, id) = setup(tmp.path(), mode);
        fs::remove_file(repo.object_path(ObjectType::Commit, &id)).unwrap();
        let case = format!("dangling ref in {}", mode.name());
        assert_found(&repo, ProblemKind::DanglingRef, "main", &case, ostree);
        let report = fsck(&repo).unwrap();
        assert!(report.problems[0].detail.contains(&id.to_hex()));
    }
}

/// `delete_corrupt` removes the damaged object, marks its commit partial as OSTree
/// does, and leaves a repository that still fails fsck (the object is now missing).
#[test]
fn delete_removes_corrupt_objects() {
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, commit) = setup(tmp.path(), mode);
        let id = victim(&repo, ObjectType::File);
        let path = repo.object_path(ObjectType::File, &id);
        rewrite(&path, |b| {
            let at = b.len() - 1;
            b[at] ^= 1;
        });
        let report = fsck(&repo).unwrap();
        let deleted = delete_corrupt(&repo, &report).unwrap();
        assert_eq!(deleted.len(), 1, "{deleted:?}");
        assert_eq!(deleted[0].object, name(ObjectType::File, &id));
        assert!(!path.exists());
        let marker = repo
            .path()
            .join("state")
            .join(format!("{commit}.commitpartial"));
        assert_eq!(fs::read(marker).unwrap(), b"f");
        let after = fsck(&repo).unwrap();
        assert_eq!(after.problems.len(), 1, "{:?}", after.problems);
        assert_eq!(after.problems[0].kind, ProblemKind::Missing);
        assert!(delete_corrupt(&repo, &after).unwrap().is_empty());
    }
}

/// Corrupt detached metadata is named; a tombstone left by `ostree prune
/// --delete-commit` is not a problem.
#[test]
fn commitmeta_damage_and_tombstones() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, id) = setup(tmp.path(), RepoMode::Archive);
    fs::write(repo.commitmeta_path(&id), b"\xff\xff\xff").unwrap();
    assert_found(
        &repo,
        ProblemKind::Corrupt,
        &format!("{id}.commitmeta"),
        "bad commitmeta",
        false,
    );
    fs::remove_file(repo.commitmeta_path(&id)).unwrap();

    if !have_ostree() {
        return;
    }
    let arg = format!("--repo={}", repo.path().display());
    let src = tmp.path().join("src");
    let run = |args: &[&str]| {
        let out = Command::new("ostree").args(args).run_capture().unwrap();
        assert!(out.status.success(), "ostree {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    fs::write(src.join("hello"), b"changed\n").unwrap();
    let tree = format!("--tree=dir={}", src.display());
    run(&["commit", &arg, "-b", "main", &tree]);
    run(&["config", &arg, "set", "core.tombstone-commits", "true"]);
    run(&["prune", &arg, &format!("--delete-commit={id}")]);
    let tombstone = repo
        .object_path(ObjectType::Commit, &id)
        .with_extension("tombstone-commit");
    assert!(tombstone.exists(), "ostree wrote no tombstone");
    let report = fsck(&repo).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// Whether a (modified) content object still reads back as `hello\n`.
fn same_content(repo: &Repo, kind: ObjectType, id: &Checksum) -> bool {
    let Ok(mut content) = repo.read_content(id) else {
        return false;
    };
    let mut data = Vec::new();
    kind == ObjectType::File
        && std::io::Read::read_to_end(&mut content.reader, &mut data).is_ok()
        && data == b"hello\n"
}

/// Every single-byte flip of every metadata object, and of the whole of a small
/// archive content object, ends in a report — never a panic or a hang.
#[test]
fn hostile_bytes_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _) = setup(tmp.path(), RepoMode::Archive);
    let mut targets: Vec<(ObjectType, Checksum)> =
        [ObjectType::Commit, ObjectType::DirMeta, ObjectType::DirTree]
            .into_iter()
            .flat_map(|k| {
                repo.list_objects(k)
                    .unwrap()
                    .into_iter()
                    .map(move |id| (k, id))
            })
            .collect();
    let small: Vec<_> = repo
        .list_objects(ObjectType::File)
        .unwrap()
        .into_iter()
        .filter(|id| {
            fs::metadata(repo.object_path(ObjectType::File, id))
                .unwrap()
                .len()
                < 200
        })
        .collect();
    assert!(!small.is_empty(), "`hello` should be a small object");
    targets.extend(small.into_iter().map(|id| (ObjectType::File, id)));
    for (kind, id) in targets {
        let path = repo.object_path(kind, &id);
        let good = fs::read(&path).unwrap();
        for at in 0..good.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[at] ^= flip;
                rewrite(&path, |b| *b = bad);
                let report = fsck(&repo).unwrap();
                // Unused padding bits at the end of a deflate stream may change
                // without changing the object; anything else must be reported.
                assert!(
                    !report.problems.is_empty() || same_content(&repo, kind, &id),
                    "{kind:?} byte {at} ^ {flip:#x} went unnoticed"
                );
            }
        }
        rewrite(&path, |b| *b = good);
    }
    assert!(fsck(&repo).unwrap().problems.is_empty());
}

/// A `.filez` whose small header hides a large stream is stopped one byte past what
/// the header promised instead of being inflated in full.
#[test]
fn decompression_bomb_is_cut_short() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _) = setup(tmp.path(), RepoMode::Archive);
    let id = victim(&repo, ObjectType::File);
    let header = FileHeader {
        uid: 0,
        gid: 0,
        mode: 0o100644,
        symlink_target: String::new(),
        xattrs: vec![],
    };
    let mut bytes = header.archive_prefix(1);
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, &vec![0u8; 64 << 20]).unwrap();
    // Only the first half of the stream is sound; garbage follows. A reader that stops
    // one byte past the promised size never reaches the garbage, so it reports the
    // extra bytes; one that inflated the whole stream would report the corruption.
    let stream = encoder.finish().unwrap();
    bytes.extend(&stream[..stream.len() / 2]);
    bytes.extend(std::iter::repeat_n(0xff, 4096));
    rewrite(&repo.object_path(ObjectType::File, &id), |b| *b = bytes);
    let report = fsck(&repo).unwrap();
    let problem = report
        .problems
        .iter()
        .find(|p| p.object == name(ObjectType::File, &id))
        .unwrap();
    assert!(problem.detail.contains("more bytes"), "{problem}");
}
