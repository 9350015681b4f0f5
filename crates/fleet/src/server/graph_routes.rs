//! The update graph (`GET /v1/graph`), the fleet inventory it records, and the
//! admin views of both (`/v1/nodes`, `/v1/versions`, `/v1/releases`).

use std::sync::Arc;

use axum::http::Uri;

use super::state::{Answer, AppState, blocking, error_chain, json};
use crate::protocol::{self, ErrorKind, ProtocolError};
use crate::time::now_ms;

/// The query of a graph request, as Zincati sends it.
#[derive(Debug, Default)]
struct GraphQuery {
    basearch: Option<String>,
    stream: Option<String>,
    node_uuid: Option<String>,
    rollout_wariness: Option<String>,
    os_version: Option<String>,
    os_checksum: Option<String>,
    group: Option<String>,
    platform: Option<String>,
}

fn parse_graph_query(query: &str) -> GraphQuery {
    let mut parsed = GraphQuery::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(&value.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        let value = Some(value).filter(|v| !v.is_empty());
        match key {
            "basearch" => parsed.basearch = value,
            "stream" => parsed.stream = value,
            "node_uuid" => parsed.node_uuid = value,
            "rollout_wariness" => parsed.rollout_wariness = value,
            "os_version" => parsed.os_version = value,
            "os_checksum" => parsed.os_checksum = value,
            "group" => parsed.group = value,
            "platform" => parsed.platform = value,
            // oci: accepted; every payload is a commit checksum.
            _ => {}
        }
    }
    parsed
}

/// `GET /v1/graph`: the stream's graph as this client sees it (throttled rollouts
/// hidden); a request with a `node_uuid` records the node in the inventory.
pub(super) async fn graph(state: &Arc<AppState>, uri: &Uri) -> Result<Answer, ProtocolError> {
    let Some(config) = &state.config.graph else {
        return Err(ProtocolError::new(
            ErrorKind::NotFound,
            "this server serves no update graph (no [graph] in its config)",
        ));
    };
    let query = parse_graph_query(uri.query().unwrap_or(""));
    let invalid = |what: &str| ProtocolError::new(ErrorKind::InvalidGraphRequest, what);
    let basearch = query
        .basearch
        .ok_or_else(|| invalid("missing parameter 'basearch'"))?;
    let stream_name = query
        .stream
        .ok_or_else(|| invalid("missing parameter 'stream'"))?;
    if !basearch
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(invalid("'basearch' must match ^[a-z0-9_]+$"));
    }
    let Some(stream) = config.streams.iter().find(|s| s.name == stream_name) else {
        return Err(ProtocolError::new(
            ErrorKind::UnknownStream,
            format!("unknown stream \"{stream_name}\""),
        ));
    };
    let built = stream_graph(config, stream, &basearch)
        .await?
        .map_err(|e| {
            tracing::error!(stream = %stream_name, error = %error_chain(&e), "graph unavailable");
            ProtocolError::new(ErrorKind::GraphUnavailable, error_chain(&e))
        })?;
    if let Some(node_uuid) = query
        .node_uuid
        .clone()
        .filter(|u| protocol::validate_id(u).is_ok())
    {
        let now = now_ms();
        let record = crate::api::NodeRecord {
            node_uuid,
            os_version: query.os_version.clone().unwrap_or_default(),
            os_checksum: query.os_checksum.clone().unwrap_or_default(),
            group: query.group.clone().unwrap_or_default(),
            platform: query.platform.clone().unwrap_or_default(),
            basearch: basearch.clone(),
            stream: stream_name.clone(),
            first_seen: now,
            last_seen: now,
            history: Vec::new(),
        };
        // The inventory is for operators; the node gets its graph even if it fails.
        if let Err(e) = blocking(state, move |s| s.record_node(record)).await {
            tracing::warn!(error = %e, "could not record the node in the inventory");
        }
    }
    state
        .metrics
        .set_graph_nodes(&stream_name, built.nodes.len());
    let wariness = crate::graph::wariness(
        query.rollout_wariness.as_deref(),
        query.node_uuid.as_deref(),
    );
    let now = i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX);
    Ok(json(&crate::graph::throttle(built, wariness, now)))
}

/// Builds the (unthrottled) graph of `stream` for `basearch` on the blocking pool.
async fn stream_graph(
    config: &crate::config::GraphConfig,
    stream: &crate::config::StreamConfig,
    basearch: &str,
) -> Result<Result<crate::graph::Graph, crate::graph::GraphError>, ProtocolError> {
    let repo = config.repo.clone();
    let ref_name = stream.ref_name.replace("${basearch}", basearch);
    let updates = stream.updates.clone();
    tokio::task::spawn_blocking(move || {
        let releases = crate::graph::releases(&repo, &ref_name)?;
        let updates = match &updates {
            Some(path) => crate::graph::read_updates(path)?,
            None => crate::graph::Updates::default(),
        };
        Ok(crate::graph::build(&releases, &updates))
    })
    .await
    .map_err(|e| ProtocolError::new(ErrorKind::InternalError, format!("graph task failed: {e}")))
}

/// `GET /v1/releases`: what each stream serves, with each rollout's progress.
pub(super) async fn releases(state: &Arc<AppState>, uri: &Uri) -> Result<Answer, ProtocolError> {
    use crate::api::{ReleaseStatus, Releases, StreamReleases};
    use crate::graph::keys;
    let query = parse_graph_query(uri.query().unwrap_or(""));
    let basearch = query.basearch.unwrap_or_else(|| "x86_64".to_owned());
    let mut streams = Vec::new();
    let now = i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX);
    for stream in state.config.graph.iter().flat_map(|g| g.streams.iter()) {
        let config = state
            .config
            .graph
            .as_ref()
            .expect("streams come from a graph");
        let ref_name = stream.ref_name.replace("${basearch}", &basearch);
        let (releases, error) = match stream_graph(config, stream, &basearch).await? {
            Ok(graph) => {
                let releases = graph
                    .nodes
                    .iter()
                    .enumerate()
                    .map(|(i, node)| ReleaseStatus {
                        version: node.version.clone(),
                        payload: node.payload.clone(),
                        barrier: node.metadata.get(keys::BARRIER_REASON).cloned(),
                        deadend: node.metadata.get(keys::DEADEND_REASON).cloned(),
                        rollout: crate::graph::rollout_progress(node, now),
                        incoming: graph.edges.iter().filter(|(_, to)| *to == i as u64).count(),
                    })
                    .collect();
                (releases, None)
            }
            Err(e) => (Vec::new(), Some(error_chain(&e))),
        };
        streams.push(StreamReleases {
            name: stream.name.clone(),
            ref_name,
            releases,
            error,
        });
    }
    Ok(json(&Releases::new(streams)))
}

/// `GET /v1/nodes`: the inventory.
pub(super) async fn nodes(state: &Arc<AppState>) -> Result<Answer, ProtocolError> {
    let nodes = blocking(state, |s| s.nodes()).await?;
    Ok(json(&crate::api::Nodes::new(nodes)))
}

/// `GET /v1/versions?points=N`: how many nodes ran each version, at `N` (default
/// [`crate::inventory::DEFAULT_POINTS`]) instants from the first node seen to now.
pub(super) async fn versions(state: &Arc<AppState>, uri: &Uri) -> Result<Answer, ProtocolError> {
    let mut points = crate::inventory::DEFAULT_POINTS;
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("points", n)) => {
                points = n.parse().map_err(|_| {
                    ProtocolError::new(
                        ErrorKind::FailedDecodingRequest,
                        format!("bad query parameter '{pair}'"),
                    )
                })?;
            }
            _ => {
                return Err(ProtocolError::new(
                    ErrorKind::FailedDecodingRequest,
                    format!("bad query parameter '{pair}'"),
                ));
            }
        }
    }
    let nodes = blocking(state, |s| s.nodes()).await?;
    Ok(json(&crate::inventory::version_history(
        &nodes,
        now_ms(),
        points,
    )))
}
