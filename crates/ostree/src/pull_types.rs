//! The types of a pull ([`crate::pull`]): its options, progress, report and error,
//! kept apart so that the pull itself and its `file://` path share them.

use crate::checksum::Checksum;
use crate::delta::DeltaError;
use crate::fetch::{FetchError, RequestOptions};
use crate::pull_verify::PolicyError;
use crate::remote;
use crate::repo;
use crate::sign::SignError;

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Parents to fetch besides each commit (`None`: the whole history the remote has).
    pub depth: Option<u64>,
    /// Write refs as local `refs/heads/REF` instead of `refs/remotes/REMOTE/REF`.
    pub mirror: bool,
    /// Fetch only commits and their detached metadata; the commits are marked
    /// partial (`state/CSUM.commitpartial`) as OSTree does.
    pub commit_metadata_only: bool,
    /// Concurrent requests.
    pub workers: usize,
    /// Never use static deltas (`--disable-static-deltas`).
    pub disable_static_deltas: bool,
    /// Refuse to pull into an archive repository, where static deltas are never
    /// applied (`--require-static-deltas`). Not yet: refusing a commit the remote
    /// offers no delta for.
    pub require_static_deltas: bool,
    /// Refuse regular files with mode bits outside 0775 (`--bareuseronly-files`).
    pub bareuseronly_files: bool,
    /// Only find and size the static deltas the pull would use (`--dry-run`, with
    /// `require_static_deltas`): nothing is stored and no ref moves.
    pub dry_run: bool,
    /// Refuse a commit older than the one its ref holds now (`-T`,
    /// `--timestamp-check`).
    pub timestamp_check: bool,
    /// Refuse a commit older than this one (`--timestamp-check-from-rev`).
    pub timestamp_check_from: Option<Checksum>,
    /// Store fetched content objects into an archive repository without hashing them
    /// (`--http-trusted`); a repository of any other mode converts, so verifies, anyway.
    pub http_trusted: bool,
    /// Fetch from this URL instead of the remote's `url` (`--url`).
    pub url: Option<String>,
    /// Headers and `User-Agent` text every request carries (`--http-header`,
    /// `--append-user-agent`); the remote's cookies are added from its jar.
    pub request: RequestOptions,
    /// Repositories to take objects from before fetching them (`--localcache-repo`).
    pub localcache: Vec<std::path::PathBuf>,
    /// Fetch only these paths of each commit's tree (`--subpath`), which is then
    /// marked partial; empty: the whole tree.
    pub subpaths: Vec<String>,
    /// Keep the remote summary cache in `DIR/summaries` instead of the repository's
    /// `tmp/cache/summaries` (`--cache-dir`).
    pub cache_dir: Option<std::path::PathBuf>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            depth: Some(0),
            cache_dir: None,
            mirror: false,
            commit_metadata_only: false,
            workers: 8,
            disable_static_deltas: false,
            require_static_deltas: false,
            bareuseronly_files: false,
            http_trusted: false,
            timestamp_check: false,
            timestamp_check_from: None,
            dry_run: false,
            url: None,
            request: RequestOptions::default(),
            localcache: Vec::new(),
            subpaths: Vec::new(),
        }
    }
}

/// Counters of a running pull, passed to [`PullProgress::update`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullStatus {
    /// Metadata objects (commits, dirtrees, dirmetas) fetched.
    pub metadata_fetched: u64,
    /// Content objects fetched so far.
    pub content_fetched: u64,
    /// Metadata objects taken from a local cache repository instead.
    pub metadata_local: u64,
    /// Content objects taken from a local cache repository instead.
    pub content_local: u64,
    /// Content objects to fetch, once the trees are scanned (0 before).
    pub content_total: u64,
    /// Bytes received.
    pub bytes_fetched: u64,
    /// Static-delta parts fetched (or read inline from a superblock) and applied.
    pub delta_parts_fetched: u64,
}

/// Receives progress; the library never draws anything itself.
pub trait PullProgress: Sync {
    /// Called after every fetched object (from the fetch threads).
    fn update(&self, status: &PullStatus);
}

/// Progress nobody looks at.
impl PullProgress for () {
    fn update(&self, _: &PullStatus) {}
}

/// What a pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullReport {
    /// Refs written, with their local names (`REMOTE:REF`, or `REF` when mirroring),
    /// and commits pulled by checksum (name = the checksum).
    pub refs: Vec<(String, Checksum)>,
    /// Final counters.
    pub status: PullStatus,
    /// Names of the static deltas applied.
    pub deltas: Vec<String>,
    /// Why offered static deltas were not used (the objects were fetched one by one).
    pub delta_notes: Vec<String>,
    /// With `dry_run`: the deltas' parts, bytes to fetch and bytes uncompressed.
    pub dry_run: Option<(u64, u64, u64)>,
}

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The remote is not configured, or its configuration is unusable.
    #[error(transparent)]
    Remote(#[from] remote::Error),
    /// A request failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The remote's `metalink=`/`mirrorlist=` URLs gave no usable base URL.
    #[error(transparent)]
    Url(#[from] crate::remote_url::UrlError),
    /// Storing failed, or an object is corrupt ([`repo::Error::Corrupt`]).
    #[error(transparent)]
    Repo(#[from] repo::Error),
    /// The remote repository cannot be pulled over HTTP.
    #[error("remote '{url}' is a {mode} repository; only archive repositories can be pulled")]
    NotArchive {
        /// The remote's URL.
        url: String,
        /// Its mode, or why it is unreadable.
        mode: String,
    },
    /// A ref is neither in the summary nor under `refs/heads/`.
    #[error("remote '{remote}' has no ref '{name}'")]
    RefNotFound {
        /// The remote.
        remote: String,
        /// The ref.
        name: String,
    },
    /// `--require-static-deltas` into an archive repository (ostree's wording).
    #[error("Can't use static deltas in an archive repo")]
    DeltasInArchive,
    /// A ref file of the remote holds something other than a checksum.
    #[error("Fetching checksum for ref ((empty), {name}): Invalid rev {content}")]
    InvalidRef {
        /// The ref.
        name: String,
        /// What it holds (its start).
        content: String,
    },
    /// The remote is fetched from by another tool (`custom-backend`).
    #[error("remote '{remote}' uses custom backend '{backend}'")]
    CustomBackend {
        /// The remote.
        remote: String,
        /// Its `custom-backend`.
        backend: String,
    },
    /// The remote says it cannot be used yet (`unconfigured-state`, e.g. a
    /// subscription is needed); the message is the remote's.
    #[error("remote '{remote}' is not configured: {message}")]
    Unconfigured {
        /// The remote.
        remote: String,
        /// Its `unconfigured-state`.
        message: String,
    },
    /// `--require-static-deltas` and the remote has no delta to the commit.
    #[error("Static deltas required, but none found for {0}")]
    DeltasRequired(String),
    /// A `file://` remote asks for signatures, which are checked on the named commits
    /// only: their ancestors cannot be pulled from it (`--depth`).
    #[error(
        "remote '{0}' is a file:// remote that requires signatures, which ferro checks \
         on the named commits only: pull without --depth, or serve it over http(s)"
    )]
    SignedLocal(String),
    /// No refs were named and the remote has no `branches`.
    #[error("no refs to pull: name some, or configure branches for remote '{0}'")]
    NoRefs(String),
    /// The remote's signature settings cannot be honoured (checked before any fetch).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The remote requires signed commits and this one is unsigned, or no signature
    /// verifies with its trusted keys; nothing of the commit was stored.
    #[error("refusing commit {commit} from remote '{remote}'")]
    Signature {
        /// The remote.
        remote: String,
        /// The refused commit.
        commit: Checksum,
        /// Why it does not verify (boxed: it is large, and this is the rare path).
        #[source]
        source: Box<SignError>,
    },
    /// The remote requires a signed summary (`sign-verify-summary`) and it has no
    /// summary, no `summary.sig`, or no signature that verifies; nothing was fetched
    /// beyond them.
    #[error(
        "refusing the summary of remote '{remote}' (sign-verify-summary or gpg-verify-summary is on)"
    )]
    SummarySignature {
        /// The remote.
        remote: String,
        /// Why it does not verify.
        #[source]
        source: Box<SignError>,
    },
    /// OSTree's test hook `OSTREE_REPO_TEST_ERROR=invalid-cache` stopped the pull where
    /// a cached summary failed verification (OSTree's wording, which its tests match).
    #[error("Remote {0} cached summary invalid and OSTREE_REPO_TEST_ERROR_INVALID_CACHE specified")]
    InvalidCacheTest(String),
    /// A static delta is corrupt or produced a bad object; nothing unverified was stored.
    #[error(transparent)]
    Delta(#[from] DeltaError),
    /// A fetched object has the right checksum but is not a valid object.
    /// Worded `CHECKSUM.TYPE: what is wrong`, as OSTree reports it; the parse error's
    /// detail is part of the message (not a separate source, which would print twice).
    #[error("invalid object from the remote: {object}: {}", problem.detail)]
    Invalid {
        /// `CHECKSUM.TYPE`.
        object: String,
        /// The parse error.
        problem: crate::gvariant::Error,
    },
}
