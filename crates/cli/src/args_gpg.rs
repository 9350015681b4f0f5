//! `ferro ostree` signing flags and GPG verbs (`gpg-sign`, `remote gpg-import`, the
//! signing and verifying options of `commit`, `summary` and `show`), as clap types only.

use std::path::PathBuf;

use clap::Args;

/// `--gpg-sign KEY-ID… --gpg-homedir DIR`, as `commit` and `summary` take them.
#[derive(Debug, Clone, Default, Args)]
pub struct GpgSignOptions {
    /// GPG key ID to sign with (repeatable).
    #[arg(long = "gpg-sign", value_name = "KEY-ID")]
    pub key_ids: Vec<String>,
    /// The GnuPG homedir holding the secret keys (default: gpg's own).
    #[arg(long, value_name = "HOMEDIR")]
    pub gpg_homedir: Option<PathBuf>,
}

/// `show`'s GPG options.
#[derive(Debug, Clone, Default, Args)]
pub struct ShowGpgArgs {
    /// Also trust the keyrings of this GnuPG homedir.
    #[arg(long, value_name = "HOMEDIR")]
    pub gpg_homedir: Option<PathBuf>,
    /// Verify with this remote's trusted keys only.
    #[arg(long, value_name = "REMOTE")]
    pub gpg_verify_remote: Option<String>,
}

/// `ferro ostree gpg-sign`.
#[derive(Debug, Args)]
pub struct GpgSignArgs {
    /// Delete the signatures made by the keys instead of signing.
    #[arg(short, long)]
    pub delete: bool,
    /// The GnuPG homedir holding the secret keys (default: gpg's own).
    #[arg(long, value_name = "HOMEDIR")]
    pub gpg_homedir: Option<PathBuf>,
    /// The ref or checksum.
    pub commit: String,
    /// GPG key IDs.
    #[arg(value_name = "KEY-ID", required = true)]
    pub key_ids: Vec<String>,
}

/// `ferro ostree remote gpg-import`.
#[derive(Debug, Args)]
pub struct GpgImportArgs {
    /// Import keys from this keyring or key file (repeatable; default: the user's own
    /// GnuPG keyring).
    #[arg(short = 'k', long, value_name = "FILE", conflicts_with = "stdin")]
    pub keyring: Vec<PathBuf>,
    /// Import keys from standard input.
    #[arg(long)]
    pub stdin: bool,
    /// The remote's name.
    pub name: String,
    /// Import only these keys (default: all of the source's).
    #[arg(value_name = "KEY-ID")]
    pub key_ids: Vec<String>,
}

/// `pull-local`'s GPG options (they need `--remote`, whose keys are trusted).
#[derive(Debug, Clone, Default, Args)]
pub struct PullLocalGpgArgs {
    /// Require a valid GPG signature on every commit named.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", requires = "remote")]
    pub gpg_verify: Option<bool>,
    /// Require a valid GPG signature on the source's summary.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", requires = "remote")]
    pub gpg_verify_summary: Option<bool>,
}

/// `commit --sign=KEY… --sign-type=TYPE`: OSTree's signature types other than GPG.
#[derive(Debug, Clone, Args)]
pub struct CommitSignOptions {
    /// Sign the commit with this key (repeatable): a base64 ed25519 secret key, or the
    /// `dummy` type's text.
    #[arg(long = "sign", value_name = "KEY-ID")]
    pub keys: Vec<String>,
    /// The signature type of --sign.
    #[arg(long, value_name = "NAME", value_enum, default_value_t = crate::args_ostree::SignType::Ed25519)]
    pub sign_type: crate::args_ostree::SignType,
}
