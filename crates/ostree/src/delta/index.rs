//! Which deltas a remote offers: the `ostree.static-deltas` dictionary (delta name →
//! SHA-256 of its superblock) found in the summary's metadata and in each
//! `delta-indexes/…index` file (an `a{sv}` holding the same key), and whether the
//! summary says such index files exist (`ostree.summary.indexed-deltas`); and, for
//! `summary -u`, the deltas a repository stores and their index files.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::checksum::Checksum;
use crate::error::io_err;
use crate::gvariant::{self as gv, Error, Shape, err};
use crate::object::{Metadata, Variant, metadata_bytes, read_checksum, read_metadata};
use crate::repo::{self, Repo};

/// The deltas a remote lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeltaIndex {
    /// `(name, superblock checksum)`; names are `FROM-TO` or `TO`.
    pub deltas: Vec<(String, Checksum)>,
    /// Whether `delta-indexes/` files exist for the summary's commits.
    pub indexed: bool,
}

impl DeltaIndex {
    /// The superblock checksum of delta `name`, if listed.
    pub fn get(&self, name: &str) -> Option<Checksum> {
        self.deltas
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }

    /// Reads the deltas from a `summary` file's metadata.
    pub fn from_summary(summary: &[u8]) -> Result<Self, Error> {
        let top = gv::read_struct("summary", summary, &[Shape::Var(8), Shape::Var(8)])?;
        Self::from_metadata(&read_metadata(top[1])?)
    }

    /// Reads a `delta-indexes/…index` file.
    pub fn from_index_file(bytes: &[u8]) -> Result<Self, Error> {
        Self::from_metadata(&read_metadata(bytes)?)
    }

    fn from_metadata(metadata: &Metadata) -> Result<Self, Error> {
        let mut index = DeltaIndex::default();
        for (key, value) in metadata {
            match (key.as_str(), value.type_str.as_str()) {
                ("ostree.summary.indexed-deltas", "b") => index.indexed = value.data == [1],
                ("ostree.static-deltas", "a{sv}") => {
                    for (name, v) in read_metadata(&value.data)? {
                        if v.type_str != "ay" {
                            return Err(err("ostree.static-deltas", "value is not ay"));
                        }
                        index
                            .deltas
                            .push((name, read_checksum("superblock checksum", &v.data)?));
                    }
                }
                _ => {}
            }
        }
        Ok(index)
    }
}

/// The deltas stored under `deltas/` that have a superblock, as `(name, superblock
/// checksum)` sorted by name: what `summary -u` lists.
pub fn stored(repo: &Repo) -> Result<Vec<(String, Checksum)>, repo::Error> {
    let root = repo.path().join("deltas");
    let mut out = Vec::new();
    for prefix in read_dir(&root)? {
        for entry in read_dir(&prefix)? {
            let Some((from, to)) = parse_dir_name(&prefix, &entry) else {
                continue;
            };
            let superblock = entry.join("superblock");
            let bytes = match fs::read(&superblock) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("read", &superblock)(e).into()),
            };
            out.push((super::name(from.as_ref(), &to), Checksum::of(&bytes)));
        }
    }
    out.sort();
    Ok(out)
}

/// `static-delta reindex`: `delta-indexes/` made anew from the deltas stored now (so
/// an index never names a delta that was deleted).
pub fn reindex(repo: &Repo) -> Result<(), repo::Error> {
    let dir = repo.path().join("delta-indexes");
    match fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("delete", &dir)(e).into()),
    }
    write_indexes(repo, &stored(repo)?)
}

/// The commits `delta-indexes/` has an index for (`static-delta indexes`), sorted.
pub fn indexed(repo: &Repo) -> Result<Vec<Checksum>, repo::Error> {
    let root = repo.path().join("delta-indexes");
    let mut out = Vec::new();
    for prefix in read_dir(&root)? {
        for entry in read_dir(&prefix)? {
            let (Some(p), Some(rest)) = (
                prefix.file_name().and_then(|n| n.to_str()),
                entry.file_name().and_then(|n| n.to_str()),
            ) else {
                continue;
            };
            if let Some(id) = rest
                .strip_suffix(".index")
                .and_then(|r| decode(&format!("{p}{r}")))
            {
                out.push(id);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `delta-indexes/…index` for every target of `deltas` (as [`stored`] lists
/// them), each naming the deltas to that commit.
pub fn write_indexes(repo: &Repo, deltas: &[(String, Checksum)]) -> Result<(), repo::Error> {
    let mut by_target: BTreeMap<&str, Metadata> = BTreeMap::new();
    for (name, id) in deltas {
        let to = name.rsplit('-').next().unwrap_or(name);
        by_target
            .entry(to)
            .or_default()
            .push((name.clone(), checksum_variant(id)));
    }
    for (to, entries) in by_target {
        let Ok(to) = to.parse::<Checksum>() else {
            continue;
        };
        let index = vec![("ostree.static-deltas".to_owned(), deltas_variant(&entries))];
        let path = repo.path().join(super::index_path(&to));
        repo.write_atomic(&path, &metadata_bytes(&index))?;
    }
    Ok(())
}

/// The `ostree.static-deltas` value: `a{sv}` of name → `ay` superblock checksum.
pub(crate) fn deltas_variant(entries: &Metadata) -> Variant {
    Variant {
        type_str: "a{sv}".into(),
        data: metadata_bytes(entries),
    }
}

/// An `ay` variant holding a checksum.
pub(crate) fn checksum_variant(id: &Checksum) -> Variant {
    Variant {
        type_str: "ay".into(),
        data: id.as_bytes().to_vec(),
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, repo::Error> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<_>>()
            .map_err(|e| io_err("list", dir)(e).into()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err("list", dir)(e).into()),
    }
}

/// `deltas/AB/REST[-TO]` → `(from, to)`: the inverse of [`super::dir`].
fn parse_dir_name(prefix: &Path, entry: &Path) -> Option<(Option<Checksum>, Checksum)> {
    let prefix = prefix.file_name()?.to_str()?;
    let rest = entry.file_name()?.to_str()?;
    let first = decode(&format!("{prefix}{}", rest.split('-').next()?))?;
    match rest.split_once('-') {
        Some((_, to)) => Some((Some(first), decode(to)?)),
        None => Some((None, first)),
    }
}

fn decode(text: &str) -> Option<Checksum> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text.replace('_', "/"))
        .ok()?;
    Checksum::from_bytes(&bytes)
}
