//! The update graph (Cincinnati, as Zincati consumes it), built from an OSTree
//! repository.
//!
//! A node's agent asks `GET /v1/graph?basearch=…&stream=…` which releases exist and
//! which updates are allowed, and moves only along the graph's edges. Fedora CoreOS
//! builds its graph from a release index plus `updates/<stream>.json`; here the
//! releases are the commits of the stream's ref (oldest first, following parents
//! while they are in the repository), each with its `version` metadata as the node's
//! version and its checksum as the payload, and the same `updates/<stream>.json` file
//! format adds barriers, dead-ends and staged rollouts, so users can reuse theirs.
//!
//! The rules, as Fedora CoreOS's graph builder and policy engine apply them:
//! - every node carries `…releases.age_index` (its position, oldest 0) and
//!   `…scheme` = `checksum`; all metadata values are strings;
//! - only rollout and barrier releases are edge targets: a rollout R gets edges from
//!   every node from the last barrier before R (or the first node) up to R; a barrier B
//!   that is not a rollout gets edges from every node from the previous barrier (or the
//!   first node) up to B — so nodes older than a barrier must land on it first;
//! - a dead-end node keeps no outgoing edge (and says why in its metadata);
//! - per client, a rollout whose progress (0 before its start, then rising linearly
//!   from `start_percentage` to 1 over `duration_minutes`) is below the client's
//!   wariness loses its incoming edges.
//!
//! Commits without `version` metadata are not releases and are skipped. Edges are
//! sorted; clients do not depend on their order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ferro_ostree::{ObjectType, Repo};
use serde::{Deserialize, Serialize};

/// The metadata keys of graph nodes.
pub mod keys {
    /// The node's position, oldest 0.
    pub const AGE_INDEX: &str = "org.fedoraproject.coreos.releases.age_index";
    /// `checksum` (OSTree payloads) or `oci`.
    pub const SCHEME: &str = "org.fedoraproject.coreos.scheme";
    /// `"true"` on a barrier.
    pub const BARRIER: &str = "org.fedoraproject.coreos.updates.barrier";
    /// Why the barrier exists (`generic` when not said).
    pub const BARRIER_REASON: &str = "org.fedoraproject.coreos.updates.barrier_reason";
    /// `"true"` on a dead-end.
    pub const DEADEND: &str = "org.fedoraproject.coreos.updates.deadend";
    /// Why the release is a dead-end (`generic` when not said).
    pub const DEADEND_REASON: &str = "org.fedoraproject.coreos.updates.deadend_reason";
    /// `"true"` on a release being rolled out.
    pub const ROLLOUT: &str = "org.fedoraproject.coreos.updates.rollout";
    /// The rollout's start, seconds since the Unix epoch.
    pub const START_EPOCH: &str = "org.fedoraproject.coreos.updates.start_epoch";
    /// The rollout's progress at its start, 0 to 1.
    pub const START_VALUE: &str = "org.fedoraproject.coreos.updates.start_value";
    /// The rollout's duration in minutes.
    pub const DURATION: &str = "org.fedoraproject.coreos.updates.duration_minutes";
}

/// One node of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The release's version (unique, non-empty).
    pub version: String,
    /// The commit checksum.
    pub payload: String,
    /// String-only metadata ([`keys`]).
    pub metadata: BTreeMap<String, String>,
}

/// The graph: nodes and edges as index pairs into `nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Graph {
    /// The releases, oldest first.
    pub nodes: Vec<Node>,
    /// Allowed updates, `[from, to]`.
    pub edges: Vec<(u64, u64)>,
}

/// A release found in the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The commit's `version` metadata.
    pub version: String,
    /// The commit checksum.
    pub checksum: String,
    /// The commit's timestamp (seconds since the Unix epoch).
    pub timestamp: u64,
}

/// `updates/<stream>.json`, Fedora CoreOS's release metadata format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Updates {
    /// The stream's name.
    #[serde(default)]
    pub stream: String,
    /// Per-release metadata.
    #[serde(default)]
    pub releases: Vec<UpdateRelease>,
}

/// One release's entry in [`Updates`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateRelease {
    /// The version it is about.
    pub version: String,
    /// Barrier, dead-end, rollout.
    #[serde(default)]
    pub metadata: UpdateMetadata,
}

/// What is known about a release.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateMetadata {
    /// Nodes older than it must update to it first.
    pub barrier: Option<Reason>,
    /// Nodes on it must not update further (by the graph).
    pub deadend: Option<Reason>,
    /// It is rolled out progressively.
    pub rollout: Option<Rollout>,
}

/// A reason, usually a tracker URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// The text; empty becomes `generic`.
    #[serde(default)]
    pub reason: String,
}

/// A staged rollout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// Start, seconds since the Unix epoch (default 0).
    pub start_epoch: Option<i64>,
    /// Progress at the start, 0 to 1 (default 0).
    pub start_percentage: Option<f64>,
    /// Minutes from the start to full rollout (none: it stays at its start value).
    pub duration_minutes: Option<u64>,
}

/// Why a graph could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The repository could not be opened or read.
    #[error("could not read the repository '{}'", path.display())]
    Repo {
        /// The repository.
        path: PathBuf,
        /// The cause.
        #[source]
        source: ferro_ostree::repo::Error,
    },
    /// The stream's ref is not in the repository.
    #[error("the repository '{}' has no ref '{ref_name}'", path.display())]
    MissingRef {
        /// The repository.
        path: PathBuf,
        /// The ref.
        ref_name: String,
    },
    /// Two commits of the ref carry the same version.
    #[error("commits {first} and {second} of ref '{ref_name}' both have version '{version}'")]
    DuplicateVersion {
        /// The ref.
        ref_name: String,
        /// The version.
        version: String,
        /// The older commit.
        first: String,
        /// The newer commit.
        second: String,
    },
    /// The release metadata file could not be read.
    #[error(transparent)]
    Io(#[from] ferro_sys::IoError),
    /// The release metadata file is not in the `updates/<stream>.json` format.
    #[error("'{}' is not release metadata in the format of updates/<stream>.json", path.display())]
    Updates {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// The releases of `ref_name` in the repository at `repo_path`, oldest first: the
/// ref's commit and its ancestors while they are in the repository, keeping those
/// with `version` metadata.
pub fn releases(repo_path: &Path, ref_name: &str) -> Result<Vec<Release>, GraphError> {
    let repo_error = |source| GraphError::Repo {
        path: repo_path.to_owned(),
        source,
    };
    let repo = Repo::open(repo_path).map_err(repo_error)?;
    let Some(tip) = repo.read_ref(ref_name).map_err(repo_error)? else {
        return Err(GraphError::MissingRef {
            path: repo_path.to_owned(),
            ref_name: ref_name.to_owned(),
        });
    };
    let mut found = Vec::new();
    let mut next = Some(tip);
    while let Some(id) = next {
        let commit = repo.load_commit(&id).map_err(repo_error)?;
        let version = commit
            .metadata
            .iter()
            .find(|(key, _)| key == "version")
            .and_then(|(_, value)| value.as_str())
            .filter(|v| !v.is_empty());
        if let Some(version) = version {
            found.push(Release {
                version,
                checksum: id.to_string(),
                timestamp: commit.timestamp,
            });
        }
        // History may be cut (a shallow pull): stop at the first absent parent.
        next = commit
            .parent
            .filter(|parent| repo.has_object(ObjectType::Commit, parent));
    }
    found.reverse();
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for release in &found {
        if let Some(first) = seen.insert(&release.version, &release.checksum) {
            return Err(GraphError::DuplicateVersion {
                ref_name: ref_name.to_owned(),
                version: release.version.clone(),
                first: first.to_owned(),
                second: release.checksum.clone(),
            });
        }
    }
    Ok(found)
}

/// Reads release metadata in the format of `updates/<stream>.json`.
pub fn read_updates(path: &Path) -> Result<Updates, GraphError> {
    let bytes = std::fs::read(path).map_err(|e| ferro_sys::IoError::new("read", path, e))?;
    serde_json::from_slice(&bytes).map_err(|source| GraphError::Updates {
        path: path.to_owned(),
        source,
    })
}

fn reason(reason: &Reason) -> String {
    if reason.reason.is_empty() {
        "generic".to_owned()
    } else {
        reason.reason.clone()
    }
}

/// The graph of `releases` (oldest first) with `updates`' metadata, before any
/// per-client throttling: nodes, edges to rollouts and barriers, no edges out of
/// dead-ends.
pub fn build(releases: &[Release], updates: &Updates) -> Graph {
    let meta: BTreeMap<&str, &UpdateMetadata> = updates
        .releases
        .iter()
        .map(|r| (r.version.as_str(), &r.metadata))
        .collect();
    let mut nodes = Vec::with_capacity(releases.len());
    let mut barriers = BTreeSet::new();
    let mut rollouts = BTreeSet::new();
    let mut deadends = BTreeSet::new();
    for (index, release) in releases.iter().enumerate() {
        let index = index as u64;
        let mut metadata = BTreeMap::from([
            (keys::AGE_INDEX.to_owned(), index.to_string()),
            (keys::SCHEME.to_owned(), "checksum".to_owned()),
        ]);
        if let Some(m) = meta.get(release.version.as_str()) {
            if let Some(barrier) = &m.barrier {
                barriers.insert(index);
                metadata.insert(keys::BARRIER.to_owned(), "true".to_owned());
                metadata.insert(keys::BARRIER_REASON.to_owned(), reason(barrier));
            }
            if let Some(deadend) = &m.deadend {
                deadends.insert(index);
                metadata.insert(keys::DEADEND.to_owned(), "true".to_owned());
                metadata.insert(keys::DEADEND_REASON.to_owned(), reason(deadend));
            }
            if let Some(rollout) = &m.rollout {
                rollouts.insert(index);
                metadata.insert(keys::ROLLOUT.to_owned(), "true".to_owned());
                if let Some(epoch) = rollout.start_epoch {
                    metadata.insert(keys::START_EPOCH.to_owned(), epoch.to_string());
                }
                if let Some(start) = rollout.start_percentage {
                    metadata.insert(keys::START_VALUE.to_owned(), start.to_string());
                }
                if let Some(minutes) = rollout.duration_minutes {
                    metadata.insert(keys::DURATION.to_owned(), minutes.to_string());
                }
            }
        }
        nodes.push(Node {
            version: release.version.clone(),
            payload: release.checksum.clone(),
            metadata,
        });
    }
    let mut edges = BTreeSet::new();
    for &target in &rollouts {
        let from = barriers.range(..target).next_back().copied().unwrap_or(0);
        edges.extend((from..target).map(|i| (i, target)));
    }
    let mut from = 0;
    for &target in &barriers {
        if !rollouts.contains(&target) {
            edges.extend((from..target).map(|i| (i, target)));
        }
        from = target;
    }
    Graph {
        nodes,
        edges: edges
            .into_iter()
            .filter(|(from, _)| !deadends.contains(from))
            .collect(),
    }
}

/// How far a rollout node has progressed at `now` (seconds since the Unix epoch),
/// 0 to 1; `None` for a node that is not being rolled out.
pub fn rollout_progress(node: &Node, now: i64) -> Option<f64> {
    node.metadata.get(keys::ROLLOUT)?;
    let get = |key| node.metadata.get(key).map(String::as_str);
    let start = get(keys::START_EPOCH)
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    let start_value = get(keys::START_VALUE)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    let minutes = get(keys::DURATION)
        .and_then(|v| v.parse::<u64>().ok())
        .map(|m| m.max(1));
    Some(match minutes {
        _ if now < start => 0.0,
        None => start_value,
        Some(minutes) => {
            let span = i64::try_from(minutes.saturating_mul(60)).unwrap_or(i64::MAX);
            let end = start.saturating_add(span);
            if now > end {
                1.0
            } else {
                start_value + (1.0 - start_value) * (now - start) as f64 / span as f64
            }
        }
    })
}

/// `graph` as a client of `wariness` sees it at `now`: the incoming edges of every
/// rollout whose progress is below the client's wariness are removed.
pub fn throttle(mut graph: Graph, wariness: f64, now: i64) -> Graph {
    let hidden: BTreeSet<u64> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| rollout_progress(node, now).is_some_and(|p| wariness > p))
        .map(|(i, _)| i as u64)
        .collect();
    graph.edges.retain(|(_, to)| !hidden.contains(to));
    graph
}

/// A client's wariness, 0 (eager) to 1 (wary): its `rollout_wariness` parameter
/// clamped to [0, 1] when it parses, else derived from its `node_uuid` so that each
/// node keeps its place in every rollout. The derivation is stable and documented:
/// the 64-bit FNV-1a hash of the `node_uuid` string, `h % 1_000_000 + 1`, divided by
/// 1,000,000 — a value in (0, 1].
pub fn wariness(rollout_wariness: Option<&str>, node_uuid: Option<&str>) -> f64 {
    if let Some(w) = rollout_wariness
        .and_then(|w| w.parse::<f64>().ok())
        .filter(|w| !w.is_nan())
    {
        return w.clamp(0.0, 1.0);
    }
    let hash = node_uuid
        .unwrap_or("")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    (hash % 1_000_000 + 1) as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(metadata: &[(&str, &str)]) -> Node {
        Node {
            version: "1".into(),
            payload: "x".into(),
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn rollout_progress_is_linear_between_start_and_end() {
        let n = node(&[
            (keys::ROLLOUT, "true"),
            (keys::START_EPOCH, "1000"),
            (keys::START_VALUE, "0.25"),
            (keys::DURATION, "100"),
        ]);
        assert_eq!(rollout_progress(&n, 999), Some(0.0));
        assert_eq!(rollout_progress(&n, 1000), Some(0.25));
        assert_eq!(rollout_progress(&n, 1000 + 50 * 60), Some(0.625));
        assert_eq!(rollout_progress(&n, 1000 + 100 * 60 + 1), Some(1.0));
        let no_duration = node(&[(keys::ROLLOUT, "true"), (keys::START_VALUE, "0.5")]);
        assert_eq!(rollout_progress(&no_duration, 1 << 40), Some(0.5));
        assert_eq!(rollout_progress(&node(&[]), 0), None);
    }

    #[test]
    fn wariness_from_parameter_or_node_uuid() {
        assert_eq!(wariness(Some("0.500000"), Some("x")), 0.5);
        assert_eq!(wariness(Some("7"), None), 1.0);
        assert_eq!(wariness(Some("-1"), None), 0.0);
        let w = wariness(Some("nan"), Some("c988d2509fdf4cdcbed39037c56406fb"));
        assert!(w > 0.0 && w <= 1.0);
        assert_eq!(
            w,
            wariness(None, Some("c988d2509fdf4cdcbed39037c56406fb")),
            "stable"
        );
        assert_ne!(w, wariness(None, Some("c988d2509fdf4cdcbed39037c56406fc")));
    }
}
