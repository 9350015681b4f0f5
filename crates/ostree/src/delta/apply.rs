//! Runs a part's operations, producing the objects its superblock entry lists, in
//! order. Each opcode is one byte followed by varint arguments:
//!
//! | op | arguments | effect |
//! |---|---|---|
//! | `S` open-splice-and-close | metadata: len, off; content: mode, xattrs, len, off | the next object is `blob[off..off+len]` |
//! | `o` open | mode, xattrs, size | start the next content object |
//! | `w` write | len, off | append `len` bytes from the read source (if set) or the blob |
//! | `r` set-read-source | off | the read source is the local content object named by `blob[off..off+32]` |
//! | `R` unset-read-source | — | writes come from the blob again |
//! | `c` close | — | the open object is complete |
//! | `B` bspatch | off, len | the open object is the read source patched by `blob[off..off+len]` |
//!
//! Every object is hashed against its listed id before it is stored, metadata is
//! parsed as its type, and objects already stored are not rewritten.

use std::io::Read;

use crate::checksum::Checksum;
use crate::error::io_err;
use crate::object::{Commit, DirMeta, DirTree, FileHeader, ObjectType};
use crate::repo::{self, Repo};

use super::bspatch::bspatch;
use super::part::Part;
use super::{DeltaError, read_varint};

/// Largest content object rebuilt in memory by `o … c` or read as a source.
const MAX_OBJECT: u64 = 1 << 32;

fn bad(detail: impl Into<String>) -> DeltaError {
    DeltaError::BadOperation(detail.into())
}

/// A content object being assembled by `o`, `w`/`B` and `c`.
struct Open {
    id: Checksum,
    header: FileHeader,
    size: u64,
    data: Vec<u8>,
}

struct Applier<'a> {
    repo: &'a Repo,
    part: &'a Part,
    objects: &'a [(ObjectType, Checksum)],
    next: usize,
    pos: usize,
    source: Option<Vec<u8>>,
    open: Option<Open>,
    stored: u64,
}

/// Applies `part`, whose superblock entry lists `objects`; returns how many objects
/// were stored (those already present are skipped).
pub fn apply_part(
    repo: &Repo,
    part: &Part,
    objects: &[(ObjectType, Checksum)],
) -> Result<u64, DeltaError> {
    let mut applier = Applier {
        repo,
        part,
        objects,
        next: 0,
        pos: 0,
        source: None,
        open: None,
        stored: 0,
    };
    while let Some(&op) = part.ops.get(applier.pos) {
        applier.pos += 1;
        applier.step(op)?;
    }
    if applier.open.is_some() {
        return Err(bad("an object is left open"));
    }
    if applier.next != objects.len() {
        return Err(bad(format!(
            "produced {} of {} objects",
            applier.next,
            objects.len()
        )));
    }
    Ok(applier.stored)
}

impl Applier<'_> {
    fn step(&mut self, op: u8) -> Result<(), DeltaError> {
        match op {
            b'S' => {
                let (kind, id) = self.next_object()?;
                if kind == ObjectType::File {
                    let header = self.header()?;
                    let (len, off) = (self.arg()?, self.arg()?);
                    let data = self.blob(off, len)?.to_vec();
                    self.store_content(id, header, data)
                } else {
                    let (len, off) = (self.arg()?, self.arg()?);
                    let bytes = self.blob(off, len)?;
                    store_metadata(self.repo, kind, &id, bytes)?;
                    self.stored += 1;
                    Ok(())
                }
            }
            b'o' => {
                if self.open.is_some() {
                    return Err(bad("open while an object is open"));
                }
                let (kind, id) = self.next_object()?;
                if kind != ObjectType::File {
                    return Err(bad(format!("open of {id}, which is not a content object")));
                }
                let header = self.header()?;
                let size = self.arg()?;
                if size > MAX_OBJECT {
                    return Err(DeltaError::Unsupported(format!("{id} is {size} bytes")));
                }
                self.open = Some(Open {
                    id,
                    header,
                    size,
                    data: Vec::new(),
                });
                Ok(())
            }
            b'w' => {
                let (len, off) = (self.arg()?, self.arg()?);
                let bytes = match &self.source {
                    Some(source) => slice(source, off, len, "read source")?,
                    None => slice(&self.part.blob, off, len, "blob")?,
                };
                let open = self
                    .open
                    .as_mut()
                    .ok_or_else(|| bad("write with nothing open"))?;
                if open.data.len() as u64 + len > open.size {
                    return Err(bad(format!("write past the end of {}", open.id)));
                }
                open.data.extend_from_slice(bytes);
                Ok(())
            }
            b'r' => {
                let off = self.arg()?;
                let id = Checksum::from_bytes(self.blob(off, 32)?).expect("32 bytes");
                self.source = Some(read_local(self.repo, &id)?);
                Ok(())
            }
            b'R' => {
                self.source = None;
                Ok(())
            }
            b'c' => {
                let open = self
                    .open
                    .take()
                    .ok_or_else(|| bad("close with nothing open"))?;
                if open.data.len() as u64 != open.size {
                    return Err(bad(format!(
                        "{} closed at {} of {} bytes",
                        open.id,
                        open.data.len(),
                        open.size
                    )));
                }
                self.store_content(open.id, open.header, open.data)
            }
            b'B' => {
                let (off, len) = (self.arg()?, self.arg()?);
                let patch = slice(&self.part.blob, off, len, "blob")?;
                let source = self
                    .source
                    .as_deref()
                    .ok_or_else(|| bad("bspatch without a read source"))?;
                let open = self
                    .open
                    .as_mut()
                    .ok_or_else(|| bad("bspatch with nothing open"))?;
                if !open.data.is_empty() {
                    return Err(bad("bspatch after a write"));
                }
                open.data = bspatch(source, patch, open.size)?;
                Ok(())
            }
            other => Err(bad(format!("unknown opcode {other:#04x}"))),
        }
    }

    fn arg(&mut self) -> Result<u64, DeltaError> {
        read_varint(&self.part.ops, &mut self.pos).ok_or_else(|| bad("truncated argument"))
    }

    fn blob(&self, off: u64, len: u64) -> Result<&[u8], DeltaError> {
        slice(&self.part.blob, off, len, "blob")
    }

    fn next_object(&mut self) -> Result<(ObjectType, Checksum), DeltaError> {
        let object = *self
            .objects
            .get(self.next)
            .ok_or_else(|| bad("more objects than the superblock lists"))?;
        self.next += 1;
        Ok(object)
    }

    /// Reads the mode and xattr indices of a content object.
    fn header(&mut self) -> Result<FileHeader, DeltaError> {
        let (mode, xattrs) = (self.arg()?, self.arg()?);
        let &(uid, gid, mode) = usize::try_from(mode)
            .ok()
            .and_then(|i| self.part.modes.get(i))
            .ok_or_else(|| bad("mode index out of range"))?;
        let xattrs = usize::try_from(xattrs)
            .ok()
            .and_then(|i| self.part.xattrs.get(i))
            .ok_or_else(|| bad("xattr index out of range"))?
            .clone();
        Ok(FileHeader {
            uid,
            gid,
            mode,
            symlink_target: String::new(),
            xattrs,
        })
    }

    /// Stores a content object once it hashes to `id`; a symlink's data is its target.
    fn store_content(
        &mut self,
        id: Checksum,
        mut header: FileHeader,
        data: Vec<u8>,
    ) -> Result<(), DeltaError> {
        if self.repo.has_object(ObjectType::File, &id) {
            return Ok(());
        }
        let invalid = |source| repo::Error::Object {
            path: self.repo.object_path(ObjectType::File, &id),
            source,
        };
        let data = if header.is_symlink() {
            header.symlink_target = String::from_utf8(data)
                .map_err(|_| bad(format!("symlink target of {id} is not UTF-8")))?;
            Vec::new()
        } else {
            data
        };
        header.validate().map_err(invalid)?;
        self.repo
            .write_content_verified(&header, data.len() as u64, &mut &data[..], &id)?;
        self.stored += 1;
        Ok(())
    }
}

fn slice<'a>(data: &'a [u8], off: u64, len: u64, what: &str) -> Result<&'a [u8], DeltaError> {
    usize::try_from(off)
        .ok()
        .zip(usize::try_from(len).ok())
        .and_then(|(off, len)| data.get(off..off.checked_add(len)?))
        .ok_or_else(|| bad(format!("{len} bytes at {off} outside the {what}")))
}

/// Checks a metadata object against its id and type, then stores it.
fn store_metadata(
    repo: &Repo,
    kind: ObjectType,
    id: &Checksum,
    bytes: &[u8],
) -> Result<(), DeltaError> {
    let actual = Checksum::of(bytes);
    if actual != *id {
        return Err(repo::Error::Corrupt {
            object: format!("{id}.{}", kind.extension(false)),
            actual,
        }
        .into());
    }
    let parsed = match kind {
        ObjectType::DirTree => DirTree::parse(bytes).map(drop),
        ObjectType::DirMeta => DirMeta::parse_dir(bytes).map(drop),
        ObjectType::Commit => Commit::parse(bytes).map(drop),
        ObjectType::File => return Err(bad(format!("{id} is content, not metadata"))),
    };
    parsed.map_err(|source| repo::Error::Object {
        path: repo.object_path(kind, id),
        source,
    })?;
    repo.write_metadata(kind, bytes)?;
    Ok(())
}

/// The bytes of a stored content object (a read source).
fn read_local(repo: &Repo, id: &Checksum) -> Result<Vec<u8>, DeltaError> {
    let mut content = repo.read_content(id)?;
    if content.size > MAX_OBJECT {
        return Err(DeltaError::Unsupported(format!(
            "read source {id} is {} bytes",
            content.size
        )));
    }
    let mut data = Vec::with_capacity(content.size as usize);
    content.reader.read_to_end(&mut data).map_err(|e| {
        repo::Error::from(io_err("read", &repo.object_path(ObjectType::File, id))(e))
    })?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::DirMeta;
    use crate::repo::RepoMode;

    fn part(blob: &[u8], ops: &[u8]) -> Part {
        Part {
            modes: vec![(0, 0, 0o100644)],
            xattrs: vec![Vec::new()],
            blob: blob.to_vec(),
            ops: ops.to_vec(),
        }
    }

    fn root_meta() -> (Vec<u8>, Checksum) {
        let meta = DirMeta {
            uid: 0,
            gid: 0,
            mode: 0o40755,
            xattrs: Vec::new(),
        };
        (meta.to_bytes(), meta.checksum())
    }

    #[test]
    fn splices_metadata_and_content() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repo::init(tmp.path(), RepoMode::BareUserOnly).unwrap();
        let (meta, meta_id) = root_meta();
        let header = FileHeader {
            uid: 0,
            gid: 0,
            mode: 0o100644,
            symlink_target: String::new(),
            xattrs: Vec::new(),
        };
        let file_id = header.checksum(b"hello\n");
        let mut blob = meta.clone();
        blob.extend_from_slice(b"hello\n");
        let ops = [b'S', meta.len() as u8, 0, b'S', 0, 0, 6, meta.len() as u8];
        let objects = [(ObjectType::DirMeta, meta_id), (ObjectType::File, file_id)];
        assert_eq!(apply_part(&repo, &part(&blob, &ops), &objects).unwrap(), 2);
        assert!(repo.has_object(ObjectType::DirMeta, &meta_id));
        assert!(repo.has_object(ObjectType::File, &file_id));
    }

    #[test]
    fn hostile_operations_are_errors_and_store_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repo::init(tmp.path(), RepoMode::BareUserOnly).unwrap();
        let (meta, meta_id) = root_meta();
        let one = [(ObjectType::DirMeta, meta_id)];
        let file = [(ObjectType::File, meta_id)];
        let n = meta.len() as u8;
        type Case<'a> = (&'a [u8], &'a [(ObjectType, Checksum)]);
        let cases: &[Case] = &[
            (&[b'S', n, 1], &one),                       // outside the blob
            (&[b'S', n], &one),                          // truncated argument
            (&[b'S', 0xff, 0xff, 0xff], &one),           // varint runs off the end
            (&[], &one),                                 // fewer
            (b"Z", &one),                                // unknown opcode
            (b"c", &one),                                // close with nothing open
            (&[b'w', 1, 0], &one),                       // write with nothing open
            (&[b'B', 0, 1], &one),                       // bspatch without a source
            (&[b'o', 0, 0, 5], &one),                    // open of a metadata object
            (&[b'o', 9, 0, 5], &file),                   // mode index out of range
            (&[b'o', 0, 0, 1, b'w', 2, 0], &file),       // write past the size
            (&[b'o', 0, 0, 2, b'w', 1, 0, b'c'], &file), // closed short
            (&[b'o', 0, 0, 1], &file),                   // left open
            (&[b'S', 0, 0, 4, 0], &file),                // content with the wrong hash
            (&[b'S', n - 1, 0], &one),                   // metadata with the wrong hash
        ];
        for (ops, objects) in cases {
            let result = apply_part(&repo, &part(&meta, ops), objects);
            assert!(result.is_err(), "{ops:?}");
        }
        assert!(!repo.has_object(ObjectType::DirMeta, &meta_id));
        assert!(repo.list_objects(ObjectType::File).unwrap().is_empty());
        // More objects than listed (the first, verified, is kept).
        let ops = [b'S', n, 0, b'S', n, 0];
        assert!(apply_part(&repo, &part(&meta, &ops), &one).is_err());
    }
}
