//! An object store compatible with OSTree repositories, byte for byte.
//!
//! OSTree stores filesystem trees the way Git stores source trees: every regular file
//! or symlink is a *content object* named by the SHA-256 of its metadata header and
//! bytes, every directory is a *dirtree* (names → ids) plus a *dirmeta* (owner, mode),
//! and a *commit* names a root dirtree/dirmeta pair with a subject, a timestamp and a
//! parent. Refs under `refs/heads` name commits. Because ids are hashes of exact bytes,
//! compatibility means writing exactly the bytes OSTree writes.
//!
//! - [`gvariant`]: GVariant normal-form framing. Hand-written rather than a general
//!   crate: OSTree needs a handful of fixed types, ids depend on byte-exact normal form,
//!   and a small slicing reader is easy to make hostile-input safe (bounds-checked,
//!   non-recursive, re-serialised to reject anything not in normal form). Values of
//!   other types (metadata from other tools or typed by users) go through its
//!   `typed`, `text` and `parse` modules: decoded by type string, shown and read in
//!   GLib's text form as `ostree show|summary` print it and `--add-metadata` reads it.
//! - [`object`]: [`Commit`], [`DirTree`], [`DirMeta`], [`FileHeader`] and their ids.
//! - [`checksum`]: [`Checksum`] and the SHA-256 backend (chosen by measurement).
//! - [`repo`]: [`Repo`]: `init`/`open` in the `bare`, `bare-user`, `bare-user-only` and
//!   `archive` modes, `config` and paths; [`content`]: how each mode encodes a file
//!   object, stored through ferro-sys's one atomic writer (complete before it is
//!   named); [`error`]: the [`Error`] they share; [`refs`]: refs and revision syntax.
//! - [`commit`], [`checkout`], [`fsck`], [`browse`], [`prune`], [`summary`], [`pull_local`]: the
//!   operations behind `ferro ostree commit|checkout|fsck|ls|cat|log|prune|summary|pull-local`;
//!   [`commit_tar`]: `commit --tree=tar=` straight from the archive stream;
//!   [`tree_source`]: a `--tree=dir=|tar=` value parsed and committed by either. Extended
//!   attributes are recorded on commit, stored per mode (real xattrs in `bare`, inside
//!   `user.ostreemeta` in `bare-user`, the `.filez` header in `archive`, dropped in
//!   `bare-user-only`) and applied on checkout outside user mode, as OSTree does.
//! - [`commitmeta`]: detached metadata; [`sign`]: Ed25519 signatures in it, as
//!   `ostree sign` makes them; [`diff`]: changed paths between commits (`ostree diff`).
//! - [`remote`] (over [`keyfile`]): `[remote "NAME"]` groups of `config`; [`pull`] (over
//!   [`fetch`]): pulls from archive repositories over HTTP(S), through static deltas
//!   ([`delta`]) when the remote offers them; [`delta`] also generates them.
//! - [`transaction`]: the commit point (one `syncfs`, then durable ref writes; `[core]
//!   fsync`) and `tmp/` expiry; [`lock`]: the `.lock` OFD lock OSTree takes, shared by
//!   writers, exclusive by `prune` and `fsck --delete`.
//!
//! Not yet: SELinux labelling (`--selinux-policy`), tar archives other than plain and
//! gzip, several `--tree` overlays in one commit, `checkout --union-identical`,
//! writing tombstones; for pulls: GPG verification, signed delta
//! superblocks, `contenturl`/`metalink`/TLS options, `file://` remotes; for generated
//! deltas: rolling-checksum reuse of old objects, fallback objects, signing.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The `ostree` release whose command line, output and formats this crate follows;
/// `ostree --version` reports it as libostree's version.
pub const OSTREE_COMPAT_VERSION: &str = "2022.7";

/// The `ostree --version` feature names this implementation really has (scripts
/// probe them): GPG signatures (`gpgme`, through the `gpg` binary: [`gpg`]), tar
/// commits (`libarchive`, plain and gzip archives) and Ed25519 signatures
/// (`sign-ed25519`). No SELinux, fs-verity or P2P.
pub const FEATURES: &[&str] = &["gpgme", "libarchive", "sign-ed25519"];

pub mod browse;
pub mod checkout;
pub mod checksum;
pub mod commit;
pub mod commit_modifier;
pub mod commit_tar;
pub mod commitmeta;
pub mod config;
pub mod content;
pub mod cookies;
pub mod create_usb;
mod deflate;
pub mod delta;
mod dict_order;
pub mod diff;
pub mod error;
pub mod export;
pub mod fetch;
pub mod find_remotes;
pub mod fsck;
pub mod fsck_bindings;
pub mod gpg;
pub mod gvariant;
pub mod keyfile;
pub mod lock;
pub mod metalink;
mod new_object;
pub mod object;
mod object_dirs;
pub mod prune;
pub mod pull;
pub mod pull_local;
mod pull_types;
pub mod pull_verify;
pub mod refs;
pub mod remote;
pub mod remote_url;
pub mod repo;
pub mod sign;
pub mod sign_dummy;
pub mod summary;
pub mod summary_cache;
pub mod tombstone;
pub mod transaction;
pub mod tree_source;
mod workers;
mod writeback;
mod xattrs;

pub use checksum::Checksum;
pub use error::Error;
pub use object::{Commit, DirMeta, DirTree, FileHeader, ObjectType};
pub use refs::CollectionRef;
pub use repo::{Repo, RepoMode};
