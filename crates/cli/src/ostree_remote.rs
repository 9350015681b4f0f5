//! `ferro ostree remote …` and `ferro ostree pull`: remote configuration and HTTP pulls
//! over `ferro_ostree::{remote, pull}`, with a progress bar on a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use ferro_ostree::Repo;
use ferro_ostree::browse::format_size;
use ferro_ostree::pull::{PullOptions, PullProgress, PullStatus, pull};
use ferro_ostree::remote::Error as RemoteError;
use ferro_ostree::summary::SummaryView;
use indicatif::{ProgressBar, ProgressStyle};

use crate::ExitStatus;
use crate::args_ostree::{OstreePullArgs, OstreeRemoteVerb};

/// Runs a `remote` verb, printing like `ostree remote`.
pub fn run_remote(
    repo: &Repo,
    verb: OstreeRemoteVerb,
    out: &mut impl Write,
) -> anyhow::Result<ExitStatus> {
    match verb {
        OstreeRemoteVerb::Add {
            no_gpg_verify,
            set,
            if_not_exists,
            name,
            url,
            branches,
        } => {
            let mut options = Vec::new();
            for kv in &set {
                let Some((key, value)) = kv.split_once('=') else {
                    eprintln!("error: --set '{kv}' is not KEY=VALUE");
                    return Ok(ExitStatus::Usage);
                };
                options.push((key.to_owned(), value.to_owned()));
            }
            match repo.remote_add(&name, &url, &branches, &options, no_gpg_verify) {
                Err(RemoteError::Exists(_)) if if_not_exists => {}
                other => other?,
            }
        }
        OstreeRemoteVerb::List { show_urls } => {
            let remotes = repo.remote_list()?;
            let width = remotes.iter().map(|r| r.name.len()).max().unwrap_or(0);
            for remote in remotes {
                if show_urls {
                    writeln!(out, "{:<width$}  {}", remote.name, remote.url)?;
                } else {
                    writeln!(out, "{}", remote.name)?;
                }
            }
        }
        OstreeRemoteVerb::Delete { if_exists, name } => match repo.remote_delete(&name) {
            Err(RemoteError::NotFound(_)) if if_exists => {}
            other => other?,
        },
        OstreeRemoteVerb::Refs { name } => {
            let Some(bytes) = fetch_summary(repo, &name)? else {
                return Ok(ExitStatus::Failure);
            };
            let refs = ferro_ostree::summary::parse_refs(&bytes)
                .with_context(|| format!("the summary of remote '{name}' is invalid"))?;
            for (r, _) in refs {
                writeln!(out, "{name}:{r}")?;
            }
        }
        OstreeRemoteVerb::Summary { raw, name } => {
            let Some(bytes) = fetch_summary(repo, &name)? else {
                return Ok(ExitStatus::Failure);
            };
            let text = SummaryView::new(raw)
                .render(&bytes)
                .with_context(|| format!("the summary of remote '{name}' is invalid"))?;
            out.write_all(text.as_bytes())?;
        }
    }
    Ok(ExitStatus::Success)
}

/// The remote's summary; `None` after saying so when it serves none.
fn fetch_summary(repo: &Repo, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let summary = ferro_ostree::pull::remote_summary(repo, name)
        .with_context(|| format!("could not fetch the summary of remote '{name}'"))?;
    if summary.is_none() {
        eprintln!(
            "error: remote '{name}' serves no summary file; run `ostree summary -u` (or \
             `ferro ostree summary -u`) in the repository it serves"
        );
    }
    Ok(summary)
}

/// Runs `pull`, then prints what it fetched.
pub fn run_pull(
    repo: &Repo,
    args: OstreePullArgs,
    out: &mut impl Write,
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
        ..PullOptions::default()
    };
    let bar = Bar::new();
    let result = pull(repo, &remote, &refs, &options, &bar);
    bar.0.finish_and_clear();
    let report = result.with_context(|| format!("could not pull from '{remote}'"))?;
    for note in &report.delta_notes {
        eprintln!("note: static delta not used: {note}");
    }
    for name in &report.deltas {
        writeln!(out, "Static delta {name}")?;
    }
    let s = &report.status;
    if s.delta_parts_fetched > 0 {
        write!(out, "{} delta parts, ", s.delta_parts_fetched)?;
    }
    writeln!(
        out,
        "{} metadata, {} content objects fetched; {} transferred",
        s.metadata_fetched,
        s.content_fetched,
        format_size(s.bytes_fetched)
    )?;
    Ok(ExitStatus::Success)
}

/// A progress bar on stderr when it is a terminal; hidden otherwise.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Bar(ProgressBar::hidden());
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("static template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message("Receiving metadata");
        Bar(bar)
    }
}

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
