//! The one error type of the crate: every failure names the file and what was being done,
//! so the CLI can print it without extra context.

use std::io;
use std::path::PathBuf;

/// Failures of sysroot operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem call failed: "could not VERB 'PATH'", as in every crate.
    #[error(transparent)]
    Io(#[from] ferro_sys::IoError),
    /// The repository failed (resolving, checking out, pruning).
    #[error(transparent)]
    Repo(#[from] ferro_ostree::repo::Error),
    /// The sysroot is not laid out as OSTree lays it out.
    #[error("invalid sysroot '{path}': {detail}")]
    Layout {
        /// The offending file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The commit has no kernel where OSTree looks for one.
    #[error("Failed to find kernel in /usr/lib/modules of '{0}'")]
    NoKernel(PathBuf),
    /// A local `/etc` change cannot be carried over because the new default has a
    /// different kind of file at that path.
    #[error(
        "/etc merge conflict at '{path}': local {local} would replace the new default {default}{}",
        ostree_etc_wording(local, default)
    )]
    EtcConflict {
        /// Path relative to `/etc`.
        path: String,
        /// Kind of the local file (`file`, `directory`, `symlink`).
        local: &'static str,
        /// Kind of the new default.
        default: &'static str,
    },
    /// The request does not fit the current deployments (bad index, booted deployment…).
    #[error("{0}")]
    Invalid(String),
    /// A kernel argument edit could not be applied.
    #[error("kernel arguments: {0}")]
    Kargs(String),
    /// Pulling the origin's refspec from its remote failed (boxed: pull errors are
    /// large and rare).
    #[error(transparent)]
    Pull(#[from] Box<ferro_ostree::pull::PullError>),
    /// A mount call of `prepare-root` failed.
    #[error("could not {action}")]
    Mount {
        /// What was being mounted where.
        action: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Package layering refused or failed.
    #[error(transparent)]
    Layer(#[from] crate::layer::LayerError),
    /// A failpoint set by [`crate::Sysroot::set_failpoint`] stopped the operation.
    #[error("injected failure before step '{0}'")]
    Injected(&'static str),
    /// `OSTREE_SYSROOT_DEBUG=test-fifreeze` stopped a write of boot entries where OSTree
    /// freezes and thaws `/boot` (the new entries are written but not switched to);
    /// worded as OSTree's test suite expects.
    #[error(
        "During fsfreeze-thaw: aborting due to test-fifreeze (test hook: stopped where the \
         fifreeze watchdog was run)"
    )]
    TestFifreeze,
}

/// OSTree's message for a locally modified file whose default became a directory,
/// which scripts match on.
fn ostree_etc_wording(local: &str, default: &str) -> &'static str {
    if (local, default) == ("file", "directory") {
        " (Modified config file newly defaults to directory)"
    } else {
        ""
    }
}
