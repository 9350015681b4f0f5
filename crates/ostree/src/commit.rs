//! Committing a directory tree: content objects, dirtrees and dirmetas bottom-up, then
//! the commit object and, at the transaction's commit point, the ref.
//!
//! Extended attributes of every file, symlink and directory are recorded, sorted by
//! name, unless `no_xattrs` or canonical permissions (forced in `bare-user-only`
//! repositories) ask otherwise — what `ostree commit` does. Tar archives are committed
//! by [`crate::commit_tar`], which shares the tree and commit writing here.

use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::checksum::Checksum;
use crate::error::{Error, io_err, too_deep};
use crate::object::{
    Commit, DirMeta, DirTree, FileHeader, Metadata, ObjectType, S_IFLNK, S_IFMT, Variant, Xattrs,
    validate_name,
};
use crate::repo::{Repo, RepoMode};
use crate::transaction::Transaction;

/// What to commit and how to describe it, as `ostree commit`'s flags.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The branch to update (`-b`); also recorded as `ostree.ref-binding`.
    pub branch: Option<String>,
    /// One-line subject (`-s`).
    pub subject: String,
    /// Body (`-m`).
    pub body: String,
    /// Seconds since the epoch; `None` uses `SOURCE_DATE_EPOCH` or the current time.
    pub timestamp: Option<u64>,
    /// The parent commit; `None` uses the branch's current commit, if any.
    pub parent: Option<Checksum>,
    /// Record no parent even if the branch exists (`--orphan`).
    pub orphan: bool,
    /// Override every object's owner (`--owner-uid`).
    pub owner_uid: Option<u32>,
    /// Override every object's group (`--owner-gid`).
    pub owner_gid: Option<u32>,
    /// uid/gid 0 and modes masked to 0755 (`--canonical-permissions`; forced in bare-user-only).
    pub canonical_permissions: bool,
    /// Extra metadata (`--add-metadata-string`), after the ref binding.
    pub metadata: Metadata,
    /// Do not record `ostree.ref-binding` (`--no-bindings`).
    pub no_bindings: bool,
    /// If the tree equals the parent's, make no commit (`--skip-if-unchanged`).
    pub skip_if_unchanged: bool,
    /// Record no extended attributes (`--no-xattrs`).
    pub no_xattrs: bool,
    /// Tar archives: create directories the archive does not list, mode 0755 and owned
    /// like the entry that needs them (`--tar-autocreate-parents`).
    pub tar_autocreate_parents: bool,
    /// More refs the commit is bound to besides the branch (`--bind-ref`); the
    /// `ostree.ref-binding` list is sorted, as OSTree writes it.
    pub bind_refs: Vec<String>,
    /// Delete the source directory once it is committed (`--consume`).
    pub consume: bool,
    /// Record the tree as bootable (`--bootable`): `ostree.bootable` and `ostree.linux`,
    /// the version of the one kernel at `usr/lib/modules/VERSION/vmlinuz`.
    pub bootable: bool,
    /// Files hardlinked to objects of this `bare` repository (a checkout being
    /// modified, as package layering does) are recorded under the object's id without
    /// being read again: the device/inode → object map of [`devino_cache`], OSTree's
    /// devino cache. Only files with more than one link are looked up.
    pub devino: Option<std::sync::Arc<DevInoCache>>,
}

/// Device and inode of a `bare` repository's content objects → their ids.
pub type DevInoCache = std::collections::HashMap<(u64, u64), Checksum>;

/// The [`DevInoCache`] of every content object of `repo`; empty unless the repository
/// is `bare` (where an object's inode carries exactly the owner, mode and extended
/// attributes its id covers).
pub fn devino_cache(repo: &Repo) -> Result<DevInoCache, Error> {
    if repo.mode() != RepoMode::Bare {
        return Ok(DevInoCache::new());
    }
    let ids = repo.list_objects(ObjectType::File)?;
    let pairs: Vec<_> = ids
        .par_iter()
        .filter_map(|id| {
            let st = fs::symlink_metadata(repo.object_path(ObjectType::File, id)).ok()?;
            Some(((st.dev(), st.ino()), *id))
        })
        .collect();
    Ok(pairs.into_iter().collect())
}

/// How source metadata becomes recorded metadata; shared by directory and tar commits
/// so both record the same owners, modes and xattrs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy<'a> {
    options: &'a CommitOptions,
    /// uid/gid 0, modes masked to 0755, no xattrs: asked for, or forced by `bare-user-only`.
    canonical: bool,
}

impl<'a> Policy<'a> {
    pub(crate) fn new(repo: &Repo, options: &'a CommitOptions) -> Self {
        Policy {
            options,
            canonical: options.canonical_permissions || repo.mode() == RepoMode::BareUserOnly,
        }
    }

    /// The owner recorded for a source owned by `uid`/`gid`.
    pub(crate) fn owner(self, uid: u32, gid: u32) -> (u32, u32) {
        if self.canonical {
            return (0, 0);
        }
        (
            self.options.owner_uid.unwrap_or(uid),
            self.options.owner_gid.unwrap_or(gid),
        )
    }

    /// The mode recorded for a source mode.
    pub(crate) fn mode(self, mode: u32) -> u32 {
        if self.canonical {
            mode & (S_IFMT | 0o755)
        } else {
            mode
        }
    }

    /// Whether extended attributes are recorded at all.
    pub(crate) fn records_xattrs(self) -> bool {
        !self.canonical && !self.options.no_xattrs
    }
}

/// The result of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOutcome {
    /// The commit id (the parent's when nothing changed and `skip_if_unchanged` was set).
    pub commit: Checksum,
    /// Whether a new commit was written.
    pub written: bool,
    /// Content objects visited (regular files and symlinks).
    pub files: u64,
}

/// A scanned directory: its dirmeta id and its entries, files still unhashed.
///
/// Committing is split in three passes so that hashing and storing file content — the
/// bulk of the work — runs on every core: a sequential scan records the tree's shape,
/// the files are stored in parallel, then dirtrees are written bottom-up.
pub(crate) struct ScannedDir {
    pub(crate) meta_id: Checksum,
    /// Indices into the scan's file list.
    pub(crate) files: Vec<(String, usize)>,
    pub(crate) dirs: Vec<(String, ScannedDir)>,
}

impl ScannedDir {
    /// This directory and all below it, parents before children, each directory's
    /// subdirectories in scan order: the order [`Walker::scan`] numbers them in.
    fn preorder<'a>(&'a self, out: &mut Vec<&'a ScannedDir>) {
        out.push(self);
        for (_, dir) in &self.dirs {
            dir.preorder(out);
        }
    }
}

/// An index as `u32`; a tree with more than 4 billion directories or files in one
/// directory is refused rather than miscounted.
fn index_u32(index: usize, path: &Path) -> Result<u32, Error> {
    u32::try_from(index).map_err(|_| Error::Unsupported {
        verb: "commit",
        path: path.to_owned(),
        detail: "too many entries".into(),
    })
}

struct Walker<'a> {
    repo: &'a Repo,
    policy: Policy<'a>,
    /// Every directory's path, in the order the scan entered them.
    dirs: Vec<PathBuf>,
    /// Every non-directory: its directory's index in `dirs`, its position among that
    /// directory's files, and its type as the listing gave it. The name is read from
    /// the scanned tree rather than kept again here with a full path: a few bytes per
    /// file instead of about a hundred, 6 MB less for /usr/lib's 60,000 files.
    files: Vec<(u32, u32, fs::FileType)>,
}

impl Walker<'_> {
    fn xattrs(&self, node: crate::xattrs::Node, path: &Path) -> Result<Xattrs, Error> {
        if !self.policy.records_xattrs() {
            return Ok(vec![]);
        }
        Ok(node
            .read()
            .map_err(io_err("read extended attributes of", path))?)
    }

    fn scan(&mut self, path: &Path, depth: usize) -> Result<ScannedDir, Error> {
        if depth > crate::object::MAX_DEPTH {
            return Err(too_deep("commit", path));
        }
        let st = fs::symlink_metadata(path).map_err(io_err("stat", path))?;
        let (uid, gid) = self.policy.owner(st.uid(), st.gid());
        let meta = DirMeta {
            uid,
            gid,
            mode: self.policy.mode(st.mode()),
            xattrs: self.xattrs(crate::xattrs::Node::Path(path), path)?,
        };
        let meta_id = self
            .repo
            .write_metadata(ObjectType::DirMeta, &meta.to_bytes())?;
        let mut scanned = ScannedDir {
            meta_id,
            files: vec![],
            dirs: vec![],
        };
        let dir_index = index_u32(self.dirs.len(), path)?;
        self.dirs.push(path.to_owned());
        for entry in fs::read_dir(path).map_err(io_err("list", path))? {
            let entry = entry.map_err(io_err("list", path))?;
            let child = entry.path();
            let name = entry
                .file_name()
                .into_string()
                .ok()
                .filter(|n| validate_name(n))
                .ok_or_else(|| Error::Unsupported {
                    verb: "commit",
                    path: child.clone(),
                    detail: "file names must be valid UTF-8".into(),
                })?;
            let kind = entry.file_type().map_err(io_err("stat", &child))?;
            if kind.is_dir() {
                scanned.dirs.push((name, self.scan(&child, depth + 1)?));
            } else {
                let position = index_u32(scanned.files.len(), path)?;
                scanned.files.push((name, self.files.len()));
                self.files.push((dir_index, position, kind));
            }
        }
        Ok(scanned)
    }

    /// Stores every scanned file on all cores; the ids come back in scan order.
    ///
    /// One file per task (`with_max_len(1)`): with rayon's default split into a few
    /// ranges, the core holding the range with the big files compressed them alone long
    /// after the other had finished. The ids are written in place, not collected into a
    /// `Result`, which rayon builds from a list of one-element vectors.
    fn store_files(&self, scanned: &ScannedDir) -> Result<Vec<Checksum>, Error> {
        let mut dirs = Vec::with_capacity(self.dirs.len());
        scanned.preorder(&mut dirs);
        let mut ids = vec![Checksum([0; 32]); self.files.len()];
        ids.par_iter_mut()
            .zip(&self.files)
            .with_max_len(1)
            .try_for_each(|(id, &(dir, position, kind))| {
                let name = &dirs[dir as usize].files[position as usize].0;
                *id = self.store_file(&self.dirs[dir as usize].join(name), kind)?;
                Ok::<_, Error>(())
            })?;
        Ok(ids)
    }

    fn store_file(&self, path: &Path, kind: fs::FileType) -> Result<Checksum, Error> {
        if kind.is_symlink() {
            return self.store_symlink(path);
        }
        let unsupported = || Error::Unsupported {
            verb: "commit",
            path: path.to_owned(),
            detail: "only regular files, symlinks and directories can be committed".into(),
        };
        if !kind.is_file() {
            return Err(unsupported());
        }
        // Stat'ed through the descriptor, which saves a path walk per file; O_NOFOLLOW
        // refuses a symlink put in its place since the scan.
        let mut file = File::options()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
            .map_err(io_err("open", path))?;
        let st = file.metadata().map_err(io_err("stat", path))?;
        if !st.is_file() {
            return Err(unsupported());
        }
        if st.nlink() > 1
            && self.policy.records_xattrs()
            && self.policy.options.owner_uid.is_none()
            && self.policy.options.owner_gid.is_none()
            && let Some(id) = (self.policy.options.devino.as_ref())
                .and_then(|cache| cache.get(&(st.dev(), st.ino())))
        {
            return Ok(*id);
        }
        let (uid, gid) = self.policy.owner(st.uid(), st.gid());
        let header = FileHeader {
            uid,
            gid,
            mode: self.policy.mode(st.mode()),
            symlink_target: String::new(),
            xattrs: self.xattrs(crate::xattrs::Node::File(&file), path)?,
        };
        self.repo.write_content(&header, st.len(), &mut file)
    }

    fn store_symlink(&self, path: &Path) -> Result<Checksum, Error> {
        let st = fs::symlink_metadata(path).map_err(io_err("stat", path))?;
        let (uid, gid) = self.policy.owner(st.uid(), st.gid());
        let target = fs::read_link(path).map_err(io_err("read symlink", path))?;
        let target = target
            .into_os_string()
            .into_string()
            .map_err(|_| Error::Unsupported {
                verb: "commit",
                path: path.to_owned(),
                detail: "symlink target is not UTF-8".into(),
            })?;
        let header = FileHeader {
            uid,
            gid,
            mode: S_IFLNK | 0o777,
            symlink_target: target,
            xattrs: self.xattrs(crate::xattrs::Node::Path(path), path)?,
        };
        self.repo.write_content(&header, 0, &mut std::io::empty())
    }
}

/// The content checksum a regular file or symlink would be stored under (its owner,
/// mode, extended attributes unless `ignore_xattrs`, and bytes or target), as `ostree
/// checksum` prints it; nothing is stored.
pub fn file_checksum(path: &Path, ignore_xattrs: bool) -> Result<Checksum, Error> {
    let st = fs::symlink_metadata(path).map_err(io_err("stat", path))?;
    let xattrs = if ignore_xattrs {
        vec![]
    } else {
        crate::xattrs::Node::Path(path)
            .read()
            .map_err(io_err("read extended attributes of", path))?
    };
    let mut header = FileHeader {
        uid: st.uid(),
        gid: st.gid(),
        mode: st.mode(),
        symlink_target: String::new(),
        xattrs,
    };
    if st.file_type().is_symlink() {
        let target = fs::read_link(path).map_err(io_err("read symlink", path))?;
        header.mode = S_IFLNK | 0o777;
        header.symlink_target = target.to_string_lossy().into_owned();
        return Ok(header.hasher().finish());
    }
    if !st.is_file() {
        return Err(Error::Unsupported {
            verb: "checksum",
            path: path.to_owned(),
            detail: "only regular files and symlinks have content checksums".into(),
        });
    }
    let mut hasher = header.hasher();
    let mut file = File::open(path).map_err(io_err("open", path))?;
    std::io::copy(&mut file, &mut hasher).map_err(io_err("read", path))?;
    Ok(hasher.finish())
}

/// Writes the dirtrees bottom-up and returns the root's (dirtree, dirmeta) ids.
pub(crate) fn write_trees(
    repo: &Repo,
    dir: ScannedDir,
    file_ids: &[Checksum],
) -> Result<(Checksum, Checksum), Error> {
    let mut tree = DirTree {
        files: dir
            .files
            .into_iter()
            .map(|(name, index)| (name, file_ids[index]))
            .collect(),
        dirs: vec![],
    };
    for (name, child) in dir.dirs {
        let (tree_id, meta_id) = write_trees(repo, child, file_ids)?;
        tree.dirs.push((name, tree_id, meta_id));
    }
    tree.sort();
    let tree_id = repo.write_metadata(ObjectType::DirTree, &tree.to_bytes())?;
    Ok((tree_id, dir.meta_id))
}

/// Commits the directory `tree` into `repo`, like `ostree commit --tree=dir=TREE`.
pub fn commit_dir(
    repo: &Repo,
    tree: &Path,
    options: &CommitOptions,
) -> Result<CommitOutcome, Error> {
    let transaction = repo.begin_transaction()?;
    let mut walker = Walker {
        repo,
        policy: Policy::new(repo, options),
        dirs: vec![],
        files: vec![],
    };
    let scanned = walker.scan(tree, 0)?;
    let file_ids = walker.store_files(&scanned)?;
    let root = write_trees(repo, scanned, &file_ids)?;
    finish_commit(transaction, repo, options, root, file_ids.len() as u64)
}

/// Writes the commit object for a stored root `(dirtree, dirmeta)` and moves the
/// branch at the transaction's commit point, honouring the parent, binding, metadata
/// and skip options.
pub(crate) fn finish_commit(
    transaction: Transaction<'_>,
    repo: &Repo,
    options: &CommitOptions,
    (root_tree, root_meta): (Checksum, Checksum),
    files: u64,
) -> Result<CommitOutcome, Error> {
    let parent = match (&options.parent, &options.branch) {
        _ if options.orphan => None,
        (Some(parent), _) => Some(*parent),
        (None, Some(branch)) => repo.read_ref(branch)?,
        (None, None) => None,
    };
    if let (true, Some(parent)) = (options.skip_if_unchanged, parent) {
        let old = repo.load_commit(&parent)?;
        if old.root_tree == root_tree && old.root_meta == root_meta {
            return Ok(CommitOutcome {
                commit: parent,
                written: false,
                files,
            });
        }
    }
    // As `ostree commit` orders it: the given metadata, then the bindings (an orphan
    // commit is bound to no ref), which are part of the commit id.
    let mut metadata: Metadata = options.metadata.clone();
    if !options.no_bindings {
        let mut bound: Vec<&str> = options
            .branch
            .iter()
            .chain(&options.bind_refs)
            .map(String::as_str)
            .collect();
        if !options.bind_refs.is_empty() {
            bound.sort_unstable();
            bound.dedup();
        }
        metadata.push(("ostree.ref-binding".into(), Variant::strings(bound)));
        if let Some(collection) = repo.read_config()?.get("core", "collection-id") {
            metadata.push((
                "ostree.collection-binding".into(),
                Variant::string(&collection),
            ));
        }
    }
    if options.bootable {
        let kernel = bootable_kernel(repo, &root_tree)?;
        metadata.push(("ostree.bootable".into(), Variant::boolean(true)));
        metadata.push(("ostree.linux".into(), Variant::string(&kernel)));
        // `ostree commit --bootable` adds these through a GVariantDict, which rewrites
        // every key in its hash table's order; the commit id depends on it.
        metadata = crate::dict_order::glib_dict_order(metadata);
    }
    let commit = Commit {
        metadata,
        parent,
        related: vec![],
        subject: options.subject.clone(),
        body: options.body.clone(),
        timestamp: options.timestamp.unwrap_or_else(default_timestamp),
        root_tree,
        root_meta,
    };
    let id = repo.write_metadata(ObjectType::Commit, &commit.to_bytes())?;
    let refs: Vec<(String, Checksum)> = options.branch.iter().map(|b| (b.clone(), id)).collect();
    transaction.commit(&refs)?;
    // `[core] commit-update-summary`: every commit regenerates the summary.
    if repo
        .read_config()?
        .get("core", "commit-update-summary")
        .as_deref()
        == Some("true")
    {
        crate::summary::update_summary(repo)?;
    }
    Ok(CommitOutcome {
        commit: id,
        written: true,
        files,
    })
}

/// The version of the one kernel a bootable tree holds: the directory of
/// `usr/lib/modules` that has a `vmlinuz`, as `ostree commit --bootable` finds it.
fn bootable_kernel(repo: &Repo, root_tree: &Checksum) -> Result<String, Error> {
    let not_bootable = |detail: &str| Error::Unsupported {
        verb: "commit --bootable",
        path: "/usr/lib/modules".into(),
        detail: detail.into(),
    };
    let mut tree = repo.load_dirtree(root_tree)?;
    for name in ["usr", "lib", "modules"] {
        let Some((_, id, _)) = tree.dirs.iter().find(|(n, _, _)| n == name) else {
            return Err(not_bootable(
                "No such file or directory; a bootable tree has its kernel at usr/lib/modules/VERSION/vmlinuz",
            ));
        };
        tree = repo.load_dirtree(id)?;
    }
    let mut kernels = Vec::new();
    for (version, id, _) in &tree.dirs {
        if repo
            .load_dirtree(id)?
            .files
            .iter()
            .any(|(n, _)| n == "vmlinuz")
        {
            kernels.push(version.clone());
        }
    }
    match &kernels[..] {
        [one] => Ok(one.clone()),
        [] => Err(not_bootable("no kernel found (VERSION/vmlinuz)")),
        _ => Err(not_bootable(&format!(
            "multiple kernels found: {}",
            kernels.join(", ")
        ))),
    }
}

fn default_timestamp() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_is_deterministic_and_dedups() {
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("a"), b"same").unwrap();
        fs::write(src.path().join("b"), b"same").unwrap();
        fs::create_dir(src.path().join("empty")).unwrap();
        std::os::unix::fs::symlink("a", src.path().join("l")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        let options = CommitOptions {
            branch: Some("main".into()),
            subject: "s".into(),
            timestamp: Some(1),
            owner_uid: Some(0),
            owner_gid: Some(0),
            ..Default::default()
        };
        let first = commit_dir(&repo, src.path(), &options).unwrap();
        assert_eq!(first.files, 3);
        assert_eq!(repo.list_objects(ObjectType::File).unwrap().len(), 2);
        let second = commit_dir(&repo, src.path(), &options).unwrap();
        assert_eq!(
            repo.load_commit(&second.commit).unwrap().parent,
            Some(first.commit)
        );
        let skipped = commit_dir(
            &repo,
            src.path(),
            &CommitOptions {
                skip_if_unchanged: true,
                ..options
            },
        )
        .unwrap();
        assert_eq!((skipped.commit, skipped.written), (second.commit, false));
        assert_eq!(repo.resolve_rev("main^").unwrap(), first.commit);
    }

    #[test]
    fn the_devino_cache_records_linked_files_without_reading_them_and_changes_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(&dir.path().join("repo"), RepoMode::Bare).unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("d")).unwrap();
        fs::write(src.join("a"), b"kept").unwrap();
        fs::write(src.join("d/b"), b"replaced").unwrap();
        let options = CommitOptions {
            subject: "s".into(),
            timestamp: Some(1),
            orphan: true,
            ..Default::default()
        };
        let base = commit_dir(&repo, &src, &options).unwrap().commit;
        let co = dir.path().join("co");
        crate::checkout::checkout(&repo, &base, &co, &Default::default()).unwrap();
        // A file replaced (new inode) and one added; `a` stays a link to its object.
        fs::remove_file(co.join("d/b")).unwrap();
        fs::write(co.join("d/b"), b"new").unwrap();
        fs::write(co.join("c"), b"added").unwrap();
        let cache = devino_cache(&repo).unwrap();
        assert_eq!(cache.len(), 2);
        let with = commit_dir(
            &repo,
            &co,
            &CommitOptions {
                devino: Some(std::sync::Arc::new(cache)),
                ..options.clone()
            },
        )
        .unwrap();
        let without = commit_dir(&repo, &co, &options).unwrap();
        assert_eq!(with.commit, without.commit, "the same commit either way");
        // The cache is used, not re-read: a linked file changed in place (which a
        // caller must never do) keeps the object's id.
        fs::write(co.join("a"), b"changed in place").unwrap();
        let cache = std::sync::Arc::new(devino_cache(&repo).unwrap());
        let trusted = commit_dir(
            &repo,
            &co,
            &CommitOptions {
                devino: Some(cache),
                ..options.clone()
            },
        )
        .unwrap();
        assert_eq!(trusted.commit, with.commit);
        assert_ne!(
            commit_dir(&repo, &co, &options).unwrap().commit,
            with.commit
        );
        // Archive repositories have no usable inodes: no cache.
        let archive = Repo::init(&dir.path().join("archive"), RepoMode::Archive).unwrap();
        commit_dir(&archive, &src, &options).unwrap();
        assert!(devino_cache(&archive).unwrap().is_empty());
    }

    #[test]
    fn refuses_special_files_and_leaves_the_branch_alone() {
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("a"), b"data").unwrap();
        let fifo = src.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        let options = CommitOptions {
            branch: Some("main".into()),
            ..Default::default()
        };
        match commit_dir(&repo, src.path(), &options) {
            Err(Error::Unsupported { path, .. }) => assert_eq!(path, fifo),
            other => panic!("expected the FIFO to be refused, got {other:?}"),
        }
        assert_eq!(repo.read_ref("main").unwrap(), None);
    }
}
