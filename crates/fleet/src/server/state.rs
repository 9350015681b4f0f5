//! What every route shares: the server's state, the answer type, the store runners
//! (store work runs on tokio's blocking pool) and the token checks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};

use super::assets::Asset;
use super::metrics::Metrics;
use crate::config::Config;
use crate::protocol::{ErrorKind, MAX_BODY_BYTES, ProtocolError};
use crate::store::{LockStore, Store, StoreError};
use crate::time::now_ms;

/// The state every request sees.
#[derive(Debug)]
pub(super) struct AppState {
    pub(super) config: Config,
    /// Whether the listener speaks HTTPS (then every request may carry a token).
    pub(super) https: bool,
    /// The embedded store: inventory and pools, and the locks unless etcd has them.
    pub(super) store: Arc<Store>,
    /// Where the semaphores live.
    pub(super) locks: Arc<dyn LockStore>,
    /// Whether the config's slot counts are in the lock store (etcd may have been
    /// unreachable at start).
    pub(super) slots_applied: std::sync::atomic::AtomicBool,
    pub(super) metrics: Metrics,
    /// Per pool: the fragments' fingerprint when last rendered, and the last
    /// rendering error (the previous config stays served).
    pub(super) pool_cache: std::sync::Mutex<BTreeMap<String, PoolCache>>,
}

/// What the server remembers of a pool's last rendering.
#[derive(Debug, Default, Clone)]
pub(super) struct PoolCache {
    /// The fragments' paths, sizes and modification times when last rendered.
    pub(super) fingerprint: Option<Vec<(std::path::PathBuf, u64, i128)>>,
    /// Why the last rendering failed (the previous config stays served).
    pub(super) error: Option<String>,
}

/// How a request reached the server: what decides whether it may carry a token.
#[derive(Debug, Clone, Copy)]
pub(super) struct Transport {
    /// Whether the connection is HTTPS.
    pub(super) https: bool,
    /// The peer's address (plain listeners record it).
    pub(super) peer: Option<SocketAddr>,
}

impl Transport {
    /// Whether a token may travel on this connection: over HTTPS, or over plain HTTP
    /// from a loopback address (the token then never crossed a network). A token
    /// sent in clear from elsewhere is refused even when it is valid, so that no
    /// setup that leaks tokens can be made to work.
    pub(super) fn may_carry_tokens(self) -> bool {
        self.https
            || self
                .peer
                .is_some_and(|peer| peer.ip().to_canonical().is_loopback())
    }
}

/// An answer before it is counted and sent.
pub(super) enum Answer {
    /// 200 with a body of this content type.
    Ok(&'static str, String),
    /// A protocol error.
    Err(ProtocolError),
    /// A status with an empty body, as the Machine Config Server answers errors.
    Empty(StatusCode),
    /// A rendered pool config and its hash (sent as the ETag).
    Config { json: String, hash: String },
    /// A file of the dashboard.
    Asset(&'static Asset),
}

impl From<ProtocolError> for Answer {
    fn from(e: ProtocolError) -> Self {
        Answer::Err(e)
    }
}

/// Reads a body of at most [`MAX_BODY_BYTES`].
pub(super) async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ProtocolError> {
    let too_large = || {
        ProtocolError::new(
            ErrorKind::RequestTooLarge,
            format!("request body over {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    // The only way reading a length-capped body fails short of a broken
    // connection is the cap; either way there is no request to answer.
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    Ok(bytes.to_vec())
}

/// The answer to a failed store operation (nothing was changed).
pub(super) fn store_error(error: StoreError) -> ProtocolError {
    if let StoreError::Conflict = error {
        tracing::debug!("lock conflict refused (conflicts = \"refuse\")");
        return ProtocolError::new(ErrorKind::FailedLockConflict, error.to_string());
    }
    tracing::error!(error = %error_chain(&error), "store operation failed");
    ProtocolError::new(
        ErrorKind::StoreUnavailable,
        format!(
            "the store failed; nothing was changed: {}",
            error_chain(&error)
        ),
    )
}

pub(super) use ferro_sys::error_chain;

/// Runs a lock-store operation on the blocking pool, first applying the config's slot
/// counts if that could not be done at start.
pub(super) async fn blocking_locks<T: Send + 'static>(
    state: &Arc<AppState>,
    op: impl FnOnce(&dyn LockStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ProtocolError> {
    use std::sync::atomic::Ordering;
    let locks = Arc::clone(&state.locks);
    let pending =
        (!state.slots_applied.load(Ordering::Acquire)).then(|| state.config.lock.groups.clone());
    let result = tokio::task::spawn_blocking(move || {
        if let Some(groups) = &pending {
            for change in locks.apply_slots(groups, now_ms())? {
                tracing::info!(group = %change.group, before = ?change.before, after = change.after, "slot count applied");
            }
        }
        op(locks.as_ref()).map(|value| (value, pending.is_some()))
    })
    .await;
    match result {
        Ok(Ok((value, applied_now))) => {
            if applied_now {
                state.slots_applied.store(true, Ordering::Release);
            }
            Ok(value)
        }
        Ok(Err(e)) => Err(store_error(e)),
        Err(join) => Err(ProtocolError::new(
            ErrorKind::InternalError,
            format!("store task failed: {join}"),
        )),
    }
}

/// Runs a store operation on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    op: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ProtocolError> {
    let store = Arc::clone(&state.store);
    match tokio::task::spawn_blocking(move || op(&store)).await {
        Ok(result) => result.map_err(store_error),
        Err(join) => Err(ProtocolError::new(
            ErrorKind::InternalError,
            format!("store task failed: {join}"),
        )),
    }
}

/// Checks `Authorization: Bearer <one of admin_tokens>` for an admin route.
pub(super) fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    transport: Transport,
) -> Result<(), ProtocolError> {
    if state.config.admin_tokens.is_empty() {
        return Err(ProtocolError::new(
            ErrorKind::AdminDisabled,
            "the admin API is disabled: the server's config has no admin_tokens",
        ));
    }
    match check_token(&state.config.admin_tokens, headers, transport) {
        TokenCheck::Valid => Ok(()),
        TokenCheck::InClear => Err(in_clear()),
        TokenCheck::Missing => Err(ProtocolError::new(
            ErrorKind::Unauthorized,
            "an admin token is required (Authorization: Bearer …)",
        )),
    }
}

/// The refusal of a token sent over plain HTTP from another machine.
pub(super) fn in_clear() -> ProtocolError {
    ProtocolError::new(
        ErrorKind::InsecureTransport,
        "tokens are refused over plain HTTP except from a loopback address: give the server tls_cert and tls_key",
    )
}

/// What a request's token is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenCheck {
    /// One of the tokens, on a connection that may carry it.
    Valid,
    /// A token (valid or not) over plain HTTP from another machine: refused, and
    /// logged, since it has crossed a network in clear text.
    InClear,
    /// No token, or not one of them.
    Missing,
}

/// Checks `Authorization: Bearer <one of tokens>` on a request that came over
/// `transport`.
pub(super) fn check_token(
    tokens: &[String],
    headers: &HeaderMap,
    transport: Transport,
) -> TokenCheck {
    let Some(offered) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return TokenCheck::Missing;
    };
    if !transport.may_carry_tokens() {
        tracing::warn!(peer = ?transport.peer, "a token came over plain HTTP from another machine; refused (it should be considered leaked)");
        return TokenCheck::InClear;
    }
    // Compare every token in full, so the time taken says nothing about how much of
    // a token matched.
    let valid = tokens.iter().fold(false, |found, token| {
        found | same_bytes(token.as_bytes(), offered.as_bytes())
    });
    if valid {
        TokenCheck::Valid
    } else {
        TokenCheck::Missing
    }
}

/// Equality whose time depends on the lengths only.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A 200 answer with `value` as JSON.
pub(super) fn json(value: &impl serde::Serialize) -> Answer {
    Answer::Ok(
        "application/json",
        serde_json::to_string(value).expect("API documents serialise"),
    )
}
