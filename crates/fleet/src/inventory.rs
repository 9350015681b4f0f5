//! The fleet inventory over time: which version each node ran when.
//!
//! Every update-graph request tells the server a node's booted version
//! (`os_version`); the store keeps, per node, the versions it reported with when each
//! was first reported ([`VersionSeen`]). From that, [`version_history`] counts the
//! nodes per version at evenly spaced instants — what Nebraska's "versions over time"
//! chart shows operators: whether a release is spreading, and which nodes lag.
//!
//! A node counts from its first request on, with the version it last reported at
//! each instant; a node that stopped asking keeps counting with its last version
//! (the server cannot tell a node that was retired from one that is off).

use std::collections::BTreeMap;

use crate::api::{API_VERSION, NodeRecord, VersionHistory, VersionPoint, VersionSeen};

/// The most versions kept per node; older ones are dropped (the node then counts
/// with its oldest kept version before it).
pub const MAX_HISTORY: usize = 32;
/// Instants of a history when the request does not say.
pub const DEFAULT_POINTS: usize = 48;
/// The most instants a request may ask for.
pub const MAX_POINTS: usize = 1000;

/// Records that a node reported `version` at `at`: a new entry if it differs from
/// the last one.
pub fn note_version(history: &mut Vec<VersionSeen>, version: &str, at: u64) {
    if history.last().is_some_and(|last| last.version == version) {
        return;
    }
    history.push(VersionSeen {
        since: at,
        version: version.to_owned(),
    });
    if history.len() > MAX_HISTORY {
        history.remove(0);
    }
}

/// The version `node` ran at `at`, if it was known then.
fn version_at(node: &NodeRecord, at: u64) -> Option<&str> {
    if node.first_seen > at {
        return None;
    }
    let seen = node
        .history
        .iter()
        .rev()
        .find(|seen| seen.since <= at)
        .or(node.history.first());
    Some(seen.map_or(node.os_version.as_str(), |seen| seen.version.as_str()))
}

/// Nodes per version at `points` instants (clamped to 2..=[`MAX_POINTS`]) spread
/// evenly from the first node's first request to `now`; one instant (`now`) when
/// there is no span. Versions are listed in the order nodes first reported them.
pub fn version_history(nodes: &[NodeRecord], now: u64, points: usize) -> VersionHistory {
    let mut first_reported: BTreeMap<&str, u64> = BTreeMap::new();
    for node in nodes {
        let seen = node.history.iter().map(|s| (s.version.as_str(), s.since));
        let current = std::iter::once((node.os_version.as_str(), node.first_seen));
        for (version, since) in seen.chain(current) {
            let entry = first_reported.entry(version).or_insert(since);
            *entry = (*entry).min(since);
        }
    }
    let mut versions: Vec<(&str, u64)> = first_reported.into_iter().collect();
    versions.sort_by_key(|&(version, since)| (since, version));
    let start = nodes.iter().map(|n| n.first_seen).min().unwrap_or(now);
    let instants: Vec<u64> = if start >= now {
        vec![now]
    } else {
        let n = points.clamp(2, MAX_POINTS) as u64;
        (0..n)
            .map(|k| start + (now - start) * k / (n - 1))
            .collect()
    };
    let points = instants
        .into_iter()
        .map(|at| {
            let mut counts = BTreeMap::new();
            for version in nodes.iter().filter_map(|node| version_at(node, at)) {
                *counts.entry(version.to_owned()).or_insert(0) += 1;
            }
            VersionPoint { at, nodes: counts }
        })
        .collect();
    VersionHistory {
        api_version: API_VERSION.to_owned(),
        kind: "VersionHistory".to_owned(),
        versions: versions.into_iter().map(|(v, _)| v.to_owned()).collect(),
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(uuid: &str, reports: &[(u64, &str)]) -> NodeRecord {
        let mut history = Vec::new();
        for (at, version) in reports {
            note_version(&mut history, version, *at);
        }
        let (last_seen, last) = *reports.last().unwrap();
        NodeRecord {
            node_uuid: uuid.to_owned(),
            os_version: last.to_owned(),
            os_checksum: String::new(),
            group: String::new(),
            platform: String::new(),
            basearch: String::new(),
            stream: String::new(),
            first_seen: reports[0].0,
            last_seen,
            history,
        }
    }

    #[test]
    fn a_repeated_version_is_one_entry_and_history_is_bounded() {
        let mut history = Vec::new();
        note_version(&mut history, "41.1", 10);
        note_version(&mut history, "41.1", 20);
        note_version(&mut history, "41.2", 30);
        assert_eq!(
            history,
            [
                VersionSeen {
                    since: 10,
                    version: "41.1".into()
                },
                VersionSeen {
                    since: 30,
                    version: "41.2".into()
                }
            ]
        );
        for i in 0..100 {
            note_version(&mut history, &format!("v{i}"), 100 + i);
        }
        assert_eq!(history.len(), MAX_HISTORY);
        assert_eq!(history.last().unwrap().version, "v99");
    }

    /// Three nodes over 0..=100: a updates 41.1 → 41.2 at 50, b stays on 41.1, c
    /// appears at 75 on 41.2. Five instants: 0, 25, 50, 75, 100.
    #[test]
    fn nodes_per_version_at_even_instants() {
        let nodes = [
            node(
                "a",
                &[(0, "41.1"), (40, "41.1"), (50, "41.2"), (90, "41.2")],
            ),
            node("b", &[(10, "41.1"), (95, "41.1")]),
            node("c", &[(75, "41.2")]),
        ];
        let history = version_history(&nodes, 100, 5);
        assert_eq!(history.kind, "VersionHistory");
        assert_eq!(history.versions, ["41.1", "41.2"]);
        let at: Vec<u64> = history.points.iter().map(|p| p.at).collect();
        assert_eq!(at, [0, 25, 50, 75, 100]);
        let counts: Vec<(u32, u32)> = history
            .points
            .iter()
            .map(|p| {
                (
                    p.nodes.get("41.1").copied().unwrap_or(0),
                    p.nodes.get("41.2").copied().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(counts, [(1, 0), (2, 0), (1, 1), (1, 2), (1, 2)]);
    }

    #[test]
    fn no_nodes_is_one_empty_point() {
        let history = version_history(&[], 1000, 48);
        assert_eq!(history.points.len(), 1);
        assert_eq!(history.points[0].at, 1000);
        assert!(history.points[0].nodes.is_empty() && history.versions.is_empty());
    }
}
