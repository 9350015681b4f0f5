//! `find-remotes --finders=config`: which configured remotes offer given collection refs,
//! found by each remote's `collection-id` and its summary, and optionally a pull of
//! them, as `ostree find-remotes` does with its config finder (the LAN and mount
//! finders are not implemented).

use crate::Checksum;
use crate::pull::{PullError, pull, remote_summary};
use crate::pull_types::{PullOptions, PullProgress};
use crate::repo::Repo;

/// What `find-remotes` looks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindRemotesOptions {
    /// `(collection id, ref name)` pairs.
    pub refs: Vec<(String, String)>,
    /// Pull what was found (`--pull`).
    pub pull: bool,
    /// With `pull`: write the refs as mirrors (`--mirror`).
    pub mirror: bool,
}

/// One remote that offers some of the refs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteResult {
    /// The remote's name.
    pub remote: String,
    /// Its URL.
    pub url: String,
    /// Each requested ref of the remote's collection, with its commit there (`None`:
    /// the remote does not have it).
    pub refs: Vec<(String, String, Option<Checksum>)>,
}

/// What `find-remotes` found (and pulled).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindRemotesOutcome {
    /// Remotes with at least one of the refs.
    pub results: Vec<RemoteResult>,
    /// Requested refs no remote has.
    pub not_found: Vec<(String, String)>,
    /// With `pull`: how many refs were pulled.
    pub pulled: usize,
}

/// Looks each requested collection ref up in the summary of every remote whose
/// `collection-id` is its collection; with [`FindRemotesOptions::pull`], pulls each
/// found ref from the first remote that has it, and fails before pulling anything
/// when a ref is in no remote.
pub fn find_remotes(
    repo: &Repo,
    options: &FindRemotesOptions,
    progress: &dyn PullProgress,
) -> Result<FindRemotesOutcome, PullError> {
    let mut outcome = FindRemotesOutcome::default();
    for remote in repo.remote_list()? {
        let Some(collection) = remote.get("collection-id").map(str::to_owned) else {
            continue;
        };
        let wanted: Vec<&(String, String)> = options
            .refs
            .iter()
            .filter(|(c, _)| *c == collection)
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let Some(summary) = remote_summary(repo, &remote.name)? else {
            continue;
        };
        let offered = crate::summary::parse_refs(&summary).map_err(|source| {
            PullError::from(crate::error::Error::Unsupported {
                verb: "find-remotes",
                path: remote.url.clone().into(),
                detail: format!("invalid summary: {source}"),
            })
        })?;
        let refs: Vec<(String, String, Option<Checksum>)> = wanted
            .iter()
            .map(|(c, name)| {
                let commit = offered.iter().find(|(n, _)| n == name).map(|(_, id)| *id);
                (c.clone(), name.clone(), commit)
            })
            .collect();
        if refs.iter().any(|(_, _, commit)| commit.is_some()) {
            outcome.results.push(RemoteResult {
                remote: remote.name.clone(),
                url: remote.url.clone(),
                refs,
            });
        }
    }
    for pair in &options.refs {
        let found = outcome.results.iter().any(|r| {
            r.refs
                .iter()
                .any(|(c, n, id)| id.is_some() && (c, n) == (&pair.0, &pair.1))
        });
        if !found {
            outcome.not_found.push(pair.clone());
        }
    }
    if options.pull {
        if let Some((collection, name)) = outcome.not_found.first() {
            return Err(crate::error::Error::NotFound(format!(
                "ref ({collection}, {name}) in any remote"
            ))
            .into());
        }
        let mut done: Vec<(String, String)> = Vec::new();
        for result in &outcome.results {
            let names: Vec<String> = result
                .refs
                .iter()
                .filter(|(c, n, id)| id.is_some() && !done.contains(&(c.clone(), n.clone())))
                .map(|(_, n, _)| n.clone())
                .collect();
            if names.is_empty() {
                continue;
            }
            let pull_options = PullOptions {
                mirror: options.mirror,
                ..PullOptions::default()
            };
            pull(repo, &result.remote, &names, &pull_options, progress)?;
            for (c, n, id) in &result.refs {
                if id.is_some() {
                    done.push((c.clone(), n.clone()));
                }
            }
        }
        outcome.pulled = done.len();
    }
    Ok(outcome)
}
