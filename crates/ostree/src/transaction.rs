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
//!
//! Each transaction also owns a staging directory as OSTree's do,
//! `tmp/staging-BOOTID-N`, locked through its `-lock` sibling and removed when the
//! transaction ends, so that OSTree and ferro writers sharing a repository tell live
//! transactions from leftovers: a staging directory of another boot (`OSTREE_BOOTID`,
//! else the kernel's boot id) can belong to no live writer and is removed whatever its
//! age, and an unlocked one of this boot is adopted by the next transaction (and so
//! removed when it ends), as OSTree reuses it. ferro's objects are unnamed files until
//! they are named in `objects/`, so it never resumes from one.
//!
//! OSTree's test hook `OSTREE_REPO_TEST_ERROR=pre-commit` ([`TestErrors`]) makes the
//! commit point fail before any ref moves and leaves the staging directory behind, as an
//! interrupted writer would (OSTree's own test suite checks both).

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
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
    staging: Staging,
}

/// OSTree's fault injection for its own test suite, read from the comma-separated
/// `OSTREE_REPO_TEST_ERROR` when a repository is opened (unknown names are ignored, as
/// OSTree ignores them). Test hooks only: no user needs them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestErrors {
    /// `pre-commit`: every transaction's commit point fails with
    /// [`Error::InjectedPreCommit`], leaving its staging directory.
    pub pre_commit: bool,
}

impl TestErrors {
    /// The hooks a comma-separated list names.
    pub fn parse(flags: &str) -> Self {
        TestErrors {
            pre_commit: flags.split(',').any(|f| f.trim() == "pre-commit"),
        }
    }

    /// The hooks `OSTREE_REPO_TEST_ERROR` names (none when unset).
    pub fn from_env() -> Self {
        std::env::var("OSTREE_REPO_TEST_ERROR")
            .map_or_else(|_| Self::default(), |v| Self::parse(&v))
    }
}

/// The boot a staging directory belongs to: `OSTREE_BOOTID` (OSTree's override, which
/// its test suite sets), else the kernel's boot id, else `unknown`.
pub fn boot_id() -> String {
    if let Ok(id) = std::env::var("OSTREE_BOOTID")
        && !id.is_empty()
    {
        return id;
    }
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_owned())
        .ok()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A transaction's `tmp/staging-BOOTID-N` directory and the lock on its `-lock`
/// sibling; removed on drop unless `keep` (an injected failure).
#[derive(Debug)]
struct Staging {
    dir: PathBuf,
    _lock: Lock,
    keep: bool,
}

impl Drop for Staging {
    /// Removes the directory (unless kept) and its lock file, as OSTree removes an
    /// exclusive lock file it releases. Best effort: a later transaction removes what
    /// is left. Sharing a directory with a writer that opened the lock file just before
    /// it went is harmless: ferro stores nothing in it.
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.dir);
        }
        let mut lock = self.dir.clone().into_os_string();
        lock.push("-lock");
        let _ = fs::remove_file(lock);
    }
}

impl Repo {
    /// Starts a transaction: takes the lock shared (waiting for a `prune`) and removes
    /// expired `tmp/` leftovers.
    pub fn begin_transaction(&self) -> Result<Transaction<'_>, Error> {
        self.begin_transaction_in_boot(&boot_id())
    }

    /// [`Repo::begin_transaction`] as if the current boot were `boot`.
    fn begin_transaction_in_boot(&self, boot: &str) -> Result<Transaction<'_>, Error> {
        let lock = self.lock(LockKind::Shared)?;
        self.clean_tmp(boot)?;
        let staging = self.staging_dir(boot)?;
        Ok(Transaction {
            repo: self,
            _lock: lock,
            staging,
        })
    }

    /// Adopts an unlocked staging directory of this boot or makes a new one, locked.
    fn staging_dir(&self, boot: &str) -> Result<Staging, Error> {
        let tmp = self.path().join("tmp");
        let prefix = format!("staging-{boot}-");
        let entries = fs::read_dir(&tmp).map_err(io_err("list", &tmp))?;
        for entry in entries {
            let entry = entry.map_err(io_err("list", &tmp))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !name.starts_with(&prefix) || name.ends_with("-lock") {
                continue;
            }
            let dir = entry.path();
            if !dir.is_dir() {
                continue;
            }
            if let Some(lock) =
                try_lock_file(&tmp.join(format!("{name}-lock")), LockKind::Exclusive)?
            {
                return Ok(Staging {
                    dir,
                    _lock: lock,
                    keep: false,
                });
            }
        }
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}{}-{n}", std::process::id());
            let dir = tmp.join(&name);
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("create directory", &dir)(e).into()),
            }
            let lock =
                crate::lock::lock_file(&tmp.join(format!("{name}-lock")), LockKind::Exclusive)?;
            return Ok(Staging {
                dir,
                _lock: lock,
                keep: false,
            });
        }
    }

    /// Removes top-level `tmp/` entries older than `tmp-expiry-secs`, and staging
    /// directories of another boot than `boot` whatever their age.
    fn clean_tmp(&self, boot: &str) -> Result<(), Error> {
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
            let other_boot =
                name.starts_with("staging-") && !name.starts_with(&format!("staging-{boot}-"));
            if age <= self.policy().tmp_expiry_secs && !other_boot {
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
    pub fn commit(mut self, refs: &[(String, Checksum)]) -> Result<(), Error> {
        if self.repo.test_errors().pre_commit {
            self.staging.keep = true;
            return Err(Error::InjectedPreCommit);
        }
        if self.repo.policy().fsync {
            let dir = fs::File::open(self.repo.path()).map_err(io_err("open", self.repo.path()))?;
            rustix::fs::syncfs(&dir).map_err(|e| io_err("sync", self.repo.path())(e.into()))?;
        }
        for (name, id) in refs {
            self.repo.set_ref(name, Some(id))?;
        }
        if !refs.is_empty() {
            crate::summary::refs_changed(self.repo)?;
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

    fn tmp_names(repo: &Repo) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(repo.path().join("tmp"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn pre_commit_test_error_leaves_staging_which_later_transactions_collect() {
        let dir = tempfile::tempdir().unwrap();
        let mut repo = Repo::init(dir.path(), RepoMode::BareUser).unwrap();
        repo.set_test_errors(TestErrors::parse("foo,pre-commit"));
        let id = Checksum([7; 32]);
        let tx = repo.begin_transaction_in_boot("b1").unwrap();
        assert!(matches!(
            tx.commit(&[("a".into(), id)]),
            Err(Error::InjectedPreCommit)
        ));
        assert_eq!(repo.read_ref("a").unwrap(), None);
        let left = tmp_names(&repo);
        assert!(
            left.len() == 1 && left[0].starts_with("staging-b1-"),
            "{left:?}"
        );

        // Another boot: the leftover can belong to no live writer and goes, fresh as it is.
        let tx = repo.begin_transaction_in_boot("b2").unwrap();
        assert!(tx.commit(&[]).is_err());
        let left = tmp_names(&repo);
        assert!(
            left.len() == 1 && left[0].starts_with("staging-b2-"),
            "{left:?}"
        );

        // The same boot: adopted, then removed when the transaction ends.
        repo.set_test_errors(TestErrors::default());
        let tx = repo.begin_transaction_in_boot("b2").unwrap();
        assert_eq!(
            tmp_names(&repo),
            [left[0].clone(), format!("{}-lock", left[0])]
        );
        tx.commit(&[("a".into(), id)]).unwrap();
        assert_eq!(repo.read_ref("a").unwrap(), Some(id));
        assert!(tmp_names(&repo).is_empty());
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
