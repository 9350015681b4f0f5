//! `ferro ostree remote …` and `ferro ostree pull`: remote configuration and HTTP pulls
//! over `ferro_ostree::{remote, pull}`, with a progress bar on a terminal.

use anyhow::Context;
use ferro_ostree::Repo;
use ferro_ostree::cookies;
use ferro_ostree::fetch::RequestOptions;
use ferro_ostree::pull::{PullOptions, PullProgress, PullStatus, pull};
use ferro_ostree::remote::{Error as RemoteError, RemoteAdd, SignVerify};
use ferro_ostree::summary::SummaryView;
use ferro_sys::size::format_size;
use indicatif::ProgressBar;

use crate::ExitStatus;
use crate::args_ostree::{OstreePullArgs, OstreeRemoteVerb};
use crate::printer::Printer;

/// Runs a `remote` verb, printing like `ostree remote`.
pub fn run_remote(
    repo: &Repo,
    set: &[String],
    verb: OstreeRemoteVerb,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    match verb {
        OstreeRemoteVerb::Add {
            no_gpg_verify,
            sign_verify,
            no_sign_verify,
            collection_id,
            force,
            if_not_exists,
            custom_backend,
            contenturl,
            gpg_import,
            name,
            url,
            branches,
        } => {
            let mut options = Vec::new();
            if let Some(contenturl) = contenturl {
                options.push(("contenturl".to_owned(), contenturl));
            }
            for kv in set {
                let Some((key, value)) = kv.split_once('=') else {
                    printer.errln(format_args!("error: --set '{kv}' is not KEY=VALUE"));
                    return Ok(ExitStatus::Usage);
                };
                options.push((key.to_owned(), value.to_owned()));
            }
            let how = RemoteAdd {
                branches,
                options,
                no_gpg_verify,
                sign_verify: sign_verify.or(no_sign_verify.then_some(SignVerify::Off)),
                collection_id,
                replace: force,
                custom_backend,
            };
            match repo.remote_add_with(&name, url.as_deref().unwrap_or(""), &how) {
                Err(RemoteError::Exists(_)) if if_not_exists => {}
                other => other?,
            }
            if let Some(file) = gpg_import {
                crate::ostree_gpg::import_for_new_remote(repo, &name, &file, printer)?;
            }
        }
        OstreeRemoteVerb::GpgImport(a) => {
            return crate::ostree_gpg::run_gpg_import(repo, a, printer);
        }
        OstreeRemoteVerb::GpgListKeys { name } => {
            return crate::ostree_gpg::run_gpg_list_keys(repo, name.as_deref(), printer);
        }
        OstreeRemoteVerb::AddCookie {
            name,
            domain,
            path,
            cookie_name,
            value,
        } => cookies::add_cookie(repo, &name, (&domain, &path), &cookie_name, &value)?,
        OstreeRemoteVerb::DeleteCookie {
            name,
            domain,
            path,
            cookie_name,
            value: _,
        } => cookies::delete_cookie(repo, &name, (&domain, &path), &cookie_name)?,
        OstreeRemoteVerb::ListCookies { name } => {
            for c in cookies::list_cookies(repo, &name)? {
                printer.outln(format_args!(
                    "--\nDomain: {}\nPath: {}\nName: {}\nValue: {}",
                    c.domain, c.path, c.name, c.value
                ))?;
            }
        }
        OstreeRemoteVerb::ShowUrl { name } => {
            printer.outln(repo.remote(&name)?.require_url()?)?;
        }
        OstreeRemoteVerb::List { show_urls } => {
            let remotes = repo.remote_list()?;
            let width = remotes.iter().map(|r| r.name.len()).max().unwrap_or(0);
            for remote in remotes {
                if show_urls {
                    printer.outln(format_args!("{:<width$}  {}", remote.name, remote.url))?;
                } else {
                    printer.outln(format_args!("{}", remote.name))?;
                }
            }
        }
        OstreeRemoteVerb::Delete { if_exists, name } => match repo.remote_delete(&name) {
            Err(RemoteError::NotFound(_)) if if_exists => {}
            other => other?,
        },
        OstreeRemoteVerb::Refs { name } => {
            let Some(bytes) = fetch_summary(repo, &name, printer)? else {
                return Ok(ExitStatus::Failure);
            };
            let refs = ferro_ostree::summary::parse_refs(&bytes)
                .with_context(|| format!("the summary of remote '{name}' is invalid"))?;
            for (r, _) in refs {
                printer.outln(format_args!("{name}:{r}"))?;
            }
        }
        OstreeRemoteVerb::Summary { raw, name } => {
            let Some(bytes) = fetch_summary(repo, &name, printer)? else {
                return Ok(ExitStatus::Failure);
            };
            let text = SummaryView::new(raw)
                .render(&bytes)
                .with_context(|| format!("the summary of remote '{name}' is invalid"))?;
            printer.out(text)?;
            if !raw {
                printer.out(crate::ostree_gpg::remote_summary_signatures(
                    repo, &name, &bytes,
                )?)?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// The remote's summary; `None` after saying so when it serves none.
fn fetch_summary(repo: &Repo, name: &str, printer: &Printer) -> anyhow::Result<Option<Vec<u8>>> {
    let summary = ferro_ostree::pull::remote_summary(repo, name)
        .with_context(|| format!("could not fetch the summary of remote '{name}'"))?;
    if summary.is_none() {
        printer.errln(format_args!(
            "error: remote '{name}' serves no summary file; run `ostree summary -u` (or \
             `ferro ostree summary -u`) in the repository it serves"
        ));
    }
    Ok(summary)
}

/// Runs `pull`, then prints what it fetched.
pub fn run_pull(
    repo: &Repo,
    args: OstreePullArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let (remote, mut refs) = match args.remote.split_once(':') {
        Some((remote, r)) => (remote.to_owned(), vec![r.to_owned()]),
        None => (args.remote.clone(), Vec::new()),
    };
    refs.extend(args.refs);
    let options = PullOptions {
        depth: u64::try_from(args.depth).ok(),
        mirror: args.mirror,
        commit_metadata_only: args.commit_metadata_only,
        disable_static_deltas: args.disable_static_deltas,
        cache_dir: args.cache_dir.clone(),
        require_static_deltas: args.require_static_deltas,
        bareuseronly_files: args.bareuseronly_files,
        http_trusted: args.http_trusted,
        dry_run: args.dry_run,
        timestamp_check: args.timestamp_check,
        timestamp_check_from: args
            .timestamp_check_from_rev
            .as_deref()
            .map(|rev| repo.resolve_rev(rev))
            .transpose()?,
        url: args.url,
        localcache: args.localcache_repo,
        subpaths: args.subpath,
        request: RequestOptions {
            headers: args.http_header,
            append_user_agent: args.append_user_agent,
            cookies: Vec::new(),
        },
        ..PullOptions::default()
    };
    let bar = Bar(printer.spinner("Receiving metadata"));
    let result = pull(repo, &remote, &refs, &options, &bar);
    bar.0.finish_and_clear();
    // Reported as `ostree` reports it, without a prefix: scripts match the start of
    // the message, and every pull error names the remote, URL or object it is about.
    let report = result?;
    if let Some((parts, size, usize)) = report.dry_run {
        printer.outln(format_args!(
            "Delta update: 0/{parts} parts, {}/{}, {} total uncompressed",
            format_size(0),
            format_size(size),
            format_size(usize)
        ))?;
        return Ok(ExitStatus::Success);
    }
    for note in &report.delta_notes {
        printer.errln(format_args!("note: static delta not used: {note}"));
    }
    for name in &report.deltas {
        printer.outln(format_args!("Static delta {name}"))?;
    }
    let s = &report.status;
    if s.delta_parts_fetched > 0 {
        printer.out(format_args!("{} delta parts, ", s.delta_parts_fetched))?;
    }
    let local = if s.metadata_local + s.content_local > 0 {
        format!(
            " ({} meta, {} content local)",
            s.metadata_local, s.content_local
        )
    } else {
        String::new()
    };
    printer.outln(format_args!(
        "{} metadata, {} content objects fetched{local}; {} transferred; {} objects written",
        s.metadata_fetched,
        s.content_fetched,
        format_size(s.bytes_fetched),
        s.metadata_fetched + s.content_fetched
    ))?;
    Ok(ExitStatus::Success)
}

/// The printer's spinner, told how a pull is going.
struct Bar(ProgressBar);

impl PullProgress for Bar {
    fn update(&self, s: &PullStatus) {
        let what = if s.content_total == 0 {
            format!("Receiving metadata: {} objects", s.metadata_fetched)
        } else {
            format!(
                "Receiving objects: {}/{} content, {} metadata",
                s.content_fetched, s.content_total, s.metadata_fetched
            )
        };
        self.0
            .set_message(format!("{what}, {}", format_size(s.bytes_fetched)));
    }
}
