//! GPG operations on a repository: signing commits and summaries, verifying them with
//! the keys a remote (or every remote) trusts, and the remotes' keyrings.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use ferro_sys::{CommandRunExt, io_err};

use super::home::{GpgHome, Keyrings, gpg, sign_data};
use super::keys::{self, Key};
use super::{GPGSIGS_KEY, GpgError, VerifyResult};
use crate::checksum::Checksum;
use crate::object::{Metadata, ObjectType, Variant, metadata_bytes, parse_metadata};
use crate::remote::Remote;
use crate::repo::Repo;

/// The file, in the repository directory, holding the keys remote `remote` trusts
/// (`remote add --gpg-import`, `remote gpg-import`).
pub fn remote_keyring_name(remote: &str) -> String {
    format!("{remote}.trustedkeys.gpg")
}

/// Where a verification's throwaway homedirs go: the repository's `tmp/`.
fn scratch_parent(repo: &Repo) -> PathBuf {
    repo.path().join("tmp")
}

/// The remote's keyring bytes: in the repository, else in the `remotes.d` directory
/// its remotes may live in, else in its parent repository's.
fn find_keyring(repo: &Repo, remote: &str) -> Result<Option<Vec<u8>>, GpgError> {
    let name = remote_keyring_name(remote);
    let mut places = vec![repo.path().join(&name)];
    if let Some(dir) = repo.remotes_dir() {
        places.push(dir.join(&name));
    }
    for path in places {
        match fs::read(&path) {
            Ok(bytes) => return Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("read", &path)(e).into()),
        }
    }
    match repo.parent() {
        Some(parent) => find_keyring(parent, remote),
        None => Ok(None),
    }
}

/// The entries of a `gpgkeypath=` value: split on `;` or `,` (not both), a trailing
/// separator ending the list, as OSTree reads it.
fn key_paths(remote: &str, value: &str) -> Result<Vec<String>, GpgError> {
    if value.contains(';') && value.contains(',') {
        return Err(GpgError::Malformed {
            what: format!("remote '{remote}' gpgkeypath"),
            detail: "key value list contains more than one separator".into(),
        });
    }
    let mut entries: Vec<String> = value.split([';', ',']).map(str::to_owned).collect();
    if entries.last().is_some_and(String::is_empty) {
        entries.pop();
    }
    Ok(entries)
}

/// The keys a verification trusts, gathered as OSTree does: for a remote, its keyring
/// file (then the global keyrings are not used) and its `gpgkeypath=`; with no remote,
/// every `*.gpg` keyring in the repository directory. The global keyrings
/// (`OSTREE_GPG_HOME` or `/usr/share/ostree/trusted.gpg.d`) unless the remote has a
/// keyring; then `keyring_dir`'s keyrings (`--gpg-homedir`) and `extra_keyring`.
pub fn keyrings_for(
    repo: &Repo,
    remote: Option<&str>,
    keyring_dir: Option<&Path>,
    extra_keyring: Option<&Path>,
) -> Result<Keyrings, GpgError> {
    let mut keyrings = match remote {
        None => {
            let mut keyrings = Keyrings::default();
            keyrings.add_keyring_dir(repo.path())?;
            keyrings.add_global()?;
            keyrings
        }
        Some(name) => remote_keyrings(repo, &repo.remote(name)?)?,
    };
    if let Some(dir) = keyring_dir {
        keyrings.add_keyring_dir(dir)?;
    }
    if let Some(file) = extra_keyring {
        keyrings.add_keyring_file(file);
    }
    Ok(keyrings)
}

/// The keys remote `remote` of `repo` trusts: its keyring file and `gpgkeypath=`, and
/// the global keyrings only when it has no keyring file (what a pull checks with).
pub fn remote_keyrings(repo: &Repo, remote: &Remote) -> Result<Keyrings, GpgError> {
    let (mut keyrings, has_keyring) = own_keyrings(repo, remote)?;
    if !has_keyring {
        keyrings.add_global()?;
    }
    Ok(keyrings)
}

/// The remote's own keys (keyring file, `gpgkeypath=`), and whether it has a keyring
/// file.
fn own_keyrings(repo: &Repo, remote: &Remote) -> Result<(Keyrings, bool), GpgError> {
    let mut keyrings = Keyrings::default();
    let keyring = find_keyring(repo, &remote.name)?;
    let has_keyring = keyring.is_some();
    if let Some(data) = keyring {
        keyrings.add_keyring_data(data);
    }
    if let Some(value) = remote.get("gpgkeypath") {
        for path in key_paths(&remote.name, value)? {
            keyrings.add_key_path(Path::new(&path))?;
        }
    }
    Ok((keyrings, has_keyring))
}

/// The GPG signatures in detached metadata, concatenated; `None` when there are none.
fn signatures(what: &str, metadata: Option<&Metadata>) -> Result<Option<Vec<u8>>, GpgError> {
    let Some((_, value)) = metadata
        .into_iter()
        .flatten()
        .find(|(key, _)| key == GPGSIGS_KEY)
    else {
        return Ok(None);
    };
    let list = value.as_byte_strings().ok_or_else(|| GpgError::Malformed {
        what: what.to_owned(),
        detail: format!("'{GPGSIGS_KEY}' has type '{}', not 'aay'", value.type_str),
    })?;
    Ok((!list.is_empty()).then(|| list.concat()))
}

/// Verifies `data` by the GPG signatures of `metadata` with `keyrings`; no signatures
/// is [`GpgError::NoSignatures`]. The result lists every signature: callers that
/// require one to be valid call [`VerifyResult::require_valid`].
pub fn verify_metadata(
    repo: &Repo,
    keyrings: &Keyrings,
    what: &str,
    data: &[u8],
    metadata: Option<&Metadata>,
) -> Result<VerifyResult, GpgError> {
    let signatures = signatures(what, metadata)?.ok_or(GpgError::NoSignatures)?;
    GpgHome::with_keyrings(&scratch_parent(repo), keyrings)?.verify(data, &signatures)
}

/// The commit object's bytes.
fn commit_bytes(repo: &Repo, commit: &Checksum) -> Result<Vec<u8>, GpgError> {
    Ok(repo.read_metadata(ObjectType::Commit, commit)?)
}

/// Verifies a stored commit's GPG signatures with the keys `remote` trusts (every
/// remote's when `None`, plus `keyring_dir`'s), as `ostree show` does.
pub fn verify_commit(
    repo: &Repo,
    commit: &Checksum,
    remote: Option<&str>,
    keyring_dir: Option<&Path>,
) -> Result<VerifyResult, GpgError> {
    let bytes = commit_bytes(repo, commit)?;
    let metadata = repo.read_commitmeta(commit)?;
    let keyrings = keyrings_for(repo, remote, keyring_dir, None)?;
    verify_metadata(
        repo,
        &keyrings,
        &format!("commit {commit}"),
        &bytes,
        metadata.as_ref(),
    )
}

/// Verifies a fetched `summary` by its `summary.sig` (`None`: the remote has none; one
/// that is not an `a{sv}` holds no signatures) with the keys `remote` trusts.
pub fn verify_summary(
    repo: &Repo,
    remote: &str,
    summary: &[u8],
    summary_sig: Option<&[u8]>,
) -> Result<VerifyResult, GpgError> {
    let metadata = summary_sig.and_then(|bytes| parse_metadata(bytes).ok());
    let keyrings = keyrings_for(repo, Some(remote), None, None)?;
    verify_metadata(repo, &keyrings, "the summary", summary, metadata.as_ref())
}

/// `metadata` with `signature` appended to its `ostree.gpgsigs`.
fn append_signature(
    what: &str,
    metadata: &mut Metadata,
    signature: Vec<u8>,
) -> Result<(), GpgError> {
    let mut list = signatures_list(what, metadata)?;
    list.push(signature);
    set_signatures(metadata, &list);
    Ok(())
}

fn signatures_list(what: &str, metadata: &Metadata) -> Result<Vec<Vec<u8>>, GpgError> {
    match metadata.iter().find(|(key, _)| key == GPGSIGS_KEY) {
        None => Ok(Vec::new()),
        Some((_, value)) => value.as_byte_strings().ok_or_else(|| GpgError::Malformed {
            what: what.to_owned(),
            detail: format!("'{GPGSIGS_KEY}' has type '{}', not 'aay'", value.type_str),
        }),
    }
}

/// Replaces `ostree.gpgsigs` by `list` (removing the key when it is empty).
fn set_signatures(metadata: &mut Metadata, list: &[Vec<u8>]) {
    let value = Variant::byte_strings(list.iter().map(Vec::as_slice));
    match metadata.iter_mut().find(|(key, _)| key == GPGSIGS_KEY) {
        Some(entry) if !list.is_empty() => entry.1 = value,
        Some(_) => metadata.retain(|(key, _)| key != GPGSIGS_KEY),
        None if !list.is_empty() => metadata.push((GPGSIGS_KEY.to_owned(), value)),
        None => {}
    }
}

/// Signs a commit with the secret key `key_id` of `homedir` (gpg's default when
/// `None`) and appends the signature to its detached metadata. A key that already
/// signed it (as far as the trusted keys and the homedir's keyrings tell) is refused.
pub fn sign_commit(
    repo: &Repo,
    commit: &Checksum,
    key_id: &str,
    homedir: Option<&Path>,
) -> Result<(), GpgError> {
    let what = format!("commit {commit}");
    let bytes = commit_bytes(repo, commit)?;
    let mut metadata = repo.read_commitmeta(commit)?.unwrap_or_default();
    if signatures(&what, Some(&metadata))?.is_some() {
        let keyrings = keyrings_for(repo, None, homedir, None)?;
        let result = verify_metadata(repo, &keyrings, &what, &bytes, Some(&metadata))?;
        if result.lookup(key_id).is_some() {
            return Err(GpgError::AlreadySigned(key_id.to_owned()));
        }
    }
    let scratch = GpgHome::new(&scratch_parent(repo), b"")?;
    let signature = sign_data(&scratch, &bytes, key_id, homedir)?;
    append_signature(&what, &mut metadata, signature)?;
    repo.write_commitmeta(commit, &metadata)?;
    Ok(())
}

/// Deletes the commit's signatures made by any of the keys `key_ids` name (matched
/// through every remote's and the global trusted keys, as `ostree gpg-sign --delete`
/// matches them); returns how many were deleted. Key IDs matching nothing are
/// ignored.
pub fn delete_signatures(
    repo: &Repo,
    commit: &Checksum,
    key_ids: &[String],
) -> Result<usize, GpgError> {
    let what = format!("commit {commit}");
    let Some(mut metadata) = repo.read_commitmeta(commit)? else {
        return Ok(0);
    };
    let list = signatures_list(&what, &metadata)?;
    if list.is_empty() {
        return Ok(0);
    }
    let bytes = commit_bytes(repo, commit)?;
    let keyrings = keyrings_for(repo, None, None, None)?;
    let result = verify_metadata(repo, &keyrings, &what, &bytes, Some(&metadata))?;
    let mut doomed: Vec<usize> = key_ids.iter().filter_map(|id| result.lookup(id)).collect();
    doomed.sort_unstable();
    doomed.dedup();
    let kept: Vec<Vec<u8>> = list
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !doomed.contains(index))
        .map(|(_, sig)| sig)
        .collect();
    set_signatures(&mut metadata, &kept);
    repo.write_commitmeta(commit, &metadata)?;
    Ok(doomed.len())
}

/// Signs the repository's `summary` with each key of `key_ids`, appending to the
/// signatures `summary.sig` already has (`summary -u` removes it first).
pub fn sign_summary(
    repo: &Repo,
    key_ids: &[String],
    homedir: Option<&Path>,
) -> Result<(), GpgError> {
    let path = repo.path().join("summary");
    let summary = fs::read(&path).map_err(io_err("read", &path))?;
    let sig_path = repo.path().join("summary.sig");
    let mut metadata = crate::commitmeta::read_detached(sig_path.clone())?.unwrap_or_default();
    let scratch = GpgHome::new(&scratch_parent(repo), b"")?;
    for key_id in key_ids {
        let signature = sign_data(&scratch, &summary, key_id, homedir)?;
        append_signature("summary.sig", &mut metadata, signature)?;
    }
    repo.write_durable(&sig_path, &metadata_bytes(&metadata))?;
    Ok(())
}

/// Where `remote gpg-import` takes keys from.
#[derive(Debug, Clone)]
pub enum ImportSource {
    /// A keyring or key file (binary or ASCII-armored).
    File(PathBuf),
    /// Key data read from standard input.
    Data(Vec<u8>),
    /// The user's own GnuPG keyring (gpg's default homedir).
    UserKeyring,
}

/// Adds keys to the keyring remote `remote` trusts (`REPO/NAME.trustedkeys.gpg`): the
/// keys `key_ids` name from `source`, or all of its keys. Returns how many keys were
/// new. The keyring is replaced whole, atomically.
pub fn import_keys(
    repo: &Repo,
    remote: &str,
    source: &ImportSource,
    key_ids: &[String],
) -> Result<usize, GpgError> {
    repo.remote(remote)?;
    let parent = scratch_parent(repo);
    let exported = match source {
        ImportSource::UserKeyring => {
            for id in key_ids {
                let found = gpg(None)
                    .args(["--with-colons", "--list-keys", "--", id])
                    .run_capture()?;
                if !found.status.success() || found.stdout.is_empty() {
                    return Err(GpgError::KeyNotFound(id.clone()));
                }
            }
            gpg(None)
                .arg("--export")
                .args(key_ids)
                .run_get_output()?
                .stdout
        }
        ImportSource::File(_) | ImportSource::Data(_) => {
            let home = GpgHome::new(&parent, b"")?;
            let file = match source {
                ImportSource::File(path) => path.clone(),
                ImportSource::Data(bytes) => home.scratch("import", bytes)?,
                ImportSource::UserKeyring => unreachable!("handled above"),
            };
            home.import(&file)?;
            let listed = home.list_keys()?;
            if let Some(missing) = key_ids.iter().find(|id| keys::find(&listed, id).is_none()) {
                return Err(GpgError::KeyNotFound(missing.clone()));
            }
            home.export(key_ids)?
        }
    };
    let keyring = repo.path().join(remote_keyring_name(remote));
    let current = match fs::read(&keyring) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_err("read", &keyring)(e).into()),
    };
    if exported.is_empty() {
        return Ok(0);
    }
    let target = GpgHome::new(&parent, &current)?;
    let file = target.scratch("import", &exported)?;
    let imported = target.import(&file)?;
    let pubring = target.path().join("pubring.gpg");
    let bytes = fs::read(&pubring).map_err(io_err("read", &pubring))?;
    repo.write_atomic(&keyring, &bytes)?;
    Ok(imported)
}

/// The keys remote `remote` trusts (its keyring and `gpgkeypath=`), or with no remote
/// the global trusted keys, as `ostree remote gpg-list-keys` lists them.
pub fn list_keys(repo: &Repo, remote: Option<&str>) -> Result<Vec<Key>, GpgError> {
    let keyrings = match remote {
        Some(name) => own_keyrings(repo, &repo.remote(name)?)?.0,
        None => {
            let mut keyrings = Keyrings::default();
            keyrings.add_global()?;
            keyrings
        }
    };
    GpgHome::with_keyrings(&scratch_parent(repo), &keyrings)?.list_keys()
}

/// `pull-local --gpg-verify[-summary] --remote=NAME`: before anything is copied, the
/// commits `revs` name in the source repository (and with `summary`, its `summary`)
/// must carry a valid signature by a key remote `remote` of `dest` trusts.
pub fn verify_local_source(
    dest: &Repo,
    src: &Repo,
    remote: &str,
    revs: &[String],
    (commits, summary): (bool, bool),
) -> Result<(), GpgError> {
    let keyrings = remote_keyrings(dest, &dest.remote(remote)?)?;
    if summary {
        let path = src.path().join("summary");
        let bytes = fs::read(&path).map_err(io_err("read", &path))?;
        let sig = src.path().join("summary.sig");
        let metadata = crate::commitmeta::read_detached(sig)?;
        verify_metadata(dest, &keyrings, "the summary", &bytes, metadata.as_ref())?
            .require_valid()?;
    }
    if commits {
        for rev in revs {
            let id = match crate::refs::pinned(rev) {
                Some((_, id)) => id,
                None => src.resolve_rev(rev)?,
            };
            let bytes = commit_bytes(src, &id)?;
            let metadata = src.read_commitmeta(&id)?;
            verify_metadata(
                dest,
                &keyrings,
                &format!("commit {id}"),
                &bytes,
                metadata.as_ref(),
            )?
            .require_valid()?;
        }
    }
    Ok(())
}
