//! Writing a new object file the way OSTree does: an unnamed file in the repository's
//! `tmp/`, linked into `objects/` once complete, through ferro-sys's one atomic writer
//! ([`ferro_sys::atomic::TempFile`], with its fallbacks where the filesystem cannot make
//! unnamed files).
//!
//! Objects are named by their contents, so they are published create-only
//! ([`Collision::Keep`]): when the name is taken the object is already stored and the
//! new file simply vanishes. Each object is synced before it is named only with
//! `[core] per-object-fsync`; otherwise the commit point's `syncfs` covers them all.
//!
//! `tmp/` and the fan-out directories are opened once per [`Repo`] and then named by
//! descriptor, so creating and linking an object resolves one name instead of walking
//! the repository's whole path twice for every file.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use ferro_sys::IoError;
use ferro_sys::atomic::{self, Collision, DirFd, Durability, Published, TempFile, TempSymlink};

use crate::checksum::Checksum;
use crate::error::{Error, io_err};
use crate::object::ObjectType;
use crate::object_dirs::open_dir;
use crate::repo::Repo;

/// An object file being written.
pub(crate) struct NewObject<'r> {
    temp: TempFile<'r>,
}

impl Repo {
    /// A new, empty object file (mode 0644) to fill and then [`NewObject::publish`].
    pub(crate) fn new_object(&self) -> Result<NewObject<'_>, Error> {
        Ok(self.new_temp(TempFile::new_in)?)
    }

    /// [`Repo::new_object`] for a file that is read back before it is published (a
    /// fetched object, verified first).
    pub(crate) fn new_readable_object(&self) -> Result<NewObject<'_>, IoError> {
        self.new_temp(TempFile::new_readable_in)
    }

    fn new_temp<'r>(
        &'r self,
        create: fn(DirFd<'r>, &Path, u32) -> Result<TempFile<'r>, IoError>,
    ) -> Result<NewObject<'r>, IoError> {
        let tmp_dir = self.path().join("tmp");
        let dir = match open_dir(&self.object_dirs().tmp, &tmp_dir) {
            Some(dir) => DirFd::Borrowed(dir),
            None => DirFd::Owned(atomic::open_dir(&tmp_dir)?),
        };
        Ok(NewObject {
            temp: create(dir, &tmp_dir, 0o644)?,
        })
    }

    /// Whether each new object is synced before it is put in place (`[core]
    /// per-object-fsync`); otherwise the commit point's `syncfs` covers it.
    pub(crate) fn syncs_each_object(&self) -> bool {
        let policy = self.policy();
        policy.fsync && policy.per_object_fsync
    }

    /// How an object is published: synced first only with `per-object-fsync`.
    fn object_durability(&self) -> Durability {
        match self.syncs_each_object() {
            true => Durability::Sync,
            false => Durability::Deferred,
        }
    }

    /// Stores a symlink object of a `bare` or `bare-user-only` repository: a symlink to
    /// `target` made in `tmp/`, given its owner and extended attributes by `finish`
    /// (called with its path), then published as object `id` like a file.
    pub(crate) fn publish_symlink(
        &self,
        id: &Checksum,
        target: &Path,
        finish: impl FnOnce(&Path) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let tmp_dir = self.path().join("tmp");
        let dir = match open_dir(&self.object_dirs().tmp, &tmp_dir) {
            Some(dir) => DirFd::Borrowed(dir),
            None => DirFd::Owned(atomic::open_dir(&tmp_dir)?),
        };
        let temp = TempSymlink::new_in(dir, &tmp_dir, target)?;
        finish(temp.shown())?;
        self.publish_object(ObjectType::File, id, temp, 0, TempSymlink::publish_in)
    }
    /// Publishes `temp` (a file or a symlink) as object `id` of type `kind`,
    /// create-only, through the cached fan-out directory; when that directory is missing
    /// (never made, or removed since it was opened) it is created and the publish
    /// retried through a fresh handle.
    fn publish_object<T>(
        &self,
        kind: ObjectType,
        id: &Checksum,
        temp: T,
        bytes: u64,
        publish: impl Fn(
            T,
            BorrowedFd<'_>,
            &Path,
            &Path,
            Collision,
            Durability,
        ) -> Result<Published, (T, IoError)>,
    ) -> Result<(), Error> {
        let dest = self.object_path(kind, id);
        let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
            unreachable!("an object path is objects/XX/NAME")
        };
        let name = Path::new(name);
        let durability = self.object_durability();
        let fanout = &self.object_dirs().fanout[usize::from(id.0[0])];
        let temp = match open_dir(fanout, parent) {
            Some(dir) => match publish(temp, dir, name, &dest, Collision::Keep, durability) {
                Ok(published) => {
                    self.count(kind, published, bytes);
                    return Ok(());
                }
                Err((temp, e)) if e.kind() == io::ErrorKind::NotFound => temp,
                Err((_, e)) => return Err(e.into()),
            },
            None => temp,
        };
        fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
        let dir = atomic::open_dir(parent)?;
        let published = publish(temp, dir.as_fd(), name, &dest, Collision::Keep, durability)
            .map_err(|(_, e)| Error::from(e))?;
        self.count(kind, published, bytes);
        Ok(())
    }

    /// Counts a stored object in [`crate::object_dirs::WriteCounters`].
    fn count(&self, kind: ObjectType, published: Published, bytes: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        if matches!(published, Published::Existed) {
            return;
        }
        let counters = &self.object_dirs().counters;
        if kind == ObjectType::File {
            counters.content_written.fetch_add(1, Relaxed);
            counters.content_bytes_written.fetch_add(bytes, Relaxed);
        } else {
            counters.metadata_written.fetch_add(1, Relaxed);
        }
    }
}

impl NewObject<'_> {
    /// The open file, to write (and read back, when made readable).
    pub(crate) fn file(&mut self) -> &mut File {
        self.temp.file()
    }

    /// The path error messages name.
    pub(crate) fn shown(&self) -> &Path {
        self.temp.shown()
    }

    /// Writes `bytes` (a metadata object's whole contents).
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        Ok(self.temp.write_all(bytes)?)
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
        let bytes = self.temp.file().metadata().map_or(0, |m| m.len());
        repo.publish_object(kind, id, self.temp, bytes, TempFile::publish_in)
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
