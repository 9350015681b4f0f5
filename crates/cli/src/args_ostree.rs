//! `ferro ostree …`: OSTree's verbs and flags, as clap types only.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use ferro_ostree::RepoMode;
use ferro_ostree::tree_source::TreeSource;

/// `ferro ostree`: work with OSTree repositories.
#[derive(Debug, Args)]
pub struct OstreeArgs {
    /// The repository.
    #[arg(long, global = true, value_name = "PATH", env = crate::env::OSTREE_REPO)]
    pub repo: Option<PathBuf>,
    /// The verb.
    #[command(subcommand)]
    pub verb: OstreeVerb,
}

/// The verbs of `ferro ostree`.
#[derive(Debug, Subcommand)]
pub enum OstreeVerb {
    /// Manage deployments on a sysroot, like `ostree admin`.
    Admin(crate::args_admin::AdminArgs),
    /// Create a repository.
    Init {
        /// How objects are stored (`archive-z2` is accepted for archive).
        #[arg(long, value_enum, default_value_t = RepoMode::Bare)]
        mode: RepoMode,
        /// The collection ID (reverse DNS, e.g. org.example.Os) naming this repository's
        /// refs wherever they are mirrored.
        #[arg(long, value_name = "ID")]
        collection_id: Option<String>,
    },
    /// Commit a directory tree to a branch.
    Commit(OstreeCommitArgs),
    /// Check a commit out into a new directory.
    Checkout(OstreeCheckoutArgs),
    /// Print the commit a ref or checksum names (`REF^` for its parent).
    RevParse {
        /// The ref or checksum.
        rev: String,
    },
    /// List refs, or create and delete them.
    Refs {
        /// Delete the named refs and every ref under the named prefixes.
        #[arg(long)]
        delete: bool,
        /// Show full ref names under a prefix (not relative to it).
        #[arg(long)]
        list: bool,
        /// Create ref NEW pointing at the commit named by the argument.
        #[arg(long, value_name = "NEW")]
        create: Option<String>,
        /// List refs by collection as `(COLLECTION, REF)`: local refs under the
        /// repository's collection id, remote refs under their remote's, and mirrored
        /// refs (`refs/mirrors`).
        #[arg(long, conflicts_with_all = ["delete", "create"])]
        collections: bool,
        /// Refs or prefixes to list or delete (`REMOTE:` for a remote's), or the existing
        /// ref or commit (with --create).
        refs: Vec<String>,
    },
    /// Show a commit and its ancestors.
    Log {
        /// The ref or checksum.
        rev: String,
    },
    /// Show one commit.
    Show {
        /// The ref or checksum.
        rev: String,
        /// Print the value of this commit metadata key, in the GVariant text form.
        #[arg(long, value_name = "KEY", conflicts_with = "raw")]
        print_metadata_key: Option<String>,
        /// Print the value of this detached metadata key (`.commitmeta`).
        #[arg(long, value_name = "KEY", conflicts_with_all = ["raw", "print_metadata_key"])]
        print_detached_metadata_key: Option<String>,
        /// Print the whole commit object in the GVariant text form.
        #[arg(long)]
        raw: bool,
        /// Print integers as stored, without converting OSTree's big-endian ones.
        #[arg(short = 'B', long)]
        no_byteswap: bool,
    },
    /// List files in a commit.
    Ls(OstreeLsArgs),
    /// Print a file of a commit.
    Cat {
        /// The ref or checksum.
        rev: String,
        /// Paths inside the commit.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Delete objects that are no longer reachable.
    Prune {
        /// Only commits named by refs (and their history) keep objects alive.
        #[arg(long)]
        refs_only: bool,
        /// Follow at most N parents from each commit (-1: all).
        #[arg(long, value_name = "N", default_value_t = -1, allow_negative_numbers = true)]
        depth: i64,
        /// Delete commits in ref histories older than DATE (`@SECONDS` or
        /// `YYYY-MM-DD[ HH:MM:SS]`, UTC); implies --refs-only.
        #[arg(long, value_name = "DATE")]
        keep_younger_than: Option<String>,
        /// Only report what would be deleted.
        #[arg(long)]
        no_prune: bool,
    },
    /// Copy commits and their objects from another local repository, verifying each.
    PullLocal {
        /// Follow at most N parents (-1: all; default 0).
        #[arg(
            long,
            value_name = "N",
            default_value_t = 0,
            allow_negative_numbers = true
        )]
        depth: i64,
        /// Verify every object (always done; accepted for compatibility).
        #[arg(long)]
        untrusted: bool,
        /// The source repository.
        src: PathBuf,
        /// Refs or commits to pull (default: every local ref of the source).
        refs: Vec<String>,
    },
    /// Manage the `summary` file.
    Summary {
        /// Regenerate it from the current refs (and drop its old signatures).
        #[arg(short = 'u', long)]
        update: bool,
        /// Sign the summary with this base64 ed25519 secret key (repeatable); without
        /// -u, the signatures are added to those `summary.sig` already has.
        #[arg(long, value_name = "KEY-ID")]
        sign: Vec<String>,
        /// The signature type; only `ed25519` is implemented.
        #[arg(long, value_name = "NAME", value_enum, default_value_t = SignType::Ed25519)]
        sign_type: SignType,
        /// Show the summary's refs and metadata, as `ostree summary --view` does.
        #[arg(short = 'v', long)]
        view: bool,
        /// Show the whole summary in the GVariant text form.
        #[arg(long)]
        raw: bool,
        /// With -u: add `KEY=VALUE` metadata, VALUE in the GVariant text form.
        #[arg(
            short = 'm',
            long = "add-metadata",
            value_name = "KEY=VALUE",
            requires = "update"
        )]
        add_metadata: Vec<String>,
    },
    /// Add, list or delete remotes (`[remote "NAME"]` groups of the repository config).
    Remote {
        /// The remote verb.
        #[command(subcommand)]
        verb: OstreeRemoteVerb,
    },
    /// Fetch commits and their objects from a remote archive repository over HTTP(S).
    Pull(OstreePullArgs),
    /// Check every commit and reachable object; exits 1 when something is wrong.
    Fsck {
        /// Print only problems.
        #[arg(short, long)]
        quiet: bool,
        /// Remove corrupted objects and mark the commits that held them partial.
        #[arg(long)]
        delete: bool,
    },
    /// Add an ed25519 signature to a commit, or verify its signatures.
    Sign(OstreeSignArgs),
    /// Generate, list or describe static deltas.
    StaticDelta {
        /// The static-delta verb.
        #[command(subcommand)]
        verb: OstreeStaticDeltaVerb,
    },
    /// List the paths that differ between two commits (`M`, `D`, `A`).
    Diff {
        /// Print object counts and the size of what both commits share.
        #[arg(long)]
        stats: bool,
        /// Print the changed paths (the default without --stats).
        #[arg(long)]
        fs_diff: bool,
        /// REV (compared with its parent) or FROM TO.
        #[arg(required = true, num_args = 1..=2, value_name = "REV")]
        revs: Vec<String>,
    },
}

/// The signature types `ostree sign` and `ostree summary --sign` know. OSTree's
/// `dummy` is accepted so that asking for it fails as `ostree` fails without it
/// ("not implemented", exit 1) rather than as a usage error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignType {
    /// Ed25519 signatures, as OSTree makes them.
    Ed25519,
    /// OSTree's test signer; not implemented here.
    Dummy,
}

/// `ferro ostree commit`.
#[derive(Debug, Args)]
pub struct OstreeCommitArgs {
    /// The branch to update.
    #[arg(short = 'b', long, value_name = "REF")]
    pub branch: Option<String>,
    /// What to commit: `dir=PATH`, or `tar=FILE` (plain or gzip; `-` reads stdin).
    #[arg(long, value_name = "dir=PATH|tar=FILE")]
    pub tree: Vec<TreeSource>,
    /// One-line subject.
    #[arg(short, long, default_value = "")]
    pub subject: String,
    /// Body text.
    #[arg(short = 'm', long, default_value = "")]
    pub body: String,
    /// Commit time: `@SECONDS` or `YYYY-MM-DDTHH:MM:SSZ` (default: `SOURCE_DATE_EPOCH` or now).
    #[arg(long, value_name = "TIME")]
    pub timestamp: Option<String>,
    /// The parent commit (default: the branch's current commit).
    #[arg(long, value_name = "COMMIT")]
    pub parent: Option<String>,
    /// Record no parent.
    #[arg(long)]
    pub orphan: bool,
    /// Owner of every file and directory.
    #[arg(long, value_name = "UID")]
    pub owner_uid: Option<u32>,
    /// Group of every file and directory.
    #[arg(long, value_name = "GID")]
    pub owner_gid: Option<u32>,
    /// uid/gid 0 and modes masked to 0755.
    #[arg(long)]
    pub canonical_permissions: bool,
    /// Add `KEY=VALUE` string metadata.
    #[arg(long, value_name = "KEY=VALUE")]
    pub add_metadata_string: Vec<String>,
    /// Add `KEY=VALUE` metadata, VALUE in the GVariant text form (`"uint64 5"`,
    /// `"['a', 'b']"`, `"'text'"`).
    #[arg(long, value_name = "KEY=VALUE")]
    pub add_metadata: Vec<String>,
    /// Do not record the branch as `ostree.ref-binding`.
    #[arg(long)]
    pub no_bindings: bool,
    /// Make no commit if the tree equals the parent's.
    #[arg(long)]
    pub skip_if_unchanged: bool,
    /// Do not record extended attributes.
    #[arg(long)]
    pub no_xattrs: bool,
    /// Tar archives: create directories the archive does not list (0755).
    #[arg(long)]
    pub tar_autocreate_parents: bool,
    /// The directory to commit (like `--tree=dir=PATH`).
    pub path: Option<PathBuf>,
}

/// `ferro ostree static-delta` verbs.
#[derive(Debug, Subcommand)]
pub enum OstreeStaticDeltaVerb {
    /// List the deltas stored under `deltas/`.
    List,
    /// Describe a delta (`FROM-TO`, or `TO` from scratch).
    Show {
        /// The delta name.
        delta: String,
    },
    /// Write a delta to a commit (from its parent unless --from or --empty).
    Generate(OstreeDeltaGenerateArgs),
}

/// `ferro ostree static-delta generate`.
#[derive(Debug, Args)]
pub struct OstreeDeltaGenerateArgs {
    /// Start from this commit (default: the parent of --to).
    #[arg(long, value_name = "REV", conflicts_with = "empty")]
    pub from: Option<String>,
    /// Generate a delta from scratch.
    #[arg(long)]
    pub empty: bool,
    /// The commit the delta produces.
    #[arg(long, value_name = "REV")]
    pub to: String,
    /// Store the parts inside the superblock.
    #[arg(long)]
    pub inline: bool,
    /// Start a new part after this many megabytes of objects.
    #[arg(long, value_name = "MB", default_value_t = 32)]
    pub max_chunk_size: u64,
    /// Store parts uncompressed instead of xz-compressed.
    #[arg(long)]
    pub disable_compression: bool,
    /// Never rebuild changed files from their old version by a bsdiff patch.
    #[arg(long)]
    pub disable_bsdiff: bool,
    /// Use bsdiff only for files of at most this many megabytes.
    #[arg(long, value_name = "MB", default_value_t = 128)]
    pub max_bsdiff_size: u64,
}

/// `ferro ostree sign`.
#[derive(Debug, Args)]
pub struct OstreeSignArgs {
    /// Verify instead of signing: KEY-IDs are public keys.
    #[arg(long)]
    pub verify: bool,
    /// The signature type; only `ed25519` is implemented.
    #[arg(short = 's', long, value_name = "NAME", value_enum, default_value_t = SignType::Ed25519)]
    pub sign_type: SignType,
    /// A file of base64 keys, one per line (secret keys to sign, public keys to verify).
    #[arg(long, value_name = "FILE")]
    pub keys_file: Option<PathBuf>,
    /// The ref or checksum.
    pub commit: String,
    /// Base64 keys: 64-byte secret keys to sign with, 32-byte public keys to verify with.
    #[arg(value_name = "KEY-ID")]
    pub keys: Vec<String>,
}

/// `ferro ostree checkout`.
#[derive(Debug, Args)]
pub struct OstreeCheckoutArgs {
    /// Ignore stored owners; drop setuid/setgid bits.
    #[arg(short = 'U', long)]
    pub user_mode: bool,
    /// Fail unless every file can be hardlinked.
    #[arg(short = 'H', long)]
    pub require_hardlinks: bool,
    /// Copy files, never hardlink.
    #[arg(short = 'C', long)]
    pub force_copy: bool,
    /// Check out only this directory of the commit.
    #[arg(long, value_name = "PATH")]
    pub subpath: Option<String>,
    /// Merge into existing directories; replace existing files.
    #[arg(long, conflicts_with = "union_add")]
    pub union: bool,
    /// Merge into existing directories; keep existing files.
    #[arg(long)]
    pub union_add: bool,
    /// The ref or checksum.
    pub rev: String,
    /// The new directory (default: the rev's name).
    pub destination: Option<PathBuf>,
}

/// `ferro ostree ls`.
#[derive(Debug, Args)]
pub struct OstreeLsArgs {
    /// Descend into directories.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Show object checksums.
    #[arg(short = 'C', long)]
    pub checksum: bool,
    /// The ref or checksum.
    pub rev: String,
    /// Paths inside the commit (default `/`).
    pub paths: Vec<String>,
}

/// `ferro ostree remote …`.
#[derive(Debug, Subcommand)]
pub enum OstreeRemoteVerb {
    /// Add a remote.
    Add {
        /// Do not require signed commits (`gpg-verify=false`).
        #[arg(long)]
        no_gpg_verify: bool,
        /// Set an option of the remote.
        #[arg(long, value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Succeed without changes when the remote exists.
        #[arg(long)]
        if_not_exists: bool,
        /// The remote's name.
        name: String,
        /// Where its archive repository is served.
        url: String,
        /// Refs `pull NAME` fetches by default.
        branches: Vec<String>,
    },
    /// List remotes.
    List {
        /// Show their URLs too.
        #[arg(short = 'u', long = "show-urls")]
        show_urls: bool,
    },
    /// Delete a remote.
    Delete {
        /// Succeed when the remote does not exist.
        #[arg(long)]
        if_exists: bool,
        /// The remote's name.
        name: String,
    },
    /// List the refs the remote's summary names, as `REMOTE:REF`.
    Refs {
        /// The remote's name.
        name: String,
    },
    /// Show the remote's summary, as `summary --view` shows a local one.
    Summary {
        /// Show it in the GVariant text form instead.
        #[arg(long)]
        raw: bool,
        /// The remote's name.
        name: String,
    },
}

/// `ferro ostree pull`.
#[derive(Debug, Args)]
pub struct OstreePullArgs {
    /// Also fetch N parents of each commit (-1: the whole history).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub depth: i64,
    /// Write refs as local branches (`refs/heads`); with no refs, pull every ref of
    /// the remote's summary.
    #[arg(long)]
    pub mirror: bool,
    /// Fetch only the commit objects (and detached metadata).
    #[arg(long)]
    pub commit_metadata_only: bool,
    /// Fetch objects one by one even when the remote offers static deltas.
    #[arg(long)]
    pub disable_static_deltas: bool,
    /// The remote (or `REMOTE:REF`).
    pub remote: String,
    /// Refs or commit checksums (default: the remote's configured branches).
    pub refs: Vec<String>,
}
