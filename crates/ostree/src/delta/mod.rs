//! Static deltas: a commit's new objects packed into a few large files, so an update
//! is a handful of requests instead of one per object.
//!
//! A delta `FROM-TO` (or `TO`, "from scratch") lives under `deltas/` as a
//! [`superblock`] naming numbered *parts*; each part ([`part`]) is an optionally
//! xz-compressed blob plus a small program of operations that rebuild objects from the
//! blob, from objects the client already has, or by [`bspatch`]ing one of them.
//! [`apply`] runs that program with the same guarantees as an object-by-object pull:
//! every object is hashed before it is stored. [`index`] finds which deltas a remote
//! offers (summary or `delta-indexes/`), and `fetch` drives all of this from a pull.
//! [`generate`] writes deltas that OSTree clients apply.
//!
//! OSTree calls the format an implementation detail; the layout here was established
//! by inspecting deltas made by `ostree static-delta generate` 2022.7.

pub mod apply;
pub mod bspatch;
pub(crate) mod fetch;
pub mod generate;
pub mod index;
pub mod offline;
pub mod part;
pub mod superblock;

use crate::checksum::Checksum;
use crate::error::io_err;
use crate::fetch::FetchError;
use crate::gvariant;
use crate::repo::{self, Repo};
use superblock::Superblock;

/// Why a delta cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    /// The superblock, an index or a part is not the GVariant it should be.
    #[error(transparent)]
    Invalid(#[from] gvariant::Error),
    /// A downloaded file does not hash to the checksum that names it.
    #[error("{what} of delta {delta} is corrupt: its checksum is {actual}, expected {expected}")]
    Corrupt {
        /// `superblock` or `part N`.
        what: String,
        /// The delta name (`FROM-TO` or `TO`).
        delta: String,
        /// The checksum it should have.
        expected: Checksum,
        /// What it hashes to.
        actual: Checksum,
    },
    /// A feature of the delta this implementation does not handle (the pull falls
    /// back to fetching objects one by one).
    #[error("unsupported static delta: {0}")]
    Unsupported(String),
    /// An operation of a part is malformed (bad offsets, wrong order, unknown opcode).
    #[error("invalid operation in static delta part: {0}")]
    BadOperation(String),
    /// Storing or reading an object failed, or a produced object is corrupt.
    #[error(transparent)]
    Repo(#[from] repo::Error),
    /// A request failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// The name OSTree gives a delta: `FROM-TO`, or `TO` from scratch.
pub fn name(from: Option<&Checksum>, to: &Checksum) -> String {
    match from {
        Some(from) => format!("{from}-{to}"),
        None => to.to_string(),
    }
}

/// The directory of a delta relative to the repository: `deltas/F[0:2]/F[2:]-T` or
/// `deltas/T[0:2]/T[2:]`, with ids in OSTree's "modified base64".
pub fn dir(from: Option<&Checksum>, to: &Checksum) -> String {
    let to = modified_base64(to);
    match from {
        Some(from) => {
            let from = modified_base64(from);
            format!("deltas/{}/{}-{to}", &from[..2], &from[2..])
        }
        None => format!("deltas/{}/{}", &to[..2], &to[2..]),
    }
}

/// `delta-indexes/T[0:2]/T[2:].index`: the deltas leading to `to`.
pub fn index_path(to: &Checksum) -> String {
    let to = modified_base64(to);
    format!("delta-indexes/{}/{}.index", &to[..2], &to[2..])
}

/// Parses a delta name: `FROM-TO`, or `TO` from scratch.
pub fn parse_name(name: &str) -> Option<(Option<Checksum>, Checksum)> {
    match name.split_once('-') {
        Some((from, to)) => Some((Some(from.parse().ok()?), to.parse().ok()?)),
        None => Some((None, name.parse().ok()?)),
    }
}

/// Reads and parses the superblock of delta `name` stored in `repo`.
pub fn read_superblock(repo: &Repo, name: &str) -> Result<Superblock, DeltaError> {
    let not_found = || repo::Error::NotFound(format!("static delta {name}"));
    let (from, to) = parse_name(name).ok_or_else(|| repo::Error::Unsupported {
        verb: "read static delta",
        path: repo.path().join("deltas"),
        detail: format!("Invalid rev {name}"),
    })?;
    let path = repo.path().join(dir(from.as_ref(), &to)).join("superblock");
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => not_found(),
        _ => io_err("read", &path)(e).into(),
    })?;
    Ok(Superblock::parse(&bytes)?)
}

/// Deletes the stored delta `name` (`FROM-TO` or `TO`), as `ostree static-delta delete`.
pub fn delete(repo: &Repo, name: &str) -> Result<(), repo::Error> {
    let invalid = || repo::Error::Unsupported {
        verb: "delete static delta",
        path: repo.path().join("deltas"),
        detail: format!("Invalid rev {name}"),
    };
    let (from, to) = parse_name(name).ok_or_else(invalid)?;
    let path = repo.path().join(dir(from.as_ref(), &to));
    match std::fs::remove_dir_all(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(repo::Error::NotFound(format!("static delta {name}")))
        }
        Err(e) => Err(io_err("delete", &path)(e).into()),
    }
}

/// Standard base64 without padding and with `/` replaced by `_`, so an id is a file
/// name (OSTree's `static_delta_path_base`).
fn modified_base64(id: &Checksum) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .encode(id.as_bytes())
        .replace('/', "_")
}

/// Reads one unsigned LEB128 varint (7 bits per byte, low first), the encoding of
/// every operation argument; `None` at the end of `data` or on overflow.
pub(crate) fn read_varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*pos)?;
        *pos += 1;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_ostree() {
        // Observed with `ostree static-delta generate` 2022.7.
        let a: Checksum = "500d2a4271a92c09ecbc03d02b393aa47c31d067294f2a7ca31d4af8b02b2efa"
            .parse()
            .unwrap();
        let b: Checksum = "b4a6795aabf3e082082c920593939219c7e5b9d6ee487af4442db5b6d46cd4e4"
            .parse()
            .unwrap();
        assert_eq!(
            dir(None, &a),
            "deltas/UA/0qQnGpLAnsvAPQKzk6pHwx0GcpTyp8ox1K+LArLvo"
        );
        assert_eq!(
            dir(Some(&a), &b),
            "deltas/UA/0qQnGpLAnsvAPQKzk6pHwx0GcpTyp8ox1K+LArLvo-tKZ5Wqvz4IIILJIFk5OSGcfludbuSHr0RC21ttRs1OQ"
        );
        assert_eq!(
            index_path(&b),
            "delta-indexes/tK/Z5Wqvz4IIILJIFk5OSGcfludbuSHr0RC21ttRs1OQ.index"
        );
    }

    #[test]
    fn varints() {
        let mut pos = 0;
        assert_eq!(read_varint(&[0xac, 0x06, 0x50], &mut pos), Some(812));
        assert_eq!(read_varint(&[0xac, 0x06, 0x50], &mut pos), Some(0x50));
        assert_eq!(read_varint(&[0xac, 0x06, 0x50], &mut pos), None);
        let mut pos = 0;
        assert_eq!(read_varint(&[0xff; 11], &mut pos), None);
        let mut pos = 0;
        assert_eq!(read_varint(&[0x80], &mut pos), None);
    }
}
