//! `ferro ostree sign`, `ferro ostree summary` and `ferro ostree diff`: rendering over
//! `ferro_ostree::{sign, summary, diff}`.

use anyhow::Context;

use ferro_ostree::Repo;
use ferro_ostree::commit::FsChecksumOptions;
use ferro_ostree::diff::{DiffSide, diff, diff_stats};
use ferro_ostree::object::Metadata;
use ferro_ostree::sign::{self, PublicKey, SecretKey};
use ferro_ostree::sign_dummy;
use ferro_ostree::summary::SummaryView;
use ferro_sys::size::format_size;

use crate::ExitStatus;
use crate::args_ostree::{OstreeSignArgs, SignType};
use crate::printer::Printer;

/// Signs a commit with every key given, or verifies it with any of them; the messages
/// are `ostree sign`'s.
pub fn run_sign(repo: &Repo, a: OstreeSignArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    if a.sign_type == SignType::Dummy {
        return run_sign_dummy(repo, a, printer);
    }
    let mut keys = a.keys;
    if let Some(file) = &a.keys_file {
        keys.extend(sign::read_keys_file(file)?);
    }
    if let Some(dir) = &a.keys_dir {
        keys.extend(sign::read_keys_dir(dir)?);
    }
    let commit = repo.resolve_rev(&a.commit)?;
    if a.verify {
        let keys = keys
            .iter()
            .map(|k| PublicKey::from_base64(k))
            .collect::<Result<Vec<_>, _>>()?;
        let by = sign::verify_commit(repo, &commit, &keys)?;
        printer.outln(format_args!(
            "ed25519: Signature verified successfully with key '{}'",
            by.key
        ))?;
        return Ok(ExitStatus::Success);
    }
    if keys.is_empty() {
        printer.errln("error: Need at least one KEY-ID to sign with");
        return Ok(ExitStatus::Usage);
    }
    for key in secret_keys(&keys)? {
        sign::sign_commit(repo, &commit, &key)?;
    }
    Ok(ExitStatus::Success)
}

/// `sign --sign-type=dummy`: OSTree's test-only signer (see
/// `ferro_ostree::sign_dummy`); verifying succeeds with the first key that verifies.
fn run_sign_dummy(repo: &Repo, a: OstreeSignArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut keys = a.keys;
    if let Some(file) = &a.keys_file {
        keys.extend(sign::read_keys_file(file)?);
    }
    let commit = repo.resolve_rev(&a.commit)?;
    if a.verify {
        if keys
            .iter()
            .any(|key| sign_dummy::verify_commit(repo, &commit, key).is_ok())
        {
            printer.outln("dummy: Signature verified")?;
            return Ok(ExitStatus::Success);
        }
        printer.errln("error: No valid signatures found");
        return Ok(ExitStatus::Failure);
    }
    if keys.is_empty() {
        printer.errln("error: Need at least one KEY-ID to sign with");
        return Ok(ExitStatus::Usage);
    }
    for key in &keys {
        sign_dummy::sign_commit(repo, &commit, key)?;
    }
    Ok(ExitStatus::Success)
}

/// `commit --sign=KEY… [--sign-type=ed25519|dummy]`: signs the commit just made.
pub fn sign_new_commit(
    repo: &Repo,
    commit: &ferro_ostree::Checksum,
    options: &crate::args_gpg::CommitSignOptions,
) -> anyhow::Result<()> {
    match options.sign_type {
        SignType::Dummy => {
            for key in &options.keys {
                sign_dummy::sign_commit(repo, commit, key)?;
            }
        }
        SignType::Ed25519 => {
            for key in secret_keys(&options.keys)? {
                sign::sign_commit(repo, commit, &key)?;
            }
        }
    }
    Ok(())
}

/// `summary [-u [-m KEY=VALUE]...] [--sign KEY]... [-v|--raw]`: regenerates the
/// summary (`update`, with that additional metadata), signs it and/or shows it, as
/// `ostree summary` does (`-u` drops the old `summary.sig`; signing alone appends).
pub fn run_summary(
    repo: &Repo,
    (update, gpg): (Option<Metadata>, &crate::args_gpg::GpgSignOptions),
    keys: &[String],
    sign_type: SignType,
    show: Option<SummaryView>,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    if update.is_none() && keys.is_empty() && gpg.key_ids.is_empty() && show.is_none() {
        printer.errln(format_args!(
            "error: nothing to do: give -u to regenerate the summary, --sign KEY-ID to sign \
             it, or -v/--raw to show it"
        ));
        return Ok(ExitStatus::Usage);
    }
    // Keys are checked before the summary changes, so a bad key leaves it as it was.
    let (ed25519, dummy) = match sign_type {
        SignType::Ed25519 => (secret_keys(keys)?, &[][..]),
        SignType::Dummy => (Vec::new(), keys),
    };
    if !dummy.is_empty() && !sign_dummy::enabled() {
        return Err(sign_dummy::DummyError::Disabled.into());
    }
    if let Some(additional) = update {
        ferro_ostree::summary::update_summary_and_metadata_ref(repo, &additional)?;
    }
    if !ed25519.is_empty() {
        sign::sign_summary(repo, &ed25519)?;
    }
    if !dummy.is_empty() {
        sign_dummy::sign_summary(repo, dummy)?;
    }
    crate::ostree_gpg::sign_summary(repo, gpg)?;
    if let Some(show) = show {
        let path = repo.path().join("summary");
        let bytes = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                printer.errln(format_args!(
                    "error: {} has no summary file; run `ferro ostree summary -u` first",
                    repo.path().display()
                ));
                return Ok(ExitStatus::Failure);
            }
            read => read.with_context(|| format!("could not read {}", path.display()))?,
        };
        let text = show
            .render(&bytes)
            .with_context(|| format!("{} is not a summary file", path.display()))?;
        printer.out(text)?;
    }
    Ok(ExitStatus::Success)
}

/// Parses base64 secret keys, naming a bad one by its position only.
fn secret_keys(keys: &[String]) -> anyhow::Result<Vec<SecretKey>> {
    let parsed = keys
        .iter()
        .enumerate()
        .map(|(index, key)| SecretKey::from_base64(key, index + 1))
        .collect::<Result<_, _>>()?;
    Ok(parsed)
}

/// `diff [--stats] [--fs-diff] REV | FROM TO`: one revision is compared with its parent;
/// the paths come before the statistics, as `ostree diff` prints them.
pub fn run_diff(
    repo: &Repo,
    stats: bool,
    fs_diff: bool,
    fs: &FsChecksumOptions,
    revs: &[String],
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let (from, to) = match revs {
        [rev] => (
            DiffSide::Commit(repo.resolve_rev(&format!("{rev}^"))?),
            DiffSide::Commit(repo.resolve_rev(rev)?),
        ),
        [from, to] => (DiffSide::parse(repo, from)?, DiffSide::parse(repo, to)?),
        _ => unreachable!("clap allows one or two revisions"),
    };
    if fs_diff || !stats {
        let diff = diff(repo, &from, &to, fs)?;
        for (mark, paths) in [('M', diff.modified), ('D', diff.removed), ('A', diff.added)] {
            for path in paths {
                printer.outln(format_args!("{mark}    {path}"))?;
            }
        }
    }
    if stats {
        let (DiffSide::Commit(from), DiffSide::Commit(to)) = (&from, &to) else {
            return Err(crate::ostree::usage(
                "--stats compares two commits, not a directory",
            ));
        };
        let s = diff_stats(repo, from, to)?;
        printer.outln(format_args!("[A] Object Count: {}", s.a_objects))?;
        printer.outln(format_args!("[B] Object Count: {}", s.b_objects))?;
        printer.outln(format_args!("Common Object Count: {}", s.common_objects))?;
        printer.outln(format_args!(
            "Common Object Size: {}",
            format_size(s.common_size)
        ))?;
    }
    Ok(ExitStatus::Success)
}
