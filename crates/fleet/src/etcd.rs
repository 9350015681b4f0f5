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
//! [`CAS_DEADLINE`] — never turned into a refusal as Airlock does. Endpoints are tried
//! in order when one cannot be reached, so a dead member is skipped.
//!
//! Slot counts: each server writes its config's counts on start; the last one wins
//! (logged by the server).

use std::collections::BTreeMap;
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

    /// Writes `sem` and `records` if the group key is still at `version`; `false` on a
    /// conflict.
    fn swap(
        &self,
        group: &str,
        version: i64,
        sem: &Semaphore,
        records: &[AuditRecord],
    ) -> Result<bool, StoreError> {
        let key = group_key(group);
        let mut puts = vec![json!({ "request_put": {
            "key": key_b64(&key),
            "value": B64.encode(serde_json::to_vec(sem).expect("a semaphore serialises")),
        }})];
        for (n, record) in records.iter().enumerate() {
            let audit_key = format!("{PREFIX}audit/{group}/{:020}-{n}", version + 1);
            puts.push(json!({ "request_put": {
                "key": key_b64(&audit_key),
                "value": B64.encode(serde_json::to_vec(record).expect("a record serialises")),
            }}));
        }
        let body = json!({
            "compare": [{
                "key": key_b64(&key),
                "target": "VERSION",
                "result": "EQUAL",
                "version": version.to_string(),
            }],
            "success": puts,
        });
        let answer = self.call("/v3/kv/txn", &body).map_err(etcd_err)?;
        Ok(answer["succeeded"].as_bool().unwrap_or(false))
    }

    /// Runs `change` on the group's semaphore until its compare-and-swap succeeds.
    /// `change` returns the records to audit, or `None` when nothing changes.
    fn update<T>(
        &self,
        group: &str,
        mut change: impl FnMut(&mut Semaphore) -> (T, Option<Vec<AuditRecord>>),
    ) -> Result<(T, Semaphore), StoreError> {
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            let (sem, version) = self.read_group(group)?;
            let mut sem = sem.ok_or_else(|| StoreError::UnknownGroup(group.to_owned()))?;
            let (outcome, records) = change(&mut sem);
            let Some(records) = records else {
                return Ok((outcome, sem));
            };
            if self.swap(group, version, &sem, &records)? {
                return Ok((outcome, sem));
            }
            if self.refuse_conflicts {
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
                if self.swap(name, version, &sem, &[audit])? {
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
        let (outcome, sem) = self.update(group, |sem| {
            let expired = lease_ms.map_or_else(Vec::new, |lease| sem.expire(now, lease));
            let mut records = Vec::new();
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
            let changed = outcome != LockOutcome::Full || !records.is_empty();
            (outcome, changed.then_some(records))
        })?;
        Ok((outcome, sem.holders.len()))
    }

    fn unlock(
        &self,
        group: &str,
        id: &str,
        now: u64,
        actor: Actor,
    ) -> Result<(UnlockOutcome, usize), StoreError> {
        let (outcome, sem) = self.update(group, |sem| {
            let outcome = sem.unlock(id);
            let records = (outcome == UnlockOutcome::Released).then(|| {
                let (action, who) = match actor {
                    Actor::Client => (AuditAction::Unlock, "client"),
                    Actor::Admin => (AuditAction::Release, "admin"),
                };
                vec![record(
                    now,
                    action,
                    group,
                    id,
                    who,
                    sem.holders.len(),
                    sem.slots,
                )]
            });
            (outcome, records)
        })?;
        Ok((outcome, sem.holders.len()))
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
