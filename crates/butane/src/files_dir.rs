//! Reading `local` files, confined to the directory given with `-d/--files-dir`.

use std::path::{Component, Path, PathBuf};

/// Why a local file could not be used; the texts are Butane's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalError {
    /// No `--files-dir` was given.
    #[error(
        "local file paths are relative to a files directory that must be specified with -d/--files-dir"
    )]
    NoFilesDir,
    /// The path leaves the files directory.
    #[error("local file path traverses outside the files directory")]
    OutsideFilesDir,
    /// The file could not be read.
    #[error("{0}")]
    Io(String),
}

/// The directory `local` paths are relative to, if any.
#[derive(Debug, Clone, Default)]
pub struct FilesDir {
    root: Option<PathBuf>,
}

impl FilesDir {
    /// Local files are read below `root`, or refused when `None`.
    pub fn new(root: Option<PathBuf>) -> Self {
        Self { root }
    }

    /// The host path of `local`: joined under the files dir and lexically cleaned, so
    /// `sub/../x` is fine, an absolute path is taken as relative, and `../x` is refused.
    pub fn resolve(&self, local: &str) -> Result<PathBuf, LocalError> {
        let root = self.root.as_ref().ok_or(LocalError::NoFilesDir)?;
        let mut depth = 0usize;
        let mut joined = root.clone();
        for component in Path::new(local).components() {
            match component {
                Component::Normal(part) => {
                    joined.push(part);
                    depth += 1;
                }
                Component::ParentDir => {
                    if depth == 0 {
                        return Err(LocalError::OutsideFilesDir);
                    }
                    joined.pop();
                    depth -= 1;
                }
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        Ok(joined)
    }

    /// The contents of `local`.
    pub fn read(&self, local: &str) -> Result<Vec<u8>, LocalError> {
        let path = self.resolve(local)?;
        // A directory opens, and fails to be read: Go names that step.
        std::fs::read(&path).map_err(|e| {
            let step = if e.kind() == std::io::ErrorKind::IsADirectory {
                "read"
            } else {
                "open"
            };
            io_error(step, &path, &e)
        })
    }
}

/// An OS error in the words Go uses (`open files-dir/x: no such file or directory`),
/// which users of Butane know. Not a `ferro_sys::IoError` ("could not ACTION 'PATH'"):
/// Butane's reports for local files are compared byte for byte with Butane's, whose text
/// is Go's `*os.PathError` (the syscall's name, the path, Go's lower-case cause).
pub fn io_error(op: &str, path: &Path, error: &std::io::Error) -> LocalError {
    LocalError::Io(format!("{op} {}: {}", path.display(), go_error_text(error)))
}

fn go_error_text(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::IsADirectory => "is a directory".to_owned(),
        std::io::ErrorKind::NotADirectory => "not a directory".to_owned(),
        _ => {
            let text = error.to_string();
            // Rust appends " (os error N)"; Go does not.
            match text.find(" (os error") {
                Some(at) => text[..at].to_lowercase(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confines_paths_to_the_files_dir() {
        let dir = FilesDir::new(Some(PathBuf::from("files")));
        assert_eq!(dir.resolve("a/b").unwrap(), PathBuf::from("files/a/b"));
        assert_eq!(dir.resolve("a/../b").unwrap(), PathBuf::from("files/b"));
        assert_eq!(dir.resolve("/abs").unwrap(), PathBuf::from("files/abs"));
        assert_eq!(dir.resolve("."), Ok(PathBuf::from("files")));
        assert_eq!(dir.resolve("../x"), Err(LocalError::OutsideFilesDir));
        assert_eq!(dir.resolve("a/../../x"), Err(LocalError::OutsideFilesDir));
    }

    #[test]
    fn needs_a_files_dir() {
        assert_eq!(FilesDir::new(None).read("x"), Err(LocalError::NoFilesDir));
    }

    #[test]
    fn reports_directories_as_go_reads_them() {
        let dir = FilesDir::new(Some(std::env::temp_dir()));
        let text = dir.read(".").unwrap_err().to_string();
        assert!(
            text.starts_with("read ") && text.ends_with(": is a directory"),
            "{text}"
        );
    }

    #[test]
    fn reports_missing_files_like_go() {
        let dir = FilesDir::new(Some(PathBuf::from("/nonexistent-ferro")));
        assert_eq!(
            dir.read("f").unwrap_err().to_string(),
            "open /nonexistent-ferro/f: no such file or directory"
        );
    }
}
