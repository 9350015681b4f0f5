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
