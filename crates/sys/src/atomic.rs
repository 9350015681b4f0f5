//! The one atomic file writer.
//!
//! A file is written while it has no name and named only once complete, so readers see
//! the previous content or the new one, never a part, and a crash leaves nothing behind
//! that anyone would read.
//!
//! **Fallback policy**, the same for every writer of ferrocore:
//! 1. An unnamed file (`O_TMPFILE`) in the target's directory. It vanishes by itself if
//!    the writer stops before naming it, and a new file costs one directory insertion.
//!    It is used only where it can be named: linking by descriptor (`AT_EMPTY_PATH`)
//!    needs `CAP_DAC_READ_SEARCH`, so an unprivileged writer (a bare-user repository, a
//!    user's output file) links through `/proc/self/fd/N` instead, as libglnx does. The
//!    first refusal of the descriptor form is remembered for the process.
//! 2. Where the filesystem refuses `O_TMPFILE`, or `/proc` is not mounted, a named
//!    temporary file beside the target (`.ferro-tmp-PID-N`, created exclusively, so two
//!    writers never share one) and a rename; it is removed if the write fails.
//!
//! **Collisions** are named by the caller: [`Collision::Keep`] (create-only) leaves an
//! existing target alone and reports [`Published::Existed`] — content-addressed objects
//! are the same whoever stored them; [`Collision::Replace`] puts the new file over
//! whatever is there (a symlink included, which is replaced, never written through).
//!
//! **Durability** is explicit ([`Durability`]): callers that sync a whole filesystem at
//! their commit point (`syncfs`) skip the per-file fsync, which made writing many small
//! files several times slower.
//!
//! **Confinement**: [`TempFile::new_in`] and [`TempFile::publish_in`] work relative to
//! directory descriptors and take a single name component, so a caller that resolved a
//! directory inside a root (`openat2(RESOLVE_IN_ROOT)`) never leaves it.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use rustix::io::Errno;

use crate::error::IoError;

/// What happens when the target name already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collision {
    /// Create-only: an existing target is kept and the new file discarded.
    Keep,
    /// The new file replaces the target.
    Replace,
}

/// Whether the new file reaches the disk before it is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// No fsync here: the caller syncs the filesystem at its own commit point.
    Deferred,
    /// The file is fsynced before it is named, and its directory after.
    Sync,
}

/// How a published file met its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The name was free and now holds the file.
    Created,
    /// The name held something, which the file replaced.
    Replaced,
    /// The name was taken and kept ([`Collision::Keep`]); the file was discarded.
    Existed,
}

/// A directory descriptor, borrowed from a long-lived cache or owned for one write.
#[derive(Debug)]
pub enum DirFd<'d> {
    /// Borrowed (e.g. a repository's cached `tmp/` or fan-out directory).
    Borrowed(BorrowedFd<'d>),
    /// Opened for this write.
    Owned(OwnedFd),
}

impl AsFd for DirFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DirFd::Borrowed(fd) => *fd,
            DirFd::Owned(fd) => fd.as_fd(),
        }
    }
}

/// `/proc/self/fd`, through which an unnamed file is linked without privileges.
fn proc_fd_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| Path::new("/proc/self/fd").is_dir())
}

/// Whether linking by descriptor (`AT_EMPTY_PATH`) works in this process; cleared at
/// its first refusal.
static LINK_BY_DESCRIPTOR: AtomicBool = AtomicBool::new(true);

/// Opens `path` as a directory handle for [`TempFile::new_in`] and friends.
pub fn open_dir(path: &Path) -> Result<OwnedFd, IoError> {
    let flags = OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC;
    rustix::fs::openat(CWD, path, flags, Mode::empty())
        .map_err(|e| IoError::new("open directory", path, e.into()))
}

/// A file being written, not yet visible under its name.
#[derive(Debug)]
pub struct TempFile<'d> {
    file: File,
    dir: DirFd<'d>,
    /// The temporary name in `dir` in the named fallback; removed on drop unless
    /// published.
    named: Option<String>,
    /// What error messages name: the directory (unnamed file) or the temporary file.
    shown: PathBuf,
}

/// How every temporary name begins.
const TEMP_PREFIX: &str = ".ferro-tmp-";

/// The directory `path` is in: its parent, or `.` for a bare name.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The last component of `path`, which a writer by path names; `action` is what fails
/// when there is none (`/`, `..`).
fn file_name<'p>(path: &'p Path, action: &'static str) -> Result<&'p OsStr, IoError> {
    path.file_name().ok_or_else(|| {
        IoError::new(
            action,
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        )
    })
}

/// A fresh temporary name: process id and a counter, unique within the process.
fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{TEMP_PREFIX}{}-{n}", std::process::id())
}

/// Whether `name` is one of this module's temporary names: what a writer that was
/// killed between creating and naming (the named fallback, [`replace_symlink`]) leaves
/// behind, for a cleanup to remove.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

impl<'d> TempFile<'d> {
    /// A new, empty file with permission bits `mode` in the directory `dir` (shown as
    /// `shown` in errors), to fill through [`TempFile::file`] and then publish.
    pub fn new_in(dir: DirFd<'d>, shown: &Path, mode: u32) -> Result<Self, IoError> {
        TempFile::create(dir, shown, mode, OFlags::WRONLY)
    }

    /// [`TempFile::new_in`] for a file that is also read back before it is published:
    /// a download that must be verified (hashed, unpacked) before it gets its name.
    pub fn new_readable_in(dir: DirFd<'d>, shown: &Path, mode: u32) -> Result<Self, IoError> {
        TempFile::create(dir, shown, mode, OFlags::RDWR)
    }

    /// An unnamed file opened with `access`, or the named fallback.
    fn create(dir: DirFd<'d>, shown: &Path, mode: u32, access: OFlags) -> Result<Self, IoError> {
        if proc_fd_available() {
            let flags = access | OFlags::TMPFILE | OFlags::CLOEXEC;
            match rustix::fs::openat(&dir, ".", flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => {
                    return Ok(TempFile {
                        file: File::from(fd),
                        dir,
                        named: None,
                        shown: shown.to_owned(),
                    });
                }
                // Not supported by this filesystem or kernel (old kernels see
                // O_DIRECTORY and answer EISDIR): a named file instead.
                Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {}
                Err(e) => return Err(IoError::new("create a temporary file in", shown, e.into())),
            }
        }
        TempFile::new_named_in(dir, shown, mode, access)
    }

    /// The fallback of [`TempFile::new_in`]: a named file, created exclusively.
    fn new_named_in(
        dir: DirFd<'d>,
        shown: &Path,
        mode: u32,
        access: OFlags,
    ) -> Result<Self, IoError> {
        let flags = access | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        loop {
            let name = temp_name();
            match rustix::fs::openat(&dir, name.as_str(), flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => {
                    return Ok(TempFile {
                        file: File::from(fd),
                        shown: shown.join(&name),
                        dir,
                        named: Some(name),
                    });
                }
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(IoError::new("create a temporary file in", shown, e.into())),
            }
        }
    }

    /// A new file in the directory of `path`, for writers that go by path.
    pub fn for_path(path: &Path, mode: u32) -> Result<TempFile<'static>, IoError> {
        let parent = parent_dir(path);
        TempFile::new_in(DirFd::Owned(open_dir(parent)?), parent, mode)
    }

    /// The open file, to write, `fchown` or `fchmod`.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The path error messages name for this file.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// Writes `bytes` to the file.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        self.file
            .write_all(bytes)
            .map_err(|e| IoError::new("write", &self.shown, e))
    }

    /// Flushes the file's data and metadata to disk.
    pub fn sync(&self) -> Result<(), IoError> {
        self.file
            .sync_all()
            .map_err(|e| IoError::new("sync", &self.shown, e))
    }

    /// Publishes the file as `name` in its own directory.
    pub fn publish(
        self,
        name: &str,
        collision: Collision,
        durability: Durability,
    ) -> Result<Published, IoError> {
        let target = self
            .dir
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| IoError::new("open directory", &self.shown, e))?;
        let shown = self.shown.join(name);
        self.publish_in(
            target.as_fd(),
            Path::new(name),
            &shown,
            collision,
            durability,
        )
        .map_err(|(_, e)| e)
    }

    /// Publishes the file as `name` in the directory `target` (on the same filesystem
    /// as the one it was created in; `shown` names the result in errors). On failure the
    /// file comes back with the error, so a caller can mend the cause (create a missing
    /// directory) and try again; dropping it leaves nothing behind.
    pub fn publish_in(
        mut self,
        target: BorrowedFd<'_>,
        name: &Path,
        shown: &Path,
        collision: Collision,
        durability: Durability,
    ) -> Result<Published, (Self, IoError)> {
        if durability == Durability::Sync
            && let Err(e) = self.sync()
        {
            return Err((self, e));
        }
        let result = match (self.named.clone(), collision) {
            (None, Collision::Keep) => match self.link(target, name) {
                Ok(()) => Ok(Published::Created),
                Err(Errno::EXIST) => Ok(Published::Existed),
                Err(e) => Err(e),
            },
            (None, Collision::Replace) => match self.link(target, name) {
                Ok(()) => Ok(Published::Created),
                Err(Errno::EXIST) => self.replace_via_temp_link(target, name),
                Err(e) => Err(e),
            },
            (Some(tmp), collision) => {
                let published = publish_named(self.dir.as_fd(), &tmp, target, name, collision);
                if collision == Collision::Replace && published.is_ok() {
                    // Renamed away: nothing left to remove.
                    self.named = None;
                }
                published
            }
        };
        match finish_publish(result, target, shown, collision, durability) {
            Ok(published) => Ok(published),
            Err(e) => Err((self, e)),
        }
    }

    /// Links the unnamed file at `name` in `target`: by descriptor when allowed, which
    /// saves a walk through `/proc`, otherwise through `/proc/self/fd`.
    fn link(&self, target: BorrowedFd<'_>, name: &Path) -> Result<(), Errno> {
        if LINK_BY_DESCRIPTOR.load(Ordering::Relaxed) {
            match rustix::fs::linkat(&self.file, "", target, name, AtFlags::EMPTY_PATH) {
                // Not allowed, or the directory is gone: `/proc` tells which.
                Err(Errno::NOENT | Errno::PERM) => {}
                other => return other,
            }
        }
        let source = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        rustix::fs::linkat(CWD, &source, target, name, AtFlags::SYMLINK_FOLLOW)?;
        LINK_BY_DESCRIPTOR.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Replaces `name` with the unnamed file: linked under a temporary name first, then
    /// renamed over the target (a rename is the one atomic replacement).
    fn replace_via_temp_link(
        &self,
        target: BorrowedFd<'_>,
        name: &Path,
    ) -> Result<Published, Errno> {
        let tmp = loop {
            let tmp = temp_name();
            match self.link(target, Path::new(&tmp)) {
                Ok(()) => break tmp,
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(e),
            }
        };
        rustix::fs::renameat(target, tmp.as_str(), target, name)
            .map(|()| Published::Replaced)
            .inspect_err(|_| {
                let _ = rustix::fs::unlinkat(target, tmp.as_str(), AtFlags::empty());
            })
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if let Some(tmp) = &self.named {
            // Best effort: the error being reported matters more than a cleanup failure.
            let _ = rustix::fs::unlinkat(&self.dir, tmp.as_str(), AtFlags::empty());
        }
    }
}

/// fsyncs the directory `dir`, so the names just made in it survive a crash. A handle
/// opened with `O_PATH` (as [`open_dir`] opens them) cannot be synced itself (`EBADF`),
/// so the directory is then opened again for reading.
fn sync_dir(dir: BorrowedFd<'_>) -> Result<(), Errno> {
    match rustix::fs::fsync(dir) {
        Err(Errno::BADF) => {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            rustix::fs::fsync(rustix::fs::openat(dir, ".", flags, Mode::empty())?)
        }
        other => other,
    }
}

/// A symlink made under a temporary name, given its own name only once it is complete:
/// an OSTree `bare` repository sets a symlink object's owner and extended attributes
/// first, and a boot-version switch ([`replace_symlink`]) needs the swap to be one
/// rename. The temporary name is one of [`TempFile`]'s (`.ferro-tmp-PID-N`, created
/// exclusively); it is removed on drop unless published.
#[derive(Debug)]
pub struct TempSymlink<'d> {
    dir: DirFd<'d>,
    /// The temporary name in `dir`; `None` once renamed away.
    name: Option<String>,
    /// The directory as shown in errors, joined with the temporary name.
    shown: PathBuf,
}

impl<'d> TempSymlink<'d> {
    /// A new symlink to `target` under a fresh temporary name in `dir` (shown as `shown`
    /// in errors).
    pub fn new_in(dir: DirFd<'d>, shown: &Path, target: &Path) -> Result<Self, IoError> {
        loop {
            let name = temp_name();
            match rustix::fs::symlinkat(target, &dir, name.as_str()) {
                Ok(()) => {
                    return Ok(TempSymlink {
                        shown: shown.join(&name),
                        dir,
                        name: Some(name),
                    });
                }
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(IoError::new("create a symlink in", shown, e.into())),
            }
        }
    }

    /// The symlink's temporary path: `shown` of [`TempSymlink::new_in`] joined with its
    /// temporary name, so a caller that passed the real directory can `lchown` it or
    /// set its extended attributes by path.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// Gives the symlink the name `name` in the directory `target` (same filesystem),
    /// as [`TempFile::publish_in`] does for files: [`Collision::Keep`] leaves an
    /// existing name alone (a hard link of the symlink itself, which fails on a taken
    /// name), [`Collision::Replace`] renames over it. On failure the symlink comes back
    /// with the error, so the caller can mend the cause and try again.
    pub fn publish_in(
        mut self,
        target: BorrowedFd<'_>,
        name: &Path,
        shown: &Path,
        collision: Collision,
        durability: Durability,
    ) -> Result<Published, (Self, IoError)> {
        let tmp = self.name.clone().unwrap_or_default();
        let result = publish_named(self.dir.as_fd(), &tmp, target, name, collision);
        if collision == Collision::Replace && result.is_ok() {
            self.name = None;
        }
        match finish_publish(result, target, shown, collision, durability) {
            Ok(published) => Ok(published),
            Err(e) => Err((self, e)),
        }
    }
}

/// Gives the entry `tmp` of `dir` (a named temporary file or symlink) the name `name` in
/// `target`. [`Collision::Keep`] links it, since a hard link fails on an existing name on
/// every filesystem, where `renameat2(RENAME_NOREPLACE)` is not supported by all (the
/// temporary name stays, for the caller's drop to remove); [`Collision::Replace`]
/// renames it over the target.
fn publish_named(
    dir: BorrowedFd<'_>,
    tmp: &str,
    target: BorrowedFd<'_>,
    name: &Path,
    collision: Collision,
) -> Result<Published, Errno> {
    match collision {
        Collision::Keep => match rustix::fs::linkat(dir, tmp, target, name, AtFlags::empty()) {
            Ok(()) => Ok(Published::Created),
            Err(Errno::EXIST) => Ok(Published::Existed),
            Err(e) => Err(e),
        },
        Collision::Replace => {
            let existed = rustix::fs::statat(target, name, AtFlags::SYMLINK_NOFOLLOW).is_ok();
            rustix::fs::renameat(dir, tmp, target, name).map(|()| match existed {
                true => Published::Replaced,
                false => Published::Created,
            })
        }
    }
}

/// The end of every publish: with [`Durability::Sync`], the directory `target` is synced
/// so the new name survives a crash; a failure names `shown` and what was attempted.
fn finish_publish(
    result: Result<Published, Errno>,
    target: BorrowedFd<'_>,
    shown: &Path,
    collision: Collision,
    durability: Durability,
) -> Result<Published, IoError> {
    match result {
        Ok(published) => {
            if durability == Durability::Sync
                && let Err(e) = sync_dir(target)
            {
                return Err(IoError::new("sync the directory of", shown, e.into()));
            }
            Ok(published)
        }
        Err(e) => {
            let action = match collision {
                Collision::Keep => "link into place",
                Collision::Replace => "replace",
            };
            Err(IoError::new(action, shown, e.into()))
        }
    }
}

impl Drop for TempSymlink<'_> {
    fn drop(&mut self) {
        if let Some(tmp) = &self.name {
            let _ = rustix::fs::unlinkat(&self.dir, tmp.as_str(), AtFlags::empty());
        }
    }
}

/// Points the symlink `link` at `target` in one step, as a boot-version switch needs:
/// a [`TempSymlink`] beside `link`, renamed over it. Readers see the old target or the
/// new one, never a missing link. Whatever `link` was (a symlink, a file, nothing) is
/// replaced; with [`Durability::Sync`] the directory is synced after the rename.
pub fn replace_symlink(
    target: impl AsRef<Path>,
    link: &Path,
    durability: Durability,
) -> Result<(), IoError> {
    let parent = parent_dir(link);
    let name = file_name(link, "replace")?;
    let dir = open_dir(parent)?;
    let temp = TempSymlink::new_in(DirFd::Borrowed(dir.as_fd()), parent, target.as_ref())?;
    temp.publish_in(
        dir.as_fd(),
        Path::new(name),
        link,
        Collision::Replace,
        Durability::Deferred,
    )
    .map_err(|(_, e)| e)?;
    if durability == Durability::Sync {
        sync_dir(dir.as_fd()).map_err(|e| IoError::new("sync", parent, e.into()))?;
    }
    Ok(())
}

/// How [`write_file`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Permission bits of the new file.
    pub mode: u32,
    /// What an existing target means.
    pub collision: Collision,
    /// Whether the file is synced before it is named.
    pub durability: Durability,
}

impl WriteOptions {
    /// Replace the target, synced: config files, boot entries, outputs.
    pub const fn replace(mode: u32) -> Self {
        WriteOptions {
            mode,
            collision: Collision::Replace,
            durability: Durability::Sync,
        }
    }
}

/// Writes `bytes` to `path` atomically, as `options` say. On failure `path` is
/// untouched and no temporary file stays.
pub fn write_file(path: &Path, bytes: &[u8], options: WriteOptions) -> Result<Published, IoError> {
    write_file_with(path, options, |file| file.write_all(bytes))
}

/// [`write_file`] with the content written by `fill` (streamed output, or a file that
/// needs `fchown` before it is named).
pub fn write_file_with(
    path: &Path,
    options: WriteOptions,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<Published, IoError> {
    let mut temp = TempFile::for_path(path, options.mode)?;
    fill(temp.file()).map_err(|e| IoError::new("write", path, e))?;
    // The umask applied at creation; the caller asked for exactly these bits.
    rustix::fs::fchmod(temp.file.as_fd(), Mode::from_raw_mode(options.mode))
        .map_err(|e| IoError::new("set the mode of", path, e.into()))?;
    let name = file_name(path, "write")?;
    let dir = temp
        .dir
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| IoError::new("open directory", path, e))?;
    temp.publish_in(
        dir.as_fd(),
        Path::new(name),
        path,
        options.collision,
        options.durability,
    )
    .map_err(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replace_writes_whole_files_with_the_mode_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let first = write_file(&path, b"one", WriteOptions::replace(0o600)).unwrap();
        assert_eq!(first, Published::Created);
        let second = write_file(&path, b"two", WriteOptions::replace(0o640)).unwrap();
        assert_eq!(second, Published::Replaced);
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        assert_eq!(entries(dir.path()), ["out.json"], "no temporary file stays");
    }

    #[test]
    fn replace_swaps_a_symlink_instead_of_writing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        write_file(&link, b"new", WriteOptions::replace(0o644)).unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        assert!(fs::symlink_metadata(&link).unwrap().is_file());
    }

    #[test]
    fn create_only_keeps_what_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let fd = open_dir(dir.path()).unwrap();
        for (data, expected) in [
            (&b"first"[..], Published::Created),
            (b"second", Published::Existed),
        ] {
            let mut temp =
                TempFile::new_in(DirFd::Borrowed(fd.as_fd()), dir.path(), 0o644).unwrap();
            temp.write_all(data).unwrap();
            let got = temp
                .publish_in(
                    fd.as_fd(),
                    Path::new("obj"),
                    &dir.path().join("obj"),
                    Collision::Keep,
                    Durability::Deferred,
                )
                .map_err(|(_, e)| e)
                .unwrap();
            assert_eq!(got, expected);
        }
        assert_eq!(fs::read(dir.path().join("obj")).unwrap(), b"first");
        assert_eq!(entries(dir.path()), ["obj"]);
    }

    #[test]
    fn a_failed_publish_returns_the_file_to_retry_and_a_dropped_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let fd = open_dir(dir.path()).unwrap();
        let mut temp = TempFile::new_in(DirFd::Borrowed(fd.as_fd()), dir.path(), 0o644).unwrap();
        temp.write_all(b"data").unwrap();
        let (temp, error) = temp
            .publish_in(
                fd.as_fd(),
                Path::new("sub/obj"),
                Path::new("sub/obj"),
                Collision::Keep,
                Durability::Sync,
            )
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        fs::create_dir(dir.path().join("sub")).unwrap();
        temp.publish_in(
            fd.as_fd(),
            Path::new("sub/obj"),
            Path::new("sub/obj"),
            Collision::Keep,
            Durability::Sync,
        )
        .map_err(|(_, e)| e)
        .unwrap();
        assert_eq!(fs::read(dir.path().join("sub/obj")).unwrap(), b"data");

        let mut dropped = TempFile::new_in(DirFd::Borrowed(fd.as_fd()), dir.path(), 0o644).unwrap();
        dropped.write_all(b"never named").unwrap();
        drop(dropped);
        assert_eq!(entries(dir.path()), ["sub"]);
    }

    #[test]
    fn the_named_fallback_publishes_and_cleans_up_alike() {
        let dir = tempfile::tempdir().unwrap();
        let fd = open_dir(dir.path()).unwrap();
        let named = |data: &[u8]| {
            let mut temp = TempFile::new_named_in(
                DirFd::Borrowed(fd.as_fd()),
                dir.path(),
                0o644,
                OFlags::WRONLY,
            )
            .unwrap();
            temp.write_all(data).unwrap();
            temp
        };
        let publish = |temp: TempFile<'_>, collision| {
            temp.publish_in(
                fd.as_fd(),
                Path::new("f"),
                Path::new("f"),
                collision,
                Durability::Sync,
            )
            .map_err(|(_, e)| e)
            .unwrap()
        };
        assert_eq!(publish(named(b"1"), Collision::Keep), Published::Created);
        assert_eq!(publish(named(b"2"), Collision::Keep), Published::Existed);
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"1");
        assert_eq!(
            publish(named(b"3"), Collision::Replace),
            Published::Replaced
        );
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"3");
        drop(named(b"dropped"));
        assert_eq!(entries(dir.path()), ["f"]);
    }

    #[test]
    fn a_readable_file_is_read_back_before_it_is_named() {
        use std::io::{Read, Seek};
        let dir = tempfile::tempdir().unwrap();
        let fd = open_dir(dir.path()).unwrap();
        let mut temp =
            TempFile::new_readable_in(DirFd::Borrowed(fd.as_fd()), dir.path(), 0o644).unwrap();
        temp.write_all(b"download").unwrap();
        let mut back = String::new();
        temp.file().rewind().unwrap();
        temp.file().read_to_string(&mut back).unwrap();
        assert_eq!(back, "download");
        temp.publish("got", Collision::Keep, Durability::Deferred)
            .unwrap();
        assert_eq!(fs::read(dir.path().join("got")).unwrap(), b"download");
        assert_eq!(entries(dir.path()), ["got"]);
    }

    #[test]
    fn a_temporary_symlink_is_kept_or_replaced_and_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let fd = open_dir(dir.path()).unwrap();
        let publish = |target: &str, collision| {
            let temp =
                TempSymlink::new_in(DirFd::Borrowed(fd.as_fd()), dir.path(), Path::new(target))
                    .unwrap();
            assert!(fs::symlink_metadata(temp.shown()).unwrap().is_symlink());
            temp.publish_in(
                fd.as_fd(),
                Path::new("link"),
                &dir.path().join("link"),
                collision,
                Durability::Sync,
            )
            .map_err(|(_, e)| e)
            .unwrap()
        };
        let link = dir.path().join("link");
        assert_eq!(publish("one", Collision::Keep), Published::Created);
        assert_eq!(publish("two", Collision::Keep), Published::Existed);
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("one"));
        assert_eq!(publish("three", Collision::Replace), Published::Replaced);
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("three"));
        let dropped =
            TempSymlink::new_in(DirFd::Borrowed(fd.as_fd()), dir.path(), Path::new("x")).unwrap();
        drop(dropped);
        assert_eq!(entries(dir.path()), ["link"]);
    }

    #[test]
    fn a_failed_fill_leaves_the_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, b"old").unwrap();
        let error = write_file_with(&path, WriteOptions::replace(0o644), |file| {
            file.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("could not write '{}'", path.display())
        );
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(entries(dir.path()), ["config"]);
    }

    #[test]
    fn replace_symlink_swaps_links_and_files_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("loader");
        replace_symlink("loader.0", &link, Durability::Sync).unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("loader.0"));
        replace_symlink("loader.1", &link, Durability::Deferred).unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("loader.1"));
        let file = dir.path().join("file");
        fs::write(&file, b"x").unwrap();
        replace_symlink("loader.1", &file, Durability::Sync).unwrap();
        assert_eq!(fs::read_link(&file).unwrap(), Path::new("loader.1"));
        assert_eq!(entries(dir.path()), ["file", "loader"]);
        assert!(is_temp_name(&temp_name()));
        assert!(!is_temp_name("loader.tmp"));
    }

    #[test]
    fn replace_symlink_names_what_failed() {
        let dir = tempfile::tempdir().unwrap();
        let occupied = dir.path().join("occupied");
        fs::create_dir_all(occupied.join("child")).unwrap();
        let error = replace_symlink("x", &occupied, Durability::Sync).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("could not replace '{}'", occupied.display())
        );
        assert_eq!(
            entries(dir.path()),
            ["occupied"],
            "the temporary link is gone"
        );
        let error =
            replace_symlink("x", Path::new("/nonexistent-dir/l"), Durability::Sync).unwrap_err();
        assert_eq!(
            error.to_string(),
            "could not open directory '/nonexistent-dir'"
        );
    }

    #[test]
    fn a_missing_directory_is_named_in_the_error() {
        let error = write_file(
            Path::new("/nonexistent-dir/x"),
            b"",
            WriteOptions::replace(0o644),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "could not open directory '/nonexistent-dir'"
        );
    }
}
