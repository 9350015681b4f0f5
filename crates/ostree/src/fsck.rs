//! Checking a repository: every commit and every object reachable from it is re-hashed
//! and compared with its name; missing objects, unreadable detached metadata and refs
//! to missing commits are reported. Tombstones (`.tombstone-commit`, left by
//! `prune --delete-commit`) are not objects to check, and a missing parent is normal
//! history truncation, so neither is a problem.
//!
//! [`delete_corrupt`] then removes what [`fsck`] found corrupt, as `ostree fsck
//! --delete` does, and marks the commits that contained it partial so a later pull
//! fetches the objects again.

use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read};
use std::path::PathBuf;

use ferro_sys::error_chain;
use rayon::prelude::*;

use crate::checksum::Checksum;
use crate::error::{Error, io_err};
use crate::object::{Commit, DirMeta, DirTree, ObjectType};
use crate::repo::Repo;

/// What is wrong with one object or ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The object is referenced but not stored.
    Missing,
    /// The object's bytes do not hash to its name, or do not parse.
    Corrupt,
    /// A ref points to a commit that is not stored.
    DanglingRef,
    /// A ref and its commit's bindings disagree ([`crate::fsck_bindings`]).
    Binding,
}

/// One finding of [`fsck`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The kind of problem.
    pub kind: ProblemKind,
    /// `CHECKSUM.TYPE`, or the ref name for [`ProblemKind::DanglingRef`].
    pub object: String,
    /// The object or ref file.
    pub path: PathBuf,
    /// Details (the checksum actually found, a parse error, …).
    pub detail: String,
    /// The commit whose walk found the problem (`None` for refs).
    pub commit: Option<Checksum>,
}

impl fmt::Display for Problem {
    /// Worded so that OSTree's phrases appear as scripts match them: `In commits C:` before
    /// a problem found in a commit's walk, `Loading commit for ref R: No such metadata
    /// object` for a dangling ref; ferro's own detail (the file) follows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(commit) = self.commit {
            write!(f, "In commits {commit}: ")?;
        }
        match self.kind {
            ProblemKind::Binding => write!(f, "{}", self.detail),
            ProblemKind::DanglingRef => write!(
                f,
                "Loading commit for ref {}: No such metadata object {} ({})",
                self.object,
                self.detail,
                self.path.display()
            ),
            ProblemKind::Missing => write!(
                f,
                "Object missing: {} ({})",
                self.object,
                self.path.display()
            ),
            ProblemKind::Corrupt => write!(
                f,
                "corrupted object {}: {} ({})",
                self.object,
                self.detail,
                self.path.display()
            ),
        }
    }
}

/// The result of [`fsck`].
#[derive(Debug, Clone, Default)]
pub struct FsckReport {
    /// Commits checked.
    pub commits: usize,
    /// Objects checked, commits included.
    pub objects: usize,
    /// Everything found wrong; empty means the repository is sound.
    pub problems: Vec<Problem>,
    /// Commits a pull marked partial (`state/ID.commitpartial`: pulled with
    /// `--commit-metadata-only` or `--subpath`), whose trees are not walked, as
    /// `ostree fsck` leaves them ("N partial commits not verified").
    pub partial: usize,
}

/// Checks every commit stored in the repository or named by a ref, and everything
/// reachable from them. Errors are only returned when the repository cannot be listed.
pub fn fsck(repo: &Repo) -> Result<FsckReport, Error> {
    let mut checker = Checker {
        repo,
        report: FsckReport::default(),
        seen: HashSet::new(),
        current: Checksum([0; 32]),
        contents: Vec::new(),
    };
    let mut commits = repo.list_objects(ObjectType::Commit)?;
    for (name, path, id) in repo.all_refs()? {
        if !repo.has_object(ObjectType::Commit, &id) {
            checker.report.problems.push(Problem {
                kind: ProblemKind::DanglingRef,
                object: name,
                path,
                detail: format!("{id}.commit"),
                commit: None,
            });
        } else {
            commits.push(id);
        }
    }
    for id in commits {
        checker.current = id;
        checker.commit(&id);
    }
    checker.check_contents();
    Ok(checker.report)
}

/// Deletes every object `report` found corrupt (detached metadata included) and marks
/// the commits it was found in as partial (`state/ID.commitpartial`, reason `f`, as
/// OSTree marks fsck-detected damage). Returns the problems acted on. The repository
/// still fails [`fsck`] afterwards — the objects are now missing — until they are
/// fetched again.
pub fn delete_corrupt(repo: &Repo, report: &FsckReport) -> Result<Vec<Problem>, Error> {
    let deleted = delete_objects(repo, report)?;
    mark_partial(repo, &deleted)?;
    Ok(deleted)
}

/// What [`repair`] did.
#[derive(Debug, Clone, Default)]
pub struct Repair {
    /// The corrupt objects deleted (with `delete`).
    pub deleted: Vec<Problem>,
    /// The commits marked partial: every one reaching a missing or deleted object.
    pub partial: Vec<Checksum>,
}

/// What `ostree fsck` does after its checks: with `delete`, deletes the corrupt objects
/// [`fsck`] found; then marks partial every commit that reaches a missing or deleted
/// object, so that the next pull walks it whole and fetches what is gone.
pub fn repair(repo: &Repo, report: &FsckReport, delete: bool) -> Result<Repair, Error> {
    let deleted = if delete {
        delete_objects(repo, report)?
    } else {
        Vec::new()
    };
    let gone: Vec<Problem> = report
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::Missing)
        .chain(&deleted)
        .cloned()
        .collect();
    let partial = mark_partial(repo, &gone)?;
    Ok(Repair { deleted, partial })
}

/// Deletes the objects `report` found corrupt; the problems acted on.
fn delete_objects(repo: &Repo, report: &FsckReport) -> Result<Vec<Problem>, Error> {
    // Exclusive, like prune: a writer finding the corrupt object stored would rely on it.
    let _lock = repo.lock(crate::lock::LockKind::Exclusive)?;
    let mut deleted = Vec::new();
    for problem in &report.problems {
        if problem.kind != ProblemKind::Corrupt {
            continue;
        }
        match std::fs::remove_file(&problem.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("delete", &problem.path)(e).into()),
        }
        deleted.push(problem.clone());
    }
    Ok(deleted)
}

/// Marks the commits of `problems` (objects missing, or corrupt ones deleted) partial
/// (`state/CSUM.commitpartial`), as `ostree fsck` does, so that the next pull walks
/// them whole and fetches what is missing; returns the commits marked, each once.
///
/// Every commit whose tree reaches one of the objects is marked, not only the one whose
/// walk found it (a file shared by a ref's commit and its parent makes both partial).
pub fn mark_partial(repo: &Repo, problems: &[Problem]) -> Result<Vec<Checksum>, Error> {
    let bad: Vec<&Problem> = problems
        .iter()
        .filter(|p| p.kind != ProblemKind::DanglingRef && p.commit.is_some())
        .collect();
    if bad.is_empty() {
        return Ok(Vec::new());
    }
    let objects: HashSet<(Checksum, u8)> = bad
        .iter()
        .filter_map(|p| {
            let (id, ext) = p.object.split_once('.')?;
            Some((id.parse().ok()?, ObjectType::from_extension(ext)? as u8))
        })
        .collect();
    let none = HashSet::new();
    let mut marked = Vec::new();
    for commit in repo.list_objects(ObjectType::Commit)? {
        let reaches = match crate::prune::reachable(repo, &[commit], Some(0), &none) {
            Ok(reached) => !reached.is_disjoint(&objects),
            // A tree too damaged to walk: the commits whose walk found it.
            Err(_) => bad.iter().any(|p| p.commit == Some(commit)),
        };
        if !reaches {
            continue;
        }
        let marker = repo
            .path()
            .join("state")
            .join(format!("{commit}.commitpartial"));
        repo.write_atomic(&marker, b"f")?;
        marked.push(commit);
    }
    Ok(marked)
}

struct Checker<'a> {
    repo: &'a Repo,
    report: FsckReport,
    seen: HashSet<(Checksum, u8)>,
    /// The commit being walked, recorded in each problem.
    current: Checksum,
    /// Content objects still to hash, with the commit they were reached from.
    contents: Vec<(Checksum, Checksum)>,
}

impl Checker<'_> {
    fn problem(&mut self, kind: ProblemKind, object: ObjectType, id: &Checksum, detail: String) {
        let problem = object_problem(self.repo, kind, object, id, detail, self.current);
        self.report.problems.push(problem);
    }

    /// Reads, hashes and parses a metadata object; `None` if it is missing or bad.
    fn metadata<T>(
        &mut self,
        kind: ObjectType,
        id: &Checksum,
        parse: fn(&[u8]) -> Result<T, crate::gvariant::Error>,
    ) -> Option<T> {
        if !self.seen.insert((*id, kind as u8)) {
            return None;
        }
        self.report.objects += 1;
        let bytes = match self.repo.read_metadata(kind, id) {
            Ok(bytes) => bytes,
            Err(Error::NotFound(_)) => {
                self.problem(ProblemKind::Missing, kind, id, "not stored".into());
                return None;
            }
            Err(e) => {
                self.problem(ProblemKind::Corrupt, kind, id, error_chain(&e));
                return None;
            }
        };
        let actual = Checksum::of(&bytes);
        if actual != *id {
            self.problem(ProblemKind::Corrupt, kind, id, kind.corruption(id, &actual));
            return None;
        }
        match parse(&bytes) {
            Ok(value) => Some(value),
            Err(e) => {
                self.problem(ProblemKind::Corrupt, kind, id, e.detail);
                None
            }
        }
    }

    fn commit(&mut self, id: &Checksum) {
        let Some(commit) = self.metadata(ObjectType::Commit, id, Commit::parse) else {
            return;
        };
        self.report.commits += 1;
        if let Err(e) = self.repo.read_commitmeta(id) {
            self.report.problems.push(Problem {
                kind: ProblemKind::Corrupt,
                object: format!("{id}.commitmeta"),
                path: self.repo.commitmeta_path(id),
                detail: error_chain(&e),
                commit: Some(*id),
            });
        }
        let partial = self.repo.path().join(format!("state/{id}.commitpartial"));
        // Marked by a pull, not verified; marked by `fsck --delete` (reason `f`), still
        // walked, so the objects it lost are reported until a pull restores them.
        match std::fs::read(&partial) {
            Ok(reason) if !reason.contains(&b'f') => {
                self.report.partial += 1;
                return;
            }
            _ => {}
        }
        self.metadata(ObjectType::DirMeta, &commit.root_meta, DirMeta::parse_dir);
        self.tree(&commit.root_tree, 0);
    }

    fn tree(&mut self, id: &Checksum, depth: usize) {
        if depth > crate::object::MAX_DEPTH {
            let detail = format!(
                "directories are nested deeper than {}",
                crate::object::MAX_DEPTH
            );
            return self.problem(ProblemKind::Corrupt, ObjectType::DirTree, id, detail);
        }
        let Some(tree) = self.metadata(ObjectType::DirTree, id, DirTree::parse) else {
            return;
        };
        for (_, file) in &tree.files {
            self.content(file);
        }
        for (_, subtree, meta) in &tree.dirs {
            self.metadata(ObjectType::DirMeta, meta, DirMeta::parse_dir);
            self.tree(subtree, depth + 1);
        }
    }

    /// Queues a content object; [`Checker::check_contents`] hashes them all at the end.
    fn content(&mut self, id: &Checksum) {
        if self.seen.insert((*id, ObjectType::File as u8)) {
            self.report.objects += 1;
            self.contents.push((*id, self.current));
        }
    }

    /// Re-hashes the queued content objects on all cores — the bulk of an fsck.
    fn check_contents(&mut self) {
        let repo = self.repo;
        let problems: Vec<_> = std::mem::take(&mut self.contents)
            .par_iter()
            .filter_map(|(id, commit)| {
                let (kind, detail) = check_content(repo, id).err()?;
                Some(object_problem(
                    repo,
                    kind,
                    ObjectType::File,
                    id,
                    detail,
                    *commit,
                ))
            })
            .collect();
        self.report.problems.extend(problems);
    }
}

/// A problem with the object `id`, found while walking `commit`.
fn object_problem(
    repo: &Repo,
    kind: ProblemKind,
    object: ObjectType,
    id: &Checksum,
    detail: String,
    commit: Checksum,
) -> Problem {
    Problem {
        kind,
        object: format!("{id}.{}", object.extension(false)),
        path: repo.object_path(object, id),
        detail,
        commit: Some(commit),
    }
}

/// Hashes one content object and compares it with its name.
fn check_content(repo: &Repo, id: &Checksum) -> Result<(), (ProblemKind, String)> {
    let mut content = repo.read_content(id).map_err(|e| match e {
        Error::NotFound(_) => (ProblemKind::Missing, "not stored".to_owned()),
        e => (ProblemKind::Corrupt, error_chain(&e)),
    })?;
    let corrupt = |detail| Err((ProblemKind::Corrupt, detail));
    let mut hasher = content.header.hasher();
    // One byte more than the header promises is enough to tell it lied; a
    // decompression bomb is never inflated further.
    let limit = content.size.saturating_add(1);
    match io::copy(&mut (&mut content.reader).take(limit), &mut hasher) {
        Ok(n) if n != content.size => {
            let relation = if n > content.size { "more" } else { "fewer" };
            corrupt(format!(
                "{relation} bytes than the {} its header says",
                content.size
            ))
        }
        Ok(_) => match hasher.finish() {
            actual if actual == *id => Ok(()),
            actual => corrupt(ObjectType::File.corruption(id, &actual)),
        },
        Err(e) => corrupt(format!("could not read: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::{CommitOptions, commit_dir};
    use crate::repo::RepoMode;

    #[test]
    fn finds_corrupt_and_missing_objects() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a"), b"aaaa").unwrap();
        std::fs::write(src.path().join("b"), b"bbbb").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        let options = CommitOptions {
            branch: Some("main".into()),
            timestamp: Some(0),
            ..Default::default()
        };
        commit_dir(&repo, src.path(), &options).unwrap();
        let report = fsck(&repo).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!((report.commits, report.objects), (1, 5));
        let files = repo.list_objects(ObjectType::File).unwrap();
        let victim = repo.object_path(ObjectType::File, &files[0]);
        std::fs::set_permissions(&victim, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        std::fs::write(&victim, b"aaab").unwrap();
        std::fs::remove_file(repo.object_path(ObjectType::File, &files[1])).unwrap();
        repo.set_ref("gone", Some(&Checksum([1; 32]))).unwrap();
        let kinds: Vec<_> = fsck(&repo)
            .unwrap()
            .problems
            .iter()
            .map(|p| p.kind)
            .collect();
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        for kind in [
            ProblemKind::Corrupt,
            ProblemKind::Missing,
            ProblemKind::DanglingRef,
        ] {
            assert!(kinds.contains(&kind), "{kinds:?}");
        }
    }

    #[test]
    fn hostile_deep_tree_is_reported_not_overflowed() {
        use crate::object::{Commit, DirMeta, DirTree, MAX_DEPTH};
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        let meta = DirMeta::directory(0, 0, 0o755);
        let meta_id = repo
            .write_metadata(ObjectType::DirMeta, &meta.to_bytes())
            .unwrap();
        let mut tree_id = repo
            .write_metadata(ObjectType::DirTree, &DirTree::default().to_bytes())
            .unwrap();
        for _ in 0..MAX_DEPTH + 10 {
            let tree = DirTree {
                files: vec![],
                dirs: vec![("d".into(), tree_id, meta_id)],
            };
            tree_id = repo
                .write_metadata(ObjectType::DirTree, &tree.to_bytes())
                .unwrap();
        }
        let commit = Commit {
            metadata: vec![],
            parent: None,
            related: vec![],
            subject: String::new(),
            body: String::new(),
            timestamp: 0,
            root_tree: tree_id,
            root_meta: meta_id,
        };
        let id = repo
            .write_metadata(ObjectType::Commit, &commit.to_bytes())
            .unwrap();
        let report = fsck(&repo).unwrap();
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        let out = dir.path().join("out");
        let options = crate::checkout::CheckoutOptions::default();
        assert!(crate::checkout::checkout(&repo, &id, &out, &options).is_err());
    }
}
