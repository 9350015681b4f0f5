//! The target root: every path resolves inside it, symlinks included.
//!
//! Ignition writes into a mounted sysroot whose contents it does not control: `/etc` may
//! hold symlinks such as `/root -> /var/roothome`, and a hostile or broken image may hold
//! `/x -> /../../host`. [`Root`] opens the root directory once and resolves every path
//! relative to that descriptor with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`:
//! `..` stops at the root, absolute symlinks in intermediate components are re-rooted in
//! it (what Ignition's path joining does by hand), and `/proc/self/fd`-style magic links
//! are refused. The final component is then acted on with a `*at` syscall that does not
//! follow it, so a symlink at the target path is replaced or reported, never written
//! through.
//!
//! Paths given to [`Root`] are the config's absolute paths (`/etc/hello`); they are
//! cleaned lexically first, so `.` and `..` components never reach the final `*at` call.
//!
//! Files are written by ferrocore's one atomic writer ([`ferro_sys::atomic`]) in the
//! directory this resolution found, and every failure is a [`ferro_sys::IoError`] naming
//! the path as the config does (inside the root), so messages point at the config entry.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use ferro_sys::IoError;
use ferro_sys::atomic::{Collision, DirFd, Durability, TempFile};
use rustix::fs::{self as rfs, AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Uid};
use rustix::io::Errno;

/// The error of `action` on `path` (inside the root) failing with `errno`. `ELOOP` is
/// spelled out: `openat2` also answers it for a symlink that would leave the root, where
/// the bare OS text ("Too many levels of symbolic links") misleads.
fn errno_error(action: &'static str, path: &str, errno: Errno) -> IoError {
    let error = if errno == Errno::LOOP {
        io::Error::other("symlink loop or too many levels of symbolic links (ELOOP)")
    } else {
        io::Error::from(errno)
    };
    IoError::new(action, path, error)
}

/// What kind of node a path is, as far as the files stage cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, FIFO, socket).
    Other,
}

/// The metadata the files stage needs about a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Node type.
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky (`0o7777` mask).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device, to compare inodes.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl Meta {
    fn from_stat(st: &rfs::Stat) -> Meta {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        Meta {
            kind,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            dev: st.st_dev,
            ino: st.st_ino,
        }
    }
}

/// Ownership and mode given to a written file; `None` ids keep the creator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perms {
    /// Owner, or the creating process's.
    pub uid: Option<u32>,
    /// Group, or the creating process's.
    pub gid: Option<u32>,
    /// Permission bits (`0o7777` mask: setuid/setgid/sticky included).
    pub mode: u32,
}

/// The target root directory, opened once; all operations stay inside it.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    host: PathBuf,
}

/// How often `openat2` is retried on `EAGAIN` (a concurrent rename in the root).
const EAGAIN_RETRIES: usize = 16;

/// The components of `path` after lexical cleaning (`.` dropped, `..` pops, stopping at
/// the root), as Ignition's path joining does before touching the filesystem.
fn components(path: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// `path` cleaned to an absolute path (`/a/../b/` → `/b`), for messages and comparisons.
pub fn clean(path: &str) -> String {
    format!("/{}", components(path).join("/"))
}

/// The parent directory of `path`, cleaned (`/` for top-level entries and `/` itself).
pub fn parent(path: &str) -> String {
    let comps = components(path);
    match comps.split_last() {
        Some((_, init)) => format!("/{}", init.join("/")),
        None => "/".to_string(),
    }
}

/// The parent directory's descriptor and the final component of a path.
struct Located {
    dir: OwnedFd,
    name: String,
}

impl Root {
    /// Opens the root directory `path` (which must exist and be a directory).
    pub fn open(path: &Path) -> Result<Root, IoError> {
        let shown = path.display().to_string();
        let fd = rfs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| errno_error("open root directory", &shown, e))?;
        Ok(Root {
            fd,
            host: path.to_path_buf(),
        })
    }

    /// The root directory as given to [`Root::open`] (for messages only: never joined with
    /// config paths, which would bypass the confinement).
    pub fn host_path(&self) -> &Path {
        &self.host
    }

    /// Opens the directory at the relative, cleaned `rel` inside the root, following
    /// symlinks confined to the root.
    fn open_dir(&self, rel: &str) -> Result<OwnedFd, Errno> {
        self.open_in_root(rel, OFlags::RDONLY | OFlags::DIRECTORY)
    }

    fn open_in_root(&self, rel: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
        let p = if rel.is_empty() { "." } else { rel };
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        let mut tries = 0;
        loop {
            match rfs::openat2(&self.fd, p, flags | OFlags::CLOEXEC, Mode::empty(), resolve) {
                Err(Errno::AGAIN) if tries < EAGAIN_RETRIES => tries += 1,
                other => return other,
            }
        }
    }

    /// The parent's descriptor and the final component; `None` for the root itself.
    fn locate(&self, path: &str) -> Result<Option<Located>, Errno> {
        let comps = components(path);
        let Some((name, init)) = comps.split_last() else {
            return Ok(None);
        };
        let dir = self.open_dir(&init.join("/"))?;
        Ok(Some(Located {
            dir,
            name: (*name).to_string(),
        }))
    }

    /// Like [`Root::locate`], but the root itself is an error (`EINVAL`) for `verb`.
    fn locate_named(&self, path: &str, verb: &'static str) -> Result<Located, IoError> {
        match self.locate(path) {
            Ok(Some(l)) => Ok(l),
            Ok(None) => Err(IoError::new(
                verb,
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "the root directory itself"),
            )),
            Err(e) => Err(errno_error(verb, path, e)),
        }
    }

    /// The node at `path` without following a final symlink; `None` if it does not exist.
    pub fn lstat(&self, path: &str) -> Result<Option<Meta>, IoError> {
        const VERB: &str = "stat";
        let located = match self.locate(path) {
            Ok(Some(l)) => l,
            Ok(None) => {
                let st = rfs::fstat(&self.fd).map_err(|e| errno_error(VERB, path, e))?;
                return Ok(Some(Meta::from_stat(&st)));
            }
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(errno_error(VERB, path, e)),
        };
        match rfs::statat(
            &located.dir,
            located.name.as_str(),
            AtFlags::SYMLINK_NOFOLLOW,
        ) {
            Ok(st) => Ok(Some(Meta::from_stat(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(errno_error(VERB, path, e)),
        }
    }

    /// The node at `path`, following symlinks inside the root; `None` if it does not
    /// exist (a dangling symlink included).
    pub fn stat(&self, path: &str) -> Result<Option<Meta>, IoError> {
        match self.open_in_root(&components(path).join("/"), OFlags::PATH) {
            Ok(fd) => {
                let st = rfs::fstat(&fd).map_err(|e| errno_error("stat", path, e))?;
                Ok(Some(Meta::from_stat(&st)))
            }
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(errno_error("stat", path, e)),
        }
    }

    /// `mkdir -p`: creates `path` and missing parents with `mode` (applied exactly, not
    /// masked by the umask) and, if given, `owner`. Existing directories (or symlinks to
    /// directories inside the root) are kept as they are. Returns the created paths,
    /// outermost first.
    pub fn create_dir_all(
        &self,
        path: &str,
        mode: u32,
        owner: Option<(u32, u32)>,
    ) -> Result<Vec<String>, IoError> {
        self.create_dir_all_through_links(path, mode, owner, 0)
    }

    /// [`Root::create_dir_all`], following dangling symlinks met on the way by creating
    /// their targets inside the root (as Ignition's MkdirAll over its resolved path
    /// does); `hops` counts the links followed, to stop at a loop.
    fn create_dir_all_through_links(
        &self,
        path: &str,
        mode: u32,
        owner: Option<(u32, u32)>,
        hops: usize,
    ) -> Result<Vec<String>, IoError> {
        const VERB: &str = "create directory";
        const MAX_HOPS: usize = 40;
        let comps = components(path);
        // Find the deepest existing ancestor, then create downwards from it.
        let mut existing = comps.len();
        loop {
            match self.open_dir(&comps[..existing].join("/")) {
                Ok(_) => break,
                Err(Errno::NOENT) if existing > 0 => existing -= 1,
                Err(e) => {
                    return Err(errno_error(
                        VERB,
                        &format!("/{}", comps[..existing].join("/")),
                        e,
                    ));
                }
            }
        }
        let mut created = Vec::new();
        for depth in existing..comps.len() {
            let shown = format!("/{}", comps[..=depth].join("/"));
            let parent = self
                .open_dir(&comps[..depth].join("/"))
                .map_err(|e| errno_error(VERB, &shown, e))?;
            match rfs::mkdirat(&parent, comps[depth], Mode::from_raw_mode(mode & 0o777)) {
                Ok(()) => {}
                Err(Errno::EXIST) => {
                    // Raced, or a dangling symlink whose target must be created first.
                    if let Ok(target) = rfs::readlinkat(&parent, comps[depth], Vec::new()) {
                        if hops >= MAX_HOPS {
                            return Err(errno_error(VERB, &shown, Errno::LOOP));
                        }
                        let target = target.to_string_lossy().into_owned();
                        let resolved = if target.starts_with('/') {
                            target
                        } else {
                            format!("/{}/{target}", comps[..depth].join("/"))
                        };
                        created.extend(self.create_dir_all_through_links(
                            &resolved,
                            mode,
                            owner,
                            hops + 1,
                        )?);
                    }
                }
                Err(e) => return Err(errno_error(VERB, &shown, e)),
            }
            let dir = self
                .open_dir(&comps[..=depth].join("/"))
                .map_err(|e| errno_error(VERB, &shown, e))?;
            if let Some((uid, gid)) = owner {
                rfs::fchown(&dir, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                    .map_err(|e| errno_error("change owner of", &shown, e))?;
            }
            rfs::fchmod(&dir, Mode::from_raw_mode(mode))
                .map_err(|e| errno_error("change mode of", &shown, e))?;
            created.push(shown);
        }
        Ok(created)
    }

    /// Writes `data` to `path` atomically with ferrocore's one atomic writer
    /// ([`ferro_sys::atomic`]): a new file in the directory the root-confined resolution
    /// found gets the data, owner and mode (chown before chmod so setuid/setgid survive)
    /// and is then named `path` — a file appears complete or not at all. Whatever was at
    /// `path` (a symlink included) is replaced, never written through. The parent
    /// directory must exist. On failure `path` is untouched and no temp file stays.
    /// Durability is [`Root::sync`]'s job, once for a whole stage: an fsync per file made
    /// provisioning many files several times slower.
    pub fn write_file(&self, path: &str, data: &[u8], perms: Perms) -> Result<(), IoError> {
        const VERB: &str = "write file";
        // Every step fails as "could not write file PATH", whatever step it was.
        let fail = |e: IoError| IoError::new(VERB, path, e.source);
        let at = self.locate_named(path, VERB)?;
        let shown = Path::new(path);
        let mut temp =
            TempFile::new_in(DirFd::Borrowed(at.dir.as_fd()), shown, 0o600).map_err(fail)?;
        let file = temp.file();
        file.write_all(data)
            .map_err(|e| IoError::new(VERB, path, e))?;
        if perms.uid.is_some() || perms.gid.is_some() {
            rfs::fchown(
                &*file,
                perms.uid.map(Uid::from_raw),
                perms.gid.map(Gid::from_raw),
            )
            .map_err(|e| errno_error("change owner of", path, e))?;
        }
        rfs::fchmod(&*file, Mode::from_raw_mode(perms.mode))
            .map_err(|e| errno_error("change mode of", path, e))?;
        // A single name component in the resolved directory: the final component is
        // never followed, and the resolution stays confined to the root.
        temp.publish_in(
            at.dir.as_fd(),
            Path::new(&at.name),
            shown,
            Collision::Replace,
            Durability::Deferred,
        )
        .map(drop)
        .map_err(|(_, e)| fail(e))
    }

    /// Flushes everything written to the root's filesystem to disk (`syncfs`): the
    /// durability point of a stage, before it reports success.
    pub fn sync(&self) -> Result<(), IoError> {
        rfs::syncfs(&self.fd).map_err(|e| errno_error("sync", "/", e))
    }

    /// Appends `data` to the regular file at `path`, creating it with `create_mode` if
    /// missing. A symlink at `path` is an error, not followed.
    pub fn append(&self, path: &str, data: &[u8], create_mode: u32) -> Result<(), IoError> {
        const VERB: &str = "append to file";
        let at = self.locate_named(path, VERB)?;
        let flags = OFlags::WRONLY
            | OFlags::APPEND
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::NOCTTY
            | OFlags::CLOEXEC;
        let fd = rfs::openat(
            &at.dir,
            at.name.as_str(),
            flags,
            Mode::from_raw_mode(create_mode),
        )
        .map_err(|e| errno_error(VERB, path, e))?;
        let st = rfs::fstat(&fd).map_err(|e| errno_error(VERB, path, e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(IoError::new(
                VERB,
                path,
                io::Error::other("not a regular file"),
            ));
        }
        let mut file = std::fs::File::from(fd);
        file.write_all(data)
            .map_err(|e| IoError::new(VERB, path, e))
    }

    /// Creates a symlink at `path` whose text is `target`, verbatim (not re-rooted: it is
    /// resolved by the booted system, where the root is `/`).
    pub fn symlink(&self, path: &str, target: &str) -> Result<(), IoError> {
        const VERB: &str = "create symlink";
        let at = self.locate_named(path, VERB)?;
        rfs::symlinkat(target, &at.dir, at.name.as_str()).map_err(|e| errno_error(VERB, path, e))
    }

    /// Creates a hard link at `path` to `target`, both resolved inside the root; a
    /// symlink at `target` is linked itself, not followed.
    pub fn hard_link(&self, path: &str, target: &str) -> Result<(), IoError> {
        const VERB: &str = "create hard link";
        let to = self.locate_named(target, VERB)?;
        let at = self.locate_named(path, VERB)?;
        rfs::linkat(
            &to.dir,
            to.name.as_str(),
            &at.dir,
            at.name.as_str(),
            AtFlags::empty(),
        )
        .map_err(|e| errno_error(VERB, path, e))
    }

    /// Renames `from` to `to` (both inside the root; neither final component followed).
    pub fn rename(&self, from: &str, to: &str) -> Result<(), IoError> {
        const VERB: &str = "rename";
        let src = self.locate_named(from, VERB)?;
        let dst = self.locate_named(to, VERB)?;
        rfs::renameat(&src.dir, src.name.as_str(), &dst.dir, dst.name.as_str())
            .map_err(|e| errno_error(VERB, from, e))
    }

    /// Changes the owner of `path` without following a final symlink (`lchown`); `None`
    /// keeps the current id.
    pub fn chown(&self, path: &str, uid: Option<u32>, gid: Option<u32>) -> Result<(), IoError> {
        const VERB: &str = "change owner of";
        let (uid, gid) = (uid.map(Uid::from_raw), gid.map(Gid::from_raw));
        match self.locate(path) {
            Ok(Some(at)) => rfs::chownat(
                &at.dir,
                at.name.as_str(),
                uid,
                gid,
                AtFlags::SYMLINK_NOFOLLOW,
            ),
            Ok(None) => rfs::fchown(&self.fd, uid, gid),
            Err(e) => Err(e),
        }
        .map_err(|e| errno_error(VERB, path, e))
    }

    /// Sets the permission bits of the file or directory at `path`, setuid/setgid/sticky
    /// included. A symlink at `path` is an error (symlinks have no mode of their own); the
    /// node is opened without following it, so the change cannot land elsewhere.
    pub fn chmod(&self, path: &str, mode: u32) -> Result<(), IoError> {
        const VERB: &str = "change mode of";
        let fd = match self.locate(path) {
            Ok(Some(at)) => rfs::openat(
                &at.dir,
                at.name.as_str(),
                OFlags::RDONLY
                    | OFlags::NOFOLLOW
                    | OFlags::NONBLOCK
                    | OFlags::NOCTTY
                    | OFlags::CLOEXEC,
                Mode::empty(),
            ),
            Ok(None) => self.open_dir(""),
            Err(e) => Err(e),
        }
        .map_err(|e| errno_error(VERB, path, e))?;
        rfs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| errno_error(VERB, path, e))
    }

    /// Removes `path` and, for a directory, everything below it (`os.RemoveAll`). A
    /// symlink is removed itself; nothing is followed. Returns whether anything existed.
    pub fn remove_all(&self, path: &str) -> Result<bool, IoError> {
        const VERB: &str = "remove";
        let at = self.locate_named(path, VERB);
        let at = match at {
            Ok(at) => at,
            Err(e) if e.source.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => {
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        remove_entry(&at.dir, &at.name).map_err(|e| errno_error(VERB, path, e))
    }

    /// Reads the file at `path` (symlinks followed inside the root); `None` if missing.
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, IoError> {
        const VERB: &str = "read";
        let fd =
            match self.open_in_root(&components(path).join("/"), OFlags::RDONLY | OFlags::NOCTTY) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => return Ok(None),
                Err(e) => return Err(errno_error(VERB, path, e)),
            };
        let mut data = Vec::new();
        std::fs::File::from(fd)
            .read_to_end(&mut data)
            .map_err(|e| IoError::new(VERB, path, e))?;
        Ok(Some(data))
    }

    /// The text of the symlink at `path`.
    pub fn read_link(&self, path: &str) -> Result<String, IoError> {
        const VERB: &str = "read symlink";
        let at = self.locate_named(path, VERB)?;
        let text = rfs::readlinkat(&at.dir, at.name.as_str(), Vec::new())
            .map_err(|e| errno_error(VERB, path, e))?;
        Ok(text.to_string_lossy().into_owned())
    }

    /// The entries of the directory at `path` (symlinks followed inside the root), sorted
    /// by name; empty if it does not exist.
    pub fn read_dir(&self, path: &str) -> Result<Vec<(String, Kind)>, IoError> {
        const VERB: &str = "read directory";
        let fd = match self.open_dir(&components(path).join("/")) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(Vec::new()),
            Err(e) => return Err(errno_error(VERB, path, e)),
        };
        let mut out = Vec::new();
        for (name, st) in list(&fd).map_err(|e| errno_error(VERB, path, e))? {
            out.push((name, Meta::from_stat(&st).kind));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// The entries of an open directory (without `.`/`..`) with their `lstat` data.
fn list(dir: &OwnedFd) -> Result<Vec<(String, rfs::Stat)>, Errno> {
    let mut out = Vec::new();
    for entry in rfs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        let st = rfs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        out.push((name, st));
    }
    Ok(out)
}

/// Removes `name` in `dir`, recursively for directories, descending by descriptor only.
fn remove_entry(dir: &impl AsFd, name: &str) -> Result<bool, Errno> {
    let st = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(false),
        Err(e) => return Err(e),
    };
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let sub = rfs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        for (child, _) in list(&sub)? {
            remove_entry(&sub, &child)?;
        }
        rfs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    } else {
        rfs::unlinkat(dir, name, AtFlags::empty())?;
    }
    Ok(true)
}

#[cfg(test)]
/// Tests only: whether ownership can be set and checked; says so when it cannot.
pub(crate) fn as_root() -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("not root: skipping ownership assertions");
    }
    root
}

#[cfg(test)]
mod tests;
