//! A small pool of scoped worker threads for I/O-bound batches: a pull fetches each
//! level of objects, and a static delta its parts, through it. Its own module because
//! both [`crate::pull`] and [`crate::delta`] use it and `pull` depends on `delta`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Runs `f` over `items` on up to `workers` threads; the first error stops the others
/// from starting new items and is returned. Results come in completion order.
pub(crate) fn parallel<T: Sync, R: Send, E: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let error = Mutex::new(None);
    let results = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    match f(item) {
                        Ok(r) => results.lock().expect("not poisoned").push(r),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            error.lock().expect("not poisoned").get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    match error.into_inner().expect("not poisoned") {
        Some(e) => Err(e),
        None => Ok(results.into_inner().expect("not poisoned")),
    }
}
