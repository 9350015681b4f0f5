//! Ed25519 signatures of commits and summaries, as `ostree sign` and
//! `ostree summary --sign` make and check them.
//!
//! A signature is a plain 64-byte Ed25519 signature (RFC 8032, deterministic) of the
//! signed file's exact bytes, appended to the `aay` under `ostree.sign.ed25519` in an
//! `a{sv}` kept beside it: the commit's detached metadata ([`crate::commitmeta`]), or
//! `summary.sig` for the `summary` file. Keys travel as base64: a
//! secret key is 64 bytes (seed ‖ public key, libsodium's layout), a public key 32
//! bytes; key files hold one key per line. A commit verifies when any of its
//! signatures verifies with any of the given public keys — what a pull from a remote
//! with `sign-verify=true` requires of commits ([`verify_commit`]), and one with
//! `sign-verify-summary=true` of the summary ([`verify_summary`]).

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::checksum::Checksum;
use crate::error::io_err;
use crate::object::{Metadata, ObjectType, Variant, metadata_bytes, parse_metadata};
use crate::repo::{self, Repo};

/// The detached metadata key holding Ed25519 signatures.
pub const ED25519_KEY: &str = "ostree.sign.ed25519";

/// What a signature vouches for, as error messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    /// A commit, by id.
    Commit(Checksum),
    /// A repository's `summary` file.
    Summary,
}

impl fmt::Display for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signed::Commit(id) => write!(f, "commit {id}"),
            Signed::Summary => f.write_str("the summary"),
        }
    }
}

/// Why a commit could not be signed or verified.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// Reading or writing the repository failed.
    #[error(transparent)]
    Repo(#[from] repo::Error),
    /// A GPG signature was required and none verifies (or GPG could not check).
    #[error(transparent)]
    Gpg(#[from] crate::gpg::GpgError),
    /// None of the signature types required found a signature of its own (OSTree's
    /// wording).
    #[error("No signatures found")]
    NoSignatures,
    /// A `dummy` signature was required and none is a trusted key.
    #[error(transparent)]
    Dummy(#[from] crate::sign_dummy::DummyError),
    /// A secret key is not base64 of a valid 64-byte Ed25519 key pair. The key itself
    /// is never shown.
    #[error("invalid ed25519 secret key #{index}: {detail}")]
    InvalidSecretKey {
        /// Position among the keys given (1-based).
        index: usize,
        /// What is wrong.
        detail: String,
    },
    /// A public key is not base64 of 32 bytes.
    #[error("invalid ed25519 public key '{key}': {detail}")]
    InvalidPublicKey {
        /// The key as given.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// A key file could not be read.
    #[error("could not read keys file '{path}'")]
    KeysFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The commit object does not hash to its id, so no signature can vouch for it.
    #[error("commit {commit} is corrupt: its bytes hash to {actual}")]
    CorruptCommit {
        /// The commit.
        commit: Checksum,
        /// What the stored bytes hash to.
        actual: Checksum,
    },
    /// The detached metadata holds no Ed25519 signatures.
    #[error("{signed} has no ed25519 signatures")]
    Unsigned {
        /// What lacks them.
        signed: Signed,
    },
    /// The signature list is not an `aay`, or `summary.sig` is not an `a{sv}`.
    #[error("{signed}: the signatures are malformed ({detail})")]
    Malformed {
        /// Whose signatures.
        signed: Signed,
        /// What is wrong.
        detail: String,
    },
    /// No verification was asked for with no keys; refusing rather than passing.
    #[error("no ed25519 public keys to verify {signed} with")]
    NoKeys {
        /// What was to be verified.
        signed: Signed,
    },
    /// There is no `summary` file to sign or verify.
    #[error("the repository has no summary file (`summary -u` makes one)")]
    NoSummary,
    /// Signatures exist but none verifies with any of the keys; worded as OSTree's
    /// (which scripts match): the keys tried, or how many once there are more than 3
    /// signature–key pairs.
    #[error("{signed}: ed25519: Signature couldn't be verified{}", tried_text(*signatures, tried))]
    NotVerified {
        /// What was verified.
        signed: Signed,
        /// Signatures found.
        signatures: usize,
        /// Keys tried.
        keys: usize,
        /// The keys tried.
        tried: Vec<PublicKey>,
    },
}

/// OSTree's tail of a failed verification: `with: key 'HEX'; …` for at most 3
/// signature–key pairs, else `; tried N keys`.
fn tried_text(signatures: usize, keys: &[PublicKey]) -> String {
    let pairs = signatures * keys.len();
    if pairs > 3 {
        return format!("; tried {pairs} keys");
    }
    let each: Vec<String> = (0..signatures)
        .flat_map(|_| keys.iter().map(|key| format!("key '{key}'")))
        .collect();
    format!(" with: {}", each.join("; "))
}

/// An Ed25519 secret key (deliberately not `Debug`-printable in full).
pub struct SecretKey(SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public_key())
    }
}

impl SecretKey {
    /// Parses base64 of 64 bytes (seed ‖ public key); `index` (1-based) names the key
    /// in errors without revealing it.
    pub fn from_base64(text: &str, index: usize) -> Result<Self, SignError> {
        let bad = |detail: &str| SignError::InvalidSecretKey {
            index,
            detail: detail.to_owned(),
        };
        let bytes = BASE64.decode(text.trim()).map_err(|_| bad("not base64"))?;
        let pair: &[u8; 64] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad(&format!("{} bytes, expected 64", bytes.len())))?;
        SigningKey::from_keypair_bytes(pair)
            .map(SecretKey)
            .map_err(|_| bad("the public half does not belong to the seed"))
    }

    /// Builds a key from its 32-byte seed (for generating keys and for tests).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SecretKey(SigningKey::from_bytes(seed))
    }

    /// The base64 of seed ‖ public key, the form `ostree sign` takes.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0.to_keypair_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        let key = self.0.verifying_key();
        PublicKey {
            raw: key.to_bytes(),
            key: Some(key),
        }
    }
}

/// An Ed25519 public key; displays as hex, as OSTree's messages show keys. 32 bytes
/// that are not a curve point are a key all the same, one that verifies nothing, as
/// libsodium treats them (so a remote's list may hold such a key beside good ones).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    raw: [u8; 32],
    key: Option<VerifyingKey>,
}

impl PublicKey {
    /// Parses base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, SignError> {
        let bad = |detail: String| SignError::InvalidPublicKey {
            key: text.to_owned(),
            detail,
        };
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|_| bad("not base64".into()))?;
        let raw: &[u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad(format!("{} bytes, expected 32", bytes.len())))?;
        Ok(PublicKey {
            raw: *raw,
            key: VerifyingKey::from_bytes(raw).ok(),
        })
    }

    /// The base64 form.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.raw)
    }

    /// Whether `signature` (64 bytes) is this key's Ed25519 signature of `message`:
    /// detached signatures of other files (disk images) than commits and summaries.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature).is_ok_and(|sig| self.verifies_signature(message, &sig))
    }

    fn verifies_signature(&self, message: &[u8], signature: &Signature) -> bool {
        self.key
            .is_some_and(|key| key.verify_strict(message, signature).is_ok())
    }
}

impl SecretKey {
    /// The Ed25519 signature of `message` (64 bytes), for detached signatures of
    /// files such as disk images.
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// The keys in a key file: one base64 key per line, blank lines ignored (the format
/// of `--keys-file` and `/etc/ostree/trusted.ed25519`).
pub fn read_keys_file(path: &Path) -> Result<Vec<String>, SignError> {
    let text = std::fs::read_to_string(path).map_err(|source| SignError::KeysFile {
        path: path.to_owned(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The trusted keys of a key directory, as OSTree's `--keys-dir` (and `/etc/ostree`)
/// layout holds them: the lines of `trusted.ed25519` and of every file in
/// `trusted.ed25519.d/`, less those listed the same way under `revoked.ed25519`.
pub fn read_keys_dir(dir: &Path) -> Result<Vec<String>, SignError> {
    let read = |kind: &str| -> Result<Vec<String>, SignError> {
        let mut keys = Vec::new();
        let file = dir.join(format!("{kind}.ed25519"));
        if file.is_file() {
            keys.extend(read_keys_file(&file)?);
        }
        let sub = dir.join(format!("{kind}.ed25519.d"));
        if let Ok(entries) = std::fs::read_dir(&sub) {
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            for file in files {
                keys.extend(read_keys_file(&file)?);
            }
        }
        Ok(keys)
    };
    let revoked = read("revoked")?;
    Ok(read("trusted")?
        .into_iter()
        .filter(|key| !revoked.contains(key))
        .collect())
}

/// Which key verified a commit or summary, and which of its signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedBy {
    /// The public key that verified.
    pub key: PublicKey,
    /// Index of the signature in the `ostree.sign.ed25519` list.
    pub signature: usize,
}

/// The commit object's bytes, checked against its id: a signature covers bytes, and
/// the caller trusts an id.
fn commit_bytes(repo: &Repo, commit: &Checksum) -> Result<Vec<u8>, SignError> {
    let bytes = repo.read_metadata(ObjectType::Commit, commit)?;
    let actual = Checksum::of(&bytes);
    if actual != *commit {
        return Err(SignError::CorruptCommit {
            commit: *commit,
            actual,
        });
    }
    Ok(bytes)
}

/// Signs a commit and appends the signature to its detached metadata (other keys and
/// earlier signatures are kept, as `ostree sign` does). Returns the signature.
pub fn sign_commit(repo: &Repo, commit: &Checksum, key: &SecretKey) -> Result<Vec<u8>, SignError> {
    let bytes = commit_bytes(repo, commit)?;
    let signature = key.0.sign(&bytes).to_bytes().to_vec();
    let mut metadata = repo.read_commitmeta(commit)?.unwrap_or_default();
    append_signature(&mut metadata, Signed::Commit(*commit), &signature)?;
    repo.write_commitmeta(commit, &metadata)?;
    Ok(signature)
}

/// Signs the repository's `summary` with every key, appending to the signatures
/// already in `summary.sig` (as `ostree summary --sign` does; `summary -u` starts
/// afresh by removing `summary.sig`).
pub fn sign_summary(repo: &Repo, keys: &[SecretKey]) -> Result<(), SignError> {
    let summary_path = repo.path().join("summary");
    let summary = match std::fs::read(&summary_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SignError::NoSummary),
        Err(e) => return Err(repo::Error::from(io_err("read", &summary_path)(e)).into()),
    };
    let sig_path = repo.path().join("summary.sig");
    let mut metadata = crate::commitmeta::read_detached(sig_path.clone())?.unwrap_or_default();
    for key in keys {
        let signature = key.0.sign(&summary).to_bytes();
        append_signature(&mut metadata, Signed::Summary, &signature)?;
    }
    repo.write_durable(&sig_path, &metadata_bytes(&metadata))?;
    Ok(())
}

/// Checks `summary` against the signatures of `summary.sig` (`None`: the remote has
/// none), as a pull from a remote with `sign-verify-summary=true` must.
pub fn verify_summary(
    summary: &[u8],
    summary_sig: Option<&[u8]>,
    keys: &[PublicKey],
) -> Result<VerifiedBy, SignError> {
    let metadata = match summary_sig {
        Some(bytes) => parse_summary_sig(bytes)?,
        None => Metadata::new(),
    };
    verify_detached(Signed::Summary, summary, &metadata, keys)
}

fn parse_summary_sig(bytes: &[u8]) -> Result<Metadata, SignError> {
    parse_metadata(bytes).map_err(|e| SignError::Malformed {
        signed: Signed::Summary,
        detail: format!("summary.sig: {e}"),
    })
}

/// Appends `signature` to the `ostree.sign.ed25519` list of `metadata`, creating it.
fn append_signature(
    metadata: &mut Metadata,
    signed: Signed,
    signature: &[u8],
) -> Result<(), SignError> {
    match metadata.iter_mut().find(|(k, _)| k == ED25519_KEY) {
        Some((_, value)) => {
            let mut all = value
                .as_byte_strings()
                .ok_or_else(|| malformed(signed, value))?;
            all.push(signature.to_vec());
            *value = Variant::byte_strings(all.iter().map(Vec::as_slice));
        }
        None => metadata.push((ED25519_KEY.to_owned(), Variant::byte_strings([signature]))),
    }
    Ok(())
}

fn malformed(signed: Signed, value: &Variant) -> SignError {
    SignError::Malformed {
        signed,
        detail: format!("'{ED25519_KEY}' has type '{}', not 'aay'", value.type_str),
    }
}

/// Checks that some Ed25519 signature in the commit's detached metadata verifies
/// (strictly: no malleable or small-order encodings) with one of `keys`.
pub fn verify_commit(
    repo: &Repo,
    commit: &Checksum,
    keys: &[PublicKey],
) -> Result<VerifiedBy, SignError> {
    let bytes = commit_bytes(repo, commit)?;
    let metadata = repo.read_commitmeta(commit)?.unwrap_or_default();
    verify_signatures(commit, &bytes, &metadata, keys)
}

/// [`verify_commit`] over a commit's bytes and detached metadata held in memory, so a
/// pull can judge a fetched commit before any of it is stored. The caller has checked
/// that `bytes` hash to `commit`.
pub fn verify_signatures(
    commit: &Checksum,
    bytes: &[u8],
    metadata: &Metadata,
    keys: &[PublicKey],
) -> Result<VerifiedBy, SignError> {
    verify_detached(Signed::Commit(*commit), bytes, metadata, keys)
}

/// Whether some signature in `metadata`'s `ostree.sign.ed25519` list verifies `bytes`
/// with one of `keys`.
fn verify_detached(
    signed: Signed,
    bytes: &[u8],
    metadata: &Metadata,
    keys: &[PublicKey],
) -> Result<VerifiedBy, SignError> {
    if keys.is_empty() {
        return Err(SignError::NoKeys { signed });
    }
    let Some((_, value)) = metadata.iter().find(|(k, _)| k == ED25519_KEY) else {
        return Err(SignError::Unsigned { signed });
    };
    let signatures = value
        .as_byte_strings()
        .ok_or_else(|| malformed(signed, value))?;
    if signatures.is_empty() {
        return Err(SignError::Unsigned { signed });
    }
    for (index, raw) in signatures.iter().enumerate() {
        // A signature of the wrong length verifies with no key.
        let Ok(raw) = <&[u8; 64]>::try_from(raw.as_slice()) else {
            continue;
        };
        let signature = Signature::from_bytes(raw);
        if let Some(key) = keys
            .iter()
            .find(|key| key.verifies_signature(bytes, &signature))
        {
            return Ok(VerifiedBy {
                key: *key,
                signature: index,
            });
        }
    }
    Err(SignError::NotVerified {
        signed,
        signatures: signatures.len(),
        keys: keys.len(),
        tried: keys.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Commit, DirMeta};
    use crate::repo::RepoMode;

    fn setup() -> (tempfile::TempDir, Repo, Checksum) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        let meta = DirMeta::directory(0, 0, 0o755);
        let commit = Commit {
            metadata: vec![],
            parent: None,
            related: vec![],
            subject: "s".into(),
            body: String::new(),
            timestamp: 0,
            root_tree: Checksum([1; 32]),
            root_meta: meta.checksum(),
        };
        let id = repo
            .write_metadata(ObjectType::Commit, &commit.to_bytes())
            .unwrap();
        (dir, repo, id)
    }

    #[test]
    fn failures_are_worded_as_ostree_and_non_points_are_keys() {
        let (_dir, repo, id) = setup();
        sign_commit(&repo, &id, &SecretKey::from_seed(&[7; 32])).unwrap();
        // 32 bytes that are no curve point (y = 2 has no x): a key that verifies nothing.
        let mut raw = [0u8; 32];
        raw[0] = 2;
        let not_a_point = PublicKey::from_base64(&BASE64.encode(raw)).unwrap();
        assert!(not_a_point.key.is_none());
        assert!(!not_a_point.verifies(b"m", &[0; 64]));
        let err = verify_commit(&repo, &id, &[not_a_point]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "commit {id}: ed25519: Signature couldn't be verified with: key '{}'",
                hex(&raw)
            )
        );
        let others: Vec<PublicKey> = (10..14)
            .map(|seed| SecretKey::from_seed(&[seed; 32]).public_key())
            .collect();
        let err = verify_commit(&repo, &id, &others).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("ed25519: Signature couldn't be verified; tried 4 keys"),
            "{err}"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sign_then_verify_and_reject_wrong_keys() {
        let (_dir, repo, id) = setup();
        let key = SecretKey::from_seed(&[7; 32]);
        let other = SecretKey::from_seed(&[8; 32]).public_key();
        assert!(matches!(
            verify_commit(&repo, &id, &[key.public_key()]),
            Err(SignError::Unsigned { .. })
        ));
        sign_commit(&repo, &id, &key).unwrap();
        sign_commit(&repo, &id, &SecretKey::from_seed(&[9; 32])).unwrap();
        let by = verify_commit(&repo, &id, &[other, key.public_key()]).unwrap();
        assert_eq!((by.key, by.signature), (key.public_key(), 0));
        assert!(matches!(
            verify_commit(&repo, &id, &[other]),
            Err(SignError::NotVerified {
                signatures: 2,
                keys: 1,
                ..
            })
        ));
        assert!(matches!(
            verify_commit(&repo, &id, &[]),
            Err(SignError::NoKeys { .. })
        ));
    }

    #[test]
    fn keys_round_trip_and_bad_keys_are_rejected() {
        let key = SecretKey::from_seed(&[7; 32]);
        let again = SecretKey::from_base64(&key.to_base64(), 1).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let public = key.public_key().to_base64();
        assert_eq!(PublicKey::from_base64(&public).unwrap(), key.public_key());
        assert!(PublicKey::from_base64("AAAA").is_err());
        assert!(PublicKey::from_base64("not base64!").is_err());
        // A secret key whose public half belongs to another seed.
        let mut pair = key.0.to_keypair_bytes();
        pair[63] ^= 1;
        let err = SecretKey::from_base64(&BASE64.encode(pair), 2).unwrap_err();
        assert!(!err.to_string().contains(&BASE64.encode(pair)), "{err}");
    }

    #[test]
    fn malformed_signature_lists_are_errors_not_panics() {
        let (_dir, repo, id) = setup();
        let key = SecretKey::from_seed(&[7; 32]).public_key();
        for value in [
            Variant::string("x"),
            Variant::byte_strings([&b"short"[..], &[0u8; 64][..]]),
        ] {
            repo.write_commitmeta(&id, &vec![(ED25519_KEY.to_owned(), value)])
                .unwrap();
            assert!(verify_commit(&repo, &id, &[key]).is_err());
        }
    }

    #[test]
    fn summary_signatures_append_verify_and_reset_with_update() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        let (first, second) = (
            SecretKey::from_seed(&[7; 32]),
            SecretKey::from_seed(&[8; 32]),
        );
        assert!(matches!(
            sign_summary(&repo, std::slice::from_ref(&first)),
            Err(SignError::NoSummary)
        ));
        crate::summary::update_summary(&repo).unwrap();
        let summary = std::fs::read(dir.path().join("summary")).unwrap();
        let sig_path = dir.path().join("summary.sig");
        let read_sig = || std::fs::read(&sig_path).unwrap();
        sign_summary(&repo, std::slice::from_ref(&first)).unwrap();
        let by = verify_summary(&summary, Some(&read_sig()), &[first.public_key()]).unwrap();
        assert_eq!(by.signature, 0);
        assert!(matches!(
            verify_summary(&summary, Some(&read_sig()), &[second.public_key()]),
            Err(SignError::NotVerified {
                signed: Signed::Summary,
                signatures: 1,
                keys: 1,
                ..
            })
        ));
        // Signing again appends: both keys verify, each by its own signature.
        sign_summary(&repo, std::slice::from_ref(&second)).unwrap();
        let by = verify_summary(&summary, Some(&read_sig()), &[second.public_key()]).unwrap();
        assert_eq!(by.signature, 1);
        let mut tampered = summary.clone();
        tampered[0] ^= 1;
        assert!(matches!(
            verify_summary(&tampered, Some(&read_sig()), &[first.public_key()]),
            Err(SignError::NotVerified { .. })
        ));
        assert!(matches!(
            verify_summary(&summary, None, &[first.public_key()]),
            Err(SignError::Unsigned {
                signed: Signed::Summary
            })
        ));
        for garbage in [
            &b"\xff"[..],
            &metadata_bytes(&vec![(ED25519_KEY.to_owned(), Variant::string("x"))]),
        ] {
            assert!(matches!(
                verify_summary(&summary, Some(garbage), &[first.public_key()]),
                Err(SignError::Malformed { .. })
            ));
        }
        // Regenerating the summary drops signatures that no longer cover it.
        crate::summary::update_summary(&repo).unwrap();
        assert!(!sig_path.exists());
    }
}
