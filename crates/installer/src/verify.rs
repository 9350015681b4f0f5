//! Checking an OS image before any byte of it reaches the disk: its SHA-256 against a
//! `sha256sum`-style file, and/or a detached Ed25519 signature with a trusted key.
//!
//! The signature is over the image's SHA-256 digest (the 32 raw bytes), so that a
//! multi-gigabyte image is hashed as it streams instead of held in memory as plain
//! Ed25519 would need. The signature file holds the 64-byte signature raw or as
//! base64; the key file, the base64 of the 32-byte public key (one per line, as
//! `ferro ostree sign` keys and `/etc/ostree/trusted.ed25519` are).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferro_ostree::sign::{PublicKey, read_keys_file};
use ferro_sys::{IoError, IoResultExt};
use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Sha256Digest = [u8; 32];

/// Why the image is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The image or a checksum, signature or key file could not be read.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The checksum file holds no SHA-256.
    #[error("{0}: no SHA-256 (64 hex digits) in it")]
    BadChecksumFile(PathBuf),
    /// The image does not hash to the expected value.
    #[error(
        "{image}: SHA-256 is {actual} but {source_file} says {expected}; the image is corrupt or not the one published. Nothing was written"
    )]
    HashMismatch {
        /// The image.
        image: PathBuf,
        /// The checksum file.
        source_file: String,
        /// What it says.
        expected: String,
        /// What the image hashes to.
        actual: String,
    },
    /// The signature file is not 64 bytes, raw or base64.
    #[error("{0}: not an Ed25519 signature (64 bytes, raw or base64)")]
    BadSignatureFile(PathBuf),
    /// A key could not be used.
    #[error("{0}")]
    Key(String),
    /// No key verifies the signature.
    #[error(
        "{image}: the signature {signature} does not verify with any key of {keys}; the image was not signed by a trusted key. Nothing was written"
    )]
    BadSignature {
        /// The image.
        image: PathBuf,
        /// The signature file.
        signature: String,
        /// The key file.
        keys: PathBuf,
    },
}

/// Hashes `path`, calling `progress` with the bytes read so far.
pub fn sha256_file(
    path: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<Sha256Digest, VerifyError> {
    let mut file = File::open(path).at("open", path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = file.read(&mut buf).at("read", path)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        progress(done);
    }
    Ok(hasher.finalize().into())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 in a checksum file's text: its first word of 64 hex digits
/// (`sha256sum` output, or the bare digest).
pub fn parse_checksum(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
}

/// Checks `digest` of `image` against the checksum text of `source_file`.
pub fn check_sha256(
    image: &Path,
    digest: &Sha256Digest,
    checksum_text: &str,
    source_file: &str,
) -> Result<(), VerifyError> {
    let expected = parse_checksum(checksum_text)
        .ok_or_else(|| VerifyError::BadChecksumFile(PathBuf::from(source_file)))?;
    let actual = hex(digest);
    if expected != actual {
        return Err(VerifyError::HashMismatch {
            image: image.to_owned(),
            source_file: source_file.to_owned(),
            expected,
            actual,
        });
    }
    Ok(())
}

/// The 64 signature bytes of a signature file's contents (raw or base64).
pub fn parse_signature(bytes: &[u8], path: &Path) -> Result<[u8; 64], VerifyError> {
    let raw = if bytes.len() == 64 {
        bytes.to_vec()
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| VerifyError::BadSignatureFile(path.to_owned()))?;
        BASE64
            .decode(text.trim())
            .map_err(|_| VerifyError::BadSignatureFile(path.to_owned()))?
    };
    raw.try_into()
        .map_err(|_| VerifyError::BadSignatureFile(path.to_owned()))
}

/// Checks that `signature` over `digest` verifies with a key of `keys_file`.
pub fn check_signature(
    image: &Path,
    digest: &Sha256Digest,
    signature: &[u8; 64],
    signature_name: &str,
    keys_file: &Path,
) -> Result<(), VerifyError> {
    let keys = read_keys_file(keys_file).map_err(|e| VerifyError::Key(e.to_string()))?;
    let mut parsed = Vec::new();
    for key in &keys {
        parsed.push(PublicKey::from_base64(key).map_err(|e| VerifyError::Key(e.to_string()))?);
    }
    if parsed.is_empty() {
        return Err(VerifyError::Key(format!(
            "{}: no keys in it",
            keys_file.display()
        )));
    }
    if parsed.iter().any(|key| key.verifies(digest, signature)) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature {
            image: image.to_owned(),
            signature: signature_name.to_owned(),
            keys: keys_file.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferro_ostree::sign::SecretKey;

    #[test]
    fn checksum_files_in_sha256sum_and_bare_forms() {
        let d = "A".repeat(64);
        assert_eq!(
            parse_checksum(&format!("{d}  image.raw\n")),
            Some(d.to_lowercase())
        );
        assert_eq!(parse_checksum(&d.to_lowercase()), Some(d.to_lowercase()));
        assert_eq!(parse_checksum("nothing here"), None);
    }

    #[test]
    fn signatures_verify_only_with_the_signing_key() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("img");
        std::fs::write(&image, b"disk image").unwrap();
        let digest = sha256_file(&image, &mut |_| {}).unwrap();
        let key = SecretKey::from_seed(&[7; 32]);
        let signature = key.sign_bytes(&digest);
        let keys = dir.path().join("keys");
        std::fs::write(&keys, format!("{}\n", key.public_key().to_base64())).unwrap();
        let sig_text = BASE64.encode(signature);
        let parsed = parse_signature(sig_text.as_bytes(), &image).unwrap();
        check_signature(&image, &digest, &parsed, "img.sig", &keys).unwrap();

        let other = SecretKey::from_seed(&[8; 32]);
        std::fs::write(&keys, other.public_key().to_base64()).unwrap();
        let err = check_signature(&image, &digest, &parsed, "img.sig", &keys).unwrap_err();
        assert!(matches!(err, VerifyError::BadSignature { .. }), "{err}");
        assert!(parse_signature(b"short", &image).is_err());
    }
}
