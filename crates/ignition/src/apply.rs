//! The context the files stage applies a config in: its options, the target root and
//! fetcher, the record of what was done, and the file writes queued for a parallel flush.
//!
//! The files, accounts ([`crate::passwd`]) and units ([`crate::units`]) parts of the stage
//! all work through one [`Context`]. It lives here, not in [`crate::files`], so that
//! `files` can call those parts without them importing `files` back; the change list is
//! also what the disks and mount stages report.

use std::fmt;

use ferro_spec::{Config, Resource};

use crate::error::Error;
use crate::fetch::Fetch;
use crate::root::{Perms, Root};

/// How the stage runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Compute and report the plan without writing anything (and without fetching: a dry
    /// run has no network side effects, so hash mismatches are not found by it). Checks
    /// run against the root as it is, so conflicts that only earlier entries of the same
    /// config would create are not reported.
    pub dry_run: bool,
    /// Whether setuid/setgid/sticky bits of file modes are applied. Ignition applies them
    /// from spec 3.6.0 on; for older configs they have no effect (its chown cleared them).
    pub special_mode_bits: bool,
    /// Write SSH keys to `~/.ssh/authorized_keys.d/ignition` (the default) rather than
    /// to `~/.ssh/authorized_keys` (Ignition's `IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT=false`).
    pub authorized_keys_fragment: bool,
}

impl Options {
    /// The options for applying `config` as Ignition does: special mode bits as its
    /// spec version says, SSH keys in the fragment file.
    pub fn for_config(config: &Config, dry_run: bool) -> Self {
        let version = config.ignition.version.parse::<ferro_spec::Version>();
        Options {
            dry_run,
            special_mode_bits: version.is_ok_and(|v| v >= ferro_spec::Version::V3_6),
            authorized_keys_fragment: true,
        }
    }
}

/// One action the stage took (or would take in a dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The config entry responsible (`$.storage.files.3`).
    pub entry: String,
    /// What was done: `created file /etc/hello (0644, 0:0)`.
    pub summary: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

/// Everything the stage did, in order, for the CLI to print.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
    /// The actions, one per entry.
    pub changes: Vec<Change>,
}

impl fmt::Display for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(f, "dry run, nothing written; planned:")?;
        }
        for c in &self.changes {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}

/// What the parts of the files stage share while they apply a config: where to write,
/// how, and what was done. (The stages themselves are [`crate::engine::Stage`].)
pub(crate) struct Context<'a> {
    pub(crate) root: &'a Root,
    pub(crate) fetcher: &'a dyn Fetch,
    pub(crate) dry_run: bool,
    pub(crate) special_mode_bits: bool,
    pub(crate) authorized_keys_fragment: bool,
    pub(crate) changes: Vec<Change>,
    /// New file contents checked, fetched and planned, written in parallel by
    /// [`Context::flush`]: creating many files is what provisioning spends its time on.
    pending: Vec<PendingWrite>,
}

/// A file write that [`Context::flush`] will do.
struct PendingWrite {
    entry: String,
    path: String,
    data: Vec<u8>,
    perms: Perms,
}

impl<'a> Context<'a> {
    /// A context that writes into `root` and fetches with `fetcher`, as `options` say.
    pub(crate) fn new(root: &'a Root, fetcher: &'a dyn Fetch, options: &Options) -> Self {
        Context {
            root,
            fetcher,
            dry_run: options.dry_run,
            special_mode_bits: options.special_mode_bits,
            authorized_keys_fragment: options.authorized_keys_fragment,
            changes: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Queues a file write for [`Context::flush`].
    pub(crate) fn queue_write(&mut self, entry: &str, path: &str, data: Vec<u8>, perms: Perms) {
        self.pending.push(PendingWrite {
            entry: entry.to_owned(),
            path: path.to_owned(),
            data,
            perms,
        });
    }

    /// Writes every pending file, on all cores; the first failure in config order wins.
    /// Called before anything that could depend on those files exists.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Ok(());
        }
        let root = self.root;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = pending.len().div_ceil(threads);
        let failures: Vec<Error> = std::thread::scope(|scope| {
            let workers: Vec<_> = pending
                .chunks(chunk)
                .map(|writes| {
                    scope.spawn(move || {
                        writes.iter().find_map(|w| {
                            root.write_file(&w.path, &w.data, w.perms)
                                .err()
                                .map(|e| Error::new(&w.entry, &w.path, e))
                        })
                    })
                })
                .collect();
            workers
                .into_iter()
                .filter_map(|worker| worker.join().expect("file writes do not panic"))
                .collect()
        });
        match failures.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    pub(crate) fn record(&mut self, entry: &str, summary: String) {
        self.changes.push(Change {
            entry: entry.to_string(),
            summary,
        });
    }

    /// Fetches a resource; `None` when it has no source.
    pub(crate) fn fetch(
        &self,
        entry: &str,
        path: &str,
        resource: &Resource,
    ) -> Result<Option<Vec<u8>>, Error> {
        self.fetcher
            .fetch(resource)
            .map_err(|e| Error::new(entry, path, e))
    }
}

/// A config id (uid, gid) as a kernel id; `u32::MAX` is `-1`, "no change", so refused.
pub(crate) fn id(entry: &str, what: &str, value: i64) -> Result<u32, Error> {
    u32::try_from(value)
        .ok()
        .filter(|v| *v != u32::MAX)
        .ok_or_else(|| Error::invalid(entry, what, format!("{what} {value} is out of range")))
}
