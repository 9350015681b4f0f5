//! The documents of the admin API, shared by the server and the admin client so that
//! both sides agree on one definition.
//!
//! Versioned like ferrocore's other machine output: every top-level document carries
//! `apiVersion` and `kind`, so scripts reading `ferro fleet locks --json` can tell
//! when the shape changes.

use serde::{Deserialize, Serialize};

use crate::semaphore::Holder;

/// The `apiVersion` of the admin documents.
pub const API_VERSION: &str = "fleet.ferrocore/v1";

/// `GET /v1/locks`: every configured group with its slots and holders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locks {
    /// [`API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `Locks`.
    pub kind: String,
    /// The groups, by name.
    pub groups: Vec<GroupStatus>,
}

impl Locks {
    /// The document for `groups`.
    pub fn new(groups: Vec<GroupStatus>) -> Self {
        Locks {
            api_version: API_VERSION.to_owned(),
            kind: "Locks".to_owned(),
            groups,
        }
    }
}

/// One group's semaphore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The group's name.
    pub name: String,
    /// Its slot count (from the config, applied at the server's start).
    pub slots: u32,
    /// Who holds a slot, by id, with when it was taken and last asked for.
    pub holders: Vec<Holder>,
    /// The lease, if the server has one: a holder silent this long loses its slot to
    /// the next request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_seconds: Option<u64>,
}

/// `POST /v1/admin/release`: give back a slot on behalf of a node that cannot (it
/// died, or was replaced under a new id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRequest {
    /// The group.
    pub group: String,
    /// The holder's id.
    pub id: String,
}

/// What a release did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseResult {
    /// Whether the id held a slot (and no longer does).
    pub released: bool,
    /// The group's holders afterwards.
    pub holders: usize,
}

/// What one audit record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A client took a slot (`pre-reboot`).
    Lock,
    /// A client gave its slot back (`steady-state`).
    Unlock,
    /// An admin freed a holder's slot.
    Release,
    /// The slot count changed (from the config, at start).
    Slots,
    /// A holder's lease ran out (no `pre-reboot` for `lease_seconds`).
    Expire,
}

/// One change of a semaphore, in the order the store committed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The position in the log, from 1, without gaps.
    pub seq: u64,
    /// When (ms since the Unix epoch).
    pub at: u64,
    /// What changed.
    pub action: AuditAction,
    /// In which group.
    pub group: String,
    /// Whose slot (empty for [`AuditAction::Slots`]).
    pub id: String,
    /// Who asked: `client`, `admin`, `config` or `lease`.
    pub actor: String,
    /// The group's holders after the change.
    pub holders: u32,
    /// The group's slots after the change.
    pub slots: u32,
}

/// `GET /v1/audit?after=N`: audit records after position `N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// [`API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `Audit`.
    pub kind: String,
    /// The records, oldest first.
    pub records: Vec<AuditRecord>,
}

impl Audit {
    /// The document for `records`.
    pub fn new(records: Vec<AuditRecord>) -> Self {
        Audit {
            api_version: API_VERSION.to_owned(),
            kind: "Audit".to_owned(),
            records,
        }
    }
}

/// A node as its last update-graph request described it: the fleet inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's `node_uuid` (Zincati: an app-specific machine id).
    pub node_uuid: String,
    /// `os_version`: the booted release.
    #[serde(default)]
    pub os_version: String,
    /// `os_checksum`: the booted commit.
    #[serde(default)]
    pub os_checksum: String,
    /// `group`: its FleetLock group.
    #[serde(default)]
    pub group: String,
    /// `platform` (`metal`, `qemu`, `aws`, …).
    #[serde(default)]
    pub platform: String,
    /// `basearch`.
    #[serde(default)]
    pub basearch: String,
    /// `stream`.
    #[serde(default)]
    pub stream: String,
    /// When it first asked (ms since the Unix epoch).
    pub first_seen: u64,
    /// When it last asked (ms since the Unix epoch).
    pub last_seen: u64,
    /// The versions it reported, each with when it was first reported, oldest first
    /// (at most [`crate::inventory::MAX_HISTORY`]): what the nodes-per-version chart
    /// is computed from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<VersionSeen>,
}

/// A version a node reported, from when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionSeen {
    /// The first report of this version (ms since the Unix epoch).
    pub since: u64,
    /// The version (`os_version`).
    pub version: String,
}

/// `GET /v1/versions`: how many nodes ran each version, at instants from the first
/// node seen to now — the dashboard's chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionHistory {
    /// [`API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `VersionHistory`.
    pub kind: String,
    /// Every version that appears, in the order nodes first reported them.
    pub versions: Vec<String>,
    /// The instants, oldest first; the last one is now.
    pub points: Vec<VersionPoint>,
}

/// The nodes per version at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionPoint {
    /// The instant (ms since the Unix epoch).
    pub at: u64,
    /// Nodes per version (versions without nodes are left out).
    pub nodes: std::collections::BTreeMap<String, u32>,
}

/// `GET /v1/nodes`: every node that asked for the update graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nodes {
    /// [`API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `Nodes`.
    pub kind: String,
    /// The nodes, by `node_uuid`.
    pub nodes: Vec<NodeRecord>,
}

impl Nodes {
    /// The document for `nodes`.
    pub fn new(nodes: Vec<NodeRecord>) -> Self {
        Nodes {
            api_version: API_VERSION.to_owned(),
            kind: "Nodes".to_owned(),
            nodes,
        }
    }
}

/// `GET /v1/releases?basearch=…`: what each stream serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Releases {
    /// [`API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `Releases`.
    pub kind: String,
    /// The streams, in config order.
    pub streams: Vec<StreamReleases>,
}

impl Releases {
    /// The document for `streams`.
    pub fn new(streams: Vec<StreamReleases>) -> Self {
        Releases {
            api_version: API_VERSION.to_owned(),
            kind: "Releases".to_owned(),
            streams,
        }
    }
}

/// One stream's releases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamReleases {
    /// The stream.
    pub name: String,
    /// The ref read (with `${basearch}` substituted).
    #[serde(rename = "ref")]
    pub ref_name: String,
    /// The releases, oldest first.
    pub releases: Vec<ReleaseStatus>,
    /// Why the stream cannot be served now (its graph requests answer 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One release as the graph serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseStatus {
    /// The version.
    pub version: String,
    /// The commit.
    pub payload: String,
    /// Its barrier reason, if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barrier: Option<String>,
    /// Its dead-end reason, if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadend: Option<String>,
    /// Its rollout progress now, 0 to 1, if it is being rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<f64>,
    /// How many edges lead to it before per-client throttling.
    pub incoming: usize,
}

/// What a node's agent reports about its config: `POST /v1/nodes/<node_uuid>/report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    /// The node (from the URL; ignored in the body).
    #[serde(default)]
    pub node_uuid: String,
    /// The pool it belongs to.
    pub pool: String,
    /// The hash of the rendered config it has applied.
    pub config_hash: String,
    /// The OS version it booted.
    #[serde(default)]
    pub booted_version: String,
    /// `Done`, `Working`, `Degraded` or `Unreconcilable`.
    pub state: NodeState,
    /// Why, for `Degraded` and `Unreconcilable`.
    #[serde(default)]
    pub reason: String,
    /// When the server received it (ms since the Unix epoch; set by the server).
    #[serde(default)]
    pub at: u64,
}

/// A node's config state, as the Machine Config Daemon names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeState {
    /// The config is applied.
    Done,
    /// The config is being applied.
    Working,
    /// Applying failed; the node may recover.
    Degraded,
    /// The config cannot be applied to this node.
    Unreconcilable,
}

/// The answer to a report: which config the pool wants now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAnswer {
    /// The hash of the pool's desired config (`GET /config/<pool>?hash=…` fetches it).
    pub desired: String,
}

/// `GET /v1/pools`: every pool with its rendered configs and its nodes' reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pools {
    /// [`API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `Pools`.
    pub kind: String,
    /// The pools, in config order.
    pub pools: Vec<PoolStatus>,
}

impl Pools {
    /// The document for `pools`.
    pub fn new(pools: Vec<PoolStatus>) -> Self {
        Pools {
            api_version: API_VERSION.to_owned(),
            kind: "Pools".to_owned(),
            pools,
        }
    }
}

/// One pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStatus {
    /// The pool.
    pub name: String,
    /// The hash of the config served to booting nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// The hash of the newest rendered config (served once a node has applied it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<String>,
    /// Why the fragments could not be rendered last time (the previous config is
    /// still served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The nodes' last reports.
    pub nodes: Vec<NodeReport>,
}
