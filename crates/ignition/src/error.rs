//! The error of the files stage: which config entry failed, on which path, and why.
//!
//! The files stage and the accounts and units parts it runs all return it; it has its own
//! module so that none of them depends on another for it.

use crate::fetch::FetchError;
use ferro_sys::IoError;

/// Why a config entry could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// A filesystem operation in the root failed. Printed on one line with its cause,
    /// like every message of the stage, and not made the `source()`, so a printer that
    /// walks causes does not repeat it.
    #[error("{}", .0.one_line())]
    Io(IoError),
    /// A resource could not be fetched or verified.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The config conflicts with the root or is unusable (the message names the path).
    #[error("{0}")]
    Invalid(String),
}

impl From<IoError> for ErrorKind {
    fn from(error: IoError) -> Self {
        ErrorKind::Io(error)
    }
}

/// A failure of the files stage, naming the config entry and the path.
///
/// Displays as `$.storage.files.3: /etc/x: A file exists there already and overwrite is false`.
#[derive(Debug, thiserror::Error)]
#[error("{entry}: {kind}")]
pub struct Error {
    /// The failing config entry (`$.storage.files.3`).
    pub entry: String,
    /// The path (inside the root) or account name concerned.
    pub path: String,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl Error {
    pub(crate) fn new(entry: &str, path: &str, kind: impl Into<ErrorKind>) -> Error {
        Error {
            entry: entry.to_string(),
            path: path.to_string(),
            kind: kind.into(),
        }
    }

    /// The failure of `entry` on the path the IO error names.
    pub(crate) fn io(entry: &str, error: IoError) -> Error {
        let path = error.path.display().to_string();
        Error::new(entry, &path, error)
    }

    pub(crate) fn invalid(entry: &str, path: &str, message: String) -> Error {
        Error::new(entry, path, ErrorKind::Invalid(message))
    }
}
