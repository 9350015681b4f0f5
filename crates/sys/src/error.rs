//! The error of a filesystem step: what was attempted, on which path, and why.
//!
//! Every crate's own error type wraps [`IoError`] (`#[error(transparent)] Io(#[from]
//! IoError)`), so messages read the same everywhere ("could not write
//! '/etc/hostname'") and the cause stays reachable through `source()`.

use std::io;
use std::path::{Path, PathBuf};

/// A filesystem operation on a named path failed: the action, the path and the cause.
#[derive(Debug, thiserror::Error)]
#[error("could not {action} '{}'", path.display())]
pub struct IoError {
    /// What was attempted, as a verb phrase ("write", "create directory").
    pub action: &'static str,
    /// The path it was attempted on, as the user would name it.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: io::Error,
}

impl IoError {
    /// An error for `action` on `path` caused by `source`.
    pub fn new(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        IoError {
            action,
            path: path.into(),
            source,
        }
    }

    /// The kind of the underlying `io::Error`, for callers that treat "not found" or
    /// "already exists" as an answer rather than a failure.
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }

    /// The message with its cause on one line ("could not read '/etc/x': No such file
    /// or directory (os error 2)"), for error types that are printed as a single line
    /// and never walk a chain of causes (Ignition's log lines). Such a type holds the
    /// `IoError` without making it its `source()`, so the cause is printed once.
    pub fn one_line(&self) -> String {
        format!("{self}: {}", self.source)
    }
}

/// A mapper from `io::Error` to [`IoError`], for `map_err(io_err("read", path))`.
pub fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> IoError + 'a {
    move |source| IoError::new(action, path, source)
}

/// `.at("read", path)` on an `io::Result`: the same as `map_err(io_err(..))`, shorter at
/// call sites that do many steps.
pub trait IoResultExt<T> {
    /// Names the action and path of a failed step.
    fn at(self, action: &'static str, path: &Path) -> Result<T, IoError>;
}

impl<T> IoResultExt<T> for io::Result<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T, IoError> {
        self.map_err(io_err(action, path))
    }
}

impl<T> IoResultExt<T> for Result<T, rustix::io::Errno> {
    fn at(self, action: &'static str, path: &Path) -> Result<T, IoError> {
        self.map_err(|e| IoError::new(action, path, e.into()))
    }
}

/// `error` followed by each of its sources, joined by `: ` — one line for a log or a
/// JSON error value, where `{:#}` (anyhow) is not available.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_action_and_path_and_keeps_the_cause() {
        let error = Err::<(), _>(io::Error::from(io::ErrorKind::NotFound))
            .at("read", Path::new("/etc/x"))
            .unwrap_err();
        assert_eq!(error.to_string(), "could not read '/etc/x'");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(std::error::Error::source(&error).is_some());
        assert_eq!(
            error.one_line(),
            format!(
                "could not read '/etc/x': {}",
                io::Error::from(io::ErrorKind::NotFound)
            )
        );
    }

    #[test]
    fn error_chain_joins_the_sources() {
        let inner = std::io::Error::other("disk on fire");
        let outer = IoError::new("read", std::path::Path::new("/x"), inner);
        let text = error_chain(&outer);
        assert!(text.ends_with(": disk on fire"), "{text}");
    }
}
