//! `ferro ostree gpg-sign`, `remote gpg-import|gpg-list-keys` and the GPG parts of
//! `commit`, `summary`, `show` and `remote add`: rendering over `ferro_ostree::gpg`.

use std::io::Read;

use anyhow::Context;
use ferro_ostree::browse::format_c_time;
use ferro_ostree::gpg::{self, GpgError, ImportSource, Key, Subkey, VerifyResult};
use ferro_ostree::{Checksum, Repo};

use crate::ExitStatus;
use crate::args_gpg::{GpgImportArgs, GpgSignArgs, GpgSignOptions, ShowGpgArgs};
use crate::printer::Printer;

/// `gpg-sign COMMIT KEY-ID…`: signs with each key, or with `--delete` removes their
/// signatures and says how many.
pub fn run_gpg_sign(repo: &Repo, a: GpgSignArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let commit = repo.resolve_rev(&a.commit)?;
    if a.delete {
        let deleted = gpg::delete_signatures(repo, &commit, &a.key_ids)?;
        printer.outln(format_args!("Signatures deleted: {deleted}"))?;
        return Ok(ExitStatus::Success);
    }
    for key_id in &a.key_ids {
        gpg::sign_commit(repo, &commit, key_id, a.gpg_homedir.as_deref())?;
    }
    Ok(ExitStatus::Success)
}

/// Signs a commit just made with every `--gpg-sign` key.
pub fn sign_commit(repo: &Repo, commit: &Checksum, options: &GpgSignOptions) -> anyhow::Result<()> {
    for key_id in &options.key_ids {
        gpg::sign_commit(repo, commit, key_id, options.gpg_homedir.as_deref())?;
    }
    Ok(())
}

/// Signs the summary with every `--gpg-sign` key.
pub fn sign_summary(repo: &Repo, options: &GpgSignOptions) -> anyhow::Result<()> {
    if !options.key_ids.is_empty() {
        gpg::sign_summary(repo, &options.key_ids, options.gpg_homedir.as_deref())?;
    }
    Ok(())
}

/// `show`'s signature block: every GPG signature of the commit and its verdict; nothing
/// when it has none.
pub fn show_signatures(
    repo: &Repo,
    commit: &Checksum,
    a: &ShowGpgArgs,
    printer: &Printer,
) -> anyhow::Result<()> {
    match gpg::verify_commit(
        repo,
        commit,
        a.gpg_verify_remote.as_deref(),
        a.gpg_homedir.as_deref(),
    ) {
        Ok(result) => printer.out(result.show())?,
        Err(GpgError::NoSignatures) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// What `remote summary` prints after the summary of a remote that requires GPG
/// signatures on it (`gpg-verify-summary`): each signature and its verdict.
pub fn remote_summary_signatures(
    repo: &Repo,
    remote: &str,
    summary: &[u8],
) -> anyhow::Result<String> {
    if !repo.remote(remote)?.flag("gpg-verify-summary", false) {
        return Ok(String::new());
    }
    let Some(sig) = ferro_ostree::pull::remote_summary_sig(repo, remote)? else {
        return Ok(String::new());
    };
    Ok(summary_signatures(&gpg::verify_summary(
        repo,
        remote,
        summary,
        Some(&sig),
    )?))
}

fn summary_signatures(result: &VerifyResult) -> String {
    let n = result.signatures.len();
    let mut out = format!(
        "\nGPG: Verification enabled, found {n} signature{}:\n",
        if n == 1 { "" } else { "s" }
    );
    for sig in &result.signatures {
        out.push('\n');
        out.push_str(&sig.describe("  "));
    }
    out
}

fn imported_line(imported: usize, remote: &str) -> String {
    format!(
        "Imported {imported} GPG key{} to remote \"{remote}\"",
        if imported == 1 { "" } else { "s" }
    )
}

/// `remote add --gpg-import FILE`: the remote, just added, trusts the keys of FILE.
pub fn import_for_new_remote(
    repo: &Repo,
    remote: &str,
    file: &std::path::Path,
    printer: &Printer,
) -> anyhow::Result<()> {
    let imported = gpg::import_keys(repo, remote, &ImportSource::File(file.to_owned()), &[])?;
    printer.outln(imported_line(imported, remote))?;
    Ok(())
}

/// `remote gpg-import NAME [KEY-ID…]`.
pub fn run_gpg_import(
    repo: &Repo,
    a: GpgImportArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let source = if a.stdin {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .context("could not read keys from standard input")?;
        ImportSource::Data(data)
    } else {
        match a.keyring.as_slice() {
            [] => ImportSource::UserKeyring,
            [one] => ImportSource::File(one.clone()),
            many => {
                let mut data = Vec::new();
                for file in many {
                    data.extend(
                        std::fs::read(file)
                            .with_context(|| format!("could not read '{}'", file.display()))?,
                    );
                }
                ImportSource::Data(data)
            }
        }
    };
    let imported = gpg::import_keys(repo, &a.name, &source, &a.key_ids)?;
    printer.outln(imported_line(imported, &a.name))?;
    Ok(ExitStatus::Success)
}

/// `remote gpg-list-keys [NAME]`, in `ostree`'s layout.
pub fn run_gpg_list_keys(
    repo: &Repo,
    name: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    for key in gpg::list_keys(repo, name)? {
        printer.out(key_text(&key))?;
    }
    Ok(ExitStatus::Success)
}

fn subkey_text(sub: &Subkey, primary: bool) -> String {
    let (label, indent) = if primary {
        ("Key", "  ")
    } else {
        ("  Subkey", "    ")
    };
    let mut out = format!(
        "{label}: {}{}{}\n{indent}Created: {}\n",
        sub.fingerprint,
        if sub.revoked { " (revoked)" } else { "" },
        if sub.invalid { " (invalid)" } else { "" },
        format_c_time(sub.created)
    );
    if sub.expires > 0 {
        let word = if sub.expired { "Expired" } else { "Expires" };
        out.push_str(&format!("{indent}{word}: {}\n", format_c_time(sub.expires)));
    }
    out
}

fn key_text(key: &Key) -> String {
    let mut out = subkey_text(key.primary(), true);
    for uid in &key.uids {
        out.push_str(&format!(
            "  UID: {}{}{}\n",
            uid.uid,
            if uid.revoked { " (revoked)" } else { "" },
            if uid.invalid { " (invalid)" } else { "" }
        ));
        let (advanced, direct) = uid.wkd_urls().unwrap_or_default();
        out.push_str(&format!(
            "  Advanced update URL: {advanced}\n  Direct update URL: {direct}\n"
        ));
    }
    for sub in &key.subkeys[1..] {
        out.push_str(&subkey_text(sub, false));
    }
    out
}

/// `admin status`'s GPG lines for a deployment whose origin remote verifies GPG
/// signatures (each description prefixed `    GPG: `), or with `verify` the verdict of
/// a verification that must succeed (prefixed `GPG: `); empty otherwise.
pub fn deployment_signatures(
    repo: &Repo,
    deployment: &ferro_sysroot::Deployment,
    verify: bool,
) -> anyhow::Result<String> {
    let remote = deployment
        .refspec()
        .and_then(|refspec| refspec.split_once(':').map(|(r, _)| r.to_owned()));
    if verify {
        let remote =
            remote.ok_or_else(|| anyhow::anyhow!("Cannot verify deployment without remote"))?;
        let result = gpg::verify_commit(repo, &deployment.checksum, Some(&remote), None)?;
        result.require_valid()?;
        return Ok(result
            .signatures
            .iter()
            .map(|s| s.describe("GPG: "))
            .collect());
    }
    let gpg_verify = remote
        .and_then(|remote| repo.remote(&remote).ok())
        .is_some_and(|remote| remote.flag("gpg-verify", true));
    if !gpg_verify {
        return Ok(String::new());
    }
    // As `ostree admin status`: the keys of the remote named like the stateroot.
    match gpg::verify_commit(repo, &deployment.checksum, Some(&deployment.osname), None) {
        Ok(result) => Ok(result
            .signatures
            .iter()
            .map(|s| s.describe("    GPG: "))
            .collect()),
        Err(GpgError::NoSignatures | GpgError::Remote(_)) => Ok(String::new()),
        Err(e) => Err(e.into()),
    }
}
