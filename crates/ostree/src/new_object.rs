//! Writing a new object file the way OSTree does: an anonymous `O_TMPFILE` file in
//! the repository's `tmp/`, linked into `objects/` with `linkat` once complete.
//!
//! Objects are named by their contents, so when `linkat` finds the name taken
//! (`EEXIST`) the object is already stored and the unnamed inode simply vanishes when
//! closed: no rename, and nothing to clean up after a crash. Where the filesystem
//! refuses `O_TMPFILE` (or `/proc` is not mounted, which the link needs) a named file in
//! `tmp/` is written and renamed into place instead.
//!
//! `tmp/` and the fan-out directories are opened once per [`Repo`] and then named by
//! descriptor, so creating and linking an object resolves one name instead of walking
//! the repository's whole path twice for every file.

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use rustix::io::Errno;

use crate::checksum::Checksum;
use crate::error::{Error, io_err};
use crate::object::ObjectType;
use crate::object_dirs::open_dir;
use crate::repo::Repo;

/// An object file being written.
pub(crate) struct NewObject {
    file: File,
    /// The named temporary file, in the fallback; removed on drop unless published.
    named: Option<PathBuf>,
    /// What error messages name: the named file, or `tmp/`.
    shown: PathBuf,
}

/// `/proc/self/fd`, through which an anonymous file is linked (as libglnx does; the
/// `AT_EMPTY_PATH` form needs `CAP_DAC_READ_SEARCH`).
fn proc_fd_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| Path::new("/proc/self/fd").is_dir())
}

impl Repo {
    /// A new, empty object file (mode 0644) to fill and then [`NewObject::publish`].
    pub(crate) fn new_object(&self) -> Result<NewObject, Error> {
        let tmp_dir = self.path().join("tmp");
        if proc_fd_available() {
            let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
            let mode = Mode::from_raw_mode(0o644);
            let created = match open_dir(&self.object_dirs().tmp, &tmp_dir) {
                Some(dir) => rustix::fs::openat(dir, ".", flags, mode),
                None => rustix::fs::openat(CWD, &tmp_dir, flags, mode),
            };
            match created {
                Ok(fd) => {
                    return Ok(NewObject {
                        file: File::from(fd),
                        named: None,
                        shown: tmp_dir,
                    });
                }
                // Not supported by this filesystem or kernel (old kernels see
                // O_DIRECTORY and answer EISDIR): fall back to a named file.
                Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {}
                Err(e) => return Err(io_err("create a temporary file in", &tmp_dir)(e.into())),
            }
        }
        let (file, path) = self.create_tmp()?;
        Ok(NewObject {
            file,
            named: Some(path.clone()),
            shown: path,
        })
    }

    /// Whether each new object is synced before it is put in place (`[core]
    /// per-object-fsync`); otherwise the commit point's `syncfs` covers it.
    pub(crate) fn syncs_each_object(&self) -> bool {
        let policy = self.policy();
        policy.fsync && policy.per_object_fsync
    }
}

impl NewObject {
    /// The open file to write.
    pub(crate) fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The path error messages name.
    pub(crate) fn shown(&self) -> &Path {
        &self.shown
    }

    /// Writes `bytes` (a metadata object's whole contents).
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.file
            .write_all(bytes)
            .map_err(io_err("write", &self.shown))
    }

    /// Gives the finished file its name as object `id` of type `kind`, creating the
    /// fan-out directory when missing; if the object is already there, keeps it and
    /// discards this one.
    pub(crate) fn publish(
        mut self,
        repo: &Repo,
        kind: ObjectType,
        id: &Checksum,
    ) -> Result<(), Error> {
        if repo.syncs_each_object() {
            self.file.sync_all().map_err(io_err("sync", &self.shown))?;
        }
        let dest = repo.object_path(kind, id);
        if let Some(tmp) = self.named.take() {
            if fs::symlink_metadata(&dest).is_ok() {
                let _ = fs::remove_file(&tmp);
                return Ok(());
            }
            return repo.install(&tmp, &dest);
        }
        let fanout = &repo.object_dirs().fanout[usize::from(id.0[0])];
        let linked = match (
            open_dir(fanout, dest.parent().unwrap_or(&dest)),
            dest.file_name(),
        ) {
            (Some(dir), Some(name)) => link_anonymous(&self.file, dir, Path::new(name)),
            _ => Err(Errno::NOENT),
        };
        // Missing fan-out directory (or one removed since it was opened): go by path,
        // creating the directory.
        let linked = match linked {
            Err(Errno::NOENT) => {
                let link = || link_anonymous(&self.file, CWD, &dest);
                match (link(), dest.parent()) {
                    (Err(Errno::NOENT), Some(parent)) => {
                        fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
                        link()
                    }
                    (other, _) => other,
                }
            }
            other => other,
        };
        match linked {
            Ok(()) | Err(Errno::EXIST) => Ok(()),
            Err(e) => Err(io_err("link into place", &dest)(e.into())),
        }
    }
}

/// Whether linking by descriptor (`AT_EMPTY_PATH`) works here; it needs
/// `CAP_DAC_READ_SEARCH`.
static LINK_BY_DESCRIPTOR: AtomicBool = AtomicBool::new(true);

/// Links the anonymous `file` at `name` in `dir`. By descriptor when allowed, which
/// saves a walk through `/proc` for every object; otherwise through `/proc/self/fd`, as
/// libglnx does.
fn link_anonymous(file: &File, dir: BorrowedFd<'_>, name: &Path) -> Result<(), Errno> {
    if LINK_BY_DESCRIPTOR.load(Ordering::Relaxed) {
        match rustix::fs::linkat(file, "", dir, name, AtFlags::EMPTY_PATH) {
            // Not allowed, or the directory is gone: `/proc` tells which.
            Err(Errno::NOENT | Errno::PERM) => {}
            other => return other,
        }
    }
    let source = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(CWD, &source, dir, name, AtFlags::SYMLINK_FOLLOW)?;
    LINK_BY_DESCRIPTOR.store(false, Ordering::Relaxed);
    Ok(())
}

impl Drop for NewObject {
    fn drop(&mut self) {
        if let Some(tmp) = &self.named {
            let _ = fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::repo::RepoMode;

    use super::*;

    #[test]
    fn publish_links_once_and_leaves_no_temporary_files() {
        for per_object_fsync in [false, true] {
            publish_once(per_object_fsync);
        }
    }

    fn publish_once(per_object_fsync: bool) {
        let dir = tempfile::tempdir().unwrap();
        let mut repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        if per_object_fsync {
            let config = dir.path().join("config");
            let text = fs::read_to_string(&config).unwrap() + "per-object-fsync=true\n";
            fs::write(&config, text).unwrap();
            repo = Repo::open(dir.path()).unwrap();
            assert!(repo.policy().per_object_fsync);
        }
        let id = Checksum([0xab; 32]);
        let dest = repo.object_path(ObjectType::DirTree, &id);
        for data in [&b"first"[..], b"second"] {
            let mut object = repo.new_object().unwrap();
            object.write_all(data).unwrap();
            object.publish(&repo, ObjectType::DirTree, &id).unwrap();
        }
        assert_eq!(
            fs::read(&dest).unwrap(),
            b"first",
            "an existing object is kept"
        );
        let mut unpublished = repo.new_object().unwrap();
        unpublished.write_all(b"dropped").unwrap();
        drop(unpublished);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn publish_recreates_a_fan_out_directory_removed_after_it_was_opened() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        let (first, second) = (
            Checksum([0xab; 32]),
            Checksum([0xab, 1].repeat(16).try_into().unwrap()),
        );
        let publish = |id: &Checksum| {
            let mut object = repo.new_object().unwrap();
            object.write_all(id.to_hex().as_bytes()).unwrap();
            object.publish(&repo, ObjectType::DirTree, id).unwrap();
        };
        publish(&first);
        let fanout = dir.path().join("objects/ab");
        fs::remove_dir_all(&fanout).unwrap();
        publish(&second);
        let stored = fs::read(repo.object_path(ObjectType::DirTree, &second)).unwrap();
        assert_eq!(stored, second.to_hex().as_bytes());
        assert_eq!(fs::read_dir(&fanout).unwrap().count(), 1);
    }
}
