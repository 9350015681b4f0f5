//! The embedded store: one redb file, `<data>/fleet.redb`.
//!
//! redb is a copy-on-write B-tree with checksummed commits: a commit with
//! [`redb::Durability::Immediate`] (the default, used here) is on disk when `commit`
//! returns, and a process killed at any point reopens to the last such commit. Every
//! lock change is one write transaction that reads the group's semaphore, changes it,
//! appends an audit record and commits — all before the HTTP answer is sent, so an
//! acknowledged lock or unlock survives a `kill -9` and an unacknowledged one is
//! either wholly there or wholly absent. redb allows one write transaction at a time,
//! which is also what serialises concurrent requests for a group; the file is locked
//! against a second process.
//!
//! Tables: `groups` (group name → the [`Semaphore`] as JSON), `audit` (sequence
//! number → [`AuditRecord`] as JSON), the audit log of every change, in commit order,
//! and `nodes` (node uuid → [`NodeRecord`] as JSON), the inventory. Inventory updates
//! are committed without a flush of their own ([`redb::Durability::None`]): they are
//! made durable by the next lock change, and losing the last few to a crash costs
//! only a slightly older last-seen time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferro_sys::IoError;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::api::{AuditAction, AuditRecord, NodeRecord, NodeReport, NodeState};
use crate::semaphore::{LockOutcome, Semaphore, UnlockOutcome};

/// The store's file name inside the data directory.
pub const STORE_FILE: &str = "fleet.redb";

const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("groups");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
const NODES: TableDefinition<&str, &[u8]> = TableDefinition::new("nodes");
const POOLS: TableDefinition<&str, &[u8]> = TableDefinition::new("pools");
const REPORTS: TableDefinition<&str, &[u8]> = TableDefinition::new("reports");

/// A store operation that failed; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The store file could not be opened (held by another server, damaged, …).
    #[error("could not open the store '{}'", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: redb::DatabaseError,
    },
    /// A read or write of the store failed.
    #[error("store operation failed")]
    Db(#[from] redb::Error),
    /// A record did not decode: the file was written by something else.
    #[error("store record for '{key}' does not decode")]
    Corrupt {
        /// The record's key.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A group the store has no record of (the config was not applied).
    #[error("group '{0}' is not in the store")]
    UnknownGroup(String),
    /// The etcd backend failed (boxed as a plain error, so that this module does not
    /// import the backend that imports it).
    #[error("the etcd store failed")]
    Etcd(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A compare-and-swap met a concurrent change and the store was told to refuse
    /// rather than retry (Airlock's behaviour, kept for comparisons).
    #[error("conflict on semaphore detected, aborting")]
    Conflict,
}

/// Where the FleetLock semaphores live: the embedded [`Store`] or etcd
/// ([`crate::etcd::Etcd`]). Every method is one durable, atomic change (or read).
pub trait LockStore: Send + Sync + std::fmt::Debug {
    /// What the store is, for logs.
    fn describe(&self) -> String;
    /// Sets every group's slot count to the config's, creating missing groups.
    fn apply_slots(
        &self,
        groups: &BTreeMap<String, u32>,
        now: u64,
    ) -> Result<Vec<SlotChange>, StoreError>;
    /// Takes (or refreshes) a slot; returns the outcome and the holders afterwards.
    fn lock(
        &self,
        group: &str,
        id: &str,
        now: u64,
        lease_ms: Option<u64>,
    ) -> Result<(LockOutcome, usize), StoreError>;
    /// Gives back a slot if held; returns the outcome and the holders afterwards.
    fn unlock(
        &self,
        group: &str,
        id: &str,
        now: u64,
        actor: Actor,
    ) -> Result<(UnlockOutcome, usize), StoreError>;
    /// Every group with its semaphore.
    fn groups(&self) -> Result<BTreeMap<String, Semaphore>, StoreError>;
    /// Up to `limit` audit records after position `after`, in commit order.
    fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;
}

impl LockStore for Store {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
    fn apply_slots(
        &self,
        groups: &BTreeMap<String, u32>,
        now: u64,
    ) -> Result<Vec<SlotChange>, StoreError> {
        Store::apply_slots(self, groups, now)
    }
    fn lock(
        &self,
        group: &str,
        id: &str,
        now: u64,
        lease_ms: Option<u64>,
    ) -> Result<(LockOutcome, usize), StoreError> {
        Store::lock(self, group, id, now, lease_ms)
    }
    fn unlock(
        &self,
        group: &str,
        id: &str,
        now: u64,
        actor: Actor,
    ) -> Result<(UnlockOutcome, usize), StoreError> {
        Store::unlock(self, group, id, now, actor)
    }
    fn groups(&self) -> Result<BTreeMap<String, Semaphore>, StoreError> {
        Store::groups(self)
    }
    fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        Store::audit(self, after, limit)
    }
}

fn db_err(error: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(error.into())
}

/// Who caused a change, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A FleetLock client, for itself.
    Client,
    /// An admin, through the admin API.
    Admin,
}

impl Actor {
    fn as_str(self) -> &'static str {
        match self {
            Actor::Client => "client",
            Actor::Admin => "admin",
        }
    }
}

/// A rendered pool config as stored: what `GET /config/<pool>` serves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredConfig {
    /// SHA-256 of `json`.
    pub hash: String,
    /// The Ignition config, in its own spec version.
    pub json: String,
    /// When it was rendered (ms since the Unix epoch).
    pub rendered_at: u64,
}

/// A pool's configs: `current` is served to booting nodes; `desired` is the newest
/// rendering, which becomes current once a node of the pool reports it applied (the
/// Machine Config Server's rule: a new config reaches new nodes only after it has
/// worked on one).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoolRecord {
    /// Served to booting nodes.
    pub current: Option<StoredConfig>,
    /// The newest rendering.
    pub desired: Option<StoredConfig>,
}

/// A change of a group's slot count applied from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotChange {
    /// The group.
    pub group: String,
    /// The count before (`None` for a new group).
    pub before: Option<u32>,
    /// The count now.
    pub after: u32,
}

/// The embedded store.
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store in directory `data`.
    pub fn open(data: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data).map_err(|e| IoError::new("create directory", data, e))?;
        let path = data.join(STORE_FILE);
        let db = Database::create(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let store = Store { db, path };
        // Create the tables, so that reads never meet a missing one.
        let txn = store.db.begin_write().map_err(db_err)?;
        txn.open_table(GROUPS).map_err(db_err)?;
        txn.open_table(AUDIT).map_err(db_err)?;
        txn.open_table(NODES).map_err(db_err)?;
        txn.open_table(POOLS).map_err(db_err)?;
        txn.open_table(REPORTS).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(store)
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets every group's slot count to the config's, creating missing groups, in one
    /// transaction: slot counts follow the config on every start (Airlock keeps the
    /// count of the first start for ever, airlock#81). Holders are kept. Groups no
    /// longer configured stay in the file, untouched and unserved.
    pub fn apply_slots(
        &self,
        groups: &BTreeMap<String, u32>,
        now: u64,
    ) -> Result<Vec<SlotChange>, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let mut changes = Vec::new();
        {
            let mut table = txn.open_table(GROUPS).map_err(db_err)?;
            let mut audit = txn.open_table(AUDIT).map_err(db_err)?;
            let mut seq = last_seq(&audit)?;
            for (name, &slots) in groups {
                let old = read_group(&table, name)?;
                let before = old.as_ref().map(|s| s.slots);
                if before == Some(slots) {
                    continue;
                }
                let mut sem = old.unwrap_or_else(|| Semaphore::new(slots));
                sem.slots = slots;
                write_group(&mut table, name, &sem)?;
                seq += 1;
                let record = AuditRecord {
                    seq,
                    at: now,
                    action: AuditAction::Slots,
                    group: name.clone(),
                    id: String::new(),
                    actor: "config".to_owned(),
                    holders: holders_u32(&sem),
                    slots,
                };
                write_audit(&mut audit, &record)?;
                changes.push(SlotChange {
                    group: name.clone(),
                    before,
                    after: slots,
                });
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(changes)
    }

    /// Takes (or refreshes) a slot of `group` for `id`; durable before it returns.
    /// Also returns the group's holder count afterwards. With a lease, holders whose
    /// last request is `lease_ms` old are expired first (each audited), in the same
    /// transaction.
    pub fn lock(
        &self,
        group: &str,
        id: &str,
        now: u64,
        lease_ms: Option<u64>,
    ) -> Result<(LockOutcome, usize), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let outcome;
        let holders;
        let changed;
        {
            let mut table = txn.open_table(GROUPS).map_err(db_err)?;
            let mut audit = txn.open_table(AUDIT).map_err(db_err)?;
            let mut sem = read_group(&table, group)?
                .ok_or_else(|| StoreError::UnknownGroup(group.to_owned()))?;
            let expired = lease_ms.map_or_else(Vec::new, |lease| sem.expire(now, lease));
            // Each expiry is audited before the lock it may make room for, with the
            // holder count it left, so that the log replays in order.
            let mut left = sem.holders.len() + expired.len();
            for holder in &expired {
                left -= 1;
                let record = AuditRecord {
                    seq: last_seq(&audit)? + 1,
                    at: now,
                    action: AuditAction::Expire,
                    group: group.to_owned(),
                    id: holder.id.clone(),
                    actor: "lease".to_owned(),
                    holders: u32::try_from(left).unwrap_or(u32::MAX),
                    slots: sem.slots,
                };
                write_audit(&mut audit, &record)?;
            }
            outcome = sem.lock(id, now);
            holders = sem.holders.len();
            if outcome == LockOutcome::Acquired {
                append_audit(
                    &mut audit,
                    now,
                    AuditAction::Lock,
                    group,
                    id,
                    Actor::Client,
                    &sem,
                )?;
            }
            changed = outcome != LockOutcome::Full || !expired.is_empty();
            if changed {
                write_group(&mut table, group, &sem)?;
            }
        }
        if changed {
            txn.commit().map_err(db_err)?;
        } else {
            txn.abort().map_err(db_err)?;
        }
        Ok((outcome, holders))
    }

    /// Gives back `id`'s slot of `group` if held; durable before it returns. Also
    /// returns the group's holder count afterwards.
    pub fn unlock(
        &self,
        group: &str,
        id: &str,
        now: u64,
        actor: Actor,
    ) -> Result<(UnlockOutcome, usize), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let outcome;
        let holders;
        {
            let mut table = txn.open_table(GROUPS).map_err(db_err)?;
            let mut sem = read_group(&table, group)?
                .ok_or_else(|| StoreError::UnknownGroup(group.to_owned()))?;
            outcome = sem.unlock(id);
            holders = sem.holders.len();
            if outcome == UnlockOutcome::Released {
                write_group(&mut table, group, &sem)?;
                let mut audit = txn.open_table(AUDIT).map_err(db_err)?;
                let action = match actor {
                    Actor::Client => AuditAction::Unlock,
                    Actor::Admin => AuditAction::Release,
                };
                append_audit(&mut audit, now, action, group, id, actor, &sem)?;
            }
        }
        if outcome == UnlockOutcome::Released {
            txn.commit().map_err(db_err)?;
        } else {
            txn.abort().map_err(db_err)?;
        }
        Ok((outcome, holders))
    }

    /// Records a node's graph request in the inventory (not flushed by itself; see
    /// the module documentation).
    pub fn record_node(&self, mut node: NodeRecord) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_durability(redb::Durability::None).map_err(db_err)?;
        {
            let mut table = txn.open_table(NODES).map_err(db_err)?;
            let key = node.node_uuid.clone();
            if let Some(old) = table.get(key.as_str()).map_err(db_err)? {
                let old: NodeRecord = decode(&key, old.value())?;
                node.first_seen = old.first_seen;
                node.history = old.history;
            }
            crate::inventory::note_version(&mut node.history, &node.os_version, node.last_seen);
            let bytes = serde_json::to_vec(&node).expect("a node record serialises");
            table
                .insert(key.as_str(), bytes.as_slice())
                .map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        Ok(())
    }

    /// Records a new rendering of `pool` as its desired config (and as its current one
    /// if it has none yet); unchanged hashes change nothing. Durable.
    pub fn set_desired(&self, pool: &str, config: StoredConfig) -> Result<PoolRecord, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let record;
        {
            let mut table = txn.open_table(POOLS).map_err(db_err)?;
            let mut current: PoolRecord = match table.get(pool).map_err(db_err)? {
                Some(v) => decode(pool, v.value())?,
                None => PoolRecord::default(),
            };
            if current.desired.as_ref().map(|d| &d.hash) != Some(&config.hash) {
                if current.current.is_none() {
                    current.current = Some(config.clone());
                }
                current.desired = Some(config);
                let bytes = serde_json::to_vec(&current).expect("a pool record serialises");
                table.insert(pool, bytes.as_slice()).map_err(db_err)?;
            }
            record = current;
        }
        txn.commit().map_err(db_err)?;
        Ok(record)
    }

    /// The configs of `pool`.
    pub fn pool(&self, pool: &str) -> Result<PoolRecord, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(POOLS).map_err(db_err)?;
        match table.get(pool).map_err(db_err)? {
            Some(v) => decode(pool, v.value()),
            None => Ok(PoolRecord::default()),
        }
    }

    /// Records a node's report; a `Done` report of the pool's desired config makes it
    /// the pool's current one. Durable. Returns the pool's record afterwards.
    pub fn report(&self, report: &NodeReport) -> Result<PoolRecord, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let record;
        {
            let mut reports = txn.open_table(REPORTS).map_err(db_err)?;
            let bytes = serde_json::to_vec(report).expect("a report serialises");
            reports
                .insert(report.node_uuid.as_str(), bytes.as_slice())
                .map_err(db_err)?;
            let mut pools = txn.open_table(POOLS).map_err(db_err)?;
            let mut pool: PoolRecord = match pools.get(report.pool.as_str()).map_err(db_err)? {
                Some(v) => decode(&report.pool, v.value())?,
                None => PoolRecord::default(),
            };
            let applied = report.state == NodeState::Done
                && pool
                    .desired
                    .as_ref()
                    .is_some_and(|d| d.hash == report.config_hash)
                && pool.current != pool.desired;
            if applied {
                pool.current = pool.desired.clone();
                let bytes = serde_json::to_vec(&pool).expect("a pool record serialises");
                pools
                    .insert(report.pool.as_str(), bytes.as_slice())
                    .map_err(db_err)?;
            }
            record = pool;
        }
        txn.commit().map_err(db_err)?;
        Ok(record)
    }

    /// Every node's last report.
    pub fn reports(&self) -> Result<Vec<NodeReport>, StoreError> {
        self.all(REPORTS)
    }

    /// Every record of `table`, decoded, in key order.
    fn all<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<T>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(table).map_err(db_err)?;
        let mut records = Vec::new();
        for row in table.iter().map_err(db_err)? {
            let (key, value) = row.map_err(db_err)?;
            records.push(decode(key.value(), value.value())?);
        }
        Ok(records)
    }

    /// The inventory, by node uuid.
    pub fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        self.all(NODES)
    }

    /// Every group in the store with its semaphore.
    pub fn groups(&self) -> Result<BTreeMap<String, Semaphore>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(GROUPS).map_err(db_err)?;
        let mut groups = BTreeMap::new();
        for row in table.iter().map_err(db_err)? {
            let (key, value) = row.map_err(db_err)?;
            let name = key.value().to_owned();
            let sem = decode(&name, value.value())?;
            groups.insert(name, sem);
        }
        Ok(groups)
    }

    /// Up to `limit` audit records after position `after`, oldest first.
    pub fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(AUDIT).map_err(db_err)?;
        let mut records = Vec::new();
        for row in table
            .range(after.saturating_add(1)..)
            .map_err(db_err)?
            .take(limit)
        {
            let (key, value) = row.map_err(db_err)?;
            records.push(decode(&key.value().to_string(), value.value())?);
        }
        Ok(records)
    }
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        key: key.to_owned(),
        source,
    })
}

fn read_group(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &str,
) -> Result<Option<Semaphore>, StoreError> {
    match table.get(name).map_err(db_err)? {
        Some(value) => Ok(Some(decode(name, value.value())?)),
        None => Ok(None),
    }
}

fn write_group(
    table: &mut redb::Table<'_, &'static str, &'static [u8]>,
    name: &str,
    sem: &Semaphore,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(sem).expect("a semaphore serialises");
    table.insert(name, bytes.as_slice()).map_err(db_err)?;
    Ok(())
}

fn last_seq(table: &impl ReadableTable<u64, &'static [u8]>) -> Result<u64, StoreError> {
    Ok(table
        .last()
        .map_err(db_err)?
        .map_or(0, |(key, _)| key.value()))
}

fn holders_u32(sem: &Semaphore) -> u32 {
    u32::try_from(sem.holders.len()).unwrap_or(u32::MAX)
}

fn write_audit(
    table: &mut redb::Table<'_, u64, &'static [u8]>,
    record: &AuditRecord,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(record).expect("an audit record serialises");
    table.insert(record.seq, bytes.as_slice()).map_err(db_err)?;
    Ok(())
}

fn append_audit(
    table: &mut redb::Table<'_, u64, &'static [u8]>,
    now: u64,
    action: AuditAction,
    group: &str,
    id: &str,
    actor: Actor,
    sem: &Semaphore,
) -> Result<(), StoreError> {
    let record = AuditRecord {
        seq: last_seq(table)? + 1,
        at: now,
        action,
        group: group.to_owned(),
        id: id.to_owned(),
        actor: actor.as_str().to_owned(),
        holders: holders_u32(sem),
        slots: sem.slots,
    };
    write_audit(table, &record)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Makes each `(group, id, now, lease, outcome)` lock request in turn and checks the
    /// outcome of each.
    fn expect_locks(store: &Store, requests: &[(&str, &str, u64, Option<u64>, LockOutcome)]) {
        for (group, id, now, lease, outcome) in requests {
            let got = store.lock(group, id, *now, *lease).unwrap().0;
            assert_eq!(&got, outcome, "lock {group} {id} at {now}");
        }
    }

    #[test]
    fn changes_survive_reopening_and_are_audited() {
        let dir = tempfile::tempdir().unwrap();
        let groups = BTreeMap::from([("default".to_owned(), 1), ("workers".to_owned(), 2)]);
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.apply_slots(&groups, 1).unwrap().len(), 2);
            expect_locks(
                &store,
                &[
                    ("workers", "a", 2, None, LockOutcome::Acquired),
                    ("workers", "a", 3, None, LockOutcome::AlreadyHeld),
                    ("workers", "b", 4, None, LockOutcome::Acquired),
                    ("workers", "c", 5, None, LockOutcome::Full),
                ],
            );
            assert_eq!(
                store.unlock("workers", "b", 6, Actor::Client).unwrap().0,
                UnlockOutcome::Released
            );
            assert_eq!(
                store.unlock("workers", "b", 7, Actor::Client).unwrap().0,
                UnlockOutcome::NotHeld
            );
            assert!(matches!(
                store.lock("nope", "a", 8, None),
                Err(StoreError::UnknownGroup(_))
            ));
        }
        let store = Store::open(dir.path()).unwrap();
        let workers = &store.groups().unwrap()["workers"];
        assert_eq!(workers.holders.len(), 1);
        assert_eq!(
            (workers.holders[0].acquired_at, workers.holders[0].last_seen),
            (2, 3)
        );
        let shrunk = BTreeMap::from([("default".to_owned(), 1), ("workers".to_owned(), 5)]);
        let changes = store.apply_slots(&shrunk, 9).unwrap();
        assert_eq!(
            changes,
            [SlotChange {
                group: "workers".into(),
                before: Some(2),
                after: 5
            }]
        );
        let audit = store.audit(0, 100).unwrap();
        let summary: Vec<String> = audit
            .iter()
            .map(|r| {
                format!(
                    "{}:{:?}:{}:{}:{}",
                    r.seq, r.action, r.group, r.id, r.holders
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                "1:Slots:default::0",
                "2:Slots:workers::0",
                "3:Lock:workers:a:1",
                "4:Lock:workers:b:2",
                "5:Unlock:workers:b:1",
                "6:Slots:workers::1",
            ]
        );
        assert_eq!(store.audit(4, 1).unwrap()[0].seq, 5);
    }

    #[test]
    fn inventory_keeps_first_seen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let node = |version: &str, at| NodeRecord {
            node_uuid: "n1".into(),
            os_version: version.into(),
            os_checksum: String::new(),
            group: "default".into(),
            platform: "metal".into(),
            basearch: "x86_64".into(),
            stream: "stable".into(),
            first_seen: at,
            last_seen: at,
            history: Vec::new(),
        };
        store.record_node(node("41.1", 5)).unwrap();
        store.record_node(node("41.2", 9)).unwrap();
        let nodes = store.nodes().unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(
            (
                nodes[0].os_version.as_str(),
                nodes[0].first_seen,
                nodes[0].last_seen
            ),
            ("41.2", 5, 9)
        );
        let versions: Vec<(u64, &str)> = nodes[0]
            .history
            .iter()
            .map(|s| (s.since, s.version.as_str()))
            .collect();
        assert_eq!(
            versions,
            [(5, "41.1"), (9, "41.2")],
            "each version from its first report"
        );
    }

    #[test]
    fn an_expired_lease_makes_room_and_is_audited() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .apply_slots(&BTreeMap::from([("g".to_owned(), 1)]), 0)
            .unwrap();
        let lease = Some(100);
        expect_locks(
            &store,
            &[
                ("g", "a", 0, lease, LockOutcome::Acquired),
                ("g", "b", 50, lease, LockOutcome::Full),
                ("g", "a", 60, lease, LockOutcome::AlreadyHeld),
                ("g", "b", 159, lease, LockOutcome::Full),
            ],
        );
        assert_eq!(
            store.lock("g", "b", 160, lease).unwrap(),
            (LockOutcome::Acquired, 1)
        );
        let tail: Vec<String> = store
            .audit(1, 10)
            .unwrap()
            .iter()
            .map(|r| format!("{:?}:{}:{}:{}", r.action, r.id, r.actor, r.holders))
            .collect();
        assert_eq!(
            tail,
            ["Lock:a:client:1", "Expire:a:lease:0", "Lock:b:client:1"]
        );
        // Without a lease nobody expires.
        assert_eq!(
            store.lock("g", "c", 1 << 40, None).unwrap().0,
            LockOutcome::Full
        );
    }
}
