//! Who waits on a file lock, read from the kernel's table (`/proc/locks`).
//!
//! A process blocked on a record lock (`F_OFD_SETLKW`, `F_SETLKW`, `flock`) is listed
//! there as a waiter (`->`) on the file's device and inode. That is the event a caller
//! (a test, a diagnostic) synchronises on to know that another process *is* waiting,
//! instead of sleeping and hoping it got that far.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{IoError, IoResultExt};

/// How many lock requests are blocked waiting on the file at `path`.
pub fn waiters(path: &Path) -> Result<usize, IoError> {
    let meta = std::fs::metadata(path).at("stat", path)?;
    let dev = meta.dev();
    let id = format!(
        "{:02x}:{:02x}:{}",
        rustix::fs::major(dev),
        rustix::fs::minor(dev),
        meta.ino()
    );
    let table = Path::new("/proc/locks");
    let text = std::fs::read_to_string(table).at("read", table)?;
    Ok(text
        .lines()
        .filter(|line| line.contains(" -> "))
        .filter(|line| line.split_whitespace().any(|field| field == id))
        .count())
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_blocked_flock_is_seen_as_a_waiter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = File::create(&path).unwrap();
        rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
        assert_eq!(waiters(&path).unwrap(), 0);
        let waiter = File::open(&path).unwrap();
        std::thread::scope(|s| {
            let blocked = s.spawn(|| {
                rustix::fs::flock(&waiter, rustix::fs::FlockOperation::LockShared).unwrap();
            });
            let deadline = Instant::now() + Duration::from_secs(120);
            while waiters(&path).unwrap() == 0 {
                assert!(Instant::now() < deadline, "the waiter never blocked");
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(!blocked.is_finished(), "it waits while the lock is held");
            drop(held);
        });
        assert_eq!(waiters(&path).unwrap(), 0);
    }
}
