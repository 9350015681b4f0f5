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
    /// Per-path changes: statoverride, skip list, read-only executables.
    pub modifiers: crate::commit_modifier::CommitModifiers,
    /// Start from this commit's tree, as it is (no owner, mode or path rule applies to
    /// it), and lay the sources over it (`--base`).
    pub base: Option<Checksum>,
    /// Metadata keys copied from the parent commit (`--keep-metadata`); each must be
    /// there.
    pub keep_metadata: Vec<String>,
    /// Detached metadata (`.commitmeta`) written with the commit
    /// (`--add-detached-metadata-string`); none when empty.
    pub detached_metadata: Metadata,
    /// Record the tree as bootable (`--bootable`): `ostree.bootable` and `ostree.linux`,
    /// the version of the one kernel at `usr/lib/modules/VERSION/vmlinuz`.
    pub bootable: bool,
    /// Files hardlinked to objects of this `bare` repository (a checkout being
    /// modified, as package layering does) are recorded under the object's id without
    /// being read again: the device/inode → object map of [`devino_cache`], OSTree's
    /// devino cache. Only files with more than one link are looked up.
    pub devino: Option<std::sync::Arc<DevInoCache>>,
    /// `--devino-canonical` (`-I`): a file found in [`CommitOptions::devino`] is taken
    /// as its object even where the commit's rules (owners, modes, statoverride) would
    /// record it otherwise, as OSTree takes it.
    pub devino_canonical: bool,
}

/// Device and inode of a `bare` repository's content objects → their ids.
pub type DevInoCache = std::collections::HashMap<(u64, u64), Checksum>;

/// The [`DevInoCache`] of every content object of `repo`; empty for an `archive`
/// repository, whose objects are no checkout's files. In `bare` an object's inode
/// carries exactly the owner, mode and extended attributes its id covers, in
/// `bare-user` its `user.ostreemeta` does (so a checkout's file keeps the owner it was
/// committed with, not the user's), in `bare-user-only` they are canonical.
pub fn devino_cache(repo: &Repo) -> Result<DevInoCache, Error> {
    if repo.mode() == RepoMode::Archive {
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
        let mode = if self.canonical {
            mode & (S_IFMT | 0o755)
        } else {
            mode
        };
        self.options.modifiers.finish_mode(mode)
    }

    /// The mode recorded for the source at `path` (absolute in the commit): its
    /// statoverride first, then [`Policy::mode`], in OSTree's order.
    pub(crate) fn mode_at(self, path: &str, mode: u32) -> u32 {
        self.mode(self.options.modifiers.override_mode(path, mode))
    }

    /// Whether the source at `path` is left out (`--skip-list`).
    pub(crate) fn skips(self, path: &str) -> bool {
        self.options.modifiers.skips(path)
    }

    /// Whether modes depend on paths, so that files must know theirs.
    pub(crate) fn by_path(self) -> bool {
        !self.options.modifiers.mode_adds.is_empty() || !self.options.modifiers.mode_sets.is_empty()
    }

    /// Whether a stored tree must be rewritten to be committed under this policy (an
    /// owner, mode or xattr rule), rather than reused as it is.
    pub(crate) fn rewrites(self) -> bool {
        self.canonical
            || self.options.no_xattrs
            || self.options.owner_uid.is_some()
            || self.options.owner_gid.is_some()
            || !self.options.modifiers.is_empty()
    }

    /// Whether the source is deleted once committed (`--consume`), so that its files
    /// may become the objects themselves.
    pub(crate) fn consumes(self) -> bool {
        self.options.consume
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
    /// What was stored, as `ostree commit --table-output` prints it.
    pub stats: WriteStats,
}

/// Objects a write stored, new ones (`*_written`) and all it asked for (`*_total`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Metadata objects asked for (new or already stored).
    pub metadata_total: u64,
    /// Metadata objects that were new.
    pub metadata_written: u64,
    /// Content objects that were new.
    pub content_written: u64,
    /// Bytes of the new content objects as stored.
    pub content_bytes_written: u64,
    /// Files recorded from the devino cache without being read.
    pub content_cache_hits: u64,
}

impl WriteStats {
    /// The repository's counters now, to subtract a later reading from.
    pub(crate) fn read(repo: &Repo) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &repo.object_dirs().counters;
        WriteStats {
            metadata_total: c.metadata_total.load(Relaxed),
            metadata_written: c.metadata_written.load(Relaxed),
            content_written: c.content_written.load(Relaxed),
            content_bytes_written: c.content_bytes_written.load(Relaxed),
            content_cache_hits: c.content_cache_hits.load(Relaxed),
        }
    }

    /// What was stored between `self` (earlier) and `later`.
    pub(crate) fn since(self, later: Self) -> Self {
        WriteStats {
            metadata_total: later.metadata_total - self.metadata_total,
            metadata_written: later.metadata_written - self.metadata_written,
            content_written: later.content_written - self.content_written,
            content_bytes_written: later.content_bytes_written - self.content_bytes_written,
            content_cache_hits: later.content_cache_hits - self.content_cache_hits,
        }
    }
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
    /// Every directory's path in the commit (`/a/b`, the root ``), same order.
    rels: Vec<String>,
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

    fn scan(&mut self, path: &Path, rel: &str, depth: usize) -> Result<ScannedDir, Error> {
        if depth > crate::object::MAX_DEPTH {
            return Err(too_deep("commit", path));
        }
        let st = fs::symlink_metadata(path).map_err(io_err("stat", path))?;
        let (uid, gid) = self.policy.owner(st.uid(), st.gid());
        let shown = if rel.is_empty() { "/" } else { rel };
        let meta = DirMeta {
            uid,
            gid,
            mode: self.policy.mode_at(shown, st.mode()),
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
        self.rels.push(rel.to_owned());
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
                    detail: "Invalid UTF-8 in filename (file names must be valid UTF-8)".into(),
                })?;
            let kind = entry.file_type().map_err(io_err("stat", &child))?;
            let child_rel = format!("{rel}/{name}");
            if self.policy.skips(&child_rel) {
                continue;
            }
            if kind.is_dir() {
                scanned
                    .dirs
                    .push((name, self.scan(&child, &child_rel, depth + 1)?));
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
                let rel = self
                    .policy
                    .by_path()
                    .then(|| format!("{}/{name}", self.rels[dir as usize]));
                *id = self.store_file(&self.dirs[dir as usize].join(name), rel.as_deref(), kind)?;
                Ok::<_, Error>(())
            })?;
        Ok(ids)
    }

    /// Stores one file; `rel` is its path in the commit when modes depend on paths.
    fn store_file(
        &self,
        path: &Path,
        rel: Option<&str>,
        kind: fs::FileType,
    ) -> Result<Checksum, Error> {
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
        // Only when the commit's rules (owners, modes, xattrs, statoverride) change
        // nothing: the cached object is the file as it was committed then.
        if st.nlink() > 1
            && (!self.policy.rewrites() || self.policy.options.devino_canonical)
            && let Some(id) = (self.policy.options.devino.as_ref())
                .and_then(|cache| cache.get(&(st.dev(), st.ino())))
        {
            let hits = &self.repo.object_dirs().counters.content_cache_hits;
            hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(*id);
        }
        let (uid, gid) = self.policy.owner(st.uid(), st.gid());
        let mode = match rel {
            Some(rel) => self.policy.mode_at(rel, st.mode()),
            None => self.policy.mode(st.mode()),
        };
        let header = FileHeader {
            uid,
            gid,
            mode,
            symlink_target: String::new(),
            xattrs: self.xattrs(crate::xattrs::Node::File(&file), path)?,
        };
        if self.adopts(&st, &header) {
            return self.adopt(path, &header, &mut file);
        }
        self.repo.write_content(&header, st.len(), &mut file)
    }

    /// Whether a file that is being consumed can become its own object (`commit
    /// --consume` into a `bare` or `bare-user-only` repository, as OSTree adopts it):
    /// the object file of those modes is the file itself, so it must already have the
    /// recorded mode (and, in `bare`, owner; the xattrs were read from it).
    fn adopts(&self, st: &fs::Metadata, header: &FileHeader) -> bool {
        let mode_ok = st.mode() == header.mode;
        match self.repo.mode() {
            _ if !self.policy.consumes() => false,
            RepoMode::BareUserOnly => mode_ok,
            RepoMode::Bare => mode_ok && st.uid() == header.uid && st.gid() == header.gid,
            RepoMode::BareUser | RepoMode::Archive => false,
        }
    }

    /// Hashes `file` and hardlinks it into place as its object, instead of copying;
    /// copies after all when the link is impossible (another filesystem).
    fn adopt(&self, path: &Path, header: &FileHeader, file: &mut File) -> Result<Checksum, Error> {
        use std::io::{Seek, SeekFrom};
        let mut hasher = header.hasher();
        std::io::copy(file, &mut hasher).map_err(io_err("read", path))?;
        let id = hasher.finish();
        let object = self.repo.object_path(ObjectType::File, &id);
        if fs::symlink_metadata(&object).is_ok() {
            return Ok(id);
        }
        if let Some(dir) = object.parent() {
            fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        }
        match fs::hard_link(path, &object) {
            Ok(()) => Ok(id),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(id),
            Err(_) => {
                file.seek(SeekFrom::Start(0))
                    .map_err(io_err("read", path))?;
                let size = file.metadata().map_err(io_err("stat", path))?.len();
                self.repo.write_content(header, size, file)
            }
        }
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

/// How a file on disk is seen when its checksum is computed without storing it (`ostree
/// checksum`, `ostree diff` against a directory): which owner it is taken to have and
/// whether its extended attributes count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FsChecksumOptions {
    /// Leave extended attributes out (`--ignore-xattrs`, `--no-xattrs`).
    pub ignore_xattrs: bool,
    /// Take the file to be owned by this uid (`--owner-uid`).
    pub owner_uid: Option<u32>,
    /// Take the file to be owned by this gid (`--owner-gid`).
    pub owner_gid: Option<u32>,
}

impl FsChecksumOptions {
    fn owner(&self, st: &fs::Metadata) -> (u32, u32) {
        (
            self.owner_uid.unwrap_or(st.uid()),
            self.owner_gid.unwrap_or(st.gid()),
        )
    }

    fn xattrs(&self, path: &Path) -> Result<Xattrs, Error> {
        if self.ignore_xattrs {
            return Ok(vec![]);
        }
        Ok(crate::xattrs::Node::Path(path)
            .read()
            .map_err(io_err("read extended attributes of", path))?)
    }
}

/// The content checksum a regular file or symlink would be stored under (its owner,
/// mode, extended attributes unless `ignore_xattrs`, and bytes or target), as `ostree
/// checksum` prints it; nothing is stored.
pub fn file_checksum(path: &Path, ignore_xattrs: bool) -> Result<Checksum, Error> {
    let options = FsChecksumOptions {
        ignore_xattrs,
        ..FsChecksumOptions::default()
    };
    path_checksum(path, &options)
}

/// The id a path on disk would be stored under, seen through `options`: a directory's
/// dirmeta id, the content id of anything else (a device or FIFO hashes its header only,
/// as OSTree's `ostree_checksum_file_from_input` does).
pub fn path_checksum(path: &Path, options: &FsChecksumOptions) -> Result<Checksum, Error> {
    let st = fs::symlink_metadata(path).map_err(io_err("stat", path))?;
    let (uid, gid) = options.owner(&st);
    let xattrs = options.xattrs(path)?;
    if st.is_dir() {
        let meta = DirMeta {
            uid,
            gid,
            mode: st.mode(),
            xattrs,
        };
        return Ok(meta.checksum());
    }
    let mut header = FileHeader {
        uid,
        gid,
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
    let mut hasher = header.hasher();
    if st.is_file() {
        let mut file = File::open(path).map_err(io_err("open", path))?;
        std::io::copy(&mut file, &mut hasher).map_err(io_err("read", path))?;
    }
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
    let (root, files) = write_dir(repo, tree, options)?;
    finish_commit(transaction, repo, options, root, files)
}

/// Stores the directory `tree` (its files, dirtrees and dirmetas) inside a running
/// transaction: its root `(dirtree, dirmeta)` and the number of files visited.
pub(crate) fn write_dir(
    repo: &Repo,
    tree: &Path,
    options: &CommitOptions,
) -> Result<((Checksum, Checksum), u64), Error> {
    let mut walker = Walker {
        repo,
        policy: Policy::new(repo, options),
        dirs: vec![],
        rels: vec![],
        files: vec![],
    };
    let scanned = walker.scan(tree, "", 0)?;
    let file_ids = walker.store_files(&scanned)?;
    let root = write_trees(repo, scanned, &file_ids)?;
    Ok((root, file_ids.len() as u64))
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
    // As OSTree: a metadata key may not be empty (no ref moves; the objects stored so
    // far stay unreferenced).
    if options.metadata.iter().any(|(key, _)| key.is_empty()) {
        return Err(Error::Unsupported {
            verb: "commit into",
            path: repo.path().to_owned(),
            detail: "Empty metadata key".into(),
        });
    }
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
                stats: WriteStats::default(),
            });
        }
    }
    // As `ostree commit` orders it: the given metadata, then the bindings (an orphan
    // commit is bound to no ref), which are part of the commit id.
    let mut metadata: Metadata = options.metadata.clone();
    if !options.keep_metadata.is_empty() {
        let parent = parent.ok_or_else(|| Error::Unsupported {
            verb: "commit",
            path: repo.path().to_owned(),
            detail: "Either --branch or --parent must be specified when using --keep-metadata"
                .into(),
        })?;
        let old = repo.load_commit(&parent)?;
        for key in &options.keep_metadata {
            let value = old
                .metadata
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| Error::Unsupported {
                    verb: "commit",
                    path: repo.path().to_owned(),
                    detail: format!("Missing metadata key '{key}' from commit '{parent}'"),
                })?;
            metadata.retain(|(k, _)| k != key);
            metadata.push((key.clone(), value));
        }
        // OSTree merges them through a `GVariantDict`, whose order is the commit's.
        metadata = crate::dict_order::glib_dict_order(metadata);
    }
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
    if !options.detached_metadata.is_empty() {
        repo.write_commitmeta(&id, &options.detached_metadata)?;
    }
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
        stats: WriteStats::default(),
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
