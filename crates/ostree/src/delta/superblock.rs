//! The superblock `(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))`: metadata
//! (`ostree.endianness`, inline parts), timestamp (big-endian), from (empty from
//! scratch), to, the new commit, prerequisite deltas (always empty), one entry per part
//! and the fallback objects to fetch as loose objects.
//!
//! Part and fallback sizes are in the generator's byte order, which
//! `ostree.endianness` (`l` or `B`) declares; absent means little-endian.

use crate::checksum::Checksum;
use crate::gvariant::{self as gv, Error, Shape, err};
use crate::object::{Metadata, ObjectType, read_checksum, read_metadata};

/// The only part format version OSTree writes.
pub const PART_VERSION: u32 = 0;

/// A parsed superblock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    /// Delta metadata (endianness, inline parts, detached commit metadata).
    pub metadata: Metadata,
    /// Whether the sizes are big-endian (`ostree.endianness` = `B`).
    pub big_endian: bool,
    /// Whether `big_endian` was guessed: deltas from before OSTree recorded
    /// `ostree.endianness` are read in the byte order that gives plausible sizes.
    pub endianness_guessed: bool,
    /// Generation time, seconds since the epoch.
    pub timestamp: u64,
    /// The commit the delta starts from; `None` from scratch.
    pub from: Option<Checksum>,
    /// The commit it produces.
    pub to: Checksum,
    /// The serialised `to` commit object.
    pub commit: Vec<u8>,
    /// The parts, applied in order.
    pub parts: Vec<PartMeta>,
    /// Objects left out of the parts, to fetch one by one.
    pub fallbacks: Vec<Fallback>,
}

/// One part's entry in the superblock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartMeta {
    /// Format version (0).
    pub version: u32,
    /// SHA-256 of the part as stored (compression byte included).
    pub checksum: Checksum,
    /// Stored size.
    pub size: u64,
    /// Size of the uncompressed payload.
    pub uncompressed_size: u64,
    /// The objects the part produces, in the order its operations produce them.
    pub objects: Vec<(ObjectType, Checksum)>,
}

/// An object the delta does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// Its type.
    pub kind: ObjectType,
    /// Its id.
    pub id: Checksum,
    /// Stored (compressed) size.
    pub size: u64,
    /// Uncompressed size.
    pub uncompressed_size: u64,
}

/// OSTree's numeric object types, as deltas store them.
pub(crate) fn object_type(code: u8) -> Option<ObjectType> {
    Some(match code {
        1 => ObjectType::File,
        2 => ObjectType::DirTree,
        3 => ObjectType::DirMeta,
        4 => ObjectType::Commit,
        _ => return None,
    })
}

#[derive(Clone, Copy)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u32(self, what: &'static str, data: &[u8]) -> Result<u32, Error> {
        let bytes: [u8; 4] = data.try_into().map_err(|_| err(what, "not 4 bytes"))?;
        Ok(match self {
            Endian::Little => u32::from_le_bytes(bytes),
            Endian::Big => u32::from_be_bytes(bytes),
        })
    }

    fn u64(self, what: &'static str, data: &[u8]) -> Result<u64, Error> {
        let bytes: [u8; 8] = data.try_into().map_err(|_| err(what, "not 8 bytes"))?;
        Ok(match self {
            Endian::Little => u64::from_le_bytes(bytes),
            Endian::Big => u64::from_be_bytes(bytes),
        })
    }
}

const T: Shape = Shape::Fixed(8, 8);

/// The byte order of a superblock that does not say (written before OSTree recorded
/// it, in the writer's own order): little-endian unless that makes a part size of 4 GiB
/// or more, which no delta part has — then big-endian, as OSTree's heuristic decides.
fn guess_endianness(parts: &[u8]) -> Endian {
    let implausible = gv::read_array("delta parts", parts, 8)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| {
            gv::read_struct(
                "delta part entry",
                entry,
                &[Shape::Fixed(4, 4), Shape::Var(1), T, T, Shape::Var(1)],
            )
            .ok()
        })
        .any(|p| {
            [p[2], p[3]].iter().any(|bytes| {
                <[u8; 8]>::try_from(*bytes).is_ok_and(|b| u64::from_le_bytes(b) >= 1 << 32)
            })
        });
    if implausible {
        Endian::Big
    } else {
        Endian::Little
    }
}

impl Superblock {
    /// Parses a superblock; hostile bytes give an error, never a panic.
    pub fn parse(data: &[u8]) -> Result<Self, Error> {
        let top = gv::read_struct(
            "delta superblock",
            data,
            &[
                Shape::Var(8),
                T,
                Shape::Var(1),
                Shape::Var(1),
                Shape::Var(8),
                Shape::Var(1),
                Shape::Var(8),
                Shape::Var(8),
            ],
        )?;
        let metadata = read_metadata(top[0])?;
        let declared = metadata.iter().find(|(k, _)| k == "ostree.endianness");
        let guessed = declared.is_none();
        let endian = match declared {
            None => guess_endianness(top[6]),
            Some((_, v)) if v.type_str == "y" && v.data == b"l" => Endian::Little,
            Some((_, v)) if v.type_str == "y" && v.data == b"B" => Endian::Big,
            Some(_) => return Err(err("ostree.endianness", "neither 'l' nor 'B'")),
        };
        let from = match top[2] {
            [] => None,
            bytes => Some(read_checksum("delta from", bytes)?),
        };
        if !top[5].is_empty() {
            return Err(err(
                "delta superblock",
                "prerequisite deltas are not supported",
            ));
        }
        let parts = gv::read_array("delta parts", top[6], 8)?
            .into_iter()
            .map(|entry| {
                let p = gv::read_struct(
                    "delta part entry",
                    entry,
                    &[Shape::Fixed(4, 4), Shape::Var(1), T, T, Shape::Var(1)],
                )?;
                Ok(PartMeta {
                    version: endian.u32("part version", p[0])?,
                    checksum: read_checksum("part checksum", p[1])?,
                    size: endian.u64("part size", p[2])?,
                    uncompressed_size: endian.u64("part uncompressed size", p[3])?,
                    objects: read_objects(p[4])?,
                })
            })
            .collect::<Result<_, Error>>()?;
        let fallbacks = gv::read_array("delta fallbacks", top[7], 8)?
            .into_iter()
            .map(|entry| {
                let f = gv::read_struct(
                    "delta fallback",
                    entry,
                    &[Shape::Fixed(1, 1), Shape::Var(1), T, T],
                )?;
                Ok(Fallback {
                    kind: object_type(f[0][0])
                        .ok_or_else(|| err("delta fallback", "unknown object type"))?,
                    id: read_checksum("fallback checksum", f[1])?,
                    size: endian.u64("fallback size", f[2])?,
                    uncompressed_size: endian.u64("fallback uncompressed size", f[3])?,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Superblock {
            metadata,
            big_endian: matches!(endian, Endian::Big),
            endianness_guessed: guessed,
            // Big-endian, and swapped with everything else in a swapped superblock.
            timestamp: match endian {
                Endian::Big => gv::read_u64_be("delta timestamp", top[1])?.swap_bytes(),
                Endian::Little => gv::read_u64_be("delta timestamp", top[1])?,
            },
            from,
            to: read_checksum("delta to", top[3])?,
            commit: top[4].to_vec(),
            parts,
            fallbacks,
        })
    }
}

/// A part's object list: 33 bytes each, the type then the id.
fn read_objects(data: &[u8]) -> Result<Vec<(ObjectType, Checksum)>, Error> {
    if !data.len().is_multiple_of(33) {
        return Err(err("delta part objects", "length is not a multiple of 33"));
    }
    data.chunks_exact(33)
        .map(|chunk| {
            let kind = object_type(chunk[0])
                .ok_or_else(|| err("delta part objects", "unknown object type"))?;
            Ok((kind, read_checksum("delta part object", &chunk[1..])?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gvariant::{Member, array, structure};

    fn sample() -> Vec<u8> {
        let id = Checksum([7; 32]);
        let mut objects = vec![2u8];
        objects.extend_from_slice(id.as_bytes());
        let part = structure(vec![
            Member::u32_be(0),
            Member::bytes(id.as_bytes()),
            Member::u64_le(5),
            Member::u64_le(9),
            Member::bytes(&objects),
        ]);
        structure(vec![
            Member::var(Vec::new(), 8),
            Member::u64_be(1),
            Member::bytes(&[]),
            Member::bytes(id.as_bytes()),
            Member::var(vec![0; 8], 8),
            Member::bytes(&[]),
            Member::var(array([part], 8), 8),
            Member::var(Vec::new(), 8),
        ])
    }

    #[test]
    fn parses_a_superblock() {
        let sb = Superblock::parse(&sample()).unwrap();
        assert_eq!(sb.from, None);
        assert_eq!(sb.parts.len(), 1);
        assert_eq!(
            sb.parts[0].objects,
            vec![(ObjectType::DirTree, Checksum([7; 32]))]
        );
    }

    #[test]
    fn corrupted_superblocks_are_errors_not_panics() {
        let good = sample();
        for i in 0..good.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                let _ = Superblock::parse(&bad);
            }
            let _ = Superblock::parse(&good[..i]);
        }
        assert!(Superblock::parse(&[0xff; 3]).is_err());
        assert!(Superblock::parse(&[]).is_err());
    }
}
