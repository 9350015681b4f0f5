//! `prune`: deletes objects no longer reachable, as `ostree prune` does.
//!
//! Reachability starts from every stored commit (default), or only from the commits
//! that refs name (`refs_only`), following parents up to `depth` steps (`None` = all).
//! `keep_younger_than` first deletes every commit in each ref's history that is older
//! than the given time (ref tips are always kept) and then prunes from refs only. A
//! commit's detached metadata (`.commitmeta`) goes with it. The repository lock is held
//! exclusive throughout, so running commits and pulls finish (or wait) first.

use std::collections::HashSet;
use std::fs;
use std::io;

use crate::checksum::Checksum;
use crate::error::{Error, io_err};
use crate::lock::LockKind;
use crate::object::ObjectType;
use crate::repo::Repo;

/// What to keep.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Only commits named by refs (and their history) are roots.
    pub refs_only: bool,
    /// How many parents to follow from each root; `None` follows all.
    pub depth: Option<u64>,
    /// Delete commits in ref histories older than this (seconds since the epoch).
    pub keep_younger_than: Option<u64>,
    /// Count what would be deleted, delete nothing.
    pub no_prune: bool,
    /// Delete this commit first (`--delete-commit`); refused while a ref names it. It
    /// leaves a tombstone, which this turns on, as OSTree does.
    pub delete_commit: Option<Checksum>,
    /// With `delete_commit`: delete only the static deltas to it, not the commit
    /// (`--static-deltas-only`).
    pub static_deltas_only: bool,
}

/// Options of [`prune`] that exclude each other or need one another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PruneOptionsError {
    /// `--static-deltas-only` alone.
    #[error("--static-deltas-only requires --delete-commit")]
    DeltasOnlyWithoutCommit,
    /// `--delete-commit` with `--keep-younger-than`.
    #[error("Cannot specify both --delete-commit and --keep-younger-than")]
    DeleteCommitAndAge,
}

impl PruneOptions {
    /// Refuses combinations `ostree prune` refuses.
    pub fn validate(&self) -> Result<(), PruneOptionsError> {
        if self.static_deltas_only && self.delete_commit.is_none() {
            return Err(PruneOptionsError::DeltasOnlyWithoutCommit);
        }
        if self.delete_commit.is_some() && self.keep_younger_than.is_some() {
            return Err(PruneOptionsError::DeleteCommitAndAge);
        }
        Ok(())
    }
}

/// What `prune` found and deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Objects stored before pruning.
    pub total: usize,
    /// Objects deleted (or that would be, with `no_prune`).
    pub deleted: usize,
    /// Bytes of the deleted object files.
    pub freed: u64,
}

const KINDS: [ObjectType; 4] = [
    ObjectType::Commit,
    ObjectType::DirTree,
    ObjectType::DirMeta,
    ObjectType::File,
];

/// Deletes unreachable objects.
pub fn prune(repo: &Repo, options: &PruneOptions) -> Result<PruneReport, Error> {
    // Exclusive: no commit or pull may be between storing objects and naming them.
    let _lock = repo.lock(LockKind::Exclusive)?;
    let mut report = PruneReport::default();
    // Mirrored refs name commits too, though `ostree refs` does not list them.
    let refs: Vec<(String, Checksum)> = repo
        .all_refs()?
        .into_iter()
        .map(|(name, _, id)| (name, id))
        .collect();
    if let Some(commit) = &options.delete_commit {
        if options.static_deltas_only {
            delete_deltas_to(repo, commit, options.no_prune)?;
        } else {
            if let Some((name, _)) = refs.iter().find(|(_, id)| id == commit) {
                return Err(Error::Unsupported {
                    verb: "delete commit",
                    path: repo.object_path(ObjectType::Commit, commit),
                    detail: format!("Commit '{commit}' is referenced by '{name}'"),
                });
            }
            if !options.no_prune {
                repo.enable_tombstones()?;
            }
            report.deleted += 1;
            report.freed += delete_commit(repo, commit, options.no_prune)?;
        }
    }
    let mut refs_only = options.refs_only;
    let mut old = HashSet::new();
    if let Some(limit) = options.keep_younger_than {
        refs_only = true;
        let tips: HashSet<Checksum> = refs.iter().map(|(_, id)| *id).collect();
        for (_, tip) in &refs {
            let mut next = Some(*tip);
            while let Some(id) = next.take() {
                let commit = match repo.load_commit(&id) {
                    Ok(commit) => commit,
                    Err(Error::NotFound(_)) => break,
                    Err(e) => return Err(e),
                };
                if commit.timestamp < limit && !tips.contains(&id) {
                    old.insert(id);
                }
                next = commit.parent.filter(|p| !old.contains(p));
            }
        }
        for id in &old {
            report.deleted += 1;
            report.freed += delete_commit(repo, id, options.no_prune)?;
        }
    }
    let roots: Vec<Checksum> = if refs_only {
        refs.iter().map(|(_, id)| *id).collect()
    } else {
        let mut roots = repo.list_objects(ObjectType::Commit)?;
        roots.extend(refs.iter().map(|(_, id)| *id));
        roots
    };
    let reachable = reachable(repo, &roots, options.depth, &old)?;
    for kind in KINDS {
        for id in repo.list_objects(kind)? {
            report.total += 1;
            if reachable.contains(&(id, kind as u8))
                || (kind == ObjectType::Commit && old.contains(&id))
            {
                continue;
            }
            report.deleted += 1;
            report.freed += if kind == ObjectType::Commit {
                delete_commit(repo, &id, options.no_prune)?
            } else {
                delete_file(repo, kind, &id, options.no_prune)?
            };
        }
    }
    Ok(report)
}

/// Every object reachable from `roots`, as `(id, ObjectType as u8)`. Missing objects
/// (partial repositories, pruned parents) and commits in `skip` end the walk on their
/// branch.
pub fn reachable(
    repo: &Repo,
    roots: &[Checksum],
    depth: Option<u64>,
    skip: &HashSet<Checksum>,
) -> Result<HashSet<(Checksum, u8)>, Error> {
    let mut seen = HashSet::new();
    let mut trees = Vec::new();
    for root in roots {
        let mut next = Some(*root);
        let mut remaining = depth;
        while let Some(id) = next.take() {
            if skip.contains(&id) {
                break;
            }
            seen.insert((id, ObjectType::Commit as u8));
            let commit = match repo.load_commit(&id) {
                Ok(commit) => commit,
                Err(Error::NotFound(_)) => {
                    seen.remove(&(id, ObjectType::Commit as u8));
                    break;
                }
                Err(e) => return Err(e),
            };
            seen.insert((commit.root_meta, ObjectType::DirMeta as u8));
            trees.push(commit.root_tree);
            match remaining {
                Some(0) => break,
                Some(n) => remaining = Some(n - 1),
                None => {}
            }
            next = commit.parent;
            if depth.is_none()
                && next.is_some_and(|p| seen.contains(&(p, ObjectType::Commit as u8)))
            {
                break;
            }
        }
    }
    while let Some(tree) = trees.pop() {
        if !seen.insert((tree, ObjectType::DirTree as u8)) {
            continue;
        }
        let dirtree = match repo.load_dirtree(&tree) {
            Ok(dirtree) => dirtree,
            Err(Error::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        for (_, file) in dirtree.files {
            seen.insert((file, ObjectType::File as u8));
        }
        for (_, sub, meta) in dirtree.dirs {
            seen.insert((meta, ObjectType::DirMeta as u8));
            trees.push(sub);
        }
    }
    Ok(seen)
}

/// Deletes the static deltas whose target is `to` (`deltas/…` directories).
fn delete_deltas_to(repo: &Repo, to: &Checksum, dry: bool) -> Result<(), Error> {
    for (name, _) in crate::delta::index::stored(repo)? {
        let Some((from, target)) = crate::delta::parse_name(&name) else {
            continue;
        };
        if target != *to || dry {
            continue;
        }
        let dir = repo.path().join(crate::delta::dir(from.as_ref(), &target));
        fs::remove_dir_all(&dir).map_err(io_err("delete", &dir))?;
    }
    Ok(())
}

fn delete_commit(repo: &Repo, id: &Checksum, dry: bool) -> Result<u64, Error> {
    let mut freed = delete_file(repo, ObjectType::Commit, id, dry)?;
    if !dry && freed > 0 && repo.tombstones_enabled()? {
        repo.write_tombstone(id)?;
    }
    let meta = repo.commitmeta_path(id);
    if let Ok(st) = fs::symlink_metadata(&meta) {
        freed += st.len();
        if !dry {
            remove(&meta)?;
        }
    }
    Ok(freed)
}

fn delete_file(repo: &Repo, kind: ObjectType, id: &Checksum, dry: bool) -> Result<u64, Error> {
    let path = repo.object_path(kind, id);
    let size = match fs::symlink_metadata(&path) {
        Ok(st) => st.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err("stat", &path)(e).into()),
    };
    if !dry {
        remove(&path)?;
    }
    Ok(size)
}

fn remove(path: &std::path::Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("delete", path)(e).into()),
        _ => Ok(()),
    }
}
