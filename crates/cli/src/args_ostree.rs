//! `ferro ostree …`: OSTree's verbs and flags, as clap types only.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use ferro_ostree::RepoMode;
use ferro_ostree::remote::SignVerify;
use ferro_ostree::tree_source::TreeSource;

/// `ferro ostree`: work with OSTree repositories.
#[derive(Debug, Args)]
pub struct OstreeArgs {
    /// The repository (given twice, the last wins; default: `OSTREE_REPO`, else the
    /// repository of `OSTREE_SYSROOT`).
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = crate::env::OSTREE_REPO,
        overrides_with = "repo"
    )]
    pub repo: Option<PathBuf>,
    /// The sysroot whose `ostree/repo` is used when no repository is named (`--repo`,
    /// `OSTREE_REPO` and a repository as the current directory come first); never `/`
    /// implicitly.
    #[arg(long = "sysroot", env = crate::env::OSTREE_SYSROOT, value_name = "PATH")]
    pub env_sysroot: Option<PathBuf>,
    /// `show`: print the value of this commit metadata key, in the GVariant text form.
    /// Accepted before the verb too, as `ostree` scripts write it.
    #[arg(long, global = true, value_name = "KEY")]
    pub print_metadata_key: Option<String>,
    /// `commit`: the commit time, `@SECONDS`, `YYYY-MM-DD[THH:MM:SS]Z` or `Month DD YYYY`
    /// (default: `SOURCE_DATE_EPOCH` or now). Accepted before the verb too, as `ostree`
    /// scripts write it.
    #[arg(long, global = true, value_name = "TIME")]
    pub timestamp: Option<String>,
    /// Print the version and the features this implementation has, as `ostree --version`.
    #[arg(long)]
    pub version: bool,
    /// The verb.
    #[command(subcommand)]
    pub verb: Option<OstreeVerb>,
}

/// The verbs of `ferro ostree`.
#[derive(Debug, Subcommand)]
pub enum OstreeVerb {
    /// Manage deployments on a sysroot, like `ostree admin`.
    #[command(
        subcommand_help_heading = "Builtin Commands",
        disable_help_subcommand = true
    )]
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
        /// Ignored: `ostree init` takes no arguments but does not reject them, and
        /// scripts pass some (`ostree init init --mode=archive`).
        #[arg(hide = true)]
        ignored: Vec<String>,
    },
    /// Commit a directory tree to a branch.
    Commit(OstreeCommitArgs),
    /// Check a commit out into a new directory.
    Checkout(OstreeCheckoutArgs),
    /// Print the commit a ref or checksum names (`REF^` for its parent).
    RevParse {
        /// Print the repository's only commit (fails unless there is exactly one).
        #[arg(short = 'S', long, conflicts_with = "rev")]
        single: bool,
        /// The ref or checksum.
        #[arg(required_unless_present = "single")]
        rev: Option<String>,
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
        /// With --create: move the ref if it exists.
        #[arg(long, requires = "create")]
        force: bool,
        /// With --create: make NEW an alias that follows the named local ref; alone:
        /// list the aliases as `ALIAS -> REF`.
        #[arg(short = 'A', long)]
        alias: bool,
        /// List refs by collection as `(COLLECTION, REF)`: local refs under the
        /// repository's collection id, remote refs under their remote's, and mirrored
        /// refs (`refs/mirrors`).
        #[arg(long)]
        collections: bool,
        /// Refs or prefixes to list or delete (`REMOTE:` for a remote's), or the existing
        /// ref or commit (with --create).
        refs: Vec<String>,
    },
    /// Print the content checksum of a file or symlink (as it would be stored).
    Checksum {
        /// Leave extended attributes out.
        #[arg(long)]
        ignore_xattrs: bool,
        /// The file.
        path: PathBuf,
    },
    /// Write a commit's tree as a tar archive.
    Export {
        /// The commit (ref or checksum).
        rev: String,
        /// The archive to write (`-` or none: standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Only the tree below this path of the commit.
        #[arg(long, value_name = "PATH")]
        subpath: Option<String>,
        /// Put before every name in the archive (e.g. `the-prefix/`).
        #[arg(long, value_name = "PREFIX")]
        prefix: Option<String>,
        /// Leave extended attributes out.
        #[arg(long)]
        no_xattrs: bool,
    },
    /// Copy collection refs onto a mounted USB stick (an archive repository at
    /// `.ostree/repo`), for offline pulls elsewhere.
    CreateUsb {
        /// Where the medium is mounted.
        #[arg(value_name = "MOUNT-PATH")]
        mount: PathBuf,
        /// `COLLECTION-ID REF` pairs.
        #[arg(value_name = "COLLECTION-ID REF", required = true)]
        pairs: Vec<String>,
        /// The repository's directory under the mount (default `.ostree/repo`).
        #[arg(long, value_name = "DEST")]
        destination_repo: Option<PathBuf>,
        /// Copy this commit instead of the ref's (one pair only).
        #[arg(long, value_name = "COMMIT")]
        commit: Option<String>,
        /// Accepted for compatibility: the copy is made durable once, at its commit
        /// point.
        #[arg(long)]
        disable_fsync: bool,
    },
    /// Find which configured remotes offer collection refs (by each remote's
    /// `collection-id` and summary), and optionally pull them.
    FindRemotes {
        /// `COLLECTION-ID REF` pairs.
        #[arg(value_name = "COLLECTION-ID REF", required = true)]
        pairs: Vec<String>,
        /// The finders to use; only `config` (the configured remotes) is implemented.
        #[arg(long, value_name = "FINDERS", default_value = "config")]
        finders: String,
        /// Pull the refs found.
        #[arg(long)]
        pull: bool,
        /// With --pull: write the refs as mirrors.
        #[arg(long)]
        mirror: bool,
    },
    /// Point an existing ref at another commit (usually an ancestor, `REF^`).
    Reset {
        /// The ref.
        #[arg(value_name = "REF")]
        name: String,
        /// The commit it is to name.
        rev: String,
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
        /// Print the value of this detached metadata key (`.commitmeta`).
        #[arg(long, value_name = "KEY", conflicts_with = "raw")]
        print_detached_metadata_key: Option<String>,
        /// Print the whole commit object in the GVariant text form.
        #[arg(long)]
        raw: bool,
        /// Print integers as stored, without converting OSTree's big-endian ones.
        #[arg(short = 'B', long)]
        no_byteswap: bool,
        /// GPG signatures: verify with this remote's trusted keys (default: every
        /// remote's and the global ones).
        #[command(flatten)]
        gpg: crate::args_gpg::ShowGpgArgs,
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
        /// Delete this commit (refused while a ref names it); it leaves a tombstone.
        #[arg(long, value_name = "COMMIT")]
        delete_commit: Option<String>,
        /// With --delete-commit: delete only the static deltas to that commit.
        #[arg(long)]
        static_deltas_only: bool,
        /// Keep DEPTH parents of BRANCH whatever else is asked (-1: all); repeatable.
        #[arg(long, value_name = "BRANCH=DEPTH")]
        retain_branch_depth: Vec<String>,
        /// Prune only this branch (repeatable); the others keep their whole history.
        #[arg(long, value_name = "BRANCH")]
        only_branch: Vec<String>,
        /// Delete only commit objects, never the content they named.
        #[arg(long)]
        commit_only: bool,
        /// Accepted for compatibility (ferro prints the same either way).
        #[arg(short, long)]
        verbose: bool,
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
        /// Verify every content object (without it, the source is trusted and objects
        /// between repositories of the same mode are hardlinked unread, as `ostree` does).
        #[arg(long)]
        untrusted: bool,
        /// Refuse regular files with mode bits outside 0775 (setuid, world-writable).
        #[arg(long)]
        bareuseronly_files: bool,
        /// Read the source (an archive repository) as a pull does and copy through its
        /// static deltas, failing when there is none.
        #[arg(long)]
        require_static_deltas: bool,
        /// Copy only the commits (and detached metadata), marked partial.
        #[arg(long)]
        commit_metadata_only: bool,
        /// Write the refs as this remote's (`REMOTE:REF`) instead of local branches.
        #[arg(long, value_name = "REMOTE")]
        remote: Option<String>,
        /// Require the remote's GPG signatures on the commits and/or the summary.
        #[command(flatten)]
        gpg: crate::args_gpg::PullLocalGpgArgs,
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
        /// The signature type: `ed25519`, or OSTree's test-only `dummy`.
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
        /// GPG-sign the summary.
        #[command(flatten)]
        gpg: crate::args_gpg::GpgSignOptions,
    },
    /// Add, list or delete remotes (`[remote "NAME"]` groups of the repository config).
    #[command(
        subcommand_help_heading = "Builtin Commands",
        disable_help_subcommand = true
    )]
    Remote {
        /// Set an option of the remote (`add`), before or after the verb as `ostree`
        /// allows.
        #[arg(long, global = true, value_name = "KEY=VALUE")]
        set: Vec<String>,
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
        /// Go on after the first problem (always done; accepted as by `ostree`).
        #[arg(short = 'a', long = "all")]
        all: bool,
        /// Turn tombstone commits on and write one for every missing parent commit.
        #[arg(long)]
        add_tombstones: bool,
        /// Check that every ref's commit lists the ref (and collection) it is under.
        #[arg(long)]
        verify_bindings: bool,
        /// Check that every ref a commit lists in its bindings exists.
        #[arg(long)]
        verify_back_refs: bool,
    },
    /// Add an ed25519 signature to a commit, or verify its signatures.
    Sign(OstreeSignArgs),
    /// Add GPG signatures to a commit, or delete them.
    GpgSign(crate::args_gpg::GpgSignArgs),
    /// Generate, list or describe static deltas.
    #[command(
        subcommand_help_heading = "Builtin Commands",
        disable_help_subcommand = true
    )]
    StaticDelta {
        /// The static-delta verb.
        #[command(subcommand)]
        verb: OstreeStaticDeltaVerb,
    },
    /// Read or change one key of the repository `config`.
    Config {
        /// The group the key is in (then KEY is the bare key, not GROUP.KEY).
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
        /// What to do with the key.
        #[arg(value_enum)]
        action: ConfigAction,
        /// The key, `GROUP.KEY` (e.g. `core.mode`) unless --group.
        key: String,
        /// The value (`set` only).
        #[arg(allow_hyphen_values = true)]
        values: Vec<String>,
    },
    /// Any other verb runs `ostree-VERB` from `PATH` (a CLI extension), as `ostree` does.
    #[command(external_subcommand)]
    External(Vec<String>),
    /// List the paths that differ between two commits (`M`, `D`, `A`).
    Diff {
        /// Print object counts and the size of what both commits share.
        #[arg(long)]
        stats: bool,
        /// Print the changed paths (the default without --stats).
        #[arg(long)]
        fs_diff: bool,
        /// Leave extended attributes out of the comparison with a directory.
        #[arg(long)]
        no_xattrs: bool,
        /// Take the files of the directory compared to be owned by this uid.
        #[arg(long, value_name = "UID")]
        owner_uid: Option<u32>,
        /// Take the files of the directory compared to be owned by this gid.
        #[arg(long, value_name = "GID")]
        owner_gid: Option<u32>,
        /// REV (compared with its parent) or FROM TO; an argument starting with `/` or
        /// `./` is a directory on disk.
        #[arg(required = true, num_args = 1..=2, value_name = "REV")]
        revs: Vec<String>,
    },
}

/// What `ferro ostree config` does with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigAction {
    /// Print its value.
    Get,
    /// Set it to VALUE.
    Set,
    /// Remove it.
    Unset,
}

/// The signature types `ostree sign` and `ostree summary --sign` know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignType {
    /// Ed25519 signatures, as OSTree makes them.
    Ed25519,
    /// OSTree's test-only signer (`OSTREE_DUMMY_SIGN_ENABLED=1`): the signature is the
    /// key text; `sign` and `commit --sign` only.
    Dummy,
}

/// `ferro ostree commit`.
#[derive(Debug, Args)]
pub struct OstreeCommitArgs {
    /// The branch to update.
    #[arg(short = 'b', long, value_name = "REF")]
    pub branch: Option<String>,
    /// What to commit: `dir=PATH`, `tar=FILE` (plain or gzip; `-` reads stdin) or
    /// `ref=REV`; repeated, each is laid over the ones before.
    #[arg(long, value_name = "dir=PATH|tar=FILE|ref=REV")]
    pub tree: Vec<TreeSource>,
    /// A file of mode changes, one `[+|=]DECIMAL-MODE /path` a line (`+`/none adds
    /// the bits, `=` sets the permissions).
    #[arg(long, value_name = "FILE")]
    pub statoverride: Option<PathBuf>,
    /// A file of paths (absolute in the commit) to leave out, one a line.
    #[arg(long, value_name = "FILE")]
    pub skip_list: Option<PathBuf>,
    /// Clear the write bits of regular files that have an execute bit.
    #[arg(long)]
    pub mode_ro_executables: bool,
    /// Print what was stored, a `Name: value` line each, after the commit id line.
    #[arg(long)]
    pub table_output: bool,
    /// One-line subject.
    #[arg(short, long, default_value = "")]
    pub subject: String,
    /// Body text.
    #[arg(short = 'm', long, default_value = "", conflicts_with = "body_file")]
    pub body: String,
    /// Read the body text from FILE.
    #[arg(short = 'F', long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// `SOURCE_DATE_EPOCH`: the commit time when --timestamp is not given.
    #[arg(long = "source-date-epoch", hide = true, env = crate::env::SOURCE_DATE_EPOCH, value_name = "SECONDS")]
    pub source_date_epoch: Option<String>,
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
    /// Start from this commit's tree (as it is) and lay the given tree over it.
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Copy metadata KEY (and its value) from the parent commit (repeatable).
    #[arg(long = "keep-metadata", value_name = "KEY")]
    pub keep_metadata: Vec<String>,
    /// Add `KEY=VALUE` string detached metadata (`.commitmeta`, not part of the id).
    #[arg(long, value_name = "KEY=VALUE")]
    pub add_detached_metadata_string: Vec<String>,
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
    /// Also bind the commit to this ref (repeatable).
    #[arg(long, value_name = "REF")]
    pub bind_ref: Vec<String>,
    /// Delete the directory once it is committed.
    #[arg(long)]
    pub consume: bool,
    /// Take files hardlinked to this repository's objects (a hardlink checkout being
    /// committed back) as those objects, without reading them.
    #[arg(long)]
    pub link_checkout_speedup: bool,
    /// As --link-checkout-speedup, and such files keep the object's owner and mode
    /// whatever --owner-uid, --owner-gid or --statoverride say.
    #[arg(short = 'I', long)]
    pub devino_canonical: bool,
    /// Record `ostree.bootable` and `ostree.linux` (the kernel version found under
    /// `usr/lib/modules`), as a bootable OS tree.
    #[arg(long)]
    pub bootable: bool,
    /// GPG-sign the commit.
    #[command(flatten)]
    pub gpg: Box<crate::args_gpg::GpgSignOptions>,
    /// Sign the commit (ed25519, or OSTree's test-only `dummy`).
    #[command(flatten)]
    pub sign: Box<crate::args_gpg::CommitSignOptions>,
    /// The directory to commit (like `--tree=dir=PATH`; default: the current directory).
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
    /// Write `delta-indexes/` anew from the deltas stored.
    Reindex,
    /// List the commits `delta-indexes/` has an index for.
    Indexes,
    /// Delete a delta (`FROM-TO`, or `TO` from scratch).
    Delete {
        /// The delta name.
        delta: String,
    },
    /// Apply a delta from a directory or file (no server), storing its commit.
    ApplyOffline {
        /// The delta's directory, or the file `generate --filename` wrote.
        path: PathBuf,
    },
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
    #[arg(
        long,
        value_name = "REV",
        required_unless_present = "rev",
        conflicts_with = "rev"
    )]
    pub to: Option<String>,
    /// The commit the delta produces, as a positional argument (like --to).
    #[arg(value_name = "REV")]
    pub rev: Option<String>,
    /// Do nothing (but say so) when the delta exists already.
    #[arg(long)]
    pub if_not_exists: bool,
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
    /// Write the superblock big-endian, as a big-endian machine would.
    #[arg(long)]
    pub swap_endianness: bool,
    /// Write the delta as this one file (parts inline), not into the repository.
    #[arg(long, value_name = "FILE")]
    pub filename: Option<PathBuf>,
}

/// `ferro ostree sign`.
#[derive(Debug, Args)]
pub struct OstreeSignArgs {
    /// Verify instead of signing: KEY-IDs are public keys.
    #[arg(long)]
    pub verify: bool,
    /// The signature type: `ed25519`, or OSTree's test-only `dummy`.
    #[arg(short = 's', long, value_name = "NAME", value_enum, default_value_t = SignType::Ed25519)]
    pub sign_type: SignType,
    /// A file of base64 keys, one per line (secret keys to sign, public keys to verify).
    #[arg(long, value_name = "FILE")]
    pub keys_file: Option<PathBuf>,
    /// Verify with the keys of DIR/trusted.ed25519 and DIR/trusted.ed25519.d/*, less
    /// those of DIR/revoked.ed25519 and DIR/revoked.ed25519.d/*.
    #[arg(long, value_name = "DIR")]
    pub keys_dir: Option<PathBuf>,
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
    /// A file of paths to leave out (absolute from the checked-out root), one a line.
    #[arg(long, value_name = "FILE")]
    pub skip_list: Option<PathBuf>,
    /// Merge into existing directories; replace existing files.
    #[arg(long, conflicts_with = "union_add")]
    pub union: bool,
    /// Merge into existing directories; keep existing files.
    #[arg(long)]
    pub union_add: bool,
    /// Process AUFS whiteouts (`.wh.NAME`, `.wh..wh..opq`) against what is already
    /// checked out.
    #[arg(long)]
    pub whiteouts: bool,
    /// Check OSTree's `.ostree-wh.NAME` markers out as overlayfs whiteout devices.
    #[arg(long)]
    pub process_passthrough_whiteouts: bool,
    /// Merge into existing directories; an existing file must be identical.
    #[arg(long, conflicts_with_all = ["union", "union_add"])]
    pub union_identical: bool,
    /// Give directories no mode bits outside 0775 (no setuid, not world-writable).
    #[arg(short = 'M', long)]
    pub bareuseronly_dirs: bool,
    /// Check out nothing, successfully, when --subpath does not exist.
    #[arg(long)]
    pub allow_noent: bool,
    /// From an archive repository in user mode, do not keep uncompressed copies in
    /// `uncompressed-objects-cache/` to hardlink from.
    #[arg(long)]
    pub disable_cache: bool,
    /// Accepted and ignored, as by `ostree` (empty files are always copied).
    #[arg(short = 'z', long, hide = true)]
    pub force_copy_zerosized: bool,
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
        /// Require signed commits: bare, or `TYPE=inline:KEY` / `TYPE=file:PATH`
        /// (`sign-verify` and `verification-TYPE-key|file`).
        #[arg(long, value_name = "TYPE=inline:KEY", num_args = 0..=1, default_missing_value = "")]
        sign_verify: Option<SignVerify>,
        /// Do not require signed commits (`sign-verify=false`).
        #[arg(long, conflicts_with = "sign_verify")]
        no_sign_verify: bool,
        /// The collection ID of the remote's refs.
        #[arg(long, value_name = "ID")]
        collection_id: Option<String>,
        /// Replace a remote of that name.
        #[arg(long, conflicts_with = "if_not_exists")]
        force: bool,
        /// Succeed without changes when the remote exists.
        #[arg(long)]
        if_not_exists: bool,
        /// Another tool fetches from this remote (e.g. `ostree-rs-ext`); URL optional.
        #[arg(long, value_name = "NAME")]
        custom_backend: Option<String>,
        /// Fetch objects and deltas from this URL (or `mirrorlist=URL`), metadata from URL.
        #[arg(long, value_name = "URL")]
        contenturl: Option<String>,
        /// Trust the GPG keys of FILE for this remote (a keyring or armored keys).
        #[arg(long, value_name = "FILE")]
        gpg_import: Option<PathBuf>,
        /// The remote's name.
        name: String,
        /// Where its archive repository is served.
        #[arg(required_unless_present = "custom_backend")]
        url: Option<String>,
        /// Refs `pull NAME` fetches by default.
        branches: Vec<String>,
    },
    /// Add a cookie that pulls from the remote send (`REPO/NAME.cookies.txt`).
    AddCookie {
        /// The remote's name.
        name: String,
        /// The host the cookie is sent to.
        domain: String,
        /// The URL path it is sent under.
        path: String,
        /// The cookie's name.
        cookie_name: String,
        /// Its value.
        value: String,
    },
    /// Remove a cookie from the remote's jar.
    DeleteCookie {
        /// The remote's name.
        name: String,
        /// The host the cookie is sent to.
        domain: String,
        /// The URL path it is sent under.
        path: String,
        /// The cookie's name.
        cookie_name: String,
        /// Ignored (`ostree` accepts the value here too).
        #[arg(hide = true)]
        value: Option<String>,
    },
    /// List the cookies of the remote's jar.
    ListCookies {
        /// The remote's name.
        name: String,
    },
    /// Print a remote's URL.
    ShowUrl {
        /// The remote's name.
        name: String,
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
    /// Add GPG keys to those a remote trusts.
    GpgImport(crate::args_gpg::GpgImportArgs),
    /// List the GPG keys a remote trusts (without a remote: the global ones).
    GpgListKeys {
        /// The remote's name.
        name: Option<String>,
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
    /// Accepted for compatibility: ferro makes every object durable at the commit point
    /// (one `syncfs` before refs move), which gives what fsyncing each one gives.
    #[arg(long)]
    pub per_object_fsync: bool,
    /// Refuse to pull into an archive repository, where deltas are never applied.
    #[arg(long, conflicts_with = "disable_static_deltas")]
    pub require_static_deltas: bool,
    /// Refuse regular files with mode bits outside 0775 (setuid, world-writable).
    #[arg(long)]
    pub bareuseronly_files: bool,
    /// Store what is fetched into an archive repository without verifying it (the
    /// server is trusted; other modes verify anyway).
    #[arg(long)]
    pub http_trusted: bool,
    /// Refuse a commit older than the one its ref holds now.
    #[arg(short = 'T', long)]
    pub timestamp_check: bool,
    /// Only find and size the static deltas the pull would use (with
    /// --require-static-deltas); nothing is stored.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse a commit older than this one.
    #[arg(long, value_name = "REV")]
    pub timestamp_check_from_rev: Option<String>,
    /// Fetch objects one by one even when the remote offers static deltas.
    #[arg(long)]
    pub disable_static_deltas: bool,
    /// Fetch from this URL instead of the remote's configured one.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Send this header with every request (repeatable).
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_header)]
    pub http_header: Vec<(String, String)>,
    /// Fetch only this path of the tree (repeatable); the commit is marked partial.
    #[arg(long, value_name = "PATH")]
    pub subpath: Vec<String>,
    /// Take objects from this local repository before fetching them (repeatable).
    #[arg(short = 'L', long = "localcache-repo", value_name = "PATH")]
    pub localcache_repo: Vec<std::path::PathBuf>,
    /// Append this to the `User-Agent` header.
    #[arg(long, value_name = "PRODUCT/VERSION")]
    pub append_user_agent: Option<String>,
    /// Keep the remote summary cache in DIR/summaries (default: the repository's
    /// tmp/cache/summaries).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The remote (or `REMOTE:REF`).
    pub remote: String,
    /// Refs or commit checksums (default: the remote's configured branches).
    pub refs: Vec<String>,
}

/// A `NAME=VALUE` header of `pull --http-header`.
fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("'{text}' is not NAME=VALUE")),
    }
}
