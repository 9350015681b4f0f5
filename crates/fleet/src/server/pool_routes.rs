//! The pool config server: `GET|HEAD /config/<pool>` as the Machine Config Server
//! serves it, node reports, and the admin view `GET /v1/pools`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri, header};

use super::state::{
    Answer, AppState, TokenCheck, Transport, blocking, check_token, error_chain, in_clear, json,
    read_body,
};
use crate::protocol::{self, ErrorKind, ProtocolError};
use crate::time::now_ms;

/// Renders `pool` again if its fragments changed since the last rendering; a new
/// hash becomes the pool's desired config. A failure is logged and remembered; the
/// configs already stored keep being served.
async fn refresh_pool(state: &Arc<AppState>, pool: &crate::config::PoolConfig) {
    let cached = state
        .pool_cache
        .lock()
        .expect("the pool cache is never poisoned")
        .get(&pool.name)
        .cloned()
        .unwrap_or_default();
    let store = Arc::clone(&state.store);
    let pool_config = pool.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let fingerprint = crate::pools::fingerprint(&pool_config).map_err(|e| error_chain(&e))?;
        if cached.fingerprint.as_ref() == Some(&fingerprint) {
            return Ok((fingerprint, false));
        }
        let rendered = crate::pools::render(&pool_config).map_err(|e| error_chain(&e))?;
        let stored = crate::store::StoredConfig {
            hash: rendered.hash,
            json: rendered.json,
            rendered_at: now_ms(),
        };
        store
            .set_desired(&pool_config.name, stored)
            .map_err(|e| error_chain(&e))?;
        Ok::<_, String>((fingerprint, true))
    })
    .await
    .unwrap_or_else(|e| Err(format!("render task failed: {e}")));
    let mut cache = state
        .pool_cache
        .lock()
        .expect("the pool cache is never poisoned");
    let entry = cache.entry(pool.name.clone()).or_default();
    match outcome {
        Ok((fingerprint, rendered)) => {
            if rendered {
                tracing::info!(pool = %pool.name, "pool config rendered");
            }
            entry.fingerprint = Some(fingerprint);
            entry.error = None;
        }
        Err(error) => {
            if entry.error.as_ref() != Some(&error) {
                tracing::error!(pool = %pool.name, %error, "pool config not rendered; the previous one stays served");
            }
            entry.error = Some(error);
        }
    }
}

/// `GET|HEAD /config/<pool>`: the pool's current config (or, with `?hash=`, the stored
/// config of that hash), in the spec version the client's `Accept` asks for. Errors
/// are empty bodies, as the Machine Config Server sends them, except a refused
/// down-translation, which names the field.
pub(super) async fn pool_config(
    state: &Arc<AppState>,
    uri: &Uri,
    headers: &HeaderMap,
    transport: Transport,
) -> Answer {
    let name = uri.path().rsplit('/').next().unwrap_or("");
    let Some(pool) = state.config.pools.iter().find(|p| p.name == name) else {
        return Answer::Empty(StatusCode::NOT_FOUND);
    };
    if pool.require_token {
        match check_token(&state.config.tokens, headers, transport) {
            TokenCheck::Valid => {}
            TokenCheck::InClear => return Answer::Empty(StatusCode::FORBIDDEN),
            TokenCheck::Missing => return Answer::Empty(StatusCode::UNAUTHORIZED),
        }
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let version = match crate::pools::negotiate(accept) {
        Ok(version) => version,
        Err(e) => {
            tracing::info!(pool = %name, accept = ?accept, error = %e, "refused Accept");
            return Answer::Empty(StatusCode::BAD_REQUEST);
        }
    };
    refresh_pool(state, pool).await;
    let pool_name = pool.name.clone();
    let record = match blocking(state, move |s| s.pool(&pool_name)).await {
        Ok(record) => record,
        Err(_) => return Answer::Empty(StatusCode::SERVICE_UNAVAILABLE),
    };
    let wanted = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("hash="));
    let stored = match wanted {
        Some(hash) => [&record.current, &record.desired]
            .into_iter()
            .flatten()
            .find(|c| c.hash == hash),
        None => record.current.as_ref(),
    };
    let Some(stored) = stored else {
        return Answer::Empty(if wanted.is_some() {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        });
    };
    let json = match version {
        None => stored.json.clone(),
        Some(version) => {
            let Ok(parsed) = ferro_spec::parse::parse(stored.json.as_bytes()) else {
                return Answer::Empty(StatusCode::INTERNAL_SERVER_ERROR);
            };
            let rendered = crate::pools::Rendered {
                hash: stored.hash.clone(),
                config: parsed.config,
                version: parsed.version,
                json: stored.json.clone(),
                fragments: Vec::new(),
            };
            match crate::pools::emit_at(&rendered, version) {
                Ok(json) => json,
                Err(e) => {
                    return Answer::Err(ProtocolError::new(
                        ErrorKind::UnsupportedIgnitionVersion,
                        e.to_string(),
                    ));
                }
            }
        }
    };
    Answer::Config {
        json,
        hash: stored.hash.clone(),
    }
}

/// `POST /v1/nodes/<node_uuid>/report`.
pub(super) async fn report(
    state: &Arc<AppState>,
    uri: &Uri,
    headers: &HeaderMap,
    transport: Transport,
    body: Body,
) -> Result<Answer, ProtocolError> {
    let node_uuid = uri
        .path()
        .strip_prefix("/v1/nodes/")
        .and_then(|p| p.strip_suffix("/report"))
        .unwrap_or("")
        .to_owned();
    protocol::validate_id(&node_uuid)?;
    let bytes = read_body(headers, body).await?;
    let mut report: crate::api::NodeReport = serde_json::from_slice(&bytes).map_err(|e| {
        ProtocolError::new(
            ErrorKind::FailedDecodingRequest,
            format!(
                "expected {{\"pool\",\"config_hash\",\"booted_version\",\"state\",\"reason\"}}: {e}"
            ),
        )
    })?;
    let Some(pool) = state.config.pools.iter().find(|p| p.name == report.pool) else {
        return Err(ProtocolError::new(
            ErrorKind::NotFound,
            format!("unknown pool \"{}\"", report.pool),
        ));
    };
    if pool.require_token {
        match check_token(&state.config.tokens, headers, transport) {
            TokenCheck::Valid => {}
            TokenCheck::InClear => return Err(in_clear()),
            TokenCheck::Missing => {
                return Err(ProtocolError::new(
                    ErrorKind::Unauthorized,
                    "this pool requires an enrollment token (Authorization: Bearer …)",
                ));
            }
        }
    }
    // The answer names the desired config: render the fragments as they are now, as a
    // `GET /config/<pool>` would, so an agent learns of a change without anyone fetching.
    refresh_pool(state, pool).await;
    report.node_uuid = node_uuid;
    report.at = now_ms();
    let record = blocking(state, move |s| s.report(&report)).await?;
    let desired = record.desired.map(|d| d.hash).unwrap_or_default();
    Ok(json(&crate::api::ReportAnswer { desired }))
}

/// `GET /v1/pools`.
pub(super) async fn pools(state: &Arc<AppState>) -> Result<Answer, ProtocolError> {
    let mut pools = Vec::new();
    let reports = blocking(state, |s| s.reports()).await?;
    for pool in &state.config.pools {
        refresh_pool(state, pool).await;
        let name = pool.name.clone();
        let record = blocking(state, move |s| s.pool(&name)).await?;
        let error = state
            .pool_cache
            .lock()
            .expect("the pool cache is never poisoned")
            .get(&pool.name)
            .and_then(|c| c.error.clone());
        pools.push(crate::api::PoolStatus {
            name: pool.name.clone(),
            current: record.current.map(|c| c.hash),
            desired: record.desired.map(|c| c.hash),
            error,
            nodes: reports
                .iter()
                .filter(|r| r.pool == pool.name)
                .cloned()
                .collect(),
        });
    }
    Ok(json(&crate::api::Pools::new(pools)))
}
