//! Detached commit metadata: `objects/XX/REST.commitmeta`, an `a{sv}` named by the
//! commit's id.
//!
//! A commit's id covers its own bytes, so anything added after the commit was made —
//! signatures above all (`ostree.sign.ed25519`, `ostree.gpgsigs`) — lives beside it in
//! this file. Unlike every other object it is mutable: signing rewrites it, and it is
//! not named by its own hash, so nothing can verify it except what it contains.

use std::fs;
use std::io;
use std::path::PathBuf;

use crate::checksum::Checksum;
use crate::error::{Error, io_err};
use crate::object::{Metadata, metadata_bytes, parse_metadata};
use crate::repo::Repo;

/// Largest detached metadata accepted (`.commitmeta`, `summary.sig`), OSTree's own bound
/// for metadata objects.
const MAX_COMMITMETA: u64 = 128 << 20;

impl Repo {
    /// `objects/XX/REST.commitmeta` for a commit.
    pub fn commitmeta_path(&self, commit: &Checksum) -> PathBuf {
        self.commit_sidecar_path(commit, "commitmeta")
    }

    /// `objects/XX/REST.EXT`: a file kept beside commit `commit`'s object, named by its
    /// id (detached metadata, a tombstone).
    pub(crate) fn commit_sidecar_path(&self, commit: &Checksum, ext: &str) -> PathBuf {
        let hex = commit.to_hex();
        self.path()
            .join("objects")
            .join(&hex[..2])
            .join(format!("{}.{ext}", &hex[2..]))
    }

    /// A commit's detached metadata; `None` when it has none.
    pub fn read_commitmeta(&self, commit: &Checksum) -> Result<Option<Metadata>, Error> {
        read_detached(self.commitmeta_path(commit))
    }

    /// Replaces a commit's detached metadata (atomically: readers see the old or the
    /// new file, never a mix).
    pub fn write_commitmeta(&self, commit: &Checksum, metadata: &Metadata) -> Result<(), Error> {
        self.write_atomic(&self.commitmeta_path(commit), &metadata_bytes(metadata))
    }
}

/// A file's bytes, `None` when it does not exist (a repository's `summary` and
/// `summary.sig`, each optional).
pub(crate) fn read_optional(path: &std::path::Path) -> Result<Option<Vec<u8>>, Error> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e).into()),
    }
}

/// An `a{sv}` file of detached metadata — a `.commitmeta`, or `summary.sig` — `None`
/// when it does not exist; one larger than OSTree's bound is refused unread.
pub(crate) fn read_detached(path: PathBuf) -> Result<Option<Metadata>, Error> {
    match fs::symlink_metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("stat", &path)(e).into()),
        Ok(st) if st.len() > MAX_COMMITMETA => {
            return Err(Error::Unsupported {
                verb: "read",
                path,
                detail: format!("larger than {MAX_COMMITMETA} bytes"),
            });
        }
        Ok(_) => {}
    }
    let bytes = fs::read(&path).map_err(io_err("read", &path))?;
    parse_metadata(&bytes)
        .map(Some)
        .map_err(|source| Error::Object { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Variant;
    use crate::repo::RepoMode;

    #[test]
    fn round_trip_and_absent() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), RepoMode::Archive).unwrap();
        let id = Checksum([3; 32]);
        assert_eq!(repo.read_commitmeta(&id).unwrap(), None);
        let meta = vec![
            ("version".to_owned(), Variant::string("1")),
            (
                "ostree.sign.dummy".to_owned(),
                Variant::byte_strings([&b"abcd"[..]]),
            ),
        ];
        repo.write_commitmeta(&id, &meta).unwrap();
        let read = repo.read_commitmeta(&id).unwrap().unwrap();
        assert_eq!(read, meta);
        assert_eq!(read[1].1.as_byte_strings().unwrap(), vec![b"abcd".to_vec()]);
    }

    #[test]
    fn matches_ostree_bytes() {
        // Written by `ostree sign -s dummy COMMIT abcd` (2022.7).
        let ostree = b"ostree.sign.dummy\0\0\0\0\0\0\0abcd\x04\0aay\x12\x22";
        let meta = parse_metadata(ostree).unwrap();
        assert_eq!(
            meta,
            vec![(
                "ostree.sign.dummy".to_owned(),
                Variant::byte_strings([&b"abcd"[..]])
            )]
        );
        assert_eq!(metadata_bytes(&meta), ostree);
        let mut slack = ostree.to_vec();
        slack.insert(0, 0);
        assert!(parse_metadata(&slack).is_err());
    }
}
