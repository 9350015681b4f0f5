//! Transactions: how a writer's objects become durable and then visible, as in OSTree.
//!
//! A commit or pull holds the repository lock shared ([`crate::lock`]) and stores its
//! objects without any per-file fsync: each object appears under `objects/` only
//! complete ([`crate::new_object`]), so a crash leaves at worst unreferenced objects.
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
use std::io::{self, Write};
use std::path::Path;
use std::time::SystemTime;

use crate::checksum::Checksum;
use crate::keyfile::KeyFile;
use crate::lock::{Lock, LockKind, try_lock_file};
use crate::repo::{Error, Repo, io_err};

/// The `[core]` settings that govern transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// `fsync` (default true): sync at the commit point and on ref writes.
    pub(crate) fsync: bool,
    /// `per-object-fsync` (default false): also sync each object before it is linked
    /// into place, for filesystems where one `syncfs` is slow or unreliable.
    pub(crate) per_object_fsync: bool,
    /// `locking` (default true, as in OSTree 2022.7): take `.lock`.
    pub(crate) locking: bool,
    /// `tmp-expiry-secs` (default 86400): age after which `tmp/` leftovers go.
    pub(crate) tmp_expiry_secs: u64,
    /// `lock-timeout-secs` (default 30, as in OSTree): how long to wait for the lock;
    /// `None` (-1) waits as long as it takes.
    pub(crate) lock_timeout: Option<std::time::Duration>,
    /// `[archive] zlib-level` (default 6; OSTree clamps it to 1–9 and so do we): how
    /// hard archive `.filez` objects are compressed, see [`crate::deflate`].
    pub(crate) zlib_level: u32,
}

impl Policy {
    /// Reads the settings from the text of a repository `config`.
    pub(crate) fn from_config(text: &str) -> Result<Self, String> {
        let config = KeyFile::parse(text);
        let flag = |key: &str, default: bool| match config.get("core", key).as_deref() {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(format!("[core] {key}={other} is not a boolean")),
        };
        let tmp_expiry_secs = match config.get("core", "tmp-expiry-secs") {
            None => 86400,
            Some(text) => text
                .parse()
                .map_err(|_| format!("[core] tmp-expiry-secs={text} is not a number"))?,
        };
        let lock_timeout = match config.get("core", "lock-timeout-secs") {
            None => Some(30),
            Some(text) => match text.parse::<i64>() {
                Ok(secs) if secs < 0 => None,
                Ok(secs) => Some(secs.unsigned_abs()),
                Err(_) => return Err(format!("[core] lock-timeout-secs={text} is not a number")),
            },
        };
        let zlib_level = match config.get("archive", "zlib-level") {
            None => crate::deflate::DEFAULT_LEVEL,
            Some(text) => text
                .parse::<u64>()
                .map_err(|_| format!("[archive] zlib-level={text} is not a number from 1 to 9"))?
                .clamp(1, 9) as u32,
        };
        Ok(Policy {
            fsync: flag("fsync", true)?,
            per_object_fsync: flag("per-object-fsync", false)?,
            zlib_level,
            locking: flag("locking", true)?,
            tmp_expiry_secs,
            lock_timeout: lock_timeout.map(std::time::Duration::from_secs),
        })
    }
}

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

    /// Writes `data` to `dest` so that after a crash `dest` holds either its old
    /// contents or all of `data`: temporary file, sync, rename, sync of the directory
    /// (the syncs only with `[core] fsync`).
    pub(crate) fn write_durable(&self, dest: &Path, data: &[u8]) -> Result<(), Error> {
        let (mut file, tmp) = self.create_tmp()?;
        let written = file
            .write_all(data)
            .and_then(|()| match self.policy().fsync {
                true => file.sync_data(),
                false => Ok(()),
            });
        drop(file);
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_err("write", &tmp)(e));
        }
        self.install(&tmp, dest)?;
        self.sync_parent(dest)
    }

    /// Syncs the directory holding `path` (with `[core] fsync`), making a rename or
    /// unlink in it durable.
    pub(crate) fn sync_parent(&self, path: &Path) -> Result<(), Error> {
        match path.parent() {
            Some(dir) if self.policy().fsync => fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err("sync", dir)),
            _ => Ok(()),
        }
    }

    /// Removes top-level `tmp/` entries older than `tmp-expiry-secs`.
    fn clean_tmp(&self) -> Result<(), Error> {
        let tmp = self.path().join("tmp");
        let entries = match fs::read_dir(&tmp) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("list", &tmp)(e)),
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
                    return Err(io_err("delete", &path)(e));
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
    use std::time::Duration;

    use super::*;
    use crate::repo::RepoMode;

    #[test]
    fn policy_defaults_and_overrides() {
        let defaults = Policy::from_config("[core]\nmode=bare\n").unwrap();
        assert_eq!(
            defaults,
            Policy {
                fsync: true,
                per_object_fsync: false,
                locking: true,
                tmp_expiry_secs: 86400,
                lock_timeout: Some(Duration::from_secs(30)),
                zlib_level: 6,
            }
        );
        let text = "[core]\nfsync=false\nlocking=false\ntmp-expiry-secs=5\nlock-timeout-secs=2\n";
        assert!(
            Policy::from_config("[core]\nper-object-fsync=true\n")
                .unwrap()
                .per_object_fsync
        );
        let set = Policy::from_config(text).unwrap();
        assert_eq!(
            (
                set.fsync,
                set.locking,
                set.tmp_expiry_secs,
                set.lock_timeout
            ),
            (false, false, 5, Some(Duration::from_secs(2)))
        );
        let level = |text: &str| Policy::from_config(&format!("[archive]\nzlib-level={text}\n"));
        // OSTree clamps the level to 1-9.
        assert_eq!(level("3").unwrap().zlib_level, 3);
        assert_eq!(level("0").unwrap().zlib_level, 1);
        assert_eq!(level("12").unwrap().zlib_level, 9);
        assert!(level("-1").is_err());
        let forever = Policy::from_config("[core]\nlock-timeout-secs=-1\n").unwrap();
        assert_eq!(forever.lock_timeout, None);
        assert!(Policy::from_config("[core]\nfsync=maybe\n").is_err());
        assert!(Policy::from_config("[core]\nlock-timeout-secs=soon\n").is_err());
    }

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
