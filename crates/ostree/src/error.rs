//! The error every repository operation returns, in a module of its own so that the
//! repository handle ([`crate::repo`]) and the layers it is built from (object files,
//! locks, compression) all name one type without depending on each other.

use std::path::{Path, PathBuf};

use crate::checksum::Checksum;
use crate::gvariant;

/// Failures of repository operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem call failed: "could not VERB 'PATH'", the one IO error of ferrocore.
    #[error(transparent)]
    Io(#[from] ferro_sys::IoError),
    /// An object's bytes are not a valid object of its type.
    #[error("could not parse object '{path}'")]
    Object {
        /// The object file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: gvariant::Error,
    },
    /// The `config` file is missing something or names an unknown mode.
    #[error("could not read repository config '{path}': {detail}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An object's bytes do not hash to its name (a pull verifies before storing).
    #[error("corrupt object {object}: {}", corruption(object, actual))]
    Corrupt {
        /// `CHECKSUM.TYPE` of the object that was claimed.
        object: String,
        /// What the bytes hash to.
        actual: Checksum,
    },
    /// A ref, commit or path does not exist.
    #[error("{}", not_found(.0))]
    NotFound(String),
    /// A ref name is not valid.
    #[error("Invalid ref name {0}")]
    InvalidRef(String),
    /// A ref that is to be created exists already (`refs --create` never moves one).
    #[error("ref '{0}' already exists")]
    RefExists(String),
    /// A commit older than the one it would replace, where that is refused (`pull
    /// -T`, `admin upgrade` without `--allow-downgrade`); worded as OSTree words it.
    #[error(
        "Upgrade target revision '{target}' with timestamp {target_time} is chronologically \
         older than current revision '{current}' with timestamp {current_time}; use \
         --allow-downgrade to permit"
    )]
    Downgrade {
        /// The commit that would come in.
        target: Checksum,
        /// Its timestamp (seconds since the epoch).
        target_time: u64,
        /// The commit it would replace.
        current: Checksum,
        /// Its timestamp.
        current_time: u64,
    },
    /// The operation is not possible in this repository or on this input.
    #[error("could not {verb} '{path}': {detail}")]
    Unsupported {
        /// What was being done.
        verb: &'static str,
        /// The file.
        path: PathBuf,
        /// Why not.
        detail: String,
    },
    /// OSTree's test hook `OSTREE_REPO_TEST_ERROR=pre-commit` stopped a transaction at
    /// its commit point, as an interrupted writer would stop ([`crate::transaction`]).
    #[error("OSTREE_REPO_TEST_ERROR_PRE_COMMIT specified")]
    InjectedPreCommit,
}

/// The mapper from `io::Error` to [`Error::Io`]: ferro-sys's, so every crate words its
/// IO errors the same.
pub(crate) use ferro_sys::io_err;

/// The error for a tree nested deeper than [`crate::object::MAX_DEPTH`].
pub(crate) fn too_deep(verb: &'static str, path: &Path) -> Error {
    Error::Unsupported {
        verb,
        path: path.to_owned(),
        detail: format!(
            "directories are nested deeper than {}",
            crate::object::MAX_DEPTH
        ),
    }
}

/// OSTree's wording for an object named `CHECKSUM.TYPE` that hashes to `actual`.
fn corruption(object: &str, actual: &Checksum) -> String {
    let (id, kind) = object.split_once('.').unwrap_or((object, ""));
    let kind = crate::object::ObjectType::from_extension(kind);
    match (id.parse::<Checksum>(), kind) {
        (Ok(id), Some(kind)) => kind.corruption(&id, actual),
        _ => format!("content hashes to {actual}"),
    }
}

/// What a missing name reads as: ostree's "No such metadata object ID.TYPE" for a
/// metadata object (scripts match on it), else that it could not be resolved.
fn not_found(name: &str) -> String {
    let metadata = [".commit", ".dirtree", ".dirmeta"];
    let object = name
        .split_once('.')
        .is_some_and(|(id, _)| id.parse::<Checksum>().is_ok());
    if object && metadata.iter().any(|ext| name.ends_with(ext)) {
        format!("No such metadata object {name}")
    } else if object && let Some(id) = name.strip_suffix(".file") {
        // A content object of a partial commit (`pull --subpath`), in OSTree's words.
        format!("Couldn't find file object '{id}'")
    } else if name.starts_with('/') {
        format!("No such file or directory: {name}")
    } else {
        // OSTree's wording for a ref or revision that resolves to nothing.
        format!("Refspec '{name}' not found")
    }
}
