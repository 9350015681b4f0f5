//! Transactions: how a writer's objects become durable and then visible, as in OSTree.
//!
//! A commit or pull holds the repository lock shared ([`crate::lock`]) and stores its
//! objects without any per-file fsync: each object appears under `objects/` only
//! complete (`new_object`), so a crash leaves at worst unreferenced objects.
//! At the commit point, before the first ref moves, the repository's filesystem is
//! synced once (`syncfs`, what OSTree does at the end of a transaction), so every
//! object a ref can name is on disk before the ref is; each ref (and the `summary`)
//! is then written to a temporary file, synced, renamed into place, and its directory
//! synced. `[core] fsync=false` skips the syncs: faster, not crash-safe, like OSTree.
//!
//! A transaction also starts by removing what interrupted writers left in `tmp/`
//! longer ago than `[core] tmp-expiry-secs` (default one day), as OSTree does: never
//! `tmp/cache`, and never an OSTree `staging-*` directory whose `-lock` sibling a
//! live transaction still holds.

use std::fs;
use std::io;
use std::time::SystemTime;

use crate::checksum::Checksum;
use crate::error::{Error, io_err};
use crate::lock::{Lock, LockKind, try_lock_file};
use crate::repo::Repo;

/// A running write: holds the repository lock shared until [`Transaction::commit`]
/// or drop. Dropping it without committing moves no ref; the objects already stored
/// stay (unreferenced, for `prune` to remove).
#[derive(Debug)]
pub struct Transaction<'r> {
    repo: &'r Repo,
    _lock: Lock,
}

impl Repo {
    /// Starts a transaction: takes the lock shared (waiting for a `prune`) and removes
    /// expired `tmp/` leftovers.
    pub fn begin_transaction(&self) -> Result<Transaction<'_>, Error> {
        let lock = self.lock(LockKind::Shared)?;
        self.clean_tmp()?;
        Ok(Transaction {
            repo: self,
            _lock: lock,
        })
    }

    /// Removes top-level `tmp/` entries older than `tmp-expiry-secs`.
    fn clean_tmp(&self) -> Result<(), Error> {
        let tmp = self.path().join("tmp");
        let entries = match fs::read_dir(&tmp) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("list", &tmp)(e).into()),
        };
        let now = SystemTime::now();
        for entry in entries {
            let entry = entry.map_err(io_err("list", &tmp))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == "cache" || name.ends_with("-lock") {
                continue;
            }
            let path = entry.path();
            let Ok(st) = fs::symlink_metadata(&path) else {
                continue; // removed meanwhile by another writer
            };
            let age = st
                .modified()
                .ok()
                .and_then(|mtime| now.duration_since(mtime).ok())
                .map_or(0, |age| age.as_secs());
            if age <= self.policy().tmp_expiry_secs {
                continue;
            }
            let sibling = tmp.join(format!("{name}-lock"));
            let sibling_lock = match sibling.exists() {
                true => match try_lock_file(&sibling, LockKind::Exclusive)? {
                    Some(lock) => Some(lock),
                    None => continue, // a live transaction's staging directory
                },
                false => None,
            };
            let removed = match st.is_dir() {
                true => fs::remove_dir_all(&path),
                false => fs::remove_file(&path),
            };
            match removed {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_err("delete", &path)(e).into());
                }
                _ => {}
            }
            if sibling_lock.is_some() {
                let _ = fs::remove_file(&sibling);
            }
        }
        Ok(())
    }
}

impl Transaction<'_> {
    /// The commit point: makes every object stored so far durable (one `syncfs` of the
    /// repository's filesystem), then points each ref at its commit, durably.
    pub fn commit(self, refs: &[(String, Checksum)]) -> Result<(), Error> {
        if self.repo.policy().fsync {
            let dir = fs::File::open(self.repo.path()).map_err(io_err("open", self.repo.path()))?;
            rustix::fs::syncfs(&dir).map_err(|e| io_err("sync", self.repo.path())(e.into()))?;
        }
        for (name, id) in refs {
            self.repo.set_ref(name, Some(id))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::repo::RepoMode;

    #[test]
    fn transactions_remove_only_expired_unlocked_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        let tmp = dir.path().join("tmp");
        let old = SystemTime::now() - Duration::from_secs(2 * 86400);
        let age = |path: &Path| {
            let file = fs::File::open(path).unwrap();
            file.set_modified(old).unwrap();
        };
        fs::write(tmp.join("stale"), b"x").unwrap();
        age(&tmp.join("stale"));
        fs::write(tmp.join("fresh"), b"x").unwrap();
        fs::create_dir_all(tmp.join("staging-dead/ab")).unwrap();
        age(&tmp.join("staging-dead"));
        fs::write(tmp.join("staging-dead-lock"), b"").unwrap();
        fs::create_dir(tmp.join("staging-live")).unwrap();
        age(&tmp.join("staging-live"));
        let live =
            crate::lock::lock_file(&tmp.join("staging-live-lock"), LockKind::Exclusive).unwrap();
        fs::create_dir(tmp.join("cache")).unwrap();
        age(&tmp.join("cache"));
        drop(repo.begin_transaction().unwrap());
        let mut left: Vec<String> = fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["cache", "fresh", "staging-live", "staging-live-lock"]
        );
        drop(live);
    }

    #[test]
    fn commit_point_moves_refs_durably() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        let id = Checksum([7; 32]);
        let tx = repo.begin_transaction().unwrap();
        tx.commit(&[("a".into(), id), ("origin:b/c".into(), id)])
            .unwrap();
        assert_eq!(repo.read_ref("a").unwrap(), Some(id));
        assert_eq!(repo.read_ref("origin:b/c").unwrap(), Some(id));
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
