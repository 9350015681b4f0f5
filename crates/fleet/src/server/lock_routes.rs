//! FleetLock (`pre-reboot`, `steady-state`) and the admin API over the lock store:
//! holders, releases, the audit log.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Uri};

use super::state::{Answer, AppState, blocking_locks, json, read_body};
use crate::api::{Audit, GroupStatus, Locks, ReleaseRequest, ReleaseResult};
use crate::protocol::{self, ErrorKind, Operation, PROTOCOL_HEADER, ProtocolError};
use crate::semaphore::{LockOutcome, UnlockOutcome};
use crate::store::Actor;
use crate::time::now_ms;

fn unknown_group(group: &str) -> ProtocolError {
    ProtocolError::new(
        ErrorKind::UnknownGroup,
        format!("unknown group \"{group}\""),
    )
}

/// `POST …/v1/pre-reboot` and `POST …/v1/steady-state`.
pub(super) async fn fleetlock(
    state: &Arc<AppState>,
    op: Operation,
    headers: &HeaderMap,
    body: Body,
) -> Result<Answer, ProtocolError> {
    protocol::check_header(headers.get(PROTOCOL_HEADER).map(HeaderValue::as_bytes))?;
    let params = protocol::parse_body(&read_body(headers, body).await?)?;
    let Some(&slots) = state.config.lock.groups.get(&params.group) else {
        return Err(unknown_group(&params.group));
    };
    let (group, id) = (params.group, params.id);
    let now = now_ms();
    match op {
        Operation::PreReboot => {
            let (g, i) = (group.clone(), id.clone());
            let lease = state
                .config
                .lock
                .lease_seconds
                .map(|s| s.saturating_mul(1000));
            let (outcome, holders) =
                blocking_locks(state, move |s| s.lock(&g, &i, now, lease)).await?;
            state.metrics.set_holders(&group, holders);
            match outcome {
                LockOutcome::Acquired => {
                    tracing::info!(%group, %id, holders, slots, "slot taken");
                }
                LockOutcome::AlreadyHeld => {
                    tracing::debug!(%group, %id, "slot already held");
                }
                LockOutcome::Full => {
                    tracing::debug!(%group, %id, holders, slots, "group full");
                    return Err(ProtocolError::new(
                        ErrorKind::FailedLockSemaphoreFull,
                        format!("all {slots} semaphore slots of group \"{group}\" are locked"),
                    ));
                }
            }
        }
        Operation::SteadyState => {
            let (g, i) = (group.clone(), id.clone());
            let (outcome, holders) =
                blocking_locks(state, move |s| s.unlock(&g, &i, now, Actor::Client)).await?;
            state.metrics.set_holders(&group, holders);
            if outcome == UnlockOutcome::Released {
                tracing::info!(%group, %id, holders, "slot given back");
            }
        }
    }
    Ok(Answer::Ok("text/plain; charset=utf-8", String::new()))
}

/// `GET /metrics`: the holders and slots of each group are read from the lock store
/// first, so that with etcd they include the changes other servers made (a store
/// that cannot be read leaves the last values).
pub(super) async fn metrics(state: &Arc<AppState>) -> Answer {
    if let Ok(stored) = blocking_locks(state, |s| s.groups()).await {
        for (name, &slots) in &state.config.lock.groups {
            let holders = stored.get(name).map_or(0, |s| s.holders.len());
            state.metrics.set_group(name, slots, holders);
        }
    }
    Answer::Ok(
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        state.metrics.render(),
    )
}

/// `GET /v1/locks`: every configured group with its holders.
pub(super) async fn locks(state: &Arc<AppState>) -> Result<Answer, ProtocolError> {
    let stored = blocking_locks(state, |s| s.groups()).await?;
    let groups = state
        .config
        .lock
        .groups
        .iter()
        .map(|(name, &slots)| GroupStatus {
            name: name.clone(),
            slots,
            holders: stored
                .get(name)
                .map(|s| s.holders.clone())
                .unwrap_or_default(),
            lease_seconds: state.config.lock.lease_seconds,
        })
        .collect();
    Ok(json(&Locks::new(groups)))
}

/// `POST /v1/admin/release`: frees a holder's slot (audited, actor `admin`).
pub(super) async fn release(state: &Arc<AppState>, body: Body) -> Result<Answer, ProtocolError> {
    let bytes = read_body(&HeaderMap::new(), body).await?;
    let request: ReleaseRequest = serde_json::from_slice(&bytes).map_err(|e| {
        ProtocolError::new(
            ErrorKind::FailedDecodingRequest,
            format!("expected {{\"group\",\"id\"}}: {e}"),
        )
    })?;
    protocol::validate_id(&request.id)?;
    protocol::validate_group(&request.group)?;
    if !state.config.lock.groups.contains_key(&request.group) {
        return Err(unknown_group(&request.group));
    }
    let ReleaseRequest { group, id } = request;
    let (g, i) = (group.clone(), id.clone());
    let now = now_ms();
    let (outcome, holders) =
        blocking_locks(state, move |s| s.unlock(&g, &i, now, Actor::Admin)).await?;
    state.metrics.set_holders(&group, holders);
    if outcome == UnlockOutcome::NotHeld {
        return Err(ProtocolError::new(
            ErrorKind::NotFound,
            format!("\"{id}\" holds no slot of group \"{group}\""),
        ));
    }
    tracing::warn!(%group, %id, holders, "slot released by an admin");
    Ok(json(&ReleaseResult {
        released: true,
        holders,
    }))
}

/// `GET /v1/audit?after=N&limit=M`.
pub(super) async fn audit(state: &Arc<AppState>, uri: &Uri) -> Result<Answer, ProtocolError> {
    let mut after = 0u64;
    let mut limit = 1000usize;
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = || {
            ProtocolError::new(
                ErrorKind::FailedDecodingRequest,
                format!("bad query parameter '{pair}'"),
            )
        };
        match key {
            "after" => after = value.parse().map_err(|_| bad())?,
            "limit" => limit = value.parse::<usize>().map_err(|_| bad())?.min(10_000),
            _ => return Err(bad()),
        }
    }
    let records = blocking_locks(state, move |s| s.audit(after, limit)).await?;
    Ok(json(&Audit::new(records)))
}
