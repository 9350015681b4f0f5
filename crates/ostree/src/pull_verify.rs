//! Which signatures a pull demands of a remote: its `sign-verify` (commits) and
//! `sign-verify-summary` (the summary, by `summary.sig`) options and the trusted keys in
//! `verification-ed25519-key` / `verification-ed25519-file`, read once before anything
//! is fetched, so that a remote configured to be verified can never be pulled from
//! unverified (a bad setting is an error, not "no verification").
//!
//! `sign-verify` is a boolean (`true`: every signature type ferro implements) or a list
//! of type names split on `,` and `;`, as OSTree reads it. Only `ed25519` is
//! implemented; naming any other type is refused, as `ostree` refuses types it lacks.
//!
//! GPG ([`crate::gpg`]): `gpg-verify` (on unless the remote says `false`) and
//! `gpg-verify-summary` demand a valid GPG signature by a key the remote trusts (its
//! keyring, `gpgkeypath=`, or the global keyrings), gathered here once too. A remote
//! asking for both GPG and ed25519 must satisfy both.

use std::path::Path;

use crate::checksum::Checksum;
use crate::gpg::{self, GpgError, Keyrings};
use crate::object::Metadata;
use crate::remote::Remote;
use crate::repo::Repo;
use crate::sign::{self, PublicKey, SignError};

/// The option that turns commit verification on.
const SIGN_VERIFY: &str = "sign-verify";
/// The option that turns summary verification on.
const SIGN_VERIFY_SUMMARY: &str = "sign-verify-summary";
/// One trusted base64 public key.
const KEY_OPTION: &str = "verification-ed25519-key";
/// A file of trusted base64 public keys, one a line.
const FILE_OPTION: &str = "verification-ed25519-file";

/// A remote's verification settings that cannot be honoured.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The keys the remote trusts for GPG cannot be gathered (a `gpgkeypath=` that
    /// does not exist, an unreadable keyring).
    #[error("remote '{remote}': GPG keys")]
    Gpg {
        /// The remote.
        remote: String,
        /// Why (boxed: it is large, and this is the rare path).
        #[source]
        source: Box<GpgError>,
    },
    /// `sign-verify` names a signature type ferro does not implement (OSTree's
    /// wording).
    #[error(
        "remote '{remote}': sign-verify names '{kind}': Requested signature type is not implemented"
    )]
    Unsupported {
        /// The remote.
        remote: String,
        /// The type named.
        kind: String,
    },
    /// Verification is on but no trusted key is configured.
    #[error(
        "remote '{remote}' requires ed25519 signatures but sets neither {KEY_OPTION} nor {FILE_OPTION}"
    )]
    NoKeys {
        /// The remote.
        remote: String,
    },
    /// `sign-verify` names a type with no keys configured (OSTree's wording).
    #[error("remote '{remote}': No keys found for required signapi type {kind}")]
    NoKeysFor {
        /// The remote.
        remote: String,
        /// The type.
        kind: String,
    },
    /// A configured key or key file is unusable.
    #[error("remote '{remote}': unusable ed25519 verification key")]
    Key {
        /// The remote.
        remote: String,
        /// Which key or file, and why.
        #[source]
        source: SignError,
    },
}

/// The keys every commit (or the summary) pulled from one remote must carry a valid
/// signature of.
#[derive(Debug, Clone)]
pub struct SignPolicy {
    /// Ed25519 keys, one of which must have signed (none: ed25519 is not required).
    keys: Vec<PublicKey>,
    /// OSTree's test-only `dummy` keys ([`crate::sign_dummy`]); a commit signed with one
    /// of them or by one of `keys` verifies, as OSTree accepts any configured type.
    dummy: Vec<String>,
    /// GPG keys one of which must have signed, and the repository whose `tmp/` the
    /// check runs in; `None`: GPG is not required.
    gpg: Option<(Keyrings, Repo)>,
}

/// What a pull from one remote must verify.
#[derive(Debug, Clone, Default)]
pub struct RemotePolicy {
    /// Every commit (`sign-verify`).
    pub commits: Option<SignPolicy>,
    /// The summary, by `summary.sig` (`sign-verify-summary`).
    pub summary: Option<SignPolicy>,
}

impl RemotePolicy {
    /// The policy of remote `remote` of `repo`; both parts `None` when it asks for no
    /// verification.
    pub fn for_remote(repo: &Repo, remote: &Remote) -> Result<Self, PolicyError> {
        let gpg_commits = remote.flag("gpg-verify", true);
        let gpg_summary = remote.flag("gpg-verify-summary", false);
        let gpg = if gpg_commits || gpg_summary {
            let keyrings =
                gpg::remote_keyrings(repo, remote).map_err(|source| PolicyError::Gpg {
                    remote: remote.name.clone(),
                    source: Box::new(source),
                })?;
            Some((keyrings, repo.clone()))
        } else {
            None
        };
        let types = sign_verify_types(remote)?;
        let commits = types.is_some();
        let summary = remote.flag(SIGN_VERIFY_SUMMARY, false);
        let (keys, dummy) = if commits || summary {
            trusted_keys(remote, types.as_ref().and_then(|t| t.as_deref()))?
        } else {
            Default::default()
        };
        let policy = |signed: bool, gpg_on: bool| {
            (signed || gpg_on).then(|| SignPolicy {
                keys: if signed { keys.clone() } else { Vec::new() },
                dummy: if signed { dummy.clone() } else { Vec::new() },
                gpg: gpg.clone().filter(|_| gpg_on),
            })
        };
        Ok(RemotePolicy {
            commits: policy(commits, gpg_commits),
            summary: policy(summary, gpg_summary),
        })
    }
}

/// The signature types `sign-verify` asks for: `None` off, `Some(None)` every type
/// with keys configured (`true`), `Some(Some(list))` those named, each of which must
/// have keys. Types ferro does not implement are refused.
fn sign_verify_types(remote: &Remote) -> Result<Option<Option<Vec<String>>>, PolicyError> {
    match remote.get(SIGN_VERIFY) {
        None | Some("false" | "0") => Ok(None),
        Some("true" | "1") => Ok(Some(None)),
        Some(list) => {
            let kinds: Vec<String> = list
                .split([',', ';'])
                .filter(|kind| !kind.is_empty())
                .map(str::to_owned)
                .collect();
            match kinds
                .iter()
                .find(|kind| !matches!(kind.as_str(), "ed25519" | "dummy"))
            {
                Some(kind) => Err(PolicyError::Unsupported {
                    remote: remote.name.clone(),
                    kind: kind.clone(),
                }),
                None => Ok(Some(Some(kinds))),
            }
        }
    }
}

/// The remote's trusted keys: ed25519 from `verification-ed25519-key` and the lines of
/// `verification-ed25519-file`, `dummy` from `verification-dummy-key|file`; of the
/// types `listed` (all when `None`), at least one key in all (and in each type named).
fn trusted_keys(
    remote: &Remote,
    listed: Option<&[String]>,
) -> Result<(Vec<PublicKey>, Vec<String>), PolicyError> {
    let bad_key = |source| PolicyError::Key {
        remote: remote.name.clone(),
        source,
    };
    let texts = |kind: &str| -> Result<Vec<String>, PolicyError> {
        if listed.is_some_and(|list| !list.iter().any(|k| k == kind)) {
            return Ok(Vec::new());
        }
        let mut texts: Vec<String> = remote
            .get(&format!("verification-{kind}-key"))
            .map(str::to_owned)
            .into_iter()
            .collect();
        if let Some(file) = remote.get(&format!("verification-{kind}-file")) {
            texts.extend(sign::read_keys_file(Path::new(file)).map_err(bad_key)?);
        }
        if texts.is_empty() && listed.is_some() {
            return Err(PolicyError::NoKeysFor {
                remote: remote.name.clone(),
                kind: kind.to_owned(),
            });
        }
        Ok(texts)
    };
    let ed25519 = texts("ed25519")?;
    let dummy = texts("dummy")?;
    if ed25519.is_empty() && dummy.is_empty() {
        return Err(PolicyError::NoKeys {
            remote: remote.name.clone(),
        });
    }
    let keys = ed25519
        .iter()
        .map(|text| PublicKey::from_base64(text))
        .collect::<Result<_, _>>()
        .map_err(bad_key)?;
    Ok((keys, dummy))
}

/// Whether one of the dummy signatures in `metadata` is one of `keys`.
fn verify_dummy(metadata: Option<&Metadata>, keys: &[String]) -> Result<(), SignError> {
    let mut last = None;
    for key in keys {
        match crate::sign_dummy::verify_metadata(metadata, key) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or(
        SignError::Unsigned {
            signed: sign::Signed::Summary,
        },
        SignError::from,
    ))
}

/// Whether a failure is only "no signatures of this type" (or none readable).
fn is_unsigned(error: &SignError) -> bool {
    use crate::sign_dummy::DummyError;
    matches!(
        error,
        SignError::Unsigned { .. }
            | SignError::Malformed { .. }
            | SignError::Dummy(DummyError::Unsigned | DummyError::Malformed)
    )
}

/// Succeeds when either configured type verifies. Otherwise: OSTree's "No signatures
/// found" when no configured type found any signature of its own, else the ed25519
/// failure (or the dummy one when only dummy keys are configured).
fn either(
    ed25519: Option<Result<(), SignError>>,
    dummy: Option<Result<(), SignError>>,
) -> Result<(), SignError> {
    let unsigned = |r: &Option<Result<(), SignError>>| match r {
        None => true,
        Some(Err(e)) => is_unsigned(e),
        Some(Ok(())) => false,
    };
    if (ed25519.is_some() || dummy.is_some()) && unsigned(&ed25519) && unsigned(&dummy) {
        return Err(SignError::NoSignatures);
    }
    match (ed25519, dummy) {
        (Some(Ok(())), _) | (_, Some(Ok(()))) | (None, None) => Ok(()),
        (Some(Err(e)), _) | (None, Some(Err(e))) => Err(e),
    }
}

impl SignPolicy {
    /// Judges a fetched commit (`bytes` already hashed to `commit`) by the detached
    /// metadata fetched with it; an absent `.commitmeta` is an empty one.
    pub fn verify(
        &self,
        commit: &Checksum,
        bytes: &[u8],
        metadata: Option<&Metadata>,
    ) -> Result<(), SignError> {
        if let Some((keyrings, repo)) = &self.gpg {
            gpg::verify_metadata(repo, keyrings, &format!("commit {commit}"), bytes, metadata)?
                .require_valid()?;
        }
        either(
            (!self.keys.is_empty()).then(|| {
                sign::verify_signatures(commit, bytes, metadata.unwrap_or(&Vec::new()), &self.keys)
                    .map(drop)
            }),
            (!self.dummy.is_empty()).then(|| verify_dummy(metadata, &self.dummy)),
        )
    }

    /// Judges a commit already stored, by its stored detached metadata: a ref of a
    /// verified remote never points at a commit no trusted key signed.
    pub fn verify_stored(&self, repo: &Repo, commit: &Checksum) -> Result<(), SignError> {
        let bytes = repo.read_metadata(crate::object::ObjectType::Commit, commit)?;
        let metadata = repo.read_commitmeta(commit)?;
        self.verify(commit, &bytes, metadata.as_ref())
    }

    /// Judges a fetched summary by the `summary.sig` fetched with it (`None`: absent;
    /// one that is not an `a{sv}` holds no GPG signatures).
    pub fn verify_summary(
        &self,
        summary: &[u8],
        summary_sig: Option<&[u8]>,
    ) -> Result<(), SignError> {
        if let Some((keyrings, repo)) = &self.gpg {
            let metadata = summary_sig.and_then(|b| crate::object::parse_metadata(b).ok());
            gpg::verify_metadata(repo, keyrings, "the summary", summary, metadata.as_ref())?
                .require_valid()?;
        }
        let dummy_metadata = summary_sig.and_then(|b| crate::object::parse_metadata(b).ok());
        either(
            (!self.keys.is_empty())
                .then(|| sign::verify_summary(summary, summary_sig, &self.keys).map(drop)),
            (!self.dummy.is_empty()).then(|| verify_dummy(dummy_metadata.as_ref(), &self.dummy)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::SecretKey;

    /// A remote with `options`, added with `--no-gpg-verify`.
    fn remote(options: &[(&str, &str)]) -> Remote {
        let mut remote = remote_as_written(options);
        remote
            .options
            .insert(0, ("gpg-verify".into(), "false".into()));
        remote
    }

    fn remote_as_written(options: &[(&str, &str)]) -> Remote {
        Remote {
            name: "origin".into(),
            url: "http://h/r".into(),
            branches: vec![],
            options: options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// An empty archive repository the policies are read for.
    fn repo() -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), crate::repo::RepoMode::Archive).unwrap();
        (dir, repo)
    }

    #[test]
    fn gpg_is_required_unless_turned_off() {
        let (_dir, repo) = repo();
        let key = SecretKey::from_seed(&[7; 32]).public_key().to_base64();
        for options in [
            vec![],
            vec![("gpg-verify", "true")],
            vec![("sign-verify", "true"), (KEY_OPTION, key.as_str())],
        ] {
            let policy = RemotePolicy::for_remote(&repo, &remote_as_written(&options)).unwrap();
            let commits = policy.commits.expect("commits are verified");
            assert!(commits.gpg.is_some(), "{options:?}");
            assert!(policy.summary.is_none());
        }
        let policy =
            RemotePolicy::for_remote(&repo, &remote(&[("gpg-verify-summary", "true")])).unwrap();
        assert!(policy.commits.is_none());
        assert!(policy.summary.unwrap().gpg.is_some());
        let err = RemotePolicy::for_remote(
            &repo,
            &remote_as_written(&[("gpgkeypath", "/nonexistent/k.asc")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("'origin'"), "{err}");
    }

    #[test]
    fn reads_sign_verify_and_keys_like_ostree() {
        let (_repo_dir, repo) = repo();
        let key = SecretKey::from_seed(&[7; 32]).public_key().to_base64();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("trusted.ed25519");
        let other = SecretKey::from_seed(&[8; 32]).public_key().to_base64();
        std::fs::write(&file, format!("{other}\n\n{key}\n")).unwrap();
        let file = file.to_str().unwrap();
        for off in [
            &[][..],
            &[("sign-verify", "false"), ("sign-verify-summary", "false")][..],
        ] {
            let policy = RemotePolicy::for_remote(&repo, &remote(off)).unwrap();
            assert!(policy.commits.is_none() && policy.summary.is_none());
        }
        let summary_only = [("sign-verify-summary", "true"), (KEY_OPTION, key.as_str())];
        let policy = RemotePolicy::for_remote(&repo, &remote(&summary_only)).unwrap();
        assert!(policy.commits.is_none());
        assert_eq!(policy.summary.unwrap().keys.len(), 1);
        for (on, keys) in [
            (vec![("sign-verify", "true"), (KEY_OPTION, key.as_str())], 1),
            (vec![("sign-verify", "ed25519"), (FILE_OPTION, file)], 2),
            (
                vec![
                    ("sign-verify", "ed25519;"),
                    (KEY_OPTION, &key),
                    (FILE_OPTION, file),
                ],
                3,
            ),
        ] {
            let policy = RemotePolicy::for_remote(&repo, &remote(&on)).unwrap();
            assert!(policy.summary.is_none());
            assert_eq!(policy.commits.unwrap().keys.len(), keys, "{on:?}");
        }
        let refusals = [
            (
                vec![("sign-verify", "ed25519,spki"), (KEY_OPTION, key.as_str())],
                "'spki': Requested signature type is not implemented",
            ),
            (
                vec![("sign-verify", "ed25519,dummy"), (KEY_OPTION, key.as_str())],
                "No keys found for required signapi type dummy",
            ),
            (vec![("sign-verify", "true")], "neither"),
            (vec![("sign-verify-summary", "true")], "neither"),
            (
                vec![("sign-verify", "true"), (KEY_OPTION, "AAAA")],
                "unusable",
            ),
            (
                vec![("sign-verify", "true"), (FILE_OPTION, "/nonexistent/k")],
                "unusable",
            ),
        ];
        for (options, expected) in refusals {
            let err = RemotePolicy::for_remote(&repo, &remote(&options)).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("'origin'") && message.contains(expected),
                "{message}"
            );
        }
    }
}
