//! GPG signatures of commits and summaries, as OSTree's GPGME build makes and checks them.
//!
//! A signature is a binary OpenPGP detached signature of the signed file's exact bytes
//! (a commit object, or the `summary` file), appended to the `aay` under
//! `ostree.gpgsigs` in the detached metadata kept beside it: the commit's `.commitmeta`
//! or `summary.sig`. All of a file's signatures are verified at once, concatenated, as
//! OSTree does (each is a complete signature packet).
//!
//! The OpenPGP work is done by the real `gpg` binary, run through `ferro_sys`'s one
//! subprocess runner, and not by hand-written or vendored OpenPGP code: key expiry and
//! revocation, subkeys, old `secring.gpg` homedirs and the agent holding secret keys
//! are large and subtle, and `gpg` is what OSTree itself drives (through GPGME), so the
//! same keyrings give the same answers. Secret keys never pass through ferro: signing
//! runs `gpg` on the user's homedir. Verification runs it on a throwaway homedir under
//! the repository's `tmp/` holding only the trusted keyrings ([`Keyrings`]), so no
//! user configuration or trust database can change a verdict.

mod home;
mod keys;
mod ops;

pub use home::Keyrings;
pub use keys::{Key, Subkey, UserId};
pub use ops::{
    ImportSource, delete_signatures, import_keys, keyrings_for, list_keys, remote_keyring_name,
    remote_keyrings, sign_commit, sign_summary, verify_commit, verify_local_source,
    verify_metadata, verify_summary,
};

use crate::browse::format_c_time;
use crate::repo;

/// The detached metadata key holding GPG signatures (an `aay`).
pub const GPGSIGS_KEY: &str = "ostree.gpgsigs";

/// Why a GPG operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GpgError {
    /// Running `gpg` failed (not installed, or it refused).
    #[error("GPG")]
    Command(#[from] ferro_sys::CommandError),
    /// Reading a keyring or writing a scratch file failed.
    #[error(transparent)]
    Io(#[from] ferro_sys::IoError),
    /// Reading or writing the repository failed.
    #[error(transparent)]
    Repo(#[from] repo::Error),
    /// The remote is not configured.
    #[error(transparent)]
    Remote(#[from] crate::remote::Error),
    /// The detached metadata holds no GPG signatures (OSTree's wording).
    #[error(
        "GPG verification enabled, but no signatures found (use gpg-verify=false in remote config to disable)"
    )]
    NoSignatures,
    /// Signatures exist but none is valid with the trusted keys; the message describes
    /// each, the newest first, as OSTree's does.
    #[error("{message}")]
    NotVerified {
        /// The signatures' descriptions.
        message: String,
        /// What is wrong with the newest signature.
        reason: Failure,
    },
    /// A `gpgkeypath=` entry cannot be opened (worded as OSTree's, which scripts
    /// match: `opendir(PATH)`).
    #[error("opendir({})", path.display())]
    KeyPath {
        /// The entry.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The homedir has no secret key with this ID.
    #[error("No gpg key found with ID {key_id} (homedir: {homedir})")]
    NoSecretKey {
        /// The key ID asked for.
        key_id: String,
        /// The homedir searched (`default` for gpg's own).
        homedir: String,
    },
    /// `gpg-sign` with a key that already signed the commit: a second signature by
    /// the same key would only be noise.
    #[error("Commit is already signed with GPG key {0}")]
    AlreadySigned(String),
    /// A key ID named for import is in none of the source keys.
    #[error("Unable to find key \"{0}\"")]
    KeyNotFound(String),
    /// The signature list is not an `aay`, or `summary.sig` is not an `a{sv}`.
    #[error("{what}: the GPG signatures are malformed ({detail})")]
    Malformed {
        /// Whose signatures.
        what: String,
        /// What is wrong.
        detail: String,
    },
}

/// What is wrong with a signature that does not verify, most specific first (OSTree's
/// `OstreeGpgError` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No signatures at all.
    NoSignature,
    /// The signing key is in none of the trusted keyrings.
    MissingKey,
    /// The signing key was revoked.
    RevokedKey,
    /// The signing key (or its primary key) has expired.
    ExpiredKey,
    /// The signature itself has expired.
    ExpiredSignature,
    /// The signature does not match the data.
    InvalidSignature,
}

/// One signature, as GPG judged it (OSTree's `OstreeGpgSignatureAttr` values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureInfo {
    /// Good, by a usable key.
    pub valid: bool,
    /// The signature has expired.
    pub sig_expired: bool,
    /// The signing key has expired.
    pub key_expired: bool,
    /// The signing key was revoked.
    pub key_revoked: bool,
    /// The signing key is not in the trusted keyrings.
    pub key_missing: bool,
    /// The fingerprint of the (sub)key that signed (a key ID when GPG gives no more).
    pub fingerprint: String,
    /// The fingerprint of its primary key (empty when the key is unknown).
    pub fingerprint_primary: String,
    /// When it was made (seconds since the epoch; 0 unknown).
    pub timestamp: i64,
    /// When it expires (0 never).
    pub exp_timestamp: i64,
    /// The public key algorithm, named as GPGME names it.
    pub pubkey_algo: String,
    /// The name of the key's first user ID.
    pub user_name: String,
    /// The email of the key's first user ID.
    pub user_email: String,
    /// When the signing (sub)key expires (0 never).
    pub key_exp_timestamp: i64,
    /// When the primary key expires (0 never).
    pub key_exp_timestamp_primary: i64,
}

/// The last 16 hex digits of a fingerprint: its long key ID.
fn key_id_of(fingerprint: &str) -> &str {
    &fingerprint[fingerprint.len().saturating_sub(16)..]
}

impl SignatureInfo {
    /// OSTree's description of the signature, every line starting with `prefix` (the
    /// text `ostree show` and failed pulls print; times in UTC).
    pub fn describe(&self, prefix: &str) -> String {
        let mut out = format!(
            "{prefix}Signature made {} using {} key ID {}\n",
            format_c_time(self.timestamp),
            self.pubkey_algo,
            key_id_of(&self.fingerprint)
        );
        let user = format!("\"{} <{}>\"", self.user_name, self.user_email);
        let verdict = if self.key_missing {
            "Can't check signature: public key not found".to_owned()
        } else if self.valid {
            format!("Good signature from {user}")
        } else if self.key_revoked {
            "Key revoked".to_owned()
        } else if self.sig_expired {
            format!("Expired signature from {user}")
        } else {
            format!("BAD signature from {user}")
        };
        out.push_str(&format!("{prefix}{verdict}\n"));
        let subkey = self.fingerprint != self.fingerprint_primary;
        if !self.key_missing && subkey {
            out.push_str(&format!(
                "{prefix}Primary key ID {}\n",
                key_id_of(&self.fingerprint_primary)
            ));
        }
        let mut expiry = |what: &str, when: i64, expired: bool| {
            let verb = if expired { "expired" } else { "expires" };
            out.push_str(&format!("{prefix}{what} {verb} {}\n", format_c_time(when)));
        };
        if self.exp_timestamp > 0 {
            expiry("Signature", self.exp_timestamp, self.sig_expired);
        }
        if self.key_exp_timestamp > 0 {
            expiry("Key", self.key_exp_timestamp, self.key_expired);
        }
        if self.key_exp_timestamp_primary > 0 && subkey {
            expiry(
                "Primary key",
                self.key_exp_timestamp_primary,
                self.key_expired,
            );
        }
        out
    }

    fn failure(&self) -> Failure {
        if self.key_missing {
            Failure::MissingKey
        } else if self.key_revoked {
            Failure::RevokedKey
        } else if self.key_expired {
            Failure::ExpiredKey
        } else if self.sig_expired {
            Failure::ExpiredSignature
        } else {
            Failure::InvalidSignature
        }
    }
}

/// Every signature of one file, as GPG judged them with the trusted keys.
#[derive(Debug, Clone, Default)]
pub struct VerifyResult {
    /// The signatures, in the order stored.
    pub signatures: Vec<SignatureInfo>,
    /// The trusted keys they were checked with (to match key IDs to signatures).
    keys: Vec<Key>,
}

impl VerifyResult {
    /// How many signatures are valid.
    pub fn count_valid(&self) -> usize {
        self.signatures.iter().filter(|s| s.valid).count()
    }

    /// Succeeds when at least one signature is valid; otherwise the error describes
    /// every signature, the newest (last) first, as OSTree's does.
    pub fn require_valid(&self) -> Result<(), GpgError> {
        if self.count_valid() > 0 {
            return Ok(());
        }
        let Some(last) = self.signatures.last() else {
            return Err(GpgError::NotVerified {
                message: "No GPG signatures found".into(),
                reason: Failure::NoSignature,
            });
        };
        let message: String = self
            .signatures
            .iter()
            .rev()
            .map(|s| s.describe(""))
            .collect();
        Err(GpgError::NotVerified {
            message: message.trim_end().to_owned(),
            reason: last.failure(),
        })
    }

    /// The index of the first signature made by the key `key_id` names (a key ID or
    /// fingerprint of it or of one of its subkeys, matched through the trusted keys,
    /// as OSTree matches them); `None` when no trusted key has that ID or it signed
    /// nothing here.
    pub fn lookup(&self, key_id: &str) -> Option<usize> {
        let primary = keys::find(&self.keys, key_id)?
            .primary()
            .fingerprint
            .clone();
        self.signatures.iter().position(|sig| {
            !sig.key_missing
                && keys::find(&self.keys, &sig.fingerprint)
                    .is_some_and(|key| key.primary().fingerprint == primary)
        })
    }

    /// `ostree show`'s block: `Found N signature(s):` and each description.
    pub fn show(&self) -> String {
        let n = self.signatures.len();
        let mut out = format!("Found {n} signature{}:\n", if n == 1 { "" } else { "s" });
        for sig in &self.signatures {
            out.push('\n');
            out.push_str(&sig.describe("  "));
        }
        out
    }
}

/// GPGME's name of an OpenPGP public key algorithm number.
fn pubkey_algo_name(algo: &str) -> &'static str {
    match algo {
        "1" | "2" | "3" => "RSA",
        "16" | "20" => "ELG",
        "17" => "DSA",
        "18" => "ECDH",
        "19" => "ECDSA",
        "22" => "EdDSA",
        _ => "[unknown name]",
    }
}

/// The signatures `gpg --status-fd` reported (`NEWSIG` starts each), completed from
/// the key listing: user ID, primary key, key expiry.
fn parse_status(status: &str, keys: &[Key]) -> Vec<SignatureInfo> {
    let mut sigs: Vec<SignatureInfo> = Vec::new();
    for line in status.lines() {
        let Some(rest) = line.strip_prefix("[GNUPG:] ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        if fields[0] == "NEWSIG" {
            sigs.push(SignatureInfo {
                pubkey_algo: pubkey_algo_name("").to_owned(),
                ..SignatureInfo::default()
            });
            continue;
        }
        let Some(sig) = sigs.last_mut() else {
            continue;
        };
        match fields[0] {
            "GOODSIG" => {
                sig.valid = true;
                sig.fingerprint = field(1).to_owned();
            }
            "EXPSIG" => {
                sig.sig_expired = true;
                sig.fingerprint = field(1).to_owned();
            }
            "EXPKEYSIG" => {
                sig.key_expired = true;
                sig.fingerprint = field(1).to_owned();
            }
            "REVKEYSIG" => {
                sig.key_revoked = true;
                sig.fingerprint = field(1).to_owned();
            }
            "BADSIG" => sig.fingerprint = field(1).to_owned(),
            "ERRSIG" => {
                // ERRSIG keyid pkalgo hashalgo class time rc [fpr]
                sig.key_missing = field(6) == "9";
                sig.pubkey_algo = pubkey_algo_name(field(2)).to_owned();
                sig.timestamp = field(5).parse().unwrap_or(0);
                let fpr = field(7);
                sig.fingerprint = if fpr.is_empty() || fpr == "-" {
                    field(1).to_owned()
                } else {
                    fpr.to_owned()
                };
            }
            "VALIDSIG" => {
                // VALIDSIG fpr date timestamp expires version reserved pkalgo hashalgo class [primary]
                sig.fingerprint = field(1).to_owned();
                sig.timestamp = field(3).parse().unwrap_or(0);
                sig.exp_timestamp = field(4).parse().unwrap_or(0);
                sig.pubkey_algo = pubkey_algo_name(field(7)).to_owned();
            }
            _ => {}
        }
    }
    for sig in &mut sigs {
        if sig.key_missing {
            continue;
        }
        match keys::find(keys, &sig.fingerprint) {
            Some(key) => {
                let primary = key.primary();
                sig.fingerprint_primary = primary.fingerprint.clone();
                sig.key_exp_timestamp_primary = primary.expires;
                sig.key_exp_timestamp = key
                    .subkeys
                    .iter()
                    .find(|sub| sub.fingerprint == sig.fingerprint)
                    .map_or(0, |sub| sub.expires);
                let uid = key.uids.first();
                sig.user_name = uid.map_or("[unknown name]", |u| &u.name).to_owned();
                sig.user_email = uid.map_or("[unknown email]", |u| &u.email).to_owned();
            }
            None => {
                sig.user_name = "[unknown name]".into();
                sig.user_email = "[unknown email]".into();
            }
        }
    }
    sigs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_as_ostree() {
        let sig = SignatureInfo {
            valid: true,
            fingerprint: "1EFA95C06EB1EB91754575E004B69C2560D53993".into(),
            fingerprint_primary: "7B3B1020D74479687FDB2273D8228CFECA950D41".into(),
            timestamp: 1378780182,
            pubkey_algo: "RSA".into(),
            user_name: "Test Key 2".into(),
            key_exp_timestamp_primary: 1378780183,
            ..Default::default()
        };
        assert_eq!(
            sig.describe("  "),
            "  Signature made Tue Sep 10 02:29:42 2013 using RSA key ID 04B69C2560D53993\n  \
             Good signature from \"Test Key 2 <>\"\n  Primary key ID D8228CFECA950D41\n  \
             Primary key expires Tue Sep 10 02:29:43 2013\n"
        );
        let missing = SignatureInfo {
            key_missing: true,
            ..sig.clone()
        };
        assert!(
            missing
                .describe("")
                .contains("Can't check signature: public key not found")
        );
        assert!(!missing.describe("").contains("Primary key ID"));
    }

    #[test]
    fn parses_gpg_status() {
        let status = "\
[GNUPG:] NEWSIG
[GNUPG:] GOODSIG 7FCA23D8472CDAFA Ostree Tester <test@test.com>
[GNUPG:] VALIDSIG 5E65DE75AB1C501862D476347FCA23D8472CDAFA 2026-12-07 1796662806 0 4 0 1 10 00 5E65DE75AB1C501862D476347FCA23D8472CDAFA
[GNUPG:] NEWSIG
[GNUPG:] ERRSIG D8228CFECA950D41 1 10 00 1796662806 9 7B3B1020D74479687FDB2273D8228CFECA950D41
[GNUPG:] NO_PUBKEY D8228CFECA950D41
";
        let keys = keys::parse_listing(
            "pub:-:2048:1:7FCA23D8472CDAFA:1378780182:::-:::scESC::::::23::0:\n\
             fpr:::::::::5E65DE75AB1C501862D476347FCA23D8472CDAFA:\n\
             uid:-::::1378780182::EF96::Ostree Tester <test@test.com>::::::::::0:\n",
        );
        let sigs = parse_status(status, &keys);
        assert_eq!(sigs.len(), 2);
        assert!(sigs[0].valid && !sigs[0].key_missing);
        assert_eq!(sigs[0].user_email, "test@test.com");
        assert_eq!(sigs[0].pubkey_algo, "RSA");
        assert!(!sigs[1].valid && sigs[1].key_missing);
        let result = VerifyResult {
            signatures: sigs,
            keys,
        };
        assert_eq!(result.count_valid(), 1);
        assert_eq!(result.lookup("472CDAFA"), Some(0));
        assert_eq!(result.lookup("CA950D41"), None);
    }
}
