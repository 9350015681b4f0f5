//! `prune`: deletes objects no longer reachable, as `ostree prune` does.
//!
//! Reachability starts from every stored commit (default), or only from the commits
//! that refs name (`refs_only`), following parents up to `depth` steps (`None` = all).
//! With `keep_younger_than`, `retain_branch_depth` or `only_branches`, each ref keeps
//! its own depth of history and commits older than the date go (ref tips are always
//! kept), see [`prune`]'s branch mode. A deleted commit leaves a tombstone when
//! `[core] tombstone-commits` is on. A commit's detached metadata (`.commitmeta`) goes
//! with it. The repository lock is held
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
    /// Per-branch depths kept whatever the other options say
    /// (`--retain-branch-depth=BRANCH=DEPTH`; `None`: the whole history).
    pub retain_branch_depth: Vec<(String, Option<u64>)>,
    /// Prune only these branches; every other one keeps its whole history
    /// (`--only-branch`).
    pub only_branches: Vec<String>,
    /// Delete only commit objects, never the content they named (`--commit-only`).
    pub commit_only: bool,
}

/// Options of [`prune`] that exclude each other or need one another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PruneOptionsError {
    /// `--static-deltas-only` alone.
    #[error("--static-deltas-only requires --delete-commit")]
    DeltasOnlyWithoutCommit,
    /// A `--retain-branch-depth` value without `=`.
    #[error("Invalid value {0}, must specify BRANCH=DEPTH")]
    BranchDepth(String),
    /// A depth that is not a number.
    #[error("Invalid depth {0}")]
    Depth(String),
}

/// Reads a `--retain-branch-depth` value, `BRANCH=DEPTH` (DEPTH -1: the whole history).
pub fn parse_branch_depth(spec: &str) -> Result<(String, Option<u64>), PruneOptionsError> {
    let (branch, depth) = spec
        .split_once('=')
        .ok_or_else(|| PruneOptionsError::BranchDepth(spec.to_owned()))?;
    let depth: i64 = depth
        .parse()
        .map_err(|_| PruneOptionsError::Depth(depth.to_owned()))?;
    Ok((branch.to_owned(), u64::try_from(depth).ok()))
}

impl PruneOptions {
    /// Refuses combinations `ostree prune` refuses.
    pub fn validate(&self) -> Result<(), PruneOptionsError> {
        if self.static_deltas_only && self.delete_commit.is_none() {
            return Err(PruneOptionsError::DeltasOnlyWithoutCommit);
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
    if !options.no_prune {
        crate::summary_cache::prune_summary_cache(repo)?;
    }
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
    if options.keep_younger_than.is_some()
        || !options.retain_branch_depth.is_empty()
        || !options.only_branches.is_empty()
    {
        return prune_by_branch(repo, options, &refs, report);
    }
    let refs_only = options.refs_only;
    let old = HashSet::new();
    let roots: Vec<Checksum> = if refs_only {
        refs.iter().map(|(_, id)| *id).collect()
    } else {
        let mut roots = repo.list_objects(ObjectType::Commit)?;
        roots.extend(refs.iter().map(|(_, id)| *id));
        roots
    };
    let reachable = reachable(repo, &roots, options.depth, &old)?;
    delete_unreachable(repo, options, &reachable, &old, report)
}

/// Deletes every object (every commit with `commit_only`) neither in `reachable` nor in
/// `kept`, counting into `report`.
fn delete_unreachable(
    repo: &Repo,
    options: &PruneOptions,
    reachable: &HashSet<(Checksum, u8)>,
    old: &HashSet<Checksum>,
    mut report: PruneReport,
) -> Result<PruneReport, Error> {
    for kind in KINDS {
        if options.commit_only && kind != ObjectType::Commit {
            report.total += repo.list_objects(kind)?.len();
            continue;
        }
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

/// The prune of `--retain-branch-depth`, `--only-branch` and `--keep-younger-than`:
/// each ref keeps its history to its own depth (a retained depth, the whole history
/// for a branch outside `--only-branch`, else `depth`; a ref left to the date keeps
/// only what is young enough); with a date, every other commit older than it is
/// deleted (ref tips excepted; tombstones on) and younger ones kept; then what none of
/// that reaches goes.
fn prune_by_branch(
    repo: &Repo,
    options: &PruneOptions,
    refs: &[(String, Checksum)],
    report: PruneReport,
) -> Result<PruneReport, Error> {
    let mut depth_of: std::collections::HashMap<&str, Option<u64>> = options
        .retain_branch_depth
        .iter()
        .map(|(name, depth)| (name.as_str(), *depth))
        .collect();
    if !options.only_branches.is_empty() {
        for name in &options.only_branches {
            repo.resolve_rev(name)?;
        }
        for (name, _) in refs {
            if !options.only_branches.contains(name) {
                depth_of.entry(name.as_str()).or_insert(None);
            }
        }
    }
    let none = HashSet::new();
    let mut kept = HashSet::new();
    for (name, tip) in refs {
        let depth = match depth_of.get(name.as_str()) {
            Some(depth) => *depth,
            None if options.keep_younger_than.is_some() => continue,
            None => options.depth,
        };
        kept.extend(reachable(repo, &[*tip], depth, &none)?);
    }
    let mut old = HashSet::new();
    let mut report = report;
    if let Some(limit) = options.keep_younger_than {
        if !options.no_prune {
            repo.enable_tombstones()?;
        }
        let tips: HashSet<Checksum> = refs.iter().map(|(_, id)| *id).collect();
        for id in repo.list_objects(ObjectType::Commit)? {
            if kept.contains(&(id, ObjectType::Commit as u8)) {
                continue;
            }
            if tips.contains(&id) || repo.load_commit(&id)?.timestamp >= limit {
                kept.extend(reachable(repo, &[id], Some(0), &none)?);
            } else {
                old.insert(id);
                report.deleted += 1;
                report.freed += delete_commit(repo, &id, options.no_prune)?;
            }
        }
    }
    delete_unreachable(repo, options, &kept, &old, report)
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
        let to_this = crate::delta::parse_name(&name).is_some_and(|(_, target)| target == *to);
        if to_this && !dry {
            crate::delta::delete(repo, &name)?;
        }
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
