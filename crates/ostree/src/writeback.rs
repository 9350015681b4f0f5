//! Starting the writeback of large new objects early, on a thread of its own.
//!
//! A transaction makes its objects durable with one `syncfs` at the end, so without
//! help the disk idles while a commit hashes and copies, then the commit waits for
//! all of it. Asking the kernel to start writing a large object as soon as it is
//! complete (`POSIX_FADV_DONTNEED` writes dirty pages asynchronously) lets the disk
//! work during the commit. The request can block while the disk's queue is full, so
//! it is made here, not by the threads doing the hashing: they hand over a duplicate
//! descriptor and go on. When the queue of handed-over files is full, the file is
//! simply left to the final `syncfs`.
//!
//! Small objects are always left to the `syncfs`, which writes them in one sweep:
//! started one by one, 100,000 small files cost a commit 1.4 s more.

use std::fs::File;
use std::sync::OnceLock;
use std::sync::mpsc::{SyncSender, sync_channel};

/// Files waiting for their writeback to be started; each holds a descriptor.
const QUEUE: usize = 64;

/// The smallest object whose writeback is started early.
const LARGE: u64 = 1 << 20;

/// Starts writing the dirty pages of `file`, a new object of `size` bytes, out without
/// waiting when it is large: advice only, so a failure changes nothing.
pub(crate) fn start(file: &File, size: u64) {
    if size < LARGE {
        return;
    }
    static STARTER: OnceLock<Option<SyncSender<File>>> = OnceLock::new();
    let starter = STARTER.get_or_init(|| {
        let (sender, receiver) = sync_channel::<File>(QUEUE);
        std::thread::Builder::new()
            .name("ferro-writeback".into())
            .spawn(move || {
                for file in receiver {
                    let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed);
                }
            })
            .ok()
            .map(|_| sender)
    });
    if let (Some(sender), Ok(copy)) = (starter, file.try_clone()) {
        let _ = sender.try_send(copy);
    }
}
