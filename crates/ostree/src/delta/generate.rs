//! `static-delta generate`: packs the objects of commit `to` that commit `from` (or,
//! from scratch, nothing) lacks into parts of at most `max_chunk_size` bytes, and
//! writes the parts, then the superblock, under `deltas/`.
//!
//! Most objects are spliced whole from the part's blob (`S`). A file that changed at
//! the same path — the common case of an update: a new build of the same library —
//! is instead rebuilt on the client from its old version by a bsdiff patch (`r` the
//! old object, `o`pen, `B`spatch, `R`, `c`lose, as OSTree emits them), when both are
//! at most `max_bsdiff_size` bytes and the patch is smaller than the file. OSTree's
//! rolling-checksum reuse of old objects is not done.
//!
//! Compression: `x` parts are xz streams (liblzma preset 6); `0` leaves
//! them uncompressed.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::checksum::Checksum;
use crate::content::Content;
use crate::error::io_err;
use crate::gvariant::{self as gv, Member};
use crate::lock::LockKind;
use crate::object::{FileHeader, Metadata, ObjectType, Variant, metadata_bytes, xattrs_bytes};
use crate::prune::reachable;
use crate::repo::{self, Repo};

use super::superblock::PART_VERSION;
use super::{DeltaError, dir, name};

/// How parts are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `0`: as is.
    None,
    /// `x`: an xz stream.
    Xz,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// The commit clients have; `None` for a delta from scratch.
    pub from: Option<Checksum>,
    /// The commit the delta produces.
    pub to: Checksum,
    /// Store the parts inside the superblock (one request for small deltas).
    pub inline: bool,
    /// Uncompressed bytes per part before a new one is started (OSTree: 32 MiB).
    pub max_chunk_size: u64,
    /// How parts are stored.
    pub compression: Compression,
    /// The largest file (old and new version) rebuilt by a bsdiff patch; `None`
    /// disables bsdiff. bsdiff needs about 17 bytes of memory per byte of the old file
    /// (OSTree's default limit: 128 MiB).
    pub max_bsdiff_size: Option<u64>,
    /// Write the superblock's numbers big-endian (`ostree.endianness` `B`), as a
    /// big-endian machine would (`--swap-endianness`): what tests of readers need.
    pub swap_endianness: bool,
    /// Write the delta as this one file (its parts inline) instead of into the
    /// repository's `deltas/` (`--filename`), e.g. for `static-delta apply-offline`
    /// elsewhere.
    pub filename: Option<std::path::PathBuf>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The delta's name (`FROM-TO` or `TO`).
    pub name: String,
    /// Parts written.
    pub parts: usize,
    /// Objects packed.
    pub objects: usize,
    /// Of those, files rebuilt from their old version by a bsdiff patch.
    pub bsdiff: usize,
    /// Bytes of the superblock and the parts.
    pub size: u64,
}

/// Writes the delta `options` describe into `repo` (replacing one of the same name).
pub fn generate(repo: &Repo, options: &GenerateOptions) -> Result<Generated, DeltaError> {
    let _lock = repo.lock(LockKind::Shared)?;
    let commit = repo.read_metadata(ObjectType::Commit, &options.to)?;
    let mut objects = new_objects(repo, options.from.as_ref(), &options.to)?;
    objects.sort_by_key(|(kind, id)| (type_code(*kind), *id));
    let old_versions: HashMap<Checksum, Checksum> = match (&options.from, options.max_bsdiff_size) {
        (Some(from), Some(_)) => crate::diff::modified_files(repo, from, &options.to)?
            .into_iter()
            .map(|(old, new)| (new, old))
            .collect(),
        _ => HashMap::new(),
    };
    let base = dir(options.from.as_ref(), &options.to);
    let mut parts = Vec::new();
    let mut builder = PartBuilder::default();
    let mut bsdiff = 0;
    for (kind, id) in &objects {
        let old = old_versions.get(id).zip(options.max_bsdiff_size);
        match old {
            Some((old, max)) if builder.add_patched(repo, id, old, max, options.compression)? => {
                bsdiff += 1
            }
            _ => builder.add(repo, *kind, id)?,
        }
        if builder.blob.len() as u64 >= options.max_chunk_size {
            parts.push(std::mem::take(&mut builder).finish(options));
        }
    }
    if !builder.objects.is_empty() || parts.is_empty() {
        parts.push(builder.finish(options));
    }
    let mut metadata: Metadata = vec![(
        "ostree.endianness".into(),
        Variant {
            type_str: "y".into(),
            data: vec![if options.swap_endianness { b'B' } else { b'l' }],
        },
    )];
    let mut size = 0;
    let part_count = parts.len();
    for (i, (stored, _)) in parts.iter().enumerate() {
        let path = format!("{base}/{i}");
        if options.inline || options.filename.is_some() {
            metadata.push((
                path,
                Variant {
                    type_str: "(yay)".into(),
                    data: stored.clone(),
                },
            ));
        } else {
            repo.write_atomic(&repo.path().join(&path), stored)?;
            size += stored.len() as u64;
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let superblock = gv::structure(vec![
        Member::var(metadata_bytes(&metadata), 8),
        // Big-endian; in a swapped superblock every number is swapped, this one too.
        if options.swap_endianness {
            Member::u64_le(now)
        } else {
            Member::u64_be(now)
        },
        Member::bytes(options.from.as_ref().map_or(&[][..], |f| f.as_bytes())),
        Member::bytes(options.to.as_bytes()),
        Member::var(commit, 8),
        Member::bytes(&[]),
        Member::var(gv::array(parts.into_iter().map(|(_, entry)| entry), 8), 8),
        Member::var(Vec::new(), 8),
    ]);
    let superblock_path = match &options.filename {
        Some(file) => file.clone(),
        None => repo.path().join(format!("{base}/superblock")),
    };
    repo.write_atomic(&superblock_path, &superblock)?;
    size += superblock.len() as u64;
    Ok(Generated {
        name: name(options.from.as_ref(), &options.to),
        parts: part_count,
        objects: objects.len(),
        bsdiff,
        size,
    })
}

/// OSTree's numeric object type.
fn type_code(kind: ObjectType) -> u8 {
    match kind {
        ObjectType::File => 1,
        ObjectType::DirTree => 2,
        ObjectType::DirMeta => 3,
        ObjectType::Commit => 4,
    }
}

/// Dirtrees, dirmetas and content objects of `to` that `from` does not reach.
fn new_objects(
    repo: &Repo,
    from: Option<&Checksum>,
    to: &Checksum,
) -> Result<Vec<(ObjectType, Checksum)>, DeltaError> {
    let none = HashSet::new();
    let old = match from {
        Some(from) => {
            repo.load_commit(from)?;
            reachable(repo, &[*from], Some(0), &none)?
        }
        None => HashSet::new(),
    };
    let kinds = [ObjectType::File, ObjectType::DirTree, ObjectType::DirMeta];
    Ok(reachable(repo, &[*to], Some(0), &none)?
        .difference(&old)
        .filter_map(|(id, code)| {
            kinds
                .into_iter()
                .find(|kind| *kind as u8 == *code)
                .map(|kind| (kind, *id))
        })
        .collect())
}

/// Whether a bsdiff patch makes a part smaller than the `size`-byte file itself. A
/// patch is never shorter than the file: its diff bytes are the new bytes minus the
/// old ones, one per byte the files share, and are zero where they agree, for the
/// part's compression to remove. So a compressed part gains when at most half the
/// patch's bytes are not zero; an uncompressed one only when the patch is shorter.
fn patch_pays(patch: &[u8], size: usize, compression: Compression) -> bool {
    match compression {
        Compression::None => patch.len() < size,
        Compression::Xz => patch.iter().filter(|&&b| b != 0).count() <= size / 2,
    }
}

/// A content object's header and bytes (a symlink's bytes are its target).
fn read_file(repo: &Repo, id: &Checksum) -> Result<(FileHeader, Vec<u8>), DeltaError> {
    let mut content = repo.read_content(id)?;
    let data = content_bytes(repo, id, &mut content)?;
    Ok((content.header, data))
}

/// The bytes of an opened content object (a symlink's are its target).
fn content_bytes(repo: &Repo, id: &Checksum, content: &mut Content) -> Result<Vec<u8>, DeltaError> {
    if content.header.is_symlink() {
        return Ok(content.header.symlink_target.clone().into_bytes());
    }
    let mut data = Vec::new();
    content.reader.read_to_end(&mut data).map_err(|e| {
        repo::Error::from(io_err("read", &repo.object_path(ObjectType::File, id))(e))
    })?;
    Ok(data)
}

/// One part being filled.
#[derive(Default)]
struct PartBuilder {
    modes: Vec<(u32, u32, u32)>,
    mode_index: HashMap<(u32, u32, u32), usize>,
    xattrs: Vec<Vec<u8>>,
    xattr_index: HashMap<Vec<u8>, usize>,
    blob: Vec<u8>,
    ops: Vec<u8>,
    objects: Vec<u8>,
    uncompressed: u64,
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn index_of<K: std::hash::Hash + Eq + Clone>(
    list: &mut Vec<K>,
    index: &mut HashMap<K, usize>,
    key: K,
) -> u64 {
    let i = *index.entry(key.clone()).or_insert_with(|| {
        list.push(key);
        list.len() - 1
    });
    i as u64
}

impl PartBuilder {
    /// Adds one object as an `S` operation.
    fn add(&mut self, repo: &Repo, kind: ObjectType, id: &Checksum) -> Result<(), DeltaError> {
        self.push_object(kind, id);
        self.ops.push(b'S');
        let data = if kind == ObjectType::File {
            let (header, data) = read_file(repo, id)?;
            self.push_header(&header);
            data
        } else {
            repo.read_metadata(kind, id)?
        };
        push_varint(&mut self.ops, data.len() as u64);
        self.push_blob(&data);
        Ok(())
    }

    /// Adds content object `id` as a bsdiff patch of `old`, which the client has;
    /// `false` (and nothing added) when either is a symlink or larger than `max`, or
    /// the patch would not make the part smaller than the file would.
    fn add_patched(
        &mut self,
        repo: &Repo,
        id: &Checksum,
        old: &Checksum,
        max: u64,
        compression: Compression,
    ) -> Result<bool, DeltaError> {
        let (mut new, mut old_content) = (repo.read_content(id)?, repo.read_content(old)?);
        let usable = |c: &Content| c.size <= max && !c.header.is_symlink();
        if !usable(&new) || !usable(&old_content) {
            return Ok(false);
        }
        let new_data = content_bytes(repo, id, &mut new)?;
        let old_data = content_bytes(repo, old, &mut old_content)?;
        let mut patch = Vec::new();
        bsdiff::diff(&old_data, &new_data, &mut patch).map_err(|e| {
            repo::Error::from(io_err("diff", &repo.object_path(ObjectType::File, id))(e))
        })?;
        if !patch_pays(&patch, new_data.len(), compression) {
            return Ok(false);
        }
        self.push_object(ObjectType::File, id);
        self.ops.push(b'r');
        self.push_blob(old.as_bytes());
        self.ops.push(b'o');
        self.push_header(&new.header);
        push_varint(&mut self.ops, new_data.len() as u64);
        self.ops.push(b'B');
        self.push_blob(&patch);
        push_varint(&mut self.ops, patch.len() as u64);
        self.ops.extend_from_slice(b"Rc");
        Ok(true)
    }

    /// Lists the object the next operations produce, as the superblock names it.
    fn push_object(&mut self, kind: ObjectType, id: &Checksum) {
        self.objects.push(type_code(kind));
        self.objects.extend_from_slice(id.as_bytes());
    }

    /// The mode and xattrs arguments of a content operation, as table indices.
    fn push_header(&mut self, h: &FileHeader) {
        let mode = index_of(
            &mut self.modes,
            &mut self.mode_index,
            (h.uid, h.gid, h.mode),
        );
        let xattrs = xattrs_bytes(&h.xattrs);
        let xattrs = index_of(&mut self.xattrs, &mut self.xattr_index, xattrs);
        push_varint(&mut self.ops, mode);
        push_varint(&mut self.ops, xattrs);
    }

    /// Appends `data` to the blob, and its offset there to the operations.
    fn push_blob(&mut self, data: &[u8]) {
        push_varint(&mut self.ops, self.blob.len() as u64);
        self.uncompressed += data.len() as u64;
        self.blob.extend_from_slice(data);
    }

    /// The stored part and its superblock entry.
    fn finish(self, options: &GenerateOptions) -> (Vec<u8>, Vec<u8>) {
        let compression = options.compression;
        let modes: Vec<u8> = self
            .modes
            .iter()
            .flat_map(|&(u, g, m)| [u.to_be_bytes(), g.to_be_bytes(), m.to_be_bytes()])
            .flatten()
            .collect();
        let payload = gv::structure(vec![
            Member::var(modes, 4),
            Member::var(gv::array(self.xattrs, 1), 1),
            Member::bytes(&self.blob),
            Member::bytes(&self.ops),
        ]);
        let stored = match compression {
            Compression::None => [&[0u8][..], &payload].concat(),
            Compression::Xz => {
                let mut encoder = xz2::write::XzEncoder::new(vec![b'x'], 6);
                encoder
                    .write_all(&payload)
                    .and_then(|()| encoder.finish())
                    .expect("writing to a Vec cannot fail")
            }
        };
        // In the byte order `ostree.endianness` declares.
        let (version, size, usize) = if options.swap_endianness {
            (
                Member::u32_be(PART_VERSION),
                Member::u64_be(stored.len() as u64),
                Member::u64_be(self.uncompressed),
            )
        } else {
            (
                Member::u32_be(PART_VERSION.swap_bytes()),
                Member::u64_le(stored.len() as u64),
                Member::u64_le(self.uncompressed),
            )
        };
        let entry = gv::structure(vec![
            version,
            Member::bytes(Checksum::of(&stored).as_bytes()),
            size,
            usize,
            Member::bytes(&self.objects),
        ]);
        (stored, entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_pays_when_compression_can_remove_its_zeros() {
        let old: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut new = old.clone();
        new[5_000..5_010].fill(0xaa);
        let mut patch = Vec::new();
        bsdiff::diff(&old, &new, &mut patch).unwrap();
        assert!(patch.len() >= new.len(), "bsdiff patches are never shorter");
        assert!(patch_pays(&patch, new.len(), Compression::Xz));
        assert!(!patch_pays(&patch, new.len(), Compression::None));
        let unrelated: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let mut patch = Vec::new();
        bsdiff::diff(&old, &unrelated, &mut patch).unwrap();
        assert!(!patch_pays(&patch, unrelated.len(), Compression::Xz));
        // The patch rebuilds the file with the bspatch deltas are applied with.
        let mut patch = Vec::new();
        bsdiff::diff(&old, &new, &mut patch).unwrap();
        assert_eq!(
            crate::delta::bspatch::bspatch(&old, &patch, new.len() as u64).unwrap(),
            new
        );
    }
}
