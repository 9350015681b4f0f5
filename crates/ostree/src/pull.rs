//! `pull`: fetches commits and everything they reach from a remote **archive**
//! repository over HTTP(S) into a local repository of any mode.
//!
//! Order of work (the same files OSTree's puller asks for): the remote's `config` (its
//! mode must be archive), `summary` (refs; else `refs/heads/REF`), then per commit
//! `.commitmeta` (optional) and `.commit`, the dirtrees level by level, and finally every
//! missing dirmeta and `.filez` — each level and the final batch fetched by a small pool
//! of threads sharing one keep-alive agent.
//!
//! Static deltas ([`crate::delta`]): into a non-archive repository (OSTree never uses
//! them into archive ones), a delta from the ref's current local commit — or from
//! scratch when there is none — replaces most of the object walk for the first commit
//! of each ref; the walk then fetches only what the delta left out. A delta this
//! implementation cannot use is skipped with a note in [`PullReport::delta_notes`].
//!
//! Signatures: a remote with `sign-verify` ([`crate::pull_verify`]) has every commit
//! judged by its `.commitmeta` right after both are fetched — before anything of the
//! commit is stored — and an unsigned or untrusted commit ends the pull. A remote with
//! `sign-verify-summary` must serve a `summary` that `summary.sig` vouches for; the
//! refs are taken from it only then.
//!
//! Safety: every object is hashed before it becomes visible — metadata in memory,
//! content in a `tmp/` file that is renamed into place (or converted into the local
//! mode) only when it hashes to its name; a tampered object is an error naming it and
//! leaves nothing behind. Objects already stored are not fetched again, so an
//! interrupted pull resumes where it stopped. Dirtrees are stored children first and
//! the commit last, then the ref: a stored commit always has its whole tree, which is
//! what `ostree` assumes of a commit without `state/CSUM.commitpartial`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::DeflateDecoder;

use crate::checksum::Checksum;
use crate::content::read_archive_content;
use crate::delta::DeltaError;
use crate::delta::fetch::{Offer, pull_delta};
use crate::delta::index::DeltaIndex;
use crate::error::{io_err, too_deep};
use crate::fetch::{Body, FetchError, Fetcher, RequestOptions};
use crate::object::{Commit, DirMeta, DirTree, FileHeader, MAX_DEPTH, ObjectType, parse_metadata};
use crate::pull_verify::{RemotePolicy, SignPolicy};
use crate::remote_url::Sources;
use crate::repo::{self, Repo, RepoMode};
use crate::sign::SignError;
use crate::summary_cache::SummaryCache;
use crate::workers::parallel;

/// Largest summary or detached metadata fetched (OSTree's `OSTREE_MAX_METADATA_SIZE`).
const MAX_METADATA: u64 = 128 << 20;
/// Largest commit, dirtree or dirmeta fetched (the default `max-metadata-size` of
/// `ostree pull`): a server cannot make a client buffer an endless "object".
const MAX_OBJECT_METADATA: u64 = 10 << 20;
/// Largest content object held in memory while it is verified; larger ones go through
/// a file in `tmp/`.
const MAX_IN_MEMORY: u64 = 1 << 20;
/// Largest `config` or `refs/heads/REF` file fetched.
const MAX_SMALL: u64 = 1 << 20;

pub use crate::pull_types::{PullError, PullOptions, PullProgress, PullReport, PullStatus};

/// A pull from a `file://` remote: the remote repository is local, so its commits are
/// copied (and verified) as `pull-local` copies them, and the refs written as the
/// remote's (`REMOTE:REF`, or local branches with `mirror`).
fn pull_file(
    repo: &Repo,
    (remote_name, remote, policy): (&str, &crate::remote::Remote, &RemotePolicy),
    path: &str,
    refs: &[String],
    options: &PullOptions,
    progress: &dyn PullProgress,
) -> Result<PullReport, PullError> {
    // Signatures are checked on the source's commits (and summary) before anything
    // is copied; only the named commits are, so deeper pulls are refused.
    if policy.commits.is_some() && options.depth != Some(0) {
        return Err(PullError::SignedLocal(remote_name.to_owned()));
    }
    let names = if refs.is_empty() {
        remote.branches.clone()
    } else {
        refs.to_vec()
    };
    if names.is_empty() && !options.mirror {
        return Err(PullError::NoRefs(remote_name.to_owned()));
    }
    let local = crate::pull_local::PullLocalOptions {
        refs: names,
        depth: options.depth,
        remote: (!options.mirror).then(|| remote_name.to_owned()),
        commit_metadata_only: options.commit_metadata_only,
        bareuseronly_files: options.bareuseronly_files,
        ..Default::default()
    };
    let src = Repo::open(std::path::Path::new(path))?;
    if let Some(summary_policy) = &policy.summary {
        let refused = |source| PullError::SummarySignature {
            remote: remote_name.to_owned(),
            source: Box::new(source),
        };
        let read = |name: &str| crate::commitmeta::read_optional(&src.path().join(name));
        let summary = read("summary")?.ok_or_else(|| refused(SignError::NoSummary))?;
        summary_policy
            .verify_summary(&summary, read("summary.sig")?.as_deref())
            .map_err(refused)?;
    }
    for name in &local.refs {
        let (name, target) = match crate::refs::pinned(name) {
            Some(named) => named,
            None => (name.as_str(), src.resolve_rev(name)?),
        };
        if let Some(commit_policy) = &policy.commits {
            let bytes = src.read_metadata(ObjectType::Commit, &target)?;
            let metadata = src.read_commitmeta(&target)?;
            commit_policy
                .verify(&target, &bytes, metadata.as_ref())
                .map_err(|source| PullError::Signature {
                    remote: remote_name.to_owned(),
                    commit: target,
                    source: Box::new(source),
                })?;
        }
        let ref_name = match &local.remote {
            Some(remote) => format!("{remote}:{name}"),
            None => name.to_owned(),
        };
        if let Some(base) = timestamp_base(repo, options, Some(&ref_name))? {
            crate::browse::check_not_older_from(repo, &base, &src, &target)?;
        }
    }
    let outcome = crate::pull_local::pull_local(repo, &src, &local)?;
    let status = PullStatus {
        metadata_fetched: outcome.stats.metadata,
        content_fetched: outcome.stats.content,
        content_total: outcome.stats.content,
        bytes_fetched: outcome.stats.bytes,
        ..PullStatus::default()
    };
    progress.update(&status);
    Ok(PullReport {
        refs: outcome.refs,
        status,
        ..PullReport::default()
    })
}

/// The summary file of remote `remote_name` (`None` when it serves none), checked
/// against `summary.sig` when the remote requires it (`sign-verify-summary`), as
/// `ostree remote summary` and `remote refs` read it.
pub fn remote_summary(repo: &Repo, remote_name: &str) -> Result<Option<Vec<u8>>, PullError> {
    let remote = repo.remote(remote_name)?;
    let policy = RemotePolicy::for_remote(repo, &remote)?;
    let sources = remote_sources(repo, remote_name, &remote)?;
    match sources.summary {
        Some(summary) if policy.summary.is_none() => Ok(Some(summary)),
        _ => fetch_summary(&sources.meta, remote_name, &policy, None),
    }
}

/// Where the remote's metadata comes from (its `url` resolved, mirrorlists and
/// metalinks included), requested with its cookies.
fn remote_sources(
    repo: &Repo,
    remote_name: &str,
    remote: &crate::remote::Remote,
) -> Result<Sources, PullError> {
    remote.require_url()?;
    let request = RequestOptions {
        cookies: crate::cookies::read_jar(repo, remote_name)?,
        ..RequestOptions::default()
    };
    Ok(crate::remote_url::resolve(remote, None, &request)?)
}

/// The `summary.sig` remote `remote_name` serves (`None`: none), for showing the
/// signatures of its summary.
pub fn remote_summary_sig(repo: &Repo, remote_name: &str) -> Result<Option<Vec<u8>>, PullError> {
    let remote = repo.remote(remote_name)?;
    let sources = remote_sources(repo, remote_name, &remote)?;
    Ok(sources.meta.get_bytes("summary.sig", MAX_METADATA)?)
}

/// Fetches the remote's summary and, when its policy says so, refuses it unless
/// `summary.sig` holds a signature by one of the remote's keys. With `cache` (a remote
/// over HTTP), a summary whose `summary.sig` is the cached one is taken from the
/// cache, and an accepted summary with a `summary.sig` is cached ([`SummaryCache`]).
fn fetch_summary(
    fetcher: &Fetcher,
    remote_name: &str,
    policy: &RemotePolicy,
    cache: Option<(&Repo, &SummaryCache)>,
) -> Result<Option<Vec<u8>>, PullError> {
    let signatures = if policy.summary.is_some() || cache.is_some() {
        fetcher.get_bytes("summary.sig", MAX_METADATA)?
    } else {
        None
    };
    let cached = match (cache, &signatures) {
        (Some((_, cache)), Some(sig)) => cache.load_if_same_sig(remote_name, sig),
        _ => None,
    };
    let from_cache = cached.is_some();
    let mut refetched = false;
    let mut summary_bytes = match cached {
        Some(bytes) => Some(bytes),
        None => fetcher.get_bytes("summary", MAX_METADATA)?,
    };
    if let Some(summary_policy) = &policy.summary {
        let refused = |source| PullError::SummarySignature {
            remote: remote_name.to_owned(),
            source: Box::new(source),
        };
        let summary = summary_bytes
            .as_deref()
            .ok_or_else(|| refused(SignError::NoSummary))?;
        if let Err(error) = summary_policy.verify_summary(summary, signatures.as_deref()) {
            if !from_cache {
                return Err(refused(error));
            }
            // A cached summary that does not verify is fetched afresh, never trusted
            // — unless OSTree's own test hook asks to stop here.
            if std::env::var("OSTREE_REPO_TEST_ERROR")
                .is_ok_and(|flags| flags.split(',').any(|f| f == "invalid-cache"))
            {
                return Err(PullError::InvalidCacheTest(remote_name.to_owned()));
            }
            summary_bytes = fetcher.get_bytes("summary", MAX_METADATA)?;
            refetched = true;
            let summary = summary_bytes
                .as_deref()
                .ok_or_else(|| refused(SignError::NoSummary))?;
            summary_policy
                .verify_summary(summary, signatures.as_deref())
                .map_err(refused)?;
        }
    }
    if let (Some((repo, cache)), Some(summary), Some(sig)) = (cache, &summary_bytes, &signatures)
        && (!from_cache || refetched)
    {
        cache.store(repo, remote_name, summary, sig)?;
    }
    Ok(summary_bytes)
}

/// Whether `dir` holds an archive repository (its `config` says `mode=archive`).
fn is_archive(dir: &std::path::Path) -> bool {
    fs::read_to_string(dir.join("config"))
        .ok()
        .and_then(|text| repo::mode_from_config(&text).ok())
        == Some(RepoMode::Archive)
}

/// The commit a pulled commit must not be older than: `--timestamp-check-from-rev`,
/// or with `-T` what the ref `local` holds now (nothing for a new ref).
fn timestamp_base(
    repo: &Repo,
    options: &PullOptions,
    local: Option<&str>,
) -> Result<Option<Checksum>, repo::Error> {
    if let Some(from) = options.timestamp_check_from {
        return Ok(Some(from));
    }
    match (options.timestamp_check, local) {
        (true, Some(local)) => repo.read_ref(local),
        _ => Ok(None),
    }
}

/// A mirror keeps the remote's `summary` and `summary.sig`, as `ostree pull --mirror`
/// does, so that it can be served in turn.
fn mirror_summary(repo: &Repo, fetcher: &Fetcher, summary: &[u8]) -> Result<(), PullError> {
    let signatures = fetcher.get_bytes("summary.sig", MAX_METADATA)?;
    repo.write_durable(&repo.path().join("summary"), summary)?;
    let sig = repo.path().join("summary.sig");
    match signatures {
        Some(bytes) => repo.write_durable(&sig, &bytes)?,
        None => match fs::remove_file(&sig) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(repo::Error::from(io_err("delete", &sig)(e)).into()),
        },
    }
    Ok(())
}

/// Pulls `refs` (names, or commit checksums) from `remote_name` into `repo`; with no
/// refs, the remote's `branches` (or, with `mirror`, every ref in its summary).
pub fn pull(
    repo: &Repo,
    remote_name: &str,
    refs: &[String],
    options: &PullOptions,
    progress: &dyn PullProgress,
) -> Result<PullReport, PullError> {
    if options.require_static_deltas && repo.mode() == RepoMode::Archive {
        return Err(PullError::DeltasInArchive);
    }
    let remote = repo.remote(remote_name)?;
    if let Some(backend) = remote.get("custom-backend") {
        return Err(PullError::CustomBackend {
            remote: remote_name.to_owned(),
            backend: backend.to_owned(),
        });
    }
    if let Some(message) = remote.get("unconfigured-state") {
        return Err(PullError::Unconfigured {
            remote: remote_name.to_owned(),
            message: message.to_owned(),
        });
    }
    let url = match &options.url {
        Some(url) => url.as_str(),
        None => remote.require_url()?,
    };
    let request = RequestOptions {
        cookies: crate::cookies::read_jar(repo, remote_name)?,
        ..options.request.clone()
    };
    let sources = match url.strip_prefix("file://") {
        // A local archive repository is read as over HTTP (deltas, signatures, the
        // summary), as OSTree does; one of another mode is imported object by object.
        Some(path) if is_archive(std::path::Path::new(path)) => Some(Sources {
            meta: Fetcher::for_dir(url),
            content: Fetcher::for_dir(url),
            summary: None,
        }),
        Some(_) => None,
        // A URL that cannot be fetched is the first thing to report.
        None => Some(crate::remote_url::resolve(
            &remote,
            options.url.as_deref(),
            &request,
        )?),
    };
    // What the remote's signature settings demand is known before anything is fetched;
    // when they cannot be met, a URL with no repository behind it is still reported
    // first, as `ostree` reports it (a 404), since that is the mistake to fix.
    let policy = match RemotePolicy::for_remote(repo, &remote) {
        Ok(policy) => policy,
        Err(refused) => {
            if let Some(Sources { meta: fetcher, .. }) = &sources
                && let Ok(None) = fetcher.get_bytes("config", MAX_SMALL)
            {
                return Err(FetchError::Status {
                    url: fetcher.url("config"),
                    status: 404,
                }
                .into());
            }
            return Err(refused.into());
        }
    };
    let Some(sources) = sources else {
        let path = url.trim_start_matches("file://");
        return pull_file(
            repo,
            (remote_name, &remote, &policy),
            path,
            refs,
            options,
            progress,
        );
    };
    pull_archive(
        repo,
        sources,
        (remote_name, &remote, &policy),
        refs,
        options,
        progress,
    )
}

/// `pull-local --require-static-deltas`: copies `refs` from the local archive
/// repository `src` the way a pull reads it (summary, deltas), writing the refs under
/// their own names (or as `remote`'s), so a delta can be tried out without a server.
pub fn pull_local_deltas(
    repo: &Repo,
    src: &std::path::Path,
    refs: &[String],
    remote: Option<&str>,
    options: &PullOptions,
    progress: &dyn PullProgress,
) -> Result<PullReport, PullError> {
    if repo.mode() == RepoMode::Archive {
        return Err(PullError::DeltasInArchive);
    }
    let url = format!("file://{}", src.display());
    let source = crate::remote::Remote {
        name: remote.unwrap_or_default().to_owned(),
        url: url.clone(),
        branches: Vec::new(),
        options: Vec::new(),
    };
    let options = PullOptions {
        // Local names, unless a remote is named.
        mirror: remote.is_none(),
        ..options.clone()
    };
    pull_archive(
        repo,
        Sources {
            meta: Fetcher::for_dir(&url),
            content: Fetcher::for_dir(&url),
            summary: None,
        },
        (
            remote.unwrap_or_default(),
            &source,
            &RemotePolicy::default(),
        ),
        refs,
        &options,
        progress,
    )
}

/// A pull from an archive repository read through `fetcher`.
fn pull_archive(
    repo: &Repo,
    sources: Sources,
    (remote_name, remote, policy): (&str, &crate::remote::Remote, &RemotePolicy),
    refs: &[String],
    options: &PullOptions,
    progress: &dyn PullProgress,
) -> Result<PullReport, PullError> {
    let Sources {
        meta: fetcher,
        content,
        summary: resolved_summary,
    } = sources;
    let not_archive = |mode: String| PullError::NotArchive {
        url: remote.url.clone(),
        mode,
    };
    // No `config`: no repository there (a wrong URL), said as the server said it.
    let config = fetcher
        .get_bytes("config", MAX_SMALL)?
        .ok_or_else(|| FetchError::Status {
            url: fetcher.url("config"),
            status: 404,
        })?;
    let mode = repo::mode_from_config(&String::from_utf8_lossy(&config)).map_err(not_archive)?;
    if mode != RepoMode::Archive {
        return Err(not_archive(mode.name().into()));
    }
    let invalid_summary = |source| PullError::Invalid {
        object: fetcher.url("summary"),
        problem: source,
    };
    // Refs pinned to a commit (`REF@CHECKSUM`) need nothing resolved: the summary is
    // then not fetched at all, as by `ostree pull`, so a pull of a pinned commit works
    // even while the remote's summary is being replaced. (A bare checksum still reads
    // it, for the static deltas it lists.)
    let pinned = |name: &String| crate::refs::pinned(name).is_some();
    let summary_bytes = if let (Some(summary), None) = (resolved_summary, &policy.summary) {
        // Verified against the metalink already.
        Some(summary)
    } else if !refs.is_empty() && refs.iter().all(pinned) && !options.mirror {
        None
    } else {
        // The cache is for remotes over HTTP with a name, as OSTree keeps it (the URL
        // pulled from, which `--url` or a metalink may have changed).
        let cache = SummaryCache::new(repo, options.cache_dir.as_deref());
        let over_http = !fetcher.url("summary").starts_with("file://");
        let cached = (!remote_name.is_empty() && over_http).then_some((repo, &cache));
        fetch_summary(&fetcher, remote_name, policy, cached)?
    };
    let (summary, offer) = match &summary_bytes {
        Some(bytes) => (
            Some(crate::summary::parse_refs(bytes).map_err(invalid_summary)?),
            Offer::Summary(DeltaIndex::from_summary(bytes).map_err(invalid_summary)?),
        ),
        None => (None, Offer::Probe),
    };
    let names: Vec<String> = match (refs, &summary) {
        ([], _) if !remote.branches.is_empty() => remote.branches.clone(),
        ([], Some(summary)) if options.mirror => summary.iter().map(|(n, _)| n.clone()).collect(),
        ([], _) => return Err(PullError::NoRefs(remote_name.to_owned())),
        (refs, _) => refs.to_vec(),
    };
    let mut targets = Vec::new();
    for name in names {
        if let Ok(id) = name.parse::<Checksum>() {
            targets.push((None, name, id));
            continue;
        }
        // `REF@CHECKSUM`: that commit, written to the ref.
        if let Some((name, id)) = crate::refs::pinned(&name) {
            let local = if options.mirror {
                name.to_owned()
            } else {
                format!("{remote_name}:{name}")
            };
            targets.push((Some(local), name.to_owned(), id));
            continue;
        }
        let not_found = || PullError::RefNotFound {
            remote: remote_name.to_owned(),
            name: name.clone(),
        };
        let id = match &summary {
            Some(summary) => summary.iter().find(|(n, _)| *n == name).map(|(_, id)| *id),
            None => match fetcher.get_bytes(&format!("refs/heads/{name}"), MAX_SMALL)? {
                Some(text) => {
                    let text = String::from_utf8_lossy(&text).trim().to_owned();
                    // A server answering with a page instead of a checksum is named,
                    // not taken for a missing ref.
                    Some(text.parse().map_err(|_| PullError::InvalidRef {
                        name: name.clone(),
                        content: text.replace('\n', " ").chars().take(200).collect(),
                    })?)
                }
                None => None,
            },
        }
        .ok_or_else(not_found)?;
        let local = if options.mirror {
            name.clone()
        } else {
            format!("{remote_name}:{name}")
        };
        targets.push((Some(local), name, id));
    }
    let use_deltas = repo.mode() != RepoMode::Archive && !options.disable_static_deltas;
    let puller_offer = use_deltas.then_some(offer);
    let caches = options
        .localcache
        .iter()
        .map(|path| Repo::open(path))
        .collect::<Result<Vec<_>, _>>()?;
    let transaction = repo.begin_transaction()?;
    let puller = Puller {
        caches,
        repo,
        remote: remote_name,
        policy: policy.commits.clone(),
        fetcher,
        content,
        options,
        progress,
        counters: Counters::default(),
        offer: puller_offer,
        deltas: Mutex::default(),
        dry_run: Mutex::default(),
    };
    for (local, _, id) in &targets {
        let from = match local {
            Some(local) => repo.read_ref(local)?,
            None => None,
        }
        .filter(|from| {
            from != id
                && repo.has_object(ObjectType::Commit, from)
                && !puller.commitpartial(from).exists()
        });
        // As OSTree: an older commit is refused as soon as it is fetched, before its
        // content (and before any ref moves).
        let floor = match options.dry_run {
            true => None,
            false => timestamp_base(repo, options, local.as_deref())?,
        };
        puller.commit_chain(id, from, floor)?;
    }
    // A mirror of a remote with a collection ID other than this repository's keeps its
    // refs as that collection's (`refs/mirrors/COLLECTION/REF`), as OSTree does.
    let mirror_collection = remote
        .get("collection-id")
        .filter(|c| options.mirror && !c.is_empty())
        .filter(|c| {
            repo.read_config()
                .ok()
                .and_then(|k| k.get("core", "collection-id"))
                .as_deref()
                != Some(*c)
        })
        .map(str::to_owned);
    let mut report = PullReport::default();
    let mut moved = Vec::new();
    let mut mirrored = Vec::new();
    for (local, name, id) in targets {
        match local {
            Some(local) => {
                if let Some(collection) = &mirror_collection {
                    mirrored.push((format!("{collection}:{local}"), id));
                } else {
                    moved.push((local.clone(), id));
                }
                report.refs.push((local, id));
            }
            None => report.refs.push((name, id)),
        }
    }
    if options.dry_run {
        report.dry_run = Some(*puller.dry_run.lock().expect("not poisoned"));
        return Ok(report);
    }
    transaction.commit(&moved)?;
    for (collection_ref, id) in &mirrored {
        crate::refs::create_in_collection(repo, collection_ref, &id.to_hex(), true)?;
    }
    // Only a mirror of every ref takes the remote's summary: one of a subset of refs
    // would publish refs it does not have (ostree#846).
    if let (true, true, Some(bytes)) = (options.mirror, refs.is_empty(), &summary_bytes) {
        mirror_summary(repo, &puller.fetcher, bytes)?;
    }
    report.status = puller.counters.snapshot();
    (report.deltas, report.delta_notes) = puller.deltas.into_inner().expect("not poisoned");
    Ok(report)
}

#[derive(Default)]
struct Counters {
    metadata: AtomicU64,
    content: AtomicU64,
    metadata_local: AtomicU64,
    content_local: AtomicU64,
    content_total: AtomicU64,
    bytes: AtomicU64,
    delta_parts: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> PullStatus {
        PullStatus {
            metadata_fetched: self.metadata.load(Ordering::Relaxed),
            content_fetched: self.content.load(Ordering::Relaxed),
            metadata_local: self.metadata_local.load(Ordering::Relaxed),
            content_local: self.content_local.load(Ordering::Relaxed),
            content_total: self.content_total.load(Ordering::Relaxed),
            bytes_fetched: self.bytes.load(Ordering::Relaxed),
            delta_parts_fetched: self.delta_parts.load(Ordering::Relaxed),
        }
    }
}

struct Puller<'a> {
    repo: &'a Repo,
    /// Local repositories objects are taken from before they are fetched
    /// (`--localcache-repo`).
    caches: Vec<Repo>,
    remote: &'a str,
    /// Signatures every commit must carry; `None` when the remote asks for none.
    policy: Option<SignPolicy>,
    /// `config`, refs, the summary and detached metadata come from here …
    fetcher: Fetcher,
    /// … objects and static deltas from here (`contenturl`).
    content: Fetcher,
    options: &'a PullOptions,
    progress: &'a dyn PullProgress,
    counters: Counters,
    /// Where to look for static deltas; `None` into an archive repository.
    offer: Option<Offer>,
    /// Deltas applied, and why offered ones were not.
    deltas: Mutex<(Vec<String>, Vec<String>)>,
    /// What a dry run found: delta parts, bytes, bytes uncompressed.
    dry_run: Mutex<(u64, u64, u64)>,
}

/// `objects/XX/REST.EXT` relative to the repository root.
fn object_url_path(id: &Checksum, ext: &str) -> String {
    let hex = id.to_hex();
    format!("objects/{}/{}.{ext}", &hex[..2], &hex[2..])
}

/// Whether metadata object bytes hash to the name they were asked for.
fn check_metadata(kind: ObjectType, id: &Checksum, bytes: &[u8]) -> Result<(), repo::Error> {
    let actual = Checksum::of(bytes);
    if actual != *id {
        return Err(repo::Error::Corrupt {
            object: object_name(kind, id),
            actual,
        });
    }
    Ok(())
}

fn object_name(kind: ObjectType, id: &Checksum) -> String {
    format!("{id}.{}", kind.extension(false))
}

impl Puller<'_> {
    fn fetched(&self, counter: &AtomicU64, bytes: u64) {
        counter.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.progress.update(&self.counters.snapshot());
    }

    fn refused(&self, commit: &Checksum, source: SignError) -> PullError {
        PullError::Signature {
            remote: self.remote.to_owned(),
            commit: *commit,
            source: Box::new(source),
        }
    }

    fn commitpartial(&self, id: &Checksum) -> PathBuf {
        self.repo.path().join(format!("state/{id}.commitpartial"))
    }

    /// The commit's detached metadata on the remote (`None`: it has none). Bytes that
    /// are not an `a{sv}` are refused when signatures are required; otherwise they are
    /// dropped, as OSTree reads such bytes as empty.
    /// `count`: the request is counted as fetched metadata, even when there is none
    /// (not when re-read for a stored commit, which `ostree` does not count either).
    fn commitmeta(
        &self,
        id: &Checksum,
        count: bool,
    ) -> Result<Option<crate::object::Metadata>, PullError> {
        let commitmeta = self
            .fetcher
            .get_bytes(&object_url_path(id, "commitmeta"), MAX_METADATA)?;
        if count {
            // Counted even when absent, as `ostree pull` counts the request.
            let meta_len = commitmeta.as_ref().map_or(0, Vec::len);
            self.fetched(&self.counters.metadata, meta_len as u64);
        }
        // Detached metadata that is not an `a{sv}` is refused when signatures are
        // required; otherwise it is dropped, as OSTree reads such bytes as empty.
        let commitmeta = match commitmeta.map(|bytes| parse_metadata(&bytes)) {
            Some(Err(_)) if self.policy.is_none() => None,
            other => other.transpose().map_err(|source| PullError::Invalid {
                object: format!("{id}.commitmeta"),
                problem: source,
            })?,
        };
        Ok(commitmeta)
    }

    /// A commit and `depth` ancestors; ancestors the remote does not have end the chain.
    /// `from` is the stored commit the ref points to now (the start of a delta).
    /// Pulls `id` and its ancestors to the depth asked for; `id` (only) must not be
    /// older than `floor`.
    fn commit_chain(
        &self,
        id: &Checksum,
        from: Option<Checksum>,
        floor: Option<Checksum>,
    ) -> Result<(), PullError> {
        let mut next = Some(*id);
        let mut remaining = self.options.depth;
        let mut first = true;
        while let Some(id) = next.take() {
            let delta_from = first.then_some(from);
            let floor = floor.filter(|_| first);
            let Some(commit) = self.commit(&id, delta_from, floor)? else {
                break;
            };
            first = false;
            match remaining {
                Some(0) => break,
                Some(n) => remaining = Some(n - 1),
                None => {}
            }
            next = commit.parent;
        }
        Ok(())
    }

    /// Pulls one commit's closure unless it is stored complete; `None` when an
    /// ancestor is not on the remote. `delta_from` is `Some` for the required first
    /// commit of a chain: it may come through a delta from that commit (or scratch).
    fn commit(
        &self,
        id: &Checksum,
        delta_from: Option<Option<Checksum>>,
        floor: Option<Checksum>,
    ) -> Result<Option<Commit>, PullError> {
        let required = delta_from.is_some();
        let partial = self.commitpartial(id);
        let was_partial = partial.exists();
        if self.repo.has_object(ObjectType::Commit, id) && !was_partial {
            // The detached metadata of a stored commit is fetched again, as OSTree
            // does, so signatures added (or removed) on the remote since reach it.
            match self.commitmeta(id, false)? {
                Some(meta) => {
                    if let Some(policy) = &self.policy {
                        let bytes = self.repo.read_metadata(ObjectType::Commit, id)?;
                        policy
                            .verify(id, &bytes, Some(&meta))
                            .map_err(|source| self.refused(id, source))?;
                    }
                    if !self.options.dry_run {
                        self.repo.write_commitmeta(id, &meta)?;
                    }
                }
                None => {
                    if let Some(policy) = &self.policy {
                        policy
                            .verify_stored(self.repo, id)
                            .map_err(|source| self.refused(id, source))?;
                    }
                }
            }
            if let Some(floor) = floor {
                crate::browse::check_not_older(self.repo, &floor, id)?;
            }
            return Ok(Some(self.repo.load_commit(id)?));
        }
        let Some(bytes) = self.metadata(ObjectType::Commit, id, required)? else {
            return Ok(None);
        };
        let commit = parse(ObjectType::Commit, id, &bytes, Commit::parse)?;
        if let Some(floor) = floor.filter(|floor| floor != id) {
            let current_time = self.repo.load_commit(&floor)?.timestamp;
            if commit.timestamp < current_time {
                return Err(repo::Error::Downgrade {
                    target: *id,
                    target_time: commit.timestamp,
                    current: floor,
                    current_time,
                }
                .into());
            }
        }
        let commitmeta = self.commitmeta(id, true)?;
        if let Some(policy) = &self.policy {
            policy
                .verify(id, &bytes, commitmeta.as_ref())
                .map_err(|source| self.refused(id, source))?;
        }
        if self.options.dry_run {
            if let Some(from) = delta_from {
                self.size_delta(from.as_ref(), id)?;
            }
            return Ok(None);
        }
        // Only commits and metadata, or only some paths: the commit is partial.
        let partial_pull = self.options.commit_metadata_only || !self.options.subpaths.is_empty();
        if partial_pull && !was_partial {
            self.repo.write_atomic(&partial, b"")?;
        }
        if !self.options.commit_metadata_only {
            if let Some(from) = delta_from.filter(|_| self.options.subpaths.is_empty()) {
                self.delta(from.as_ref(), id)?;
            }
            self.tree(&commit)?;
        }
        if let Some(meta) = &commitmeta {
            self.repo.write_commitmeta(id, meta)?;
        }
        self.repo.write_metadata(ObjectType::Commit, &bytes)?;
        if was_partial && !partial_pull {
            fs::remove_file(&partial)
                .map_err(|e| repo::Error::from(io_err("delete", &partial)(e)))?;
        }
        Ok(Some(commit))
    }

    /// Applies a delta to `to` if the remote offers one; an unusable one is noted and
    /// left to the object walk.
    fn delta(&self, from: Option<&Checksum>, to: &Checksum) -> Result<(), PullError> {
        let Some(offer) = &self.offer else {
            return Ok(());
        };
        let from = crate::delta::fetch::best_start(self.repo, &self.content, offer, from, to);
        let mut deltas = self.deltas.lock().expect("not poisoned");
        match pull_delta(
            self.repo,
            &self.content,
            offer,
            from.as_ref(),
            to,
            self.options.workers,
        ) {
            Ok(Some(applied)) => {
                let c = &self.counters;
                c.delta_parts.fetch_add(applied.parts, Ordering::Relaxed);
                c.bytes.fetch_add(applied.bytes, Ordering::Relaxed);
                self.progress.update(&c.snapshot());
                deltas.0.push(applied.name);
            }
            Ok(None) if self.options.require_static_deltas => {
                return Err(PullError::DeltasRequired(to.to_string()));
            }
            Ok(None) => {}
            Err(DeltaError::Unsupported(reason)) if self.options.require_static_deltas => {
                return Err(PullError::DeltasRequired(format!("{to} ({reason})")));
            }
            Err(DeltaError::Unsupported(reason)) => deltas.1.push(reason),
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// A dry run's look at the delta to `to`: sized, not fetched.
    fn size_delta(&self, from: Option<&Checksum>, to: &Checksum) -> Result<(), PullError> {
        let found = match &self.offer {
            Some(offer) => {
                let from =
                    crate::delta::fetch::best_start(self.repo, &self.content, offer, from, to);
                crate::delta::fetch::find_delta(&self.content, offer, from.as_ref(), to)?
            }
            None => None,
        };
        let Some((superblock, _)) = found else {
            return if self.options.require_static_deltas {
                Err(PullError::DeltasRequired(to.to_string()))
            } else {
                Ok(())
            };
        };
        let (parts, size, usize) = crate::delta::fetch::delta_size(&superblock);
        let mut total = self.dry_run.lock().expect("not poisoned");
        *total = (total.0 + parts, total.1 + size, total.2 + usize);
        Ok(())
    }

    /// Fetches a metadata object into memory and checks its checksum; `None` on 404
    /// when not `required`.
    fn metadata(
        &self,
        kind: ObjectType,
        id: &Checksum,
        required: bool,
    ) -> Result<Option<Vec<u8>>, PullError> {
        if let Some(cache) = self.caches.iter().find(|c| c.has_object(kind, id)) {
            let bytes = cache.read_metadata(kind, id)?;
            check_metadata(kind, id, &bytes)?;
            self.counters.metadata_local.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(bytes));
        }
        let path = object_url_path(id, kind.extension(false));
        let Some(bytes) = self.content.get_bytes(&path, MAX_OBJECT_METADATA)? else {
            if required {
                return Err(FetchError::Status {
                    url: self.content.url(&path),
                    status: 404,
                }
                .into());
            }
            return Ok(None);
        };
        check_metadata(kind, id, &bytes)?;
        self.fetched(&self.counters.metadata, bytes.len() as u64);
        Ok(Some(bytes))
    }

    /// Scans the tree level by level (stored dirtrees are read locally: a partial pull
    /// may have stored a dirtree whose files are missing), fetches what is missing,
    /// then stores the fetched dirtrees children first.
    fn tree(&self, commit: &Commit) -> Result<(), PullError> {
        let repo = self.repo;
        let mut fetched_trees: HashMap<Checksum, Vec<u8>> = HashMap::new();
        let mut children: HashMap<Checksum, Vec<Checksum>> = HashMap::new();
        // A tree is walked once per path when only subpaths are pulled (the same
        // dirtree may be wanted at one path and not at another), else once.
        let subpaths = Subpaths::new(&self.options.subpaths);
        let mut seen_trees = HashSet::from([(commit.root_tree, String::new())]);
        let mut metas = HashSet::from([commit.root_meta]);
        let mut files = HashSet::new();
        let mut level = vec![(commit.root_tree, String::new())];
        let mut depth = 0;
        while !level.is_empty() {
            if depth > MAX_DEPTH {
                return Err(
                    too_deep("pull", &repo.object_path(ObjectType::DirTree, &level[0].0)).into(),
                );
            }
            depth += 1;
            let mut parsed: HashMap<Checksum, DirTree> = HashMap::new();
            let mut missing = Vec::new();
            for (id, _) in &level {
                if parsed.contains_key(id) || missing.contains(id) {
                    continue;
                }
                if repo.has_object(ObjectType::DirTree, id) {
                    parsed.insert(*id, repo.load_dirtree(id)?);
                } else {
                    missing.push(*id);
                }
            }
            let fetched = parallel(
                &missing,
                self.options.workers,
                |id| -> Result<_, PullError> {
                    let bytes = self
                        .metadata(ObjectType::DirTree, id, true)?
                        .expect("required");
                    let tree = parse(ObjectType::DirTree, id, &bytes, DirTree::parse)?;
                    Ok((*id, bytes, tree))
                },
            )?;
            for (id, bytes, tree) in fetched {
                fetched_trees.insert(id, bytes);
                parsed.insert(id, tree);
            }
            let mut next = Vec::new();
            for (id, path) in std::mem::take(&mut level) {
                let tree = &parsed[&id];
                files.extend(
                    tree.files
                        .iter()
                        .filter(|(name, _)| subpaths.wants_file(&format!("{path}/{name}")))
                        .map(|(_, file)| *file),
                );
                let subdirs = children.entry(id).or_default();
                for (name, sub, meta) in &tree.dirs {
                    let sub_path = format!("{path}/{name}");
                    if !subpaths.wants_dir(&sub_path) {
                        continue;
                    }
                    metas.insert(*meta);
                    subdirs.push(*sub);
                    let key = if subpaths.all() {
                        String::new()
                    } else {
                        sub_path
                    };
                    if seen_trees.insert((*sub, key.clone())) {
                        next.push((*sub, key));
                    }
                }
            }
            level = next;
        }
        let metas: Vec<_> = metas
            .into_iter()
            .filter(|id| !repo.has_object(ObjectType::DirMeta, id))
            .collect();
        let files: Vec<_> = files
            .into_iter()
            .filter(|id| !repo.has_object(ObjectType::File, id))
            .collect();
        self.counters
            .content_total
            .fetch_add(files.len() as u64, Ordering::Relaxed);
        parallel(&metas, self.options.workers, |id| -> Result<_, PullError> {
            let bytes = self
                .metadata(ObjectType::DirMeta, id, true)?
                .expect("required");
            parse(ObjectType::DirMeta, id, &bytes, DirMeta::parse_dir)?;
            repo.write_metadata(ObjectType::DirMeta, &bytes)?;
            Ok(())
        })?;
        parallel(&files, self.options.workers, |id| self.content(id))?;
        let mut written = HashSet::new();
        self.store_trees(
            &commit.root_tree,
            &children,
            &mut fetched_trees,
            &mut written,
        )
    }

    /// Stores fetched dirtrees below and including `id`, every child before its parent.
    fn store_trees(
        &self,
        id: &Checksum,
        children: &HashMap<Checksum, Vec<Checksum>>,
        fetched: &mut HashMap<Checksum, Vec<u8>>,
        written: &mut HashSet<Checksum>,
    ) -> Result<(), PullError> {
        if !written.insert(*id) {
            return Ok(());
        }
        for child in children.get(id).into_iter().flatten() {
            self.store_trees(child, children, fetched, written)?;
        }
        if let Some(bytes) = fetched.remove(id) {
            self.repo.write_metadata(ObjectType::DirTree, &bytes)?;
        }
        Ok(())
    }

    /// Fetches a `.filez` (into memory, or into `tmp/` when large), hashes it, and
    /// stores it: as fetched in an archive repository, converted into the local mode
    /// otherwise.
    fn content(&self, id: &Checksum) -> Result<(), PullError> {
        let repo = self.repo;
        if let Some(cache) = self
            .caches
            .iter()
            .find(|c| c.has_object(ObjectType::File, id))
        {
            let mut content = cache.read_content(id)?;
            if self.options.bareuseronly_files {
                crate::object::check_bareuseronly_mode(id, content.header.mode)?;
            }
            repo.write_content_verified(&content.header, content.size, &mut content.reader, id)?;
            self.counters.content_local.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        // A large body is fetched into a new object file, verified, and (archive)
        // published as it is; dropped unpublished, it leaves nothing behind.
        let mut spill = None;
        let path = object_url_path(id, "filez");
        let body = self
            .content
            .get_body(&path, MAX_IN_MEMORY, || {
                let object = spill.insert(repo.new_readable_object()?);
                let shown = object.shown().to_owned();
                object.file().try_clone().map_err(io_err("open", &shown))
            })?
            .ok_or_else(|| FetchError::Status {
                url: self.content.url(&path),
                status: 404,
            })?;
        let size = match body {
            Body::Memory(bytes) => {
                let (size, header, start) =
                    FileHeader::parse_archive(&bytes).map_err(|source| PullError::Invalid {
                        object: object_name(ObjectType::File, id),
                        problem: source,
                    })?;
                let mut payload: Box<dyn io::Read> = if header.is_symlink() {
                    Box::new(io::empty())
                } else {
                    Box::new(DeflateDecoder::new(&bytes[start..]))
                };
                self.store_filez(id, &header, size, &mut payload, || {
                    let mut object = repo.new_object()?;
                    object.write_all(&bytes)?;
                    object.publish(repo, ObjectType::File, id)
                })?;
                bytes.len() as u64
            }
            Body::File(file, size) => {
                let object = spill.take().expect("a spilled body has its object file");
                let mut content = read_archive_content(object.shown(), file)?;
                self.store_filez(
                    id,
                    &content.header,
                    content.size,
                    &mut content.reader,
                    || object.publish(repo, ObjectType::File, id),
                )?;
                size
            }
        };
        self.fetched(&self.counters.content, size);
        Ok(())
    }

    /// Stores a fetched `.filez` whose `payload` inflates to `size` bytes once it hashes
    /// to `id`: `keep` stores the fetched bytes as they are in an archive repository,
    /// other modes get the object converted.
    fn store_filez(
        &self,
        id: &Checksum,
        header: &FileHeader,
        size: u64,
        payload: &mut dyn io::Read,
        keep: impl FnOnce() -> Result<(), repo::Error>,
    ) -> Result<(), PullError> {
        if self.options.bareuseronly_files || self.repo.mode() == RepoMode::BareUserOnly {
            crate::object::check_bareuseronly_mode(id, header.mode)?;
        }
        if self.repo.mode() != RepoMode::Archive {
            self.repo
                .write_content_verified(header, size, payload, id)?;
            return Ok(());
        }
        if self.options.http_trusted {
            return Ok(keep()?);
        }
        let mut hasher = header.hasher();
        let n = io::copy(payload, &mut hasher).map_err(|source| PullError::Invalid {
            object: object_name(ObjectType::File, id),
            problem: crate::gvariant::err("content object", source.to_string()),
        })?;
        let actual = hasher.finish();
        if n != size || actual != *id {
            return Err(repo::Error::Corrupt {
                object: object_name(ObjectType::File, id),
                actual,
            }
            .into());
        }
        Ok(keep()?)
    }
}

/// The paths a pull is limited to (`--subpath`); none: the whole tree. Paths are
/// absolute, `/` for the root (`/a/b` for entry `b` of directory `a`).
struct Subpaths(Vec<String>);

impl Subpaths {
    fn new(paths: &[String]) -> Self {
        // Kept without the trailing `/`, so the root is "" and "/…" is below it.
        Subpaths(
            paths
                .iter()
                .map(|p| {
                    format!("/{}", p.trim_matches('/'))
                        .trim_end_matches('/')
                        .to_owned()
                })
                .collect(),
        )
    }

    fn all(&self) -> bool {
        self.0.is_empty() || self.0.iter().any(String::is_empty)
    }

    fn below(path: &str, subpath: &str) -> bool {
        path == subpath || path.starts_with(&format!("{subpath}/"))
    }

    /// Whether the file at `path` is fetched: it is a subpath or below one.
    fn wants_file(&self, path: &str) -> bool {
        self.all() || self.0.iter().any(|s| Self::below(path, s))
    }

    /// Whether the directory at `path` is walked: it is a subpath, below one, or on
    /// the way to one.
    fn wants_dir(&self, path: &str) -> bool {
        self.all()
            || self
                .0
                .iter()
                .any(|s| Self::below(path, s) || Self::below(s, path))
    }
}

fn parse<T>(
    kind: ObjectType,
    id: &Checksum,
    bytes: &[u8],
    parse: fn(&[u8]) -> Result<T, crate::gvariant::Error>,
) -> Result<T, PullError> {
    parse(bytes).map_err(|source| PullError::Invalid {
        object: object_name(kind, id),
        problem: source,
    })
}
