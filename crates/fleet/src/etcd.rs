//! The etcd v3 backend of the FleetLock semaphores, for fleets that run several
//! `ferro fleet serve` instances against one etcd cluster.
//!
//! It speaks etcd's v3 API through etcd's JSON gateway (`POST /v3/kv/range`,
//! `/v3/kv/txn`; keys and values base64), which every etcd 3.4+ serves on its client
//! URLs: the same transactions as the gRPC API, with no code generation or `protoc`
//! in the build and the blocking HTTP client the rest of ferrocore uses.
//!
//! **Layout** (documented in `docs/fleet.md`):
//! - `ferro.fleet/v1/groups/<group>`: the group's [`Semaphore`] as JSON (slots and
//!   holders with acquired-at and last-seen) — one key per group, as Airlock has, but
//!   under ferrocore's own prefix so that it never meets Airlock's fixed-shape values;
//! - `ferro.fleet/v1/audit/<group>/<version>-<n>`: the audit records of the change that
//!   made the group key's `<version>`, written in the same transaction. An audit
//!   record's position (`seq`) is the etcd revision of that transaction, which orders
//!   the changes of every group and every server.
//!
//! **Every change is a compare-and-swap** on the group key's version: read, change,
//! `Txn(If Version(key) == v, Then Put(key) + Put(audit…))`. A conflict (another server
//! changed the group in between) is retried here, with a fresh read, until
//! [`CAS_DEADLINE`] — never turned into a refusal as Airlock does. A server sends one
//! swap per group at a time (its other requests for the group wait their turn), so
//! conflicts come only from other servers and retries stay few. Endpoints are tried
//! in order when one cannot be reached, so a dead member is skipped.
//!
//! Slot counts: each server writes its config's counts on start; the last one wins
//! (logged by the server).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::api::{AuditAction, AuditRecord};
use crate::config::EtcdTls;
use crate::semaphore::{LockOutcome, Semaphore, UnlockOutcome};
use crate::store::{Actor, LockStore, SlotChange, StoreError};

/// The key prefix of everything ferrocore keeps in etcd.
pub const PREFIX: &str = "ferro.fleet/v1/";
/// How long a change keeps retrying after conflicts before the request fails (503).
pub const CAS_DEADLINE: Duration = Duration::from_secs(20);

/// An etcd cluster, by its client URLs.
#[derive(Debug)]
pub struct Etcd {
    endpoints: Vec<String>,
    agent: ureq::Agent,
    /// Whether a conflict is refused instead of retried (Airlock's behaviour), for the
    /// benchmark's comparison only.
    refuse_conflicts: bool,
    /// One queue per group: this server sends one compare-and-swap per group at a
    /// time, carrying every change that queued meanwhile, so its own requests never
    /// conflict with each other in etcd; only other servers' changes can make a swap
    /// fail.
    queues: Mutex<BTreeMap<String, Arc<Queue>>>,
}

/// The most changes one transaction carries (etcd allows 128 operations per
/// transaction by default; a change writes at most a few audit records).
pub const MAX_BATCH: usize = 32;

/// A change a request asks of a group's semaphore.
#[derive(Debug)]
enum Change {
    /// `pre-reboot`: take or refresh a slot, after expiring leases.
    Lock { id: String, lease_ms: Option<u64> },
    /// `steady-state` or an admin release.
    Unlock { id: String, actor: Actor },
}

/// What a change did.
#[derive(Debug, Clone, Copy)]
enum Done {
    Lock(LockOutcome),
    Unlock(UnlockOutcome),
}

/// A queued change and, once its transaction committed (or failed), its result: the
/// outcome and the group's holders right after it.
#[derive(Debug)]
struct Job {
    change: Change,
    now: u64,
    result: Mutex<Option<JobResult>>,
}

/// A queued change's result: what it did and the holders after it, or the failure
/// of its transaction.
type JobResult = Result<(Done, usize), Arc<StoreError>>;

/// The changes waiting for one group, the turn to send them, and the semaphore and
/// key version the last transaction left (so that the next one needs no read: if
/// another server changed the group meanwhile, the failed swap returns its value).
#[derive(Debug, Default)]
struct Queue {
    jobs: Mutex<Vec<Arc<Job>>>,
    turn: Mutex<()>,
    known: Mutex<Option<(Semaphore, i64)>>,
}

/// A failure shared by every change of one transaction.
#[derive(Debug, thiserror::Error)]
#[error("the transaction carrying this change failed")]
struct Shared(#[source] Arc<StoreError>);

/// Locks `mutex`, whose data stays consistent even if a holder panicked.
fn guard<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Applies `change` to `sem` at `now`; what it did, whether `sem` changed, and the
/// audit records.
fn apply(
    sem: &mut Semaphore,
    group: &str,
    change: &Change,
    now: u64,
) -> (Done, bool, Vec<AuditRecord>) {
    let mut records = Vec::new();
    match change {
        Change::Lock { id, lease_ms } => {
            let expired = lease_ms.map_or_else(Vec::new, |lease| sem.expire(now, lease));
            let mut left = sem.holders.len() + expired.len();
            for holder in &expired {
                left -= 1;
                records.push(record(
                    now,
                    AuditAction::Expire,
                    group,
                    &holder.id,
                    "lease",
                    left,
                    sem.slots,
                ));
            }
            let outcome = sem.lock(id, now);
            if outcome == LockOutcome::Acquired {
                records.push(record(
                    now,
                    AuditAction::Lock,
                    group,
                    id,
                    "client",
                    sem.holders.len(),
                    sem.slots,
                ));
            }
            // A holder's repeated lock changes its last-seen time: written too.
            let changed = outcome != LockOutcome::Full || !records.is_empty();
            (Done::Lock(outcome), changed, records)
        }
        Change::Unlock { id, actor } => {
            let outcome = sem.unlock(id);
            if outcome == UnlockOutcome::Released {
                let (action, who) = match actor {
                    Actor::Client => (AuditAction::Unlock, "client"),
                    Actor::Admin => (AuditAction::Release, "admin"),
                };
                records.push(record(
                    now,
                    action,
                    group,
                    id,
                    who,
                    sem.holders.len(),
                    sem.slots,
                ));
            }
            (
                Done::Unlock(outcome),
                outcome == UnlockOutcome::Released,
                records,
            )
        }
    }
}

/// What etcd said, or why it could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// No endpoint could be reached.
    #[error("no etcd endpoint answered ({})", endpoints.join(", "))]
    Unreachable {
        /// The endpoints tried.
        endpoints: Vec<String>,
        /// The last failure.
        #[source]
        source: ureq::Error,
    },
    /// etcd answered with an error.
    #[error("etcd answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The body.
        body: String,
    },
    /// etcd's answer did not decode.
    #[error("etcd's answer does not decode: {0}")]
    Decode(String),
    /// A certificate or key for etcd could not be read or used.
    #[error("could not use '{}' for TLS to etcd", path.display())]
    Tls {
        /// The file (the client certificate, or the CA).
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: ureq::Error,
    },
    /// Other servers kept changing the group until the deadline.
    #[error("the group kept changing under concurrent updates for {0:?}")]
    Contended(Duration),
}

fn key_b64(key: &str) -> String {
    B64.encode(key.as_bytes())
}

fn group_key(group: &str) -> String {
    format!("{PREFIX}groups/{group}")
}

/// One key as etcd returns it.
struct Kv {
    key: String,
    value: Vec<u8>,
    version: i64,
    create_revision: i64,
}

fn int(value: &Value) -> i64 {
    match value {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn decode_kvs(answer: &Value) -> Result<Vec<Kv>, EtcdError> {
    let mut kvs = Vec::new();
    for kv in answer["kvs"].as_array().into_iter().flatten() {
        let field = |name: &str| -> Result<Vec<u8>, EtcdError> {
            B64.decode(kv[name].as_str().unwrap_or(""))
                .map_err(|e| EtcdError::Decode(e.to_string()))
        };
        kvs.push(Kv {
            key: String::from_utf8_lossy(&field("key")?).into_owned(),
            value: field("value")?,
            version: int(&kv["version"]),
            create_revision: int(&kv["create_revision"]),
        });
    }
    Ok(kvs)
}

impl Etcd {
    /// A client of the cluster at `endpoints` (client URLs such as
    /// `http://127.0.0.1:2379`), with `tls`'s CA and client certificate for `https://`
    /// endpoints (read now, so a bad file stops the server at start).
    pub fn new(endpoints: Vec<String>, tls: Option<&EtcdTls>) -> Result<Etcd, EtcdError> {
        let mut config =
            ferro_sys::http::agent_config(concat!("ferro-fleet/", env!("CARGO_PKG_VERSION")))
                .timeout_global(Some(Duration::from_secs(5)))
                .timeout_connect(Some(Duration::from_secs(2)));
        if let Some(tls) = tls {
            let read = |path: &std::path::Path| {
                std::fs::read(path).map_err(|e| EtcdError::Tls {
                    path: path.to_owned(),
                    source: ureq::Error::Io(e),
                })
            };
            let ca = tls.ca.as_deref().map(read).transpose()?;
            let client = match &tls.client {
                Some((cert, key)) => Some((read(cert)?, read(key)?)),
                None => None,
            };
            let tls_config = crate::client::tls_config(
                ca.as_deref(),
                client.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice())),
            )
            .map_err(|source| EtcdError::Tls {
                path: tls
                    .client
                    .as_ref()
                    .map(|(cert, _)| cert.clone())
                    .or_else(|| tls.ca.clone())
                    .unwrap_or_default(),
                source,
            })?;
            config = config.tls_config(tls_config);
        }
        let agent = config.build().new_agent();
        Ok(Etcd {
            endpoints: endpoints
                .into_iter()
                .map(|e| e.trim_end_matches('/').to_owned())
                .collect(),
            agent,
            refuse_conflicts: false,
            queues: Mutex::new(BTreeMap::new()),
        })
    }

    /// Refuses conflicts instead of retrying them, as Airlock does (for comparisons).
    pub fn refusing_conflicts(mut self) -> Etcd {
        self.refuse_conflicts = true;
        self
    }

    /// POSTs `body` to `path` on the first endpoint that answers.
    fn call(&self, path: &str, body: &Value) -> Result<Value, EtcdError> {
        let text = body.to_string();
        let mut last = None;
        for endpoint in &self.endpoints {
            let url = format!("{endpoint}{path}");
            match self
                .agent
                .post(&url)
                .content_type("application/json")
                .send(text.as_str())
            {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let answer = response
                        .body_mut()
                        .read_to_string()
                        .map_err(|e| EtcdError::Decode(e.to_string()))?;
                    if status == 503 || status == 500 && answer.contains("leader") {
                        // A member without quorum or leader: another may have one.
                        last = Some(ureq::Error::StatusCode(status));
                        continue;
                    }
                    if status != 200 {
                        return Err(EtcdError::Status {
                            status,
                            body: answer,
                        });
                    }
                    return serde_json::from_str(&answer)
                        .map_err(|e| EtcdError::Decode(e.to_string()));
                }
                Err(error) => last = Some(error),
            }
        }
        Err(EtcdError::Unreachable {
            endpoints: self.endpoints.clone(),
            source: last.unwrap_or(ureq::Error::ConnectionFailed),
        })
    }

    fn range(&self, key: &str, prefix: bool) -> Result<Vec<Kv>, EtcdError> {
        let mut body = json!({ "key": key_b64(key) });
        if prefix {
            // The range end of a prefix: the prefix with its last byte incremented.
            let mut end = key.as_bytes().to_vec();
            if let Some(last) = end.last_mut() {
                *last += 1;
            }
            body["range_end"] = Value::String(B64.encode(end));
        }
        decode_kvs(&self.call("/v3/kv/range", &body)?)
    }

    /// Reads a group's semaphore and the key's version (0: no key).
    fn read_group(&self, group: &str) -> Result<(Option<Semaphore>, i64), StoreError> {
        let kvs = self.range(&group_key(group), false).map_err(etcd_err)?;
        match kvs.first() {
            None => Ok((None, 0)),
            Some(kv) => {
                let sem =
                    serde_json::from_slice(&kv.value).map_err(|source| StoreError::Corrupt {
                        key: kv.key.clone(),
                        source,
                    })?;
                Ok((Some(sem), kv.version))
            }
        }
    }

    /// If the group key is still at `version`, writes `write`'s semaphore and audit
    /// records (or, with `None`, only confirms the version); otherwise answers the
    /// key's current value and version, read in the same transaction — one round
    /// trip either way.
    fn swap(
        &self,
        group: &str,
        version: i64,
        write: Option<(&Semaphore, &[AuditRecord])>,
    ) -> Result<Swapped, StoreError> {
        let key = group_key(group);
        let mut puts = Vec::new();
        if let Some((sem, records)) = write {
            puts.push(json!({ "request_put": {
                "key": key_b64(&key),
                "value": B64.encode(serde_json::to_vec(sem).expect("a semaphore serialises")),
            }}));
            for (n, record) in records.iter().enumerate() {
                let audit_key = format!("{PREFIX}audit/{group}/{:020}-{n}", version + 1);
                puts.push(json!({ "request_put": {
                    "key": key_b64(&audit_key),
                    "value": B64.encode(serde_json::to_vec(record).expect("a record serialises")),
                }}));
            }
        }
        let body = json!({
            "compare": [{
                "key": key_b64(&key),
                "target": "VERSION",
                "result": "EQUAL",
                "version": version.to_string(),
            }],
            "success": puts,
            "failure": [{ "request_range": { "key": key_b64(&key) } }],
        });
        let answer = self.call("/v3/kv/txn", &body).map_err(etcd_err)?;
        if answer["succeeded"].as_bool().unwrap_or(false) {
            return Ok(Swapped::Done(if write.is_some() {
                version + 1
            } else {
                version
            }));
        }
        let kvs = decode_kvs(&answer["responses"][0]["response_range"]).map_err(etcd_err)?;
        match kvs.first() {
            None => Ok(Swapped::Conflict(None, 0)),
            Some(kv) => {
                let sem =
                    serde_json::from_slice(&kv.value).map_err(|source| StoreError::Corrupt {
                        key: kv.key.clone(),
                        source,
                    })?;
                Ok(Swapped::Conflict(Some(sem), kv.version))
            }
        }
    }

    /// Applies `change` to `group`'s semaphore in a transaction, with the other
    /// changes this server queued for the group meanwhile (in arrival order; each
    /// sees the ones before it). Airlock's way (`refuse_conflicts`, for comparisons)
    /// queues nothing: every request makes its own swap and loses on a conflict.
    fn submit(&self, group: &str, change: Change, now: u64) -> Result<(Done, usize), StoreError> {
        if self.refuse_conflicts {
            // As Airlock does: read, then swap.
            let (done, sem, _) = self.update(group, None, |sem| {
                let (done, changed, records) = apply(sem, group, &change, now);
                (done, changed.then_some(records))
            })?;
            return Ok((done, sem.holders.len()));
        }
        let queue = Arc::clone(guard(&self.queues).entry(group.to_owned()).or_default());
        let job = Arc::new(Job {
            change,
            now,
            result: Mutex::new(None),
        });
        guard(&queue.jobs).push(Arc::clone(&job));
        let _turn = guard(&queue.turn);
        // Whoever has the turn sends what is queued, until its own change is done;
        // a change someone else sent is answered here.
        loop {
            if let Some(result) = guard(&job.result).take() {
                return result.map_err(|e| StoreError::Etcd(Box::new(Shared(e))));
            }
            let batch: Vec<Arc<Job>> = {
                let mut jobs = guard(&queue.jobs);
                let n = jobs.len().min(MAX_BATCH);
                jobs.drain(..n).collect()
            };
            let known = guard(&queue.known).take();
            let sent = self.update(group, known, |sem| {
                let mut done = Vec::with_capacity(batch.len());
                let (mut changed, mut records) = (false, Vec::new());
                for job in &batch {
                    let (outcome, job_changed, job_records) =
                        apply(sem, group, &job.change, job.now);
                    done.push((outcome, sem.holders.len()));
                    changed |= job_changed;
                    records.extend(job_records);
                }
                (done, changed.then_some(records))
            });
            match sent {
                Ok((done, sem, version)) => {
                    *guard(&queue.known) = Some((sem, version));
                    for (job, result) in batch.iter().zip(done) {
                        *guard(&job.result) = Some(Ok(result));
                    }
                }
                Err(error) => {
                    let error = Arc::new(error);
                    for job in &batch {
                        *guard(&job.result) = Some(Err(Arc::clone(&error)));
                    }
                }
            }
        }
    }

    /// Runs `change` on the group's semaphore until its compare-and-swap succeeds,
    /// starting from `known` (the semaphore and key version this server last saw) or
    /// a fresh read. `change` returns the records to audit, or `None` when nothing
    /// changes — which is still checked against etcd's version, so that no answer
    /// rests on a stale copy. Returns the outcome, the semaphore and its version.
    fn update<T>(
        &self,
        group: &str,
        known: Option<(Semaphore, i64)>,
        mut change: impl FnMut(&mut Semaphore) -> (T, Option<Vec<AuditRecord>>),
    ) -> Result<(T, Semaphore, i64), StoreError> {
        let start = Instant::now();
        let mut attempt = 0u32;
        let (mut current, mut version) = match known {
            Some(known) => known,
            None => {
                let (sem, version) = self.read_group(group)?;
                (
                    sem.ok_or_else(|| StoreError::UnknownGroup(group.to_owned()))?,
                    version,
                )
            }
        };
        loop {
            let mut sem = current.clone();
            let (outcome, records) = change(&mut sem);
            let write = records.as_deref().map(|records| (&sem, records));
            let (fresh, fresh_version) = match self.swap(group, version, write)? {
                Swapped::Done(version) => {
                    let sem = if records.is_some() { sem } else { current };
                    return Ok((outcome, sem, version));
                }
                Swapped::Conflict(fresh, version) => (fresh, version),
            };
            current = fresh.ok_or_else(|| StoreError::UnknownGroup(group.to_owned()))?;
            version = fresh_version;
            if self.refuse_conflicts && records.is_some() {
                return Err(StoreError::Conflict);
            }
            if start.elapsed() > CAS_DEADLINE {
                return Err(etcd_err(EtcdError::Contended(CAS_DEADLINE)));
            }
            // A conflict means another server just committed: retry at once the first
            // times, then spread the retries a little (up to ~16 ms) so that many
            // servers contending for one key do not retry in lockstep.
            attempt += 1;
            if attempt > 2 {
                let spread = u64::from(start.elapsed().subsec_nanos() % 16_000);
                std::thread::sleep(Duration::from_micros(spread));
            }
        }
    }
}

/// What a compare-and-swap found.
#[derive(Debug)]
enum Swapped {
    /// The key was at the expected version (and is now at this one).
    Done(i64),
    /// Another change came first: the key's current semaphore (`None`: no key) and
    /// version.
    Conflict(Option<Semaphore>, i64),
}

fn etcd_err(error: EtcdError) -> StoreError {
    StoreError::Etcd(Box::new(error))
}

fn record(
    now: u64,
    action: AuditAction,
    group: &str,
    id: &str,
    actor: &str,
    holders: usize,
    slots: u32,
) -> AuditRecord {
    AuditRecord {
        seq: 0,
        at: now,
        action,
        group: group.to_owned(),
        id: id.to_owned(),
        actor: actor.to_owned(),
        holders: u32::try_from(holders).unwrap_or(u32::MAX),
        slots,
    }
}

impl LockStore for Etcd {
    fn describe(&self) -> String {
        format!("etcd {}", self.endpoints.join(","))
    }

    fn apply_slots(
        &self,
        groups: &BTreeMap<String, u32>,
        now: u64,
    ) -> Result<Vec<SlotChange>, StoreError> {
        let mut changes = Vec::new();
        for (name, &slots) in groups {
            let start = Instant::now();
            loop {
                let (sem, version) = self.read_group(name)?;
                let before = sem.as_ref().map(|s| s.slots);
                if before == Some(slots) {
                    break;
                }
                let mut sem = sem.unwrap_or_else(|| Semaphore::new(slots));
                sem.slots = slots;
                let audit = record(
                    now,
                    AuditAction::Slots,
                    name,
                    "",
                    "config",
                    sem.holders.len(),
                    slots,
                );
                if let Swapped::Done(_) = self.swap(name, version, Some((&sem, &[audit])))? {
                    changes.push(SlotChange {
                        group: name.clone(),
                        before,
                        after: slots,
                    });
                    break;
                }
                if start.elapsed() > CAS_DEADLINE {
                    return Err(etcd_err(EtcdError::Contended(CAS_DEADLINE)));
                }
            }
        }
        Ok(changes)
    }

    fn lock(
        &self,
        group: &str,
        id: &str,
        now: u64,
        lease_ms: Option<u64>,
    ) -> Result<(LockOutcome, usize), StoreError> {
        let change = Change::Lock {
            id: id.to_owned(),
            lease_ms,
        };
        match self.submit(group, change, now)? {
            (Done::Lock(outcome), holders) => Ok((outcome, holders)),
            (Done::Unlock(_), _) => unreachable!("a lock change answers a lock outcome"),
        }
    }

    fn unlock(
        &self,
        group: &str,
        id: &str,
        now: u64,
        actor: Actor,
    ) -> Result<(UnlockOutcome, usize), StoreError> {
        let change = Change::Unlock {
            id: id.to_owned(),
            actor,
        };
        match self.submit(group, change, now)? {
            (Done::Unlock(outcome), holders) => Ok((outcome, holders)),
            (Done::Lock(_), _) => unreachable!("an unlock change answers an unlock outcome"),
        }
    }

    fn groups(&self) -> Result<BTreeMap<String, Semaphore>, StoreError> {
        let prefix = format!("{PREFIX}groups/");
        let mut groups = BTreeMap::new();
        for kv in self.range(&prefix, true).map_err(etcd_err)? {
            let name = kv.key[prefix.len()..].to_owned();
            let sem = serde_json::from_slice(&kv.value).map_err(|source| StoreError::Corrupt {
                key: kv.key.clone(),
                source,
            })?;
            groups.insert(name, sem);
        }
        Ok(groups)
    }

    fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let mut records = Vec::new();
        for kv in self
            .range(&format!("{PREFIX}audit/"), true)
            .map_err(etcd_err)?
        {
            let mut record: AuditRecord =
                serde_json::from_slice(&kv.value).map_err(|source| StoreError::Corrupt {
                    key: kv.key.clone(),
                    source,
                })?;
            // The transaction's revision orders every change of every group; records
            // of one transaction share it and keep their written order (`-<n>`).
            let n: u64 = kv
                .key
                .rsplit('-')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            record.seq = u64::try_from(kv.create_revision).unwrap_or(0) * 1000 + n;
            if record.seq > after {
                records.push(record);
            }
        }
        records.sort_by_key(|r| r.seq);
        records.truncate(limit);
        Ok(records)
    }
}
