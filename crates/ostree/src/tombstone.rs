//! Tombstone commits: with `[core] tombstone-commits=true`, a deleted commit leaves
//! `objects/XX/REST.tombstone-commit` (an `a{sv}` naming it under `commit`), so that a
//! reader walking history can tell "deleted on purpose" from "never had it", as OSTree
//! records it. Storing the commit again removes its tombstone. `fsck --add-tombstones`
//! turns the option on and writes tombstones for parents that are already gone.

use std::fs;
use std::io;
use std::path::PathBuf;

use crate::checksum::Checksum;
use crate::error::{Error, io_err};
use crate::object::{ObjectType, Variant};
use crate::repo::Repo;

/// The `[core]` key that turns tombstones on.
const KEY: &str = "tombstone-commits";

impl Repo {
    /// Where the tombstone of commit `id` is kept.
    pub fn tombstone_path(&self, id: &Checksum) -> PathBuf {
        self.commit_sidecar_path(id, "tombstone-commit")
    }

    /// Whether deleted commits leave tombstones (`[core] tombstone-commits`).
    pub fn tombstones_enabled(&self) -> Result<bool, Error> {
        Ok(self.read_config()?.get("core", KEY).as_deref() == Some("true"))
    }

    /// Turns tombstones on in the repository's config.
    pub fn enable_tombstones(&self) -> Result<(), Error> {
        if self.tombstones_enabled()? {
            return Ok(());
        }
        let mut config = self.read_config()?;
        config.set("core", KEY, "true");
        self.write_config(&config)
    }

    /// Records that commit `id` was deleted on purpose.
    pub fn write_tombstone(&self, id: &Checksum) -> Result<(), Error> {
        let metadata = vec![("commit".to_owned(), Variant::string(&id.to_hex()))];
        let bytes = crate::object::metadata_bytes(&metadata);
        self.write_atomic(&self.tombstone_path(id), &bytes)
    }

    /// Removes the tombstone of commit `id`, which is stored again.
    pub(crate) fn clear_tombstone(&self, id: &Checksum) -> Result<(), Error> {
        let path = self.tombstone_path(id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("delete", &path)(e).into()),
        }
    }
}

/// `fsck --add-tombstones`: turns tombstones on and writes one for every parent that a
/// stored commit names but the repository lacks; returns the parents recorded.
pub fn add_missing_tombstones(repo: &Repo) -> Result<Vec<Checksum>, Error> {
    repo.enable_tombstones()?;
    let mut added = Vec::new();
    for id in repo.list_objects(ObjectType::Commit)? {
        let Some(parent) = repo.load_commit(&id)?.parent else {
            continue;
        };
        if repo.has_object(ObjectType::Commit, &parent)
            || fs::symlink_metadata(repo.tombstone_path(&parent)).is_ok()
        {
            continue;
        }
        repo.write_tombstone(&parent)?;
        added.push(parent);
    }
    Ok(added)
}
