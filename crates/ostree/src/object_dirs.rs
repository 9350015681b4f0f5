//! Directory handles a [`Repo`](crate::repo::Repo) keeps open for writing objects:
//! `tmp/` and the fan-out directories `objects/XX`, so that creating and linking an
//! object (`new_object`) resolves one name instead of walking the
//! repository's path each time. Its own module because the handle owns these (every
//! clone shares them) while only the object writer uses them.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::OnceLock;

use rustix::fs::{CWD, Mode, OFlags};

/// Open handles on `tmp/` and on the 256 `objects/XX` directories, each opened the
/// first time an object needs it. A directory that is missing is not remembered, so
/// it is looked for again (and created by the path-based route) next time.
pub(crate) struct ObjectDirs {
    /// `tmp/`, where new objects are created.
    pub(crate) tmp: OnceLock<OwnedFd>,
    /// `objects/00` to `objects/ff`, indexed by an id's first byte.
    pub(crate) fanout: [OnceLock<OwnedFd>; 256],
    /// What was stored through these handles, for `commit --table-output`.
    pub(crate) counters: WriteCounters,
}

impl Default for ObjectDirs {
    fn default() -> Self {
        ObjectDirs {
            tmp: OnceLock::new(),
            fanout: std::array::from_fn(|_| OnceLock::new()),
            counters: WriteCounters::default(),
        }
    }
}

/// Objects stored since the repository was opened: new ones (`*_written`) and all that
/// were asked to be stored, new or not (`*_total`).
#[derive(Debug, Default)]
pub(crate) struct WriteCounters {
    pub(crate) metadata_total: std::sync::atomic::AtomicU64,
    pub(crate) metadata_written: std::sync::atomic::AtomicU64,
    pub(crate) content_written: std::sync::atomic::AtomicU64,
    pub(crate) content_bytes_written: std::sync::atomic::AtomicU64,
    pub(crate) content_cache_hits: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for ObjectDirs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.fanout.iter().filter(|d| d.get().is_some()).count();
        write!(f, "ObjectDirs {{ fan-out directories open: {open} }}")
    }
}

/// The handle in `slot`, opening `path` into it on first use; `None` if it cannot be
/// opened (the caller then goes by path, which reports or mends the problem).
pub(crate) fn open_dir<'a>(slot: &'a OnceLock<OwnedFd>, path: &Path) -> Option<BorrowedFd<'a>> {
    if slot.get().is_none() {
        let flags = OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(CWD, path, flags, Mode::empty()).ok()?;
        // Another thread may have won the race; its handle is as good as ours.
        let _ = slot.set(fd);
    }
    slot.get().map(|fd| fd.as_fd())
}
