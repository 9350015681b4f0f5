//! The `summary` file: `(a(s(taya{sv}))a{sv})`, every local ref (sorted by name bytes)
//! with its commit's size, id and `{ostree.commit.version: s, ostree.commit.timestamp: t (BE)}`,
//! then repository metadata (`ostree.summary.mode`, `…last-modified`,
//! `…tombstone-commits`, `ostree.static-deltas` when `deltas/` holds any, and
//! `…indexed-deltas`, whose `delta-indexes/` files [`update_summary`] writes too).
//! Written atomically; a stale `summary.sig` is removed since it no longer matches.

mod view;

pub use view::{raw, view};

use std::fs;
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::checksum::Checksum;
use crate::delta::index as delta_index;
use crate::error::{Error, io_err};
use crate::gvariant::{self as gv, Member, Shape};
use crate::object::{Metadata, ObjectType, Variant, metadata_bytes};
use crate::repo::Repo;

fn u64_be_variant(value: u64) -> Variant {
    Variant {
        type_str: "t".into(),
        data: value.to_be_bytes().to_vec(),
    }
}

fn bool_variant(value: bool) -> Variant {
    Variant {
        type_str: "b".into(),
        data: vec![u8::from(value)],
    }
}

/// The summary bytes for the repository's current local refs; `now` is recorded as
/// `ostree.summary.last-modified`, and `additional` metadata follows the repository's
/// own (which wins where a key is in both, as in OSTree).
pub fn summary_bytes(repo: &Repo, now: u64, additional: &Metadata) -> Result<Vec<u8>, Error> {
    build(repo, now, &delta_index::stored(repo)?, additional)
}

/// [`summary_bytes`] with the repository's static deltas already listed, which costs
/// reading and hashing every superblock.
fn build(
    repo: &Repo,
    now: u64,
    deltas: &[(String, Checksum)],
    additional: &Metadata,
) -> Result<Vec<u8>, Error> {
    let refs: Vec<_> = repo
        .list_refs()?
        .into_iter()
        .filter(|(name, _)| !name.contains(':'))
        .collect();
    let entries = ref_entries(repo, refs)?;
    let main_collection = repo
        .read_config()?
        .get("core", "collection-id")
        .filter(|c| !c.is_empty());
    // Refs of other collections (mirrored, or a remote's with its `collection-id`),
    // so a client can find them here: `ostree.summary.collection-map`.
    let mut others: std::collections::BTreeMap<String, Vec<(String, Checksum)>> =
        Default::default();
    for r in repo.collection_refs()? {
        if Some(&r.collection) != main_collection.as_ref() {
            others
                .entry(r.collection)
                .or_default()
                .push((r.name, r.commit));
        }
    }
    let mut extra: Metadata = vec![
        (
            "ostree.summary.mode".into(),
            Variant::string(repo.mode().config_name()),
        ),
        ("ostree.summary.last-modified".into(), u64_be_variant(now)),
        (
            "ostree.summary.tombstone-commits".into(),
            bool_variant(repo.tombstones_enabled()?),
        ),
    ];
    if let Some(collection) = &main_collection {
        extra.push((
            "ostree.summary.collection-id".into(),
            Variant::string(collection),
        ));
    }
    if !others.is_empty() {
        let mut map = Vec::with_capacity(others.len());
        for (collection, refs) in others {
            map.push(gv::structure(vec![
                Member::string(&collection),
                Member::var(gv::array(ref_entries(repo, refs)?, 8), 8),
            ]));
        }
        extra.push((
            "ostree.summary.collection-map".into(),
            Variant {
                type_str: "a{sa(s(taya{sv}))}".into(),
                data: gv::array(map, 8),
            },
        ));
    }
    // `[core] no-deltas-in-summary`: clients find deltas through `delta-indexes/`.
    let listed = repo
        .read_config()?
        .get("core", "no-deltas-in-summary")
        .as_deref()
        != Some("true");
    if listed && !deltas.is_empty() {
        let entries: Metadata = deltas
            .iter()
            .map(|(name, id)| (name.clone(), delta_index::checksum_variant(id)))
            .collect();
        extra.push((
            "ostree.static-deltas".into(),
            delta_index::deltas_variant(&entries),
        ));
    }
    extra.push(("ostree.summary.indexed-deltas".into(), bool_variant(true)));
    for (key, value) in additional {
        if !extra.iter().any(|(k, _)| k == key) {
            extra.push((key.clone(), value.clone()));
        }
    }
    Ok(gv::structure(vec![
        Member::var(gv::array(entries, 8), 8),
        Member::var(metadata_bytes(&extra), 8),
    ]))
}

/// The summary entries `(s(taya{sv}))` of `refs`, sorted by name bytes.
fn ref_entries(repo: &Repo, mut refs: Vec<(String, Checksum)>) -> Result<Vec<Vec<u8>>, Error> {
    refs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut entries = Vec::with_capacity(refs.len());
    for (name, id) in &refs {
        let size = repo.read_metadata(ObjectType::Commit, id)?.len() as u64;
        let commit = repo.load_commit(id)?;
        let mut meta: Metadata = Vec::new();
        if let Some(version) = commit.metadata_string("version") {
            meta.push(("ostree.commit.version".into(), Variant::string(&version)));
        }
        meta.push((
            "ostree.commit.timestamp".into(),
            u64_be_variant(commit.timestamp),
        ));
        let inner = gv::structure(vec![
            Member::u64_le(size),
            Member::bytes(id.as_bytes()),
            Member::var(metadata_bytes(&meta), 8),
        ]);
        entries.push(gv::structure(vec![
            Member::string(name),
            Member::var(inner, 8),
        ]));
    }
    Ok(entries)
}

/// How `summary` and `remote summary` show a summary file: one choice a front end
/// passes through, rather than a flag each caller maps to [`view`] or [`raw`] itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryView {
    /// `--view`: refs and metadata under OSTree's labels.
    Labelled,
    /// `--raw`: the GVariant text form.
    Raw,
}

impl SummaryView {
    /// The view `--raw` asks for, or the labelled one.
    pub fn new(raw: bool) -> Self {
        if raw { Self::Raw } else { Self::Labelled }
    }

    /// The text of the summary `bytes`.
    pub fn render(self, bytes: &[u8]) -> Result<String, gv::Error> {
        match self {
            Self::Labelled => view(bytes),
            Self::Raw => raw(bytes),
        }
    }
}

/// The refs a summary lists, in its order: `(name, commit)`. Pulls resolve refs
/// through it rather than one `refs/heads/NAME` request each.
pub fn parse_refs(bytes: &[u8]) -> Result<Vec<(String, Checksum)>, gv::Error> {
    let top = gv::read_struct("summary", bytes, &[Shape::Var(8), Shape::Var(8)])?;
    gv::read_array("summary refs", top[0], 8)?
        .into_iter()
        .map(|entry| {
            let e = gv::read_struct("summary ref", entry, &[Shape::Var(1), Shape::Var(8)])?;
            let name = gv::read_string("ref name", e[0])?;
            let inner = gv::read_struct(
                "summary ref entry",
                e[1],
                &[Shape::Fixed(8, 8), Shape::Var(1), Shape::Var(8)],
            )?;
            let id = Checksum::from_bytes(inner[1])
                .ok_or_else(|| gv::err("summary ref entry", "checksum is not 32 bytes"))?;
            Ok((name, id))
        })
        .collect()
}

/// After refs moved: regenerates `summary` when the repository asks for it (`[core]
/// auto-update-summary=true`), as OSTree does after every ref change.
pub(crate) fn refs_changed(repo: &Repo) -> Result<(), Error> {
    let auto = repo.read_config()?.get("core", "auto-update-summary");
    if auto.as_deref() == Some("true") {
        update_summary(repo)?;
    }
    Ok(())
}

/// Regenerates `summary` (`ostree summary -u`); returns its size.
pub fn update_summary(repo: &Repo) -> Result<usize, Error> {
    regenerate_summary(repo, &Metadata::new())
}

/// The branch `summary -u` of a repository with a collection id commits the summary's
/// additional metadata to (OSTree's `OSTREE_REPO_METADATA_REF`), so that clients that
/// find refs by collection get that metadata as a commit bound to the collection.
pub const METADATA_REF: &str = "ostree-metadata";

/// `ostree summary -u`: in a repository with a collection id, first commits
/// `additional` to [`METADATA_REF`] (an empty tree, the previous commit as parent,
/// bound to the ref and the collection), then regenerates `summary` with it; returns
/// the summary's size.
pub fn update_summary_and_metadata_ref(repo: &Repo, additional: &Metadata) -> Result<usize, Error> {
    let collection = repo.read_config()?.get("core", "collection-id");
    if collection.is_some_and(|c| !c.is_empty()) {
        commit_metadata_ref(repo, additional)?;
    }
    regenerate_summary(repo, additional)
}

/// Commits `additional` with an empty root (uid 0, gid 0, mode 0755) to
/// [`METADATA_REF`]; the empty directory is made in the repository's `tmp/`.
fn commit_metadata_ref(repo: &Repo, additional: &Metadata) -> Result<(), Error> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let empty = repo
        .path()
        .join(format!("tmp/metadata-ref-{}-{nanos}", std::process::id()));
    fs::create_dir(&empty).map_err(io_err("create directory", &empty))?;
    let options = crate::commit::CommitOptions {
        branch: Some(METADATA_REF.into()),
        canonical_permissions: true,
        no_xattrs: true,
        metadata: additional.clone(),
        ..Default::default()
    };
    let committed = crate::commit::commit_dir(repo, &empty, &options);
    let _ = fs::remove_dir(&empty);
    committed.map(drop)
}

/// Regenerates `summary` with `additional` metadata (`ostree summary -u -m KEY=VALUE`);
/// returns its size.
pub fn regenerate_summary(repo: &Repo, additional: &Metadata) -> Result<usize, Error> {
    // Shared, as `ostree summary -u` takes it: the refs it lists name complete commits.
    let _lock = repo.lock(crate::lock::LockKind::Shared)?;
    let now = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    let deltas = delta_index::stored(repo)?;
    let bytes = build(repo, now, &deltas, additional)?;
    // The indexes are made anew, as OSTree regenerates them with the summary: an index
    // naming a delta since deleted would send clients to a missing superblock.
    delta_index::reindex(repo)?;
    let sig = repo.path().join("summary.sig");
    match fs::remove_file(&sig) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(io_err("delete", &sig)(e).into());
        }
        _ => {}
    }
    repo.write_durable(&repo.path().join("summary"), &bytes)?;
    Ok(bytes.len())
}
