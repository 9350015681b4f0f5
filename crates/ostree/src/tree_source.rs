//! What `commit --tree=…` names, and committing it: the one entry point for a commit
//! whatever the tree comes from, so that callers parse a `--tree` value into a
//! [`TreeSource`] and need not know which module commits which kind of source.
//! Above both [`crate::commit`] and [`crate::commit_tar`], which it dispatches to.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::commit::{CommitOptions, CommitOutcome, commit_dir};
use crate::commit_tar::commit_tar;
use crate::error::{Error, io_err};
use crate::repo::Repo;

/// The tree a commit is made from, as `ostree commit --tree=KIND=VALUE` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeSource {
    /// `dir=PATH`: a directory on disk.
    Dir(PathBuf),
    /// `tar=FILE`: a tar archive, plain or gzip-compressed; `-` reads standard input.
    Tar(PathBuf),
}

/// A `--tree` value that names no source this implementation reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported tree '{0}': expected dir=PATH or tar=FILE (a plain or gzip tar archive; \
     tar=- reads standard input)"
)]
pub struct TreeSourceError(pub String);

impl FromStr for TreeSource {
    type Err = TreeSourceError;

    /// Parses `dir=PATH` or `tar=FILE`; anything else (OSTree's `ref=`, a bare path)
    /// is refused with an error naming the value and the accepted forms.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some(("dir", dir)) if !dir.is_empty() => Ok(TreeSource::Dir(dir.into())),
            Some(("tar", file)) if !file.is_empty() => Ok(TreeSource::Tar(file.into())),
            _ => Err(TreeSourceError(text.to_owned())),
        }
    }
}

impl fmt::Display for TreeSource {
    /// The `KIND=VALUE` form [`TreeSource::from_str`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeSource::Dir(dir) => write!(f, "dir={}", dir.display()),
            TreeSource::Tar(file) => write!(f, "tar={}", file.display()),
        }
    }
}

/// Commits `source` into `repo`, like `ostree commit --tree=…`: a directory through
/// [`commit_dir`], an archive (a file, or standard input for `-`) through
/// [`commit_tar`].
pub fn commit_tree(
    repo: &Repo,
    source: &TreeSource,
    options: &CommitOptions,
) -> Result<CommitOutcome, Error> {
    match source {
        TreeSource::Dir(dir) => commit_dir(repo, dir, options),
        TreeSource::Tar(file) if file == Path::new("-") => {
            commit_tar(repo, std::io::stdin().lock(), file, options)
        }
        TreeSource::Tar(file) => {
            let input = std::fs::File::open(file).map_err(io_err("open", file))?;
            commit_tar(repo, input, file, options)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dir_and_tar_and_names_what_it_refuses() {
        assert_eq!(
            "dir=/a=b".parse(),
            Ok(TreeSource::Dir("/a=b".into())),
            "only the first '=' separates"
        );
        assert_eq!("tar=-".parse(), Ok(TreeSource::Tar("-".into())));
        for bad in ["ref=main", "/some/dir", "dir=", "tar"] {
            let err = bad.parse::<TreeSource>().unwrap_err();
            assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
            assert!(err.to_string().contains("dir=PATH or tar=FILE"), "{err}");
        }
        let source = TreeSource::Tar("x.tar.gz".into());
        assert_eq!(source.to_string().parse(), Ok(source));
    }
}
