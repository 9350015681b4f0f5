//! A pull's use of static deltas: find a delta to the target (from the local commit of
//! the ref, or from scratch when there is none), fetch its superblock, then each part
//! (inline in the superblock or `deltas/…/N`; several at once), check the part's
//! checksum before decoding it, and apply it. Objects the delta leaves out (fallbacks) and anything
//! else missing are fetched afterwards by the ordinary object walk, which also proves
//! the tree complete before the commit is stored.

use crate::checksum::Checksum;
use crate::fetch::{FetchError, Fetcher};
use crate::repo::Repo;
use crate::workers::parallel;

use super::apply::apply_part;
use super::index::DeltaIndex;
use super::part::Part;
use super::superblock::{PART_VERSION, Superblock};
use super::{DeltaError, dir, index_path, name};

/// Largest superblock fetched (inline parts live in it): OSTree's metadata limit.
const MAX_SUPERBLOCK: u64 = 128 << 20;
/// Largest part fetched; bigger ones make the delta unsupported (parts are 32 MiB
/// by default).
const MAX_PART: u64 = 1 << 30;

/// How the remote tells which deltas exist.
pub(crate) enum Offer {
    /// Its summary lists them (and may point to `delta-indexes/`).
    Summary(DeltaIndex),
    /// It has no summary: probe for a superblock at the delta's path.
    Probe,
}

/// What applying a delta did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    /// The delta's name.
    pub name: String,
    /// Parts fetched (or read inline) and applied.
    pub parts: u64,
    /// Bytes downloaded for the superblock and parts.
    pub bytes: u64,
    /// Objects stored.
    pub objects: u64,
}

/// Pulls `to` through a delta if the remote has one (up to `workers` parts at once);
/// `Ok(None)` when it has none.
/// [`DeltaError::Unsupported`] asks the caller to fall back to the object walk; other
/// errors (a corrupt part, a bad operation) end the pull.
pub(crate) fn pull_delta(
    repo: &Repo,
    fetcher: &Fetcher,
    offer: &Offer,
    from: Option<&Checksum>,
    to: &Checksum,
    workers: usize,
) -> Result<Option<Applied>, DeltaError> {
    let Some((superblock, superblock_bytes)) = find_delta(fetcher, offer, from, to)? else {
        return Ok(None);
    };
    let delta = name(from, to);
    let base = dir(from, to);
    let corrupt = |what: &str, expected: Checksum, actual: Checksum| DeltaError::Corrupt {
        what: what.to_owned(),
        delta: delta.clone(),
        expected,
        actual,
    };
    let bytes = superblock_bytes;
    let needed: Vec<usize> = (0..superblock.parts.len())
        .filter(|&i| {
            let objects = &superblock.parts[i].objects;
            !objects.iter().all(|(kind, id)| repo.has_object(*kind, id))
        })
        .collect();
    // Parts are independent: fetch, decode and apply several at once, but no more
    // than there are cores (decoding is the costly step, and each holds a part).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let done = parallel(&needed, workers.min(cores), |&i| {
        let meta = &superblock.parts[i];
        let path = format!("{base}/{i}");
        let (stored, fetched) = match inline_part(&superblock, &path) {
            Some(data) => (data.to_vec(), 0),
            None => {
                let data =
                    fetcher
                        .get_bytes(&path, meta.size)?
                        .ok_or_else(|| FetchError::Status {
                            url: fetcher.url(&path),
                            status: 404,
                        })?;
                let n = data.len() as u64;
                (data, n)
            }
        };
        let actual = Checksum::of(&stored);
        if actual != meta.checksum {
            return Err(corrupt(&format!("part {i}"), meta.checksum, actual));
        }
        let part = Part::decode(&stored, meta.uncompressed_size)?;
        Ok((fetched, apply_part(repo, &part, &meta.objects)?))
    })?;
    Ok(Some(Applied {
        name: delta.clone(),
        parts: done.len() as u64,
        bytes: bytes.len() as u64 + done.iter().map(|(n, _)| n).sum::<u64>(),
        objects: done.iter().map(|(_, n)| n).sum(),
    }))
}

/// The delta from `from` to `to` the remote offers, its superblock fetched, checked
/// against the summary's checksum and parsed: `None` when there is none. Shared by
/// [`pull_delta`] and a dry run, which only sizes it.
pub(crate) fn find_delta(
    fetcher: &Fetcher,
    offer: &Offer,
    from: Option<&Checksum>,
    to: &Checksum,
) -> Result<Option<(Superblock, Vec<u8>)>, DeltaError> {
    let delta = name(from, to);
    let base = dir(from, to);
    let superblock_path = format!("{base}/superblock");
    let expected = match offer {
        Offer::Summary(index) => match index.get(&delta) {
            Some(id) => Some(id),
            None if index.indexed => match fetcher.get_bytes(&index_path(to), MAX_SUPERBLOCK)? {
                Some(bytes) => DeltaIndex::from_index_file(&bytes)?.get(&delta),
                None => None,
            },
            None => None,
        },
        Offer::Probe => None,
    };
    if matches!(offer, Offer::Summary(_)) && expected.is_none() {
        return Ok(None);
    }
    let Some(bytes) = fetcher.get_bytes(&superblock_path, MAX_SUPERBLOCK)? else {
        return match offer {
            Offer::Probe => Ok(None),
            Offer::Summary(_) => Err(DeltaError::Unsupported(format!(
                "{superblock_path} is listed but missing"
            ))),
        };
    };
    let corrupt = |what: &str, expected: Checksum, actual: Checksum| DeltaError::Corrupt {
        what: what.to_owned(),
        delta: delta.clone(),
        expected,
        actual,
    };
    let actual = Checksum::of(&bytes);
    if let Some(expected) = expected.filter(|e| *e != actual) {
        return Err(corrupt("superblock", expected, actual));
    }
    let superblock = Superblock::parse(&bytes)?;
    if superblock.from.as_ref() != from || superblock.to != *to {
        return Err(DeltaError::Unsupported(format!(
            "superblock of {delta} names another delta"
        )));
    }
    let commit = Checksum::of(&superblock.commit);
    if commit != *to {
        return Err(corrupt("embedded commit", *to, commit));
    }
    if let Some(part) = superblock.parts.iter().find(|p| p.version != PART_VERSION) {
        return Err(DeltaError::Unsupported(format!(
            "part version {}",
            part.version
        )));
    }
    if let Some(part) = superblock.parts.iter().find(|p| p.size > MAX_PART) {
        return Err(DeltaError::Unsupported(format!(
            "a part of {} bytes",
            part.size
        )));
    }
    Ok(Some((superblock, bytes)))
}

/// Where a delta to `to` should start: `from` (the ref's local commit) when the remote
/// offers that delta, else — as OSTree's `get_best_static_delta_start_for` — the newest
/// commit stored here, complete, from which the summary lists a delta to `to`, else
/// `from` (a probe, or scratch).
pub(crate) fn best_start(
    repo: &Repo,
    fetcher: &Fetcher,
    offer: &Offer,
    from: Option<&Checksum>,
    to: &Checksum,
) -> Option<Checksum> {
    let Offer::Summary(summary) = offer else {
        return from.copied();
    };
    // The summary's list, or (`indexed-deltas`) the index file of `to`.
    let from_index;
    let index = if summary
        .deltas
        .iter()
        .any(|(n, _)| n.ends_with(&to.to_string()))
        || !summary.indexed
    {
        summary
    } else {
        from_index = fetcher
            .get_bytes(&index_path(to), MAX_SUPERBLOCK)
            .ok()
            .flatten()
            .and_then(|bytes| DeltaIndex::from_index_file(&bytes).ok())
            .unwrap_or_default();
        &from_index
    };
    if index.get(&name(from, to)).is_some() {
        return from.copied();
    }
    let complete = |id: &Checksum| {
        repo.has_object(crate::object::ObjectType::Commit, id)
            && !repo
                .path()
                .join(format!("state/{id}.commitpartial"))
                .exists()
    };
    index
        .deltas
        .iter()
        .filter_map(|(n, _)| super::parse_name(n))
        .filter_map(|(start, target)| (target == *to).then_some(start?))
        .filter(complete)
        .max_by_key(|id| repo.load_commit(id).map_or(0, |c| c.timestamp))
        .or(from.copied())
}

/// The size of a delta as a dry run reports it: parts, their bytes as fetched, and
/// their bytes uncompressed.
pub(crate) fn delta_size(superblock: &Superblock) -> (u64, u64, u64) {
    let parts = superblock.parts.len() as u64;
    let size = superblock.parts.iter().map(|p| p.size).sum();
    let usize = superblock.parts.iter().map(|p| p.uncompressed_size).sum();
    (parts, size, usize)
}

/// A part stored in the superblock's metadata under its relative path, as `(yay)`:
/// the same bytes as the part file.
pub(crate) fn inline_part<'a>(superblock: &'a Superblock, path: &str) -> Option<&'a [u8]> {
    superblock
        .metadata
        .iter()
        .find(|(key, value)| key == path && value.type_str == "(yay)")
        .map(|(_, value)| &value.data[..])
}
