//! The repository lock: `.lock` in the repository directory, as OSTree keeps it.
//!
//! Writers that only add objects and move refs hold it shared, so they run side by
//! side (objects are named by their contents, so two writers storing the same object
//! agree on its bytes). Operations that delete objects (`prune`, `fsck --delete`) hold
//! it exclusive, so they never delete an object that a running commit or pull has
//! stored but not yet made reachable from a ref.
//!
//! OSTree 2022.7 takes this lock with open-file-description record locks
//! (`fcntl(F_OFD_SETLK)`), not `flock`; the two kinds do not see each other on Linux,
//! so the same kind is used here and `ostree` and `ferro` exclude each other. OFD locks
//! belong to the open file, not the process: two locks taken in one process conflict
//! like those of two processes, and closing one never drops the other.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;

use crate::error::{Error, io_err};
use crate::repo::Repo;

/// How a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Many holders at once: writers that add objects and refs.
    Shared,
    /// One holder: operations that delete objects.
    Exclusive,
}

/// A held lock; released when dropped (the locked file is closed). Holds nothing when
/// the repository has locking turned off.
#[derive(Debug)]
pub struct Lock {
    _file: Option<File>,
}

/// Locks `path` (created if missing, mode 0660 as OSTree creates `.lock`), waiting
/// while a conflicting holder has it.
pub(crate) fn lock_file(path: &Path, kind: LockKind) -> Result<Lock, Error> {
    let file = open(path)?;
    acquire(&file, path, kind, true)?;
    Ok(Lock { _file: Some(file) })
}

/// Like [`lock_file`], but gives up after `timeout` with an error that says who to wait
/// for. Polls, as OSTree does: a blocking lock request cannot be given a deadline.
fn lock_file_within(path: &Path, kind: LockKind, timeout: Duration) -> Result<Lock, Error> {
    let file = open(path)?;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    while !acquire(&file, path, kind, false)? {
        let now = Instant::now();
        if now >= deadline {
            let waited = io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "another process held it for {} s; wait for it to finish, or raise \
                     [core] lock-timeout-secs (-1 waits as long as it takes)",
                    timeout.as_secs()
                ),
            );
            return Err(io_err("lock", path)(waited).into());
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(500));
    }
    Ok(Lock { _file: Some(file) })
}

/// Like [`lock_file`] but without waiting: `None` when the lock is held elsewhere.
pub(crate) fn try_lock_file(path: &Path, kind: LockKind) -> Result<Option<Lock>, Error> {
    let file = open(path)?;
    Ok(acquire(&file, path, kind, false)?.then_some(Lock { _file: Some(file) }))
}

fn open(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o660)
        .open(path)
        .map_err(|e| io_err("open lock file", path)(e).into())
}

/// Takes an OFD lock on the whole file; `false` when not waiting and it is taken.
fn acquire(file: &File, path: &Path, kind: LockKind, wait: bool) -> Result<bool, Error> {
    let l_type = match kind {
        LockKind::Shared => libc::F_RDLCK,
        LockKind::Exclusive => libc::F_WRLCK,
    };
    let whole_file = libc::flock {
        l_type: l_type as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    loop {
        let arg = if wait {
            FcntlArg::F_OFD_SETLKW(&whole_file)
        } else {
            FcntlArg::F_OFD_SETLK(&whole_file)
        };
        match fcntl(file, arg) {
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN | Errno::EACCES) if !wait => return Ok(false),
            Err(e) => return Err(io_err("lock", path)(io::Error::from(e)).into()),
        }
    }
}

impl Repo {
    /// Takes the repository lock (`.lock`), waiting while a conflicting holder has it, at
    /// most `[core] lock-timeout-secs`; a no-op guard when `[core] locking` is `false`.
    pub fn lock(&self, kind: LockKind) -> Result<Lock, Error> {
        let policy = self.policy();
        if !policy.locking {
            return Ok(Lock { _file: None });
        }
        let path = self.path().join(".lock");
        match policy.lock_timeout {
            Some(timeout) => lock_file_within(&path, kind, timeout),
            None => lock_file(&path, kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::repo::RepoMode;

    #[test]
    fn exclusive_excludes_shared_and_shared_ones_coexist() {
        let dir = tempfile::tempdir().unwrap();
        Repo::init(dir.path(), RepoMode::Archive).unwrap();
        // No timeout: a waiter blocks in the kernel (F_OFD_SETLKW), where the lock
        // table shows it, instead of polling.
        let config = dir.path().join("config");
        let text = std::fs::read_to_string(&config).unwrap() + "lock-timeout-secs=-1\n";
        std::fs::write(&config, text).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let lock = dir.path().join(".lock");
        let first = repo.lock(LockKind::Shared).unwrap();
        let second = repo.lock(LockKind::Shared).unwrap();
        assert!(try_lock_file(&lock, LockKind::Exclusive).unwrap().is_none());
        drop((first, second));
        let exclusive = repo.lock(LockKind::Exclusive).unwrap();
        assert!(try_lock_file(&lock, LockKind::Shared).unwrap().is_none());
        let acquired = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _shared = repo.lock(LockKind::Shared).unwrap();
                acquired.store(true, Ordering::SeqCst);
            });
            let deadline = Instant::now() + Duration::from_secs(120);
            while ferro_sys::locks::waiters(&lock).unwrap() == 0 {
                assert!(Instant::now() < deadline, "the shared lock never waited");
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(!acquired.load(Ordering::SeqCst), "a shared lock waits");
            drop(exclusive);
        });
        assert!(acquired.load(Ordering::SeqCst));
    }

    #[test]
    fn gives_up_after_the_configured_timeout() {
        let dir = tempfile::tempdir().unwrap();
        Repo::init(dir.path(), RepoMode::Archive).unwrap();
        let config = dir.path().join("config");
        let text = std::fs::read_to_string(&config).unwrap() + "lock-timeout-secs=1\n";
        std::fs::write(&config, text).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let held = lock_file(&dir.path().join(".lock"), LockKind::Exclusive).unwrap();
        let started = std::time::Instant::now();
        let error = repo.lock(LockKind::Shared).unwrap_err();
        let error = format!("{error}: {}", std::error::Error::source(&error).unwrap());
        assert!(started.elapsed() >= Duration::from_secs(1), "{error}");
        assert!(error.contains("lock-timeout-secs"), "{error}");
        drop(held);
        repo.lock(LockKind::Shared).unwrap();
    }
}
