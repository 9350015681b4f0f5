//! `static-delta apply-offline`: a delta carried to the machine (its directory, or the
//! one file `generate --filename` writes) applied to the repository without a server:
//! each part checked against the superblock, decoded and applied, then the commit
//! object stored — no ref moves. The delta's start commit must be here, and a delta
//! that leaves objects out (fallbacks) must find them here too, since nothing can be
//! fetched.

use std::path::Path;

use crate::checksum::Checksum;
use crate::error::io_err;
use crate::object::ObjectType;
use crate::repo::{self, Repo};

use super::apply::apply_part;
use super::part::Part;
use super::superblock::Superblock;
use super::{DeltaError, dir, name};

/// Applies the delta at `path` (a directory with `superblock` and parts, or one
/// superblock file with its parts inline); returns the commit it made.
pub fn apply_offline(repo: &Repo, path: &Path) -> Result<Checksum, DeltaError> {
    let (superblock_path, parts_dir) = if path.is_dir() {
        (path.join("superblock"), Some(path))
    } else {
        (path.to_owned(), None)
    };
    let bytes = std::fs::read(&superblock_path)
        .map_err(|e| repo::Error::from(io_err("read", &superblock_path)(e)))?;
    let superblock = Superblock::parse(&bytes)?;
    let delta = name(superblock.from.as_ref(), &superblock.to);
    if let Some(from) = &superblock.from {
        repo.load_commit(from)?;
    }
    let commit = Checksum::of(&superblock.commit);
    if commit != superblock.to {
        return Err(DeltaError::Corrupt {
            what: "embedded commit".into(),
            delta,
            expected: superblock.to,
            actual: commit,
        });
    }
    let transaction = repo.begin_transaction()?;
    let base = dir(superblock.from.as_ref(), &superblock.to);
    for (i, meta) in superblock.parts.iter().enumerate() {
        let key = format!("{base}/{i}");
        let stored = match super::fetch::inline_part(&superblock, &key) {
            Some(data) => data.to_vec(),
            None => {
                let Some(dir) = parts_dir else {
                    return Err(DeltaError::Unsupported(format!(
                        "part {i} of {delta} is neither inline nor beside the superblock"
                    )));
                };
                let file = dir.join(i.to_string());
                std::fs::read(&file).map_err(|e| repo::Error::from(io_err("read", &file)(e)))?
            }
        };
        let actual = Checksum::of(&stored);
        if actual != meta.checksum {
            return Err(DeltaError::Corrupt {
                what: format!("part {i}"),
                delta,
                expected: meta.checksum,
                actual,
            });
        }
        let part = Part::decode(&stored, meta.uncompressed_size)?;
        apply_part(repo, &part, &meta.objects)?;
    }
    if let Some(missing) = superblock
        .fallbacks
        .iter()
        .find(|f| !repo.has_object(f.kind, &f.id))
    {
        return Err(DeltaError::Unsupported(format!(
            "{delta} leaves out {}.{}, which is not here and cannot be fetched offline",
            missing.id,
            missing.kind.extension(false)
        )));
    }
    repo.write_metadata(ObjectType::Commit, &superblock.commit)?;
    transaction.commit(&[])?;
    Ok(commit)
}
