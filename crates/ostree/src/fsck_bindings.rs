//! `fsck --verify-bindings` and `--verify-back-refs`: a commit names the refs and the
//! collection it was made for (`ostree.ref-binding`, `ostree.collection-binding`), so
//! that a server cannot pass off a commit of one branch as another's. These checks
//! compare the repository's refs with what their commits say, in OSTree's words.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::checksum::Checksum;
use crate::error::Error;
use crate::fsck::{Problem, ProblemKind};
use crate::object::ObjectType;
use crate::repo::Repo;

/// Which binding checks to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BindingChecks {
    /// Every ref's commit lists the ref (and its collection) in its bindings.
    pub verify_bindings: bool,
    /// Every ref a commit lists in its bindings exists.
    pub verify_back_refs: bool,
}

/// A ref as the checks see it: its collection (if any), name, commit and file.
struct BoundRef {
    collection: Option<String>,
    name: String,
    commit: Checksum,
    path: PathBuf,
}

/// Runs the checks `which` asks for; each finding is a [`ProblemKind::Binding`].
pub fn check(repo: &Repo, which: BindingChecks) -> Result<Vec<Problem>, Error> {
    let mut problems = Vec::new();
    if !which.verify_bindings && !which.verify_back_refs {
        return Ok(problems);
    }
    let refs = bound_refs(repo)?;
    if which.verify_bindings {
        for r in &refs {
            if !repo.has_object(ObjectType::Commit, &r.commit) {
                continue;
            }
            if let Some(detail) = binding_mismatch(repo, r)? {
                problems.push(problem(r.commit, r.path.clone(), detail));
            }
        }
    }
    if which.verify_back_refs {
        let existing: HashSet<(Option<&str>, &str)> = refs
            .iter()
            .map(|r| (r.collection.as_deref(), r.name.as_str()))
            .collect();
        for id in repo.list_objects(ObjectType::Commit)? {
            let commit = repo.load_commit(&id)?;
            let Some(bound) = strings(&commit, "ostree.ref-binding") else {
                continue;
            };
            let collection = commit.metadata_string("ostree.collection-binding");
            for name in bound {
                if existing.contains(&(collection.as_deref(), name.as_str())) {
                    continue;
                }
                let detail = match &collection {
                    Some(c) => format!(
                        "Collection–ref ({c}, {name}) in bindings for commit {id} does not exist"
                    ),
                    None => format!("Ref ‘{name}’ in bindings for commit {id} does not exist"),
                };
                problems.push(problem(
                    id,
                    repo.object_path(ObjectType::Commit, &id),
                    detail,
                ));
            }
        }
    }
    Ok(problems)
}

fn problem(commit: Checksum, path: PathBuf, detail: String) -> Problem {
    Problem {
        kind: ProblemKind::Binding,
        object: format!("{commit}.commit"),
        path,
        detail,
        commit: None,
    }
}

fn strings(commit: &crate::object::Commit, key: &str) -> Option<Vec<String>> {
    commit
        .metadata
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.as_strings())
}

/// What is wrong with `r`'s commit's bindings, as OSTree's `verify_bindings` says it.
fn binding_mismatch(repo: &Repo, r: &BoundRef) -> Result<Option<String>, Error> {
    let commit = repo.load_commit(&r.commit)?;
    let Some(bound) = strings(&commit, "ostree.ref-binding") else {
        return Ok(r.collection.as_ref().map(|_| {
            "Expected commit metadata to have ref binding information, found none".to_owned()
        }));
    };
    if !bound.contains(&r.name) {
        let listed = if bound.is_empty() {
            "no refs".to_owned()
        } else {
            bound
                .iter()
                .map(|b| format!("‘{b}’"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Ok(Some(format!(
            "Commit has no requested ref ‘{}’ in ref binding metadata ({listed})",
            r.name
        )));
    }
    let Some(collection) = &r.collection else {
        return Ok(None);
    };
    Ok(match commit.metadata_string("ostree.collection-binding") {
        None => Some(
            "Expected commit metadata to have collection ID binding information, found none".into(),
        ),
        Some(bound) if bound != *collection => Some(format!(
            "Commit has collection ID ‘{bound}’ in collection binding metadata, while the \
             remote it came from has collection ID ‘{collection}’"
        )),
        Some(_) => None,
    })
}

/// Every ref with the collection it belongs to: local ones the repository's, a remote's
/// the remote's `collection-id`, mirrored ones their own.
fn bound_refs(repo: &Repo) -> Result<Vec<BoundRef>, Error> {
    let with_collection = repo.collection_refs()?;
    let mut refs: Vec<BoundRef> = with_collection
        .into_iter()
        .map(|r| BoundRef {
            collection: Some(r.collection),
            name: r.name,
            commit: r.commit,
            path: r.path,
        })
        .collect();
    for (name, path, commit) in repo.all_refs()? {
        if refs.iter().any(|r| r.path == path) || name.starts_with('(') {
            continue;
        }
        let name = name
            .rsplit_once(':')
            .map_or(name.clone(), |(_, n)| n.to_owned());
        refs.push(BoundRef {
            collection: None,
            name,
            commit,
            path,
        });
    }
    Ok(refs)
}
