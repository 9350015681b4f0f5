//! Checking a commit out into a directory: copies, or hardlinks to the repository's
//! objects when the repository mode makes the object files usable as they are.
//!
//! Outside user mode, owners and every recorded extended attribute are applied, as
//! `ostree checkout` does; `-U` applies neither (observed with ostree 2022.7: not even
//! `user.*` attributes are set).

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::checksum::Checksum;
use crate::content::set_symlink_mtime_zero;
use crate::error::{Error, io_err, too_deep};
use crate::object::{DirMeta, ObjectType, Xattrs};
use crate::repo::{Repo, RepoMode};
use crate::xattrs::Node;

/// Whether to hardlink files to the repository's objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LinkMode {
    /// Hardlink when the repository mode allows it, otherwise copy.
    #[default]
    Auto,
    /// Hardlink every regular file or fail (`-H`/`--require-hardlinks`).
    Require,
    /// Always copy (`--force-copy`).
    Copy,
}

/// What to do with paths that already exist in the destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overwrite {
    /// Fail: the destination must not exist.
    #[default]
    Never,
    /// Merge into existing directories (keeping their owner and mode) and replace
    /// existing files and symlinks (`--union`).
    UnionFiles,
    /// Merge into existing directories and keep whatever exists (`--union-add`).
    AddFiles,
    /// Merge into existing directories; an existing file must be identical to the
    /// commit's (same content, or the same symlink target), else it is an error
    /// (`--union-identical`).
    UnionIdentical,
}

/// How to check out, as `ostree checkout`'s flags.
#[derive(Debug, Clone, Default)]
pub struct CheckoutOptions {
    /// Ignore stored owners and xattrs and drop setuid/setgid bits (`-U`).
    pub user_mode: bool,
    /// Hardlinks or copies.
    pub link: LinkMode,
    /// Check out only this directory of the commit (`--subpath`), e.g. `/usr/bin`.
    pub subpath: Option<String>,
    /// What to do with existing paths; a file where the commit has a directory is an
    /// error in every mode, as is a directory where it has a file under `--union`.
    pub overwrite: Overwrite,
    /// Paths left out, each with everything below it (`--skip-list`); absolute from
    /// the root of what is checked out (the subpath, if any), e.g. `/usr/share/doc`.
    pub skip: std::collections::BTreeSet<String>,
    /// Directories get no mode bits outside 0775 (no setuid, not world-writable:
    /// `-M`, `--bareuseronly-dirs`).
    pub bareuseronly_dirs: bool,
    /// A missing `subpath` checks out nothing instead of failing (`--allow-noent`).
    pub allow_noent: bool,
    /// AUFS-style whiteouts (`--whiteouts`): a file `.wh.NAME` removes `NAME` from
    /// what earlier checkouts put in the destination, `.wh..wh..opq` empties its
    /// directory, neither is written; and a file or symlink may replace a directory.
    pub whiteouts: bool,
    /// OSTree's overlayfs whiteout markers (`--process-passthrough-whiteouts`): a file
    /// `.ostree-wh.NAME` is checked out as the whiteout device `NAME` (char 0:0).
    pub passthrough_whiteouts: bool,
    /// From an archive repository in user mode, copy every file rather than keep an
    /// uncompressed copy in `uncompressed-objects-cache/` to hardlink from
    /// (`--disable-cache`).
    pub disable_cache: bool,
}

/// Counts of what a checkout made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckoutStats {
    /// Regular files copied.
    pub copied: u64,
    /// Regular files hardlinked.
    pub linked: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Directories created.
    pub dirs: u64,
    /// Existing files and symlinks left as they were ([`Overwrite::AddFiles`]).
    pub kept: u64,
}

impl CheckoutStats {
    /// The counts of both checkouts together.
    fn plus(self, other: CheckoutStats) -> CheckoutStats {
        CheckoutStats {
            copied: self.copied + other.copied,
            linked: self.linked + other.linked,
            symlinks: self.symlinks + other.symlinks,
            dirs: self.dirs + other.dirs,
            kept: self.kept + other.kept,
        }
    }
}

/// Checks out `commit` into `dest`, which must not exist yet unless
/// `options.overwrite` says how to merge.
pub fn checkout(
    repo: &Repo,
    commit: &Checksum,
    dest: &Path,
    options: &CheckoutOptions,
) -> Result<CheckoutStats, Error> {
    if options.overwrite == Overwrite::UnionIdentical && options.link != LinkMode::Require {
        // Comparing copies would cost a read of every existing file; OSTree only
        // offers the mode where identity is mostly a matter of inodes.
        return Err(Error::Unsupported {
            verb: "check out into",
            path: dest.to_owned(),
            detail: "--union-identical requires --require-hardlinks".into(),
        });
    }
    let commit = repo.load_commit(commit)?;
    let (mut tree, mut meta) = (commit.root_tree, commit.root_meta);
    // A subpath naming a file: that file, under its own name, in `dest` (made if
    // missing), as `ostree checkout --subpath FILE` does.
    let mut file = None;
    if let Some(subpath) = &options.subpath {
        let mut parts = subpath.split('/').filter(|p| !p.is_empty()).peekable();
        while let Some(part) = parts.next() {
            let dirtree = repo.load_dirtree(&tree)?;
            if parts.peek().is_none()
                && let Some((name, id)) = dirtree.files.iter().find(|f| f.0 == part)
            {
                file = Some((name.clone(), *id));
                break;
            }
            let Some((_, t, m)) = dirtree.dirs.iter().find(|d| d.0 == part) else {
                if options.allow_noent {
                    return Ok(CheckoutStats::default());
                }
                return Err(Error::NotFound(subpath.clone()));
            };
            (tree, meta) = (*t, *m);
        }
    }
    let can_link = match repo.mode() {
        RepoMode::Bare => !options.user_mode,
        RepoMode::BareUser | RepoMode::BareUserOnly => options.user_mode,
        RepoMode::Archive => false,
    };
    if options.link == LinkMode::Require {
        same_device(repo, dest)?;
    }
    if options.link == LinkMode::Require && !can_link {
        return Err(Error::Unsupported {
            verb: "hardlink from",
            path: repo.path().to_owned(),
            detail: match repo.mode() {
                RepoMode::Bare => "a bare repository needs no -U for hardlink checkouts".into(),
                // ostree's wording, which scripts match on.
                RepoMode::BareUser | RepoMode::BareUserOnly => {
                    "User repository mode requires user checkout mode (-U) for hardlink checkouts"
                        .into()
                }
                mode => format!("a {} repository cannot be hardlinked from", mode.name()),
            },
        });
    }
    let writer = Writer {
        repo,
        options,
        link: can_link && options.link != LinkMode::Copy,
        cache: repo.mode() == RepoMode::Archive
            && options.user_mode
            && !options.disable_cache
            && options.link != LinkMode::Copy,
    };
    if let Some((name, id)) = file {
        fs::create_dir_all(dest).map_err(io_err("create directory", dest))?;
        return Ok(writer.file(&id, &dest.join(name))?.stats());
    }
    writer.dir(&tree, &meta, dest, "", 0)
}

/// What checking out one content object made.
enum Made {
    Copied,
    Linked,
    Symlink,
    Kept,
}

impl Made {
    fn stats(self) -> CheckoutStats {
        let mut stats = CheckoutStats::default();
        match self {
            Made::Copied => stats.copied = 1,
            Made::Linked => stats.linked = 1,
            Made::Symlink => stats.symlinks = 1,
            Made::Kept => stats.kept = 1,
        }
        stats
    }
}

/// Where a new file was made: at its destination, or (replacing an existing file under
/// `--union`) beside it, to be renamed over it once complete, so the old file is
/// never missing nor the new one seen half-written.
struct Placed {
    beside: Option<PathBuf>,
}

impl Placed {
    fn path<'p>(&'p self, dest: &'p Path) -> &'p Path {
        self.beside.as_deref().unwrap_or(dest)
    }

    fn finish(self, dest: &Path) -> Result<(), Error> {
        match self.beside {
            Some(tmp) => {
                fs::rename(&tmp, dest).map_err(io_err("replace", dest))?;
                // rename() does nothing when both names are links to one inode (an
                // object hardlinked again): the temporary name is then still there.
                let _ = fs::remove_file(&tmp);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

struct Writer<'a> {
    repo: &'a Repo,
    options: &'a CheckoutOptions,
    link: bool,
    /// Hardlink files from `uncompressed-objects-cache/`, filling it as needed: what
    /// OSTree does for user-mode checkouts of an archive repository, so that the next
    /// checkout of the same files costs a link each, not a decompression.
    cache: bool,
}

impl Writer<'_> {
    /// Checks out one directory: creates it, writes its files, then its subdirectories
    /// — files and subdirectories on all cores, so that the filesystem's latency for
    /// new directories and inodes overlaps — and gives it its owner and mode last, once
    /// it is full (a read-only directory stays writable until then).
    fn dir(
        &self,
        tree: &Checksum,
        meta: &Checksum,
        dest: &Path,
        rel: &str,
        depth: usize,
    ) -> Result<CheckoutStats, Error> {
        if depth > crate::object::MAX_DEPTH {
            return Err(too_deep("check out", dest));
        }
        let dirtree = self.repo.load_dirtree(tree)?;
        let dirmeta: DirMeta = self.repo.load_dirmeta(meta)?;
        let created = match fs::DirBuilder::new().mode(0o700).create(dest) {
            Ok(()) => true,
            // Merged: an existing directory keeps its owner and mode, as with ostree.
            Err(e)
                if e.kind() == io::ErrorKind::AlreadyExists
                    && self.options.overwrite != Overwrite::Never
                    && fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) =>
            {
                false
            }
            Err(e) => return Err(io_err("create directory", dest)(e).into()),
        };
        let skipped = |name: &str| {
            !self.options.skip.is_empty() && self.options.skip.contains(&format!("{rel}/{name}"))
        };
        if self.options.whiteouts && !created {
            apply_whiteouts(&dirtree, dest)?;
        }
        let whiteout = |name: &str| self.options.whiteouts && name.starts_with(WHITEOUT);
        let files = dirtree
            .files
            .par_iter()
            .filter(|(name, _)| !skipped(name) && !whiteout(name))
            .map(|(name, id)| match name.strip_prefix(PASSTHROUGH) {
                Some(target) if self.options.passthrough_whiteouts => {
                    // With the marker's permission bits, as OSTree makes it.
                    let mode = self.repo.read_content(id)?.header.mode & 0o7777;
                    make_whiteout_device(&dest.join(target), mode)
                        .map(|()| CheckoutStats::default())
                }
                _ => self.file(id, &dest.join(name)).map(Made::stats),
            })
            .try_reduce(CheckoutStats::default, |a, b| Ok(a.plus(b)))?;
        let dirs = dirtree
            .dirs
            .par_iter()
            .filter(|(name, _, _)| !skipped(name))
            .map(|(name, t, m)| {
                let rel = format!("{rel}/{name}");
                self.dir(t, m, &dest.join(name), &rel, depth + 1)
            })
            .try_reduce(CheckoutStats::default, |a, b| Ok(a.plus(b)))?;
        if created {
            self.finish_dir(dest, &dirmeta)?;
        }
        let this = CheckoutStats {
            dirs: u64::from(created),
            ..CheckoutStats::default()
        };
        Ok(this.plus(files).plus(dirs))
    }

    fn finish_dir(&self, dest: &Path, dirmeta: &DirMeta) -> Result<(), Error> {
        if !self.options.user_mode {
            std::os::unix::fs::chown(dest, Some(dirmeta.uid), Some(dirmeta.gid))
                .map_err(io_err("change owner of", dest))?;
            apply_xattrs(Node::Path(dest), &dirmeta.xattrs, dest)?;
        }
        // As OSTree: never a world-writable (or setuid) directory out of a
        // `bare-user-only` repository.
        let mask = if self.options.bareuseronly_dirs || self.repo.mode() == RepoMode::BareUserOnly {
            0o775
        } else {
            0o7777
        };
        fs::set_permissions(dest, fs::Permissions::from_mode(dirmeta.mode & mask))
            .map_err(io_err("set mode of", dest))?;
        // The same mtime (0) in every checkout, as OSTree gives new directories once
        // they are complete, so that a checkout is reproducible to the byte.
        let times = rustix::fs::Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_OMIT,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        rustix::fs::utimensat(rustix::fs::CWD, dest, &times, rustix::fs::AtFlags::empty())
            .map_err(|e| io_err("set mtime of", dest)(e.into()))?;
        Ok(())
    }

    /// Hardlinks the object file at `dest`; `None` when linking is impossible here
    /// (EMLINK, EXDEV and the like) and the caller should copy instead.
    fn link_object(&self, id: &Checksum, dest: &Path) -> Result<Option<Made>, Error> {
        let object = self.repo.object_path(ObjectType::File, id);
        // An empty file is copied, as OSTree does: hardlinking every empty file of a
        // tree to one inode would tie unrelated files together.
        if fs::symlink_metadata(&object).is_ok_and(|m| m.is_file() && m.len() == 0) {
            return Ok(None);
        }
        match self.create(id, dest, "hardlink", |at| fs::hard_link(&object, at)) {
            Ok(Some(((), placed))) => {
                placed.finish(dest)?;
                Ok(Some(Made::Linked))
            }
            Ok(None) => Ok(Some(Made::Kept)),
            Err(e) if self.options.link == LinkMode::Require => Err(e),
            Err(_) => Ok(None),
        }
    }

    fn file(&self, id: &Checksum, dest: &Path) -> Result<Made, Error> {
        // Objects of bare and bare-user-only repositories are the checked-out files
        // themselves, symlinks included: link them without reading their metadata.
        if self.link
            && self.repo.mode() != RepoMode::BareUser
            && let Some(made) = self.link_object(id, dest)?
        {
            return Ok(made);
        }
        let mut content = self.repo.read_content(id)?;
        let header = &content.header;
        if header.is_symlink() {
            let made = self.create(id, dest, "create symlink", |at| {
                std::os::unix::fs::symlink(&header.symlink_target, at)
            })?;
            let Some(((), placed)) = made else {
                return Ok(Made::Kept);
            };
            let at = placed.path(dest);
            if !self.options.user_mode {
                std::os::unix::fs::lchown(at, Some(header.uid), Some(header.gid))
                    .map_err(io_err("change owner of", dest))?;
                apply_xattrs(Node::Path(at), &header.xattrs, dest)?;
            }
            set_symlink_mtime_zero(at);
            placed.finish(dest)?;
            return Ok(Made::Symlink);
        }
        // As OSTree: a file its owner may not read is copied, readable by its owner,
        // in user mode (a link would share the object's mode, which `bare-user` keeps
        // readable, and so show another mode than the checkout's own).
        let unreadable = self.options.user_mode && header.mode & 0o400 == 0;
        if self.link
            && !unreadable
            && let Some(made) = self.link_object(id, dest)?
        {
            return Ok(made);
        }
        let mut mode = header.mode & 0o7777;
        if self.options.user_mode {
            mode = (mode & !0o6000) | 0o400;
        }
        if self.cache
            && content.size > 0
            && let Some(made) = self.link_cached(id, &mut content, mode, dest)?
        {
            return Ok(made);
        }
        let made = self.create(id, dest, "create", |at| {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(at)
        })?;
        let Some((mut file, placed)) = made else {
            return Ok(Made::Kept);
        };
        copy_whole(id, &mut content, &mut file, dest)?;
        if !self.options.user_mode {
            let header = &content.header;
            std::os::unix::fs::fchown(&file, Some(header.uid), Some(header.gid))
                .map_err(io_err("change owner of", dest))?;
            apply_xattrs(Node::File(&file), &header.xattrs, dest)?;
        }
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_err("set mode of", dest))?;
        file.set_modified(std::time::UNIX_EPOCH)
            .map_err(io_err("set mtime of", dest))?;
        placed.finish(dest)?;
        Ok(Made::Copied)
    }

    /// Hardlinks the uncompressed copy of object `id` at `dest`, first writing it into
    /// `uncompressed-objects-cache/XX/REST.file` (mode `mode`, mtime 0) when missing;
    /// `None` when the link is impossible (another filesystem): the caller copies, from
    /// `content` if it was not consumed, else from a fresh read.
    fn link_cached(
        &self,
        id: &Checksum,
        content: &mut crate::content::Content,
        mode: u32,
        dest: &Path,
    ) -> Result<Option<Made>, Error> {
        let hex = id.to_hex();
        let dir = self
            .repo
            .path()
            .join("uncompressed-objects-cache")
            .join(&hex[..2]);
        let cached = dir.join(format!("{}.file", &hex[2..]));
        if fs::symlink_metadata(&cached).is_err() {
            fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
            let mut temp = ferro_sys::atomic::TempFile::new_in(
                ferro_sys::atomic::DirFd::Owned(ferro_sys::atomic::open_dir(&dir)?),
                &dir,
                0o600,
            )?;
            copy_whole(id, content, temp.file(), &cached)?;
            let file = temp.file();
            file.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(io_err("set mode of", &cached))?;
            file.set_modified(std::time::UNIX_EPOCH)
                .map_err(io_err("set mtime of", &cached))?;
            temp.publish(
                &format!("{}.file", &hex[2..]),
                ferro_sys::atomic::Collision::Keep,
                ferro_sys::atomic::Durability::Deferred,
            )?;
            // The reader is spent: a fallback copy reads the object again.
            *content = self.repo.read_content(id)?;
        }
        match self.create(id, dest, "hardlink", |at| fs::hard_link(&cached, at)) {
            Ok(Some(((), placed))) => {
                placed.finish(dest)?;
                Ok(Some(Made::Linked))
            }
            Ok(None) => Ok(Some(Made::Kept)),
            Err(_) => Ok(None),
        }
    }

    /// Makes a file, symlink or hardlink at `dest` with `make`; when something is
    /// already there, [`Overwrite`] decides: fail, keep it (`None`), or make the new
    /// one beside it to replace it.
    fn create<T>(
        &self,
        id: &Checksum,
        dest: &Path,
        verb: &'static str,
        make: impl Fn(&Path) -> io::Result<T>,
    ) -> Result<Option<(T, Placed)>, Error> {
        let exists = match make(dest) {
            Ok(made) => return Ok(Some((made, Placed { beside: None }))),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => e,
            Err(e) => return Err(io_err(verb, dest)(e).into()),
        };
        match self.options.overwrite {
            Overwrite::Never => Err(io_err(verb, dest)(exists).into()),
            Overwrite::AddFiles => Ok(None),
            Overwrite::UnionIdentical if self.identical(id, dest)? => Ok(None),
            Overwrite::UnionIdentical => Err(io_err(verb, dest)(exists).into()),
            Overwrite::UnionFiles => {
                if fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
                    // With whiteouts a layer may replace a directory wholesale.
                    if self.options.whiteouts {
                        fs::remove_dir_all(dest).map_err(io_err("remove", dest))?;
                        let made = make(dest).map_err(io_err(verb, dest))?;
                        return Ok(Some((made, Placed { beside: None })));
                    }
                    return Err(Error::Unsupported {
                        verb: "replace",
                        path: dest.to_owned(),
                        detail: "it is a directory; the commit has a file there".into(),
                    });
                }
                let mut name = std::ffi::OsString::from(".");
                name.push(dest.file_name().unwrap_or_default());
                name.push(".ferro-union");
                let tmp = dest.with_file_name(name);
                // A leftover of an interrupted checkout.
                let _ = fs::remove_file(&tmp);
                let made = make(&tmp).map_err(io_err(verb, &tmp))?;
                Ok(Some((made, Placed { beside: Some(tmp) })))
            }
        }
    }
}

impl Writer<'_> {
    /// Whether the file at `dest` is what object `id` would check out as: the object's
    /// own inode, a regular file with the same bytes, or a symlink to the same target.
    fn identical(&self, id: &Checksum, dest: &Path) -> Result<bool, Error> {
        use std::os::unix::fs::MetadataExt;
        let Ok(existing) = fs::symlink_metadata(dest) else {
            return Ok(false);
        };
        let object = self.repo.object_path(ObjectType::File, id);
        if let Ok(stored) = fs::symlink_metadata(&object)
            && stored.dev() == existing.dev()
            && stored.ino() == existing.ino()
        {
            return Ok(true);
        }
        let mut content = self.repo.read_content(id)?;
        if content.header.is_symlink() {
            return Ok(existing.file_type().is_symlink()
                && fs::read_link(dest)
                    .is_ok_and(|t| t.as_os_str() == content.header.symlink_target.as_str()));
        }
        if !existing.is_file() || existing.len() != content.size {
            return Ok(false);
        }
        let mut theirs = io::BufReader::new(fs::File::open(dest).map_err(io_err("open", dest))?);
        let (mut a, mut b) = ([0u8; 8192], [0u8; 8192]);
        loop {
            let n = io::Read::read(&mut content.reader, &mut a).map_err(io_err("read", &object))?;
            if n == 0 {
                return Ok(true);
            }
            io::Read::read_exact(&mut theirs, &mut b[..n]).map_err(io_err("read", dest))?;
            if a[..n] != b[..n] {
                return Ok(false);
            }
        }
    }
}

/// The prefix of an AUFS whiteout file, and the opaque-directory marker.
const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";
/// The prefix of OSTree's stored overlayfs whiteout markers.
const PASSTHROUGH: &str = ".ostree-wh.";

/// Removes from `dest` (filled by earlier checkouts) what the whiteouts of `dirtree`
/// name: `.wh.NAME` takes `NAME`, `.wh..wh..opq` everything.
fn apply_whiteouts(dirtree: &crate::object::DirTree, dest: &Path) -> Result<(), Error> {
    let remove = |path: &Path| -> Result<(), Error> {
        let result = match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(path),
            Ok(_) => fs::remove_file(path),
            Err(_) => return Ok(()),
        };
        result.map_err(|e| io_err("remove", path)(e).into())
    };
    for (name, _) in &dirtree.files {
        if name == OPAQUE {
            for entry in fs::read_dir(dest).map_err(io_err("list", dest))? {
                remove(&entry.map_err(io_err("list", dest))?.path())?;
            }
        } else if let Some(target) = name.strip_prefix(WHITEOUT) {
            remove(&dest.join(target))?;
        }
    }
    Ok(())
}

/// An overlayfs whiteout: a character device 0:0, mode 0.
/// As OSTree checks first for a hardlink checkout: the repository and the destination
/// (its nearest existing directory) must be on one filesystem, in OSTree's words.
fn same_device(repo: &Repo, dest: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let src = fs::metadata(repo.path()).map_err(io_err("inspect", repo.path()))?;
    let mut dir = dest;
    let target = loop {
        match fs::metadata(dir) {
            Ok(st) => break st,
            Err(_) => match dir.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => dir = parent,
                _ => break fs::metadata(".").map_err(io_err("inspect", Path::new(".")))?,
            },
        }
    };
    if src.dev() != target.dev() {
        return Err(Error::Unsupported {
            verb: "check out into",
            path: dest.to_owned(),
            detail: format!(
                "Unable to do hardlink checkout across devices (src={} destination={})",
                src.dev(),
                target.dev()
            ),
        });
    }
    Ok(())
}

fn make_whiteout_device(path: &Path, mode: u32) -> Result<(), Error> {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        rustix::fs::makedev(0, 0),
    )
    .map_err(|e| io_err("create whiteout device", path)(e.into()))?;
    // Set after creation: the umask applies to mknod.
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| io_err("set mode of", path)(e).into())
}

/// Copies the bytes of object `id` into `out` (named `shown` in errors), refusing an
/// object with fewer or more bytes than its header says.
fn copy_whole(
    id: &Checksum,
    content: &mut crate::content::Content,
    out: &mut fs::File,
    shown: &Path,
) -> Result<(), Error> {
    let copied = content
        .reader
        .copy_to_file(out)
        .map_err(io_err("write", shown))?;
    if copied != content.size {
        return Err(Error::Unsupported {
            verb: "check out",
            path: shown.to_owned(),
            detail: format!(
                "object {id} has {copied} bytes, its header says {}",
                content.size
            ),
        });
    }
    Ok(())
}

/// Sets recorded xattrs; called after the chown, which would drop `security.capability`.
fn apply_xattrs(node: Node, xattrs: &Xattrs, dest: &Path) -> Result<(), Error> {
    node.write(xattrs)
        .map_err(io_err("set extended attributes of", dest))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commit::{CommitOptions, commit_dir};

    #[test]
    fn round_trip_copy_and_hardlink() {
        let src = tempfile::tempdir().unwrap();
        fs::create_dir(src.path().join("d")).unwrap();
        fs::write(src.path().join("d/x"), b"xx").unwrap();
        fs::set_permissions(src.path().join("d/x"), fs::Permissions::from_mode(0o751)).unwrap();
        std::os::unix::fs::symlink("d/x", src.path().join("l")).unwrap();
        for mode in [RepoMode::Archive, RepoMode::BareUser] {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo::init(&dir.path().join("repo"), mode).unwrap();
            let id = commit_dir(
                &repo,
                src.path(),
                &CommitOptions {
                    timestamp: Some(0),
                    ..Default::default()
                },
            )
            .unwrap()
            .commit;
            let out = dir.path().join("out");
            let options = CheckoutOptions {
                user_mode: true,
                ..Default::default()
            };
            let stats = checkout(&repo, &id, &out, &options).unwrap();
            assert_eq!((stats.symlinks, stats.dirs), (1, 2));
            // Archive: hardlinked from the uncompressed-objects cache, filled on the way.
            assert_eq!(stats.linked, 1);
            let cache = repo.path().join("uncompressed-objects-cache");
            assert_eq!(cache.exists(), mode == RepoMode::Archive);
            let uncached = CheckoutOptions {
                disable_cache: true,
                ..options.clone()
            };
            let out2 = dir.path().join("out2");
            let stats = checkout(&repo, &id, &out2, &uncached).unwrap();
            assert_eq!(stats.copied, u64::from(mode == RepoMode::Archive));
            assert_eq!(fs::read(out.join("d/x")).unwrap(), b"xx");
            assert_eq!(fs::read_link(out.join("l")).unwrap(), Path::new("d/x"));
            if mode == RepoMode::Archive {
                assert_eq!(
                    fs::metadata(out.join("d/x")).unwrap().permissions().mode() & 0o7777,
                    0o751
                );
            }
            let sub = checkout(
                &repo,
                &id,
                &dir.path().join("sub"),
                &CheckoutOptions {
                    subpath: Some("/d".into()),
                    ..options
                },
            );
            assert_eq!(sub.unwrap().dirs, 1);
        }
    }
}
