//! OSTree's `dummy` signature type, which exists for OSTree's own tests: the
//! "signature" is the key text itself, appended to the `aay` under `ostree.sign.dummy`
//! in the commit's detached metadata, and a commit verifies with a key when one of its
//! signatures is that text. It proves nothing, so — as in OSTree — it is refused
//! unless `OSTREE_DUMMY_SIGN_ENABLED=1`.

use crate::checksum::Checksum;
use crate::object::{Metadata, Variant};
use crate::repo::{self, Repo};

/// The detached metadata key holding dummy signatures.
pub const DUMMY_KEY: &str = "ostree.sign.dummy";

/// Why a dummy signature could not be made or checked (OSTree's wording).
#[derive(Debug, thiserror::Error)]
pub enum DummyError {
    /// `OSTREE_DUMMY_SIGN_ENABLED=1` is not set.
    #[error("dummy signature type is only for ostree testing")]
    Disabled,
    /// The commit has no dummy signatures.
    #[error("signature: dummy: commit have no signatures of my type")]
    Unsigned,
    /// The list is not an `aay`.
    #[error("signature: dummy: wrong type passed for verification")]
    Malformed,
    /// Signatures exist, none is the key.
    #[error("signature: dummy: incorrect signatures found: {0}")]
    Incorrect(usize),
    /// Reading or writing the repository failed.
    #[error(transparent)]
    Repo(#[from] repo::Error),
}

/// Whether the test-only signer is allowed (`OSTREE_DUMMY_SIGN_ENABLED=1`).
pub fn enabled() -> bool {
    std::env::var("OSTREE_DUMMY_SIGN_ENABLED").as_deref() == Ok("1")
}

fn require_enabled() -> Result<(), DummyError> {
    if enabled() {
        Ok(())
    } else {
        Err(DummyError::Disabled)
    }
}

/// Appends the dummy signature `key` to the commit's detached metadata.
pub fn sign_commit(repo: &Repo, commit: &Checksum, key: &str) -> Result<(), DummyError> {
    require_enabled()?;
    let mut metadata = repo.read_commitmeta(commit)?.unwrap_or_default();
    append(&mut metadata, key)?;
    repo.write_commitmeta(commit, &metadata)?;
    Ok(())
}

/// Appends the dummy signatures `keys` to `summary.sig` (`summary -u` removed it first).
pub fn sign_summary(repo: &Repo, keys: &[String]) -> Result<(), DummyError> {
    require_enabled()?;
    let path = repo.path().join("summary.sig");
    let mut metadata = crate::commitmeta::read_detached(path.clone())?.unwrap_or_default();
    for key in keys {
        append(&mut metadata, key)?;
    }
    repo.write_durable(&path, &crate::object::metadata_bytes(&metadata))?;
    Ok(())
}

/// `metadata` with `key` appended to its dummy signatures.
fn append(metadata: &mut Metadata, key: &str) -> Result<(), DummyError> {
    let mut list = match metadata.iter().find(|(k, _)| k == DUMMY_KEY) {
        Some((_, value)) => value.as_byte_strings().ok_or(DummyError::Malformed)?,
        None => Vec::new(),
    };
    list.push(key.as_bytes().to_vec());
    let value = Variant::byte_strings(list.iter().map(Vec::as_slice));
    match metadata.iter_mut().find(|(k, _)| k == DUMMY_KEY) {
        Some(entry) => entry.1 = value,
        None => metadata.push((DUMMY_KEY.to_owned(), value)),
    }
    Ok(())
}

/// Whether one of the dummy signatures in `metadata` is `key`.
pub fn verify_metadata(metadata: Option<&Metadata>, key: &str) -> Result<(), DummyError> {
    require_enabled()?;
    let Some((_, value)) = metadata.into_iter().flatten().find(|(k, _)| k == DUMMY_KEY) else {
        return Err(DummyError::Unsigned);
    };
    let list = value.as_byte_strings().ok_or(DummyError::Malformed)?;
    if list.iter().any(|sig| sig == key.as_bytes()) {
        return Ok(());
    }
    Err(DummyError::Incorrect(list.len()))
}

/// Whether the commit's stored detached metadata holds the dummy signature `key`.
pub fn verify_commit(repo: &Repo, commit: &Checksum, key: &str) -> Result<(), DummyError> {
    verify_metadata(repo.read_commitmeta(commit)?.as_ref(), key)
}
