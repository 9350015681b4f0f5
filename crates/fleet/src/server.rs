//! `ferro fleet serve`: the HTTP server (tokio + axum) over the embedded [`Store`].
//!
//! Routes:
//! - `POST …/v1/pre-reboot`, `POST …/v1/steady-state` — FleetLock, for any path
//!   prefix (Zincati joins `v1/…` onto its configured base URL, which may have a
//!   path). Other methods get 405 with a JSON error.
//! - `GET /v1/locks`, `POST /v1/admin/release`, `GET /v1/audit?after=N&limit=M`,
//!   `GET /v1/nodes`, `GET /v1/releases?basearch=…` — the admin API, behind
//!   `Authorization: Bearer <one of admin_tokens>`.
//! - `GET /v1/graph?basearch=…&stream=…[&node_uuid=…&rollout_wariness=…]` — the update
//!   graph of [`crate::graph`], built from the repository on each request (so a new
//!   commit or an edited release metadata file is served at once).
//! - `GET /metrics` (Prometheus text format), `GET /healthz`.
//!
//! Routing is one `match` on the path rather than a router table so that every
//! answer, 404 and 405 included, is the protocol's `{"kind","value"}` JSON.
//!
//! A request's store change runs on tokio's blocking pool and is committed before
//! the answer is written; on SIGTERM or SIGINT the server stops accepting, lets the
//! requests in progress finish, and returns.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri, header};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::api::{Audit, GroupStatus, Locks, ReleaseRequest, ReleaseResult};
use crate::config::Config;
use crate::protocol::{self, ErrorKind, MAX_BODY_BYTES, Operation, PROTOCOL_HEADER, ProtocolError};
use crate::semaphore::{LockOutcome, UnlockOutcome};
use crate::store::{Actor, LockStore, Store, StoreError};
use crate::time::now_ms;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Tokens would be sent in clear text over the network.
    #[error(
        "admin_tokens/tokens are set but {0} is not a loopback address and no tls_cert is configured: tokens would travel in clear text"
    )]
    TokensInClear(SocketAddr),
    /// The store could not be opened or set up.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The TLS certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The listening socket could not be bound.
    #[error("could not listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The runtime or the accept loop failed.
    #[error("the server failed")]
    Runtime(#[source] std::io::Error),
}

/// Starts logging (to standard error, `RUST_LOG`-style level from `FERRO_LOG`,
/// default `info`) for a server process; a second call does nothing.
pub fn init_logging() {
    let level = std::env::var("FERRO_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a server for `config` until SIGTERM or SIGINT. `ready` is called with the
/// bound address once connections are accepted (the socket is listening), which is
/// what callers synchronise on.
pub fn serve(config: Config, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let server = Server::bind(config).await?;
        ready(server.local_addr());
        server.run(shutdown_signal()).await
    })
}

/// Resolves at the first SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the server runs until killed.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}

/// A server bound to its address, with its store open and the config's slot counts
/// applied, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    state: Arc<AppState>,
}

#[derive(Debug)]
struct AppState {
    config: Config,
    /// The embedded store: inventory and pools, and the locks unless etcd has them.
    store: Arc<Store>,
    /// Where the semaphores live.
    locks: Arc<dyn LockStore>,
    /// Whether the config's slot counts are in the lock store (etcd may have been
    /// unreachable at start).
    slots_applied: std::sync::atomic::AtomicBool,
    metrics: Metrics,
    /// Per pool: the fragments' fingerprint when last rendered, and the last
    /// rendering error (the previous config stays served).
    pool_cache: std::sync::Mutex<BTreeMap<String, PoolCache>>,
}

#[derive(Debug, Default, Clone)]
struct PoolCache {
    fingerprint: Option<Vec<(std::path::PathBuf, u64, i128)>>,
    error: Option<String>,
}

impl Server {
    /// Opens the store, applies the config's slot counts (logging each change) and
    /// binds the listener.
    pub async fn bind(config: Config) -> Result<Server, ServeError> {
        let tls = match &config.tls {
            Some(tls) => Some(crate::tls::server_config(&tls.cert, &tls.key)?),
            None => None,
        };
        if config.tokens_would_travel_in_clear() {
            return Err(ServeError::TokensInClear(config.listen));
        }
        let data = config.data.clone();
        let groups = config.lock.groups.clone();
        let etcd = config.etcd.clone();
        let refuse_conflicts = config.lock.refuse_conflicts;
        let opened = tokio::task::spawn_blocking(move || {
            let store = Arc::new(Store::open(&data)?);
            let locks: Arc<dyn LockStore> = if etcd.is_empty() {
                Arc::clone(&store) as Arc<dyn LockStore>
            } else {
                let client = crate::etcd::Etcd::new(etcd.clone());
                Arc::new(if refuse_conflicts {
                    client.refusing_conflicts()
                } else {
                    client
                })
            };
            // An etcd that cannot be reached now is not a reason not to start: the
            // slot counts are applied at the first request that reaches it, and until
            // then lock requests answer 503.
            let applied = match locks.apply_slots(&groups, now_ms()) {
                Ok(changes) => Some((changes, locks.groups()?)),
                Err(e) if !etcd.is_empty() => {
                    tracing::error!(error = %error_chain(&e), "etcd not reachable at start; lock requests answer 503 until it is");
                    None
                }
                Err(e) => return Err(e),
            };
            Ok::<_, StoreError>((store, locks, applied))
        })
        .await
        .map_err(|e| ServeError::Runtime(std::io::Error::other(e)))?;
        let (store, locks, applied) = opened?;
        let slots_applied = applied.is_some();
        let (changes, stored) = applied.unwrap_or_default();
        for change in &changes {
            match change.before {
                Some(before) => tracing::info!(
                    group = %change.group, before, after = change.after,
                    "slot count changed to follow the config (with etcd: the last server started wins)"
                ),
                None => tracing::info!(group = %change.group, slots = change.after, "new group"),
            }
        }
        let metrics = Metrics::new();
        for (name, sem) in stored {
            if let Some(&slots) = config.lock.groups.get(&name) {
                metrics.set_group(&name, slots, sem.holders.len());
            } else if !sem.holders.is_empty() {
                tracing::warn!(group = %name, holders = sem.holders.len(),
                    "group no longer configured still has holders; it is not served");
            }
        }
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        tracing::info!(store = %store.path().display(), locks = %locks.describe(), groups = %config.lock, "store open");
        Ok(Server {
            listener,
            tls,
            state: Arc::new(AppState {
                config,
                store,
                locks,
                slots_applied: std::sync::atomic::AtomicBool::new(slots_applied),
                metrics,
                pool_cache: std::sync::Mutex::new(BTreeMap::new()),
            }),
        })
    }

    /// The address the server listens on (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound socket has an address")
    }

    /// Serves until `shutdown` resolves, then finishes the requests in progress.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let https = self.tls.is_some();
        tracing::info!(address = %self.local_addr(), https, "listening");
        let app = Router::new().fallback(dispatch).with_state(self.state);
        match self.tls {
            Some(tls) => {
                let listener = crate::tls::TlsListener::new(self.listener, tls)
                    .map_err(ServeError::Runtime)?;
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
            None => {
                axum::serve(self.listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        }
        .map_err(ServeError::Runtime)
    }
}

/// The endpoints, as metric labels (a bounded set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    PreReboot,
    SteadyState,
    Locks,
    Release,
    Audit,
    Graph,
    Nodes,
    Releases,
    Config,
    Report,
    Pools,
    Metrics,
    Healthz,
    Other,
}

impl Endpoint {
    fn of(path: &str) -> Endpoint {
        match path {
            p if p.ends_with(Operation::PreReboot.path()) => Endpoint::PreReboot,
            p if p.ends_with(Operation::SteadyState.path()) => Endpoint::SteadyState,
            "/v1/locks" => Endpoint::Locks,
            "/v1/admin/release" => Endpoint::Release,
            "/v1/audit" => Endpoint::Audit,
            "/v1/graph" => Endpoint::Graph,
            "/v1/nodes" => Endpoint::Nodes,
            "/v1/releases" => Endpoint::Releases,
            "/v1/pools" => Endpoint::Pools,
            p if p.starts_with("/config/") => Endpoint::Config,
            p if p.starts_with("/v1/nodes/") && p.ends_with("/report") => Endpoint::Report,
            "/metrics" => Endpoint::Metrics,
            "/healthz" => Endpoint::Healthz,
            _ => Endpoint::Other,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Endpoint::PreReboot => "pre-reboot",
            Endpoint::SteadyState => "steady-state",
            Endpoint::Locks => "locks",
            Endpoint::Release => "release",
            Endpoint::Audit => "audit",
            Endpoint::Graph => "graph",
            Endpoint::Nodes => "nodes",
            Endpoint::Releases => "releases",
            Endpoint::Config => "config",
            Endpoint::Report => "report",
            Endpoint::Pools => "pools",
            Endpoint::Metrics => "metrics",
            Endpoint::Healthz => "healthz",
            Endpoint::Other => "other",
        }
    }

    fn methods(self) -> &'static [Method] {
        match self {
            Endpoint::PreReboot | Endpoint::SteadyState | Endpoint::Release | Endpoint::Report => {
                &[Method::POST]
            }
            _ => &[Method::GET, Method::HEAD],
        }
    }
}

type Labels = Vec<(String, String)>;

/// The server's Prometheus metrics.
#[derive(Debug)]
struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    holders: Family<Labels, Gauge>,
    slots: Family<Labels, Gauge>,
    graph_nodes: Family<Labels, Gauge>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ferro_fleet");
        let requests = Family::<Labels, Counter>::default();
        let errors = Family::<Labels, Counter>::default();
        let holders = Family::<Labels, Gauge>::default();
        let slots = Family::<Labels, Gauge>::default();
        registry.register(
            "requests",
            "HTTP requests by endpoint and status code",
            requests.clone(),
        );
        registry.register(
            "errors",
            "Refused or failed requests by endpoint and error kind",
            errors.clone(),
        );
        registry.register(
            "lock_holders",
            "Holders of a FleetLock group's slots",
            holders.clone(),
        );
        registry.register("lock_slots", "Slots of a FleetLock group", slots.clone());
        let graph_nodes = Family::<Labels, Gauge>::default();
        registry.register(
            "graph_nodes",
            "Nodes of a stream's update graph when last served",
            graph_nodes.clone(),
        );
        Metrics {
            registry,
            requests,
            errors,
            holders,
            slots,
            graph_nodes,
        }
    }

    fn group(group: &str) -> Labels {
        vec![("group".to_owned(), group.to_owned())]
    }

    fn set_group(&self, group: &str, slots: u32, holders: usize) {
        self.slots
            .get_or_create(&Self::group(group))
            .set(i64::from(slots));
        self.set_holders(group, holders);
    }

    fn set_holders(&self, group: &str, holders: usize) {
        self.holders
            .get_or_create(&Self::group(group))
            .set(i64::try_from(holders).unwrap_or(i64::MAX));
    }

    fn count(&self, endpoint: Endpoint, status: StatusCode, kind: Option<ErrorKind>) {
        let e = ("endpoint".to_owned(), endpoint.as_str().to_owned());
        self.requests
            .get_or_create(&vec![
                e.clone(),
                ("code".to_owned(), status.as_str().to_owned()),
            ])
            .inc();
        if let Some(kind) = kind {
            self.errors
                .get_or_create(&vec![e, ("kind".to_owned(), kind.as_str().to_owned())])
                .inc();
        }
    }

    fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// An answer before it is counted and sent.
enum Answer {
    /// 200 with a body of this content type.
    Ok(&'static str, String),
    /// A protocol error.
    Err(ProtocolError),
    /// A status with an empty body, as the Machine Config Server answers errors.
    Empty(StatusCode),
    /// A rendered pool config and its hash (sent as the ETag).
    Config { json: String, hash: String },
}

impl From<ProtocolError> for Answer {
    fn from(e: ProtocolError) -> Self {
        Answer::Err(e)
    }
}

async fn dispatch(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let endpoint = Endpoint::of(uri.path());
    let answer = if endpoint == Endpoint::Other {
        Answer::Err(ProtocolError::new(
            ErrorKind::NotFound,
            format!("no such endpoint: {}", uri.path()),
        ))
    } else if !endpoint.methods().contains(&method) && endpoint == Endpoint::Config {
        Answer::Empty(StatusCode::METHOD_NOT_ALLOWED)
    } else if !endpoint.methods().contains(&method) {
        Answer::Err(ProtocolError::new(
            ErrorKind::MethodNotAllowed,
            format!("{method} is not allowed on {}", uri.path()),
        ))
    } else {
        match handle(&state, endpoint, &uri, &headers, body).await {
            Ok(answer) => answer,
            Err(error) => Answer::Err(error),
        }
    };
    let mut etag = None;
    let (status, kind, content_type, text) = match answer {
        Answer::Ok(content_type, text) => (StatusCode::OK, None, content_type, text),
        Answer::Empty(status) => (status, None, "text/plain; charset=utf-8", String::new()),
        Answer::Config { json, hash } => {
            etag = HeaderValue::from_str(&format!("\"{hash}\"")).ok();
            (StatusCode::OK, None, "application/json", json)
        }
        Answer::Err(error) => (
            StatusCode::from_u16(error.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Some(error.kind),
            "application/json",
            error.to_json(),
        ),
    };
    state.metrics.count(endpoint, status, kind);
    let mut response = Response::new(if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(text)
    });
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let allow = if endpoint.methods().contains(&Method::POST) {
            "POST"
        } else {
            "GET, HEAD"
        };
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    response
}

async fn handle(
    state: &Arc<AppState>,
    endpoint: Endpoint,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Answer, ProtocolError> {
    match endpoint {
        Endpoint::PreReboot => fleetlock(state, Operation::PreReboot, headers, body).await,
        Endpoint::SteadyState => fleetlock(state, Operation::SteadyState, headers, body).await,
        Endpoint::Healthz => Ok(Answer::Ok("text/plain; charset=utf-8", "ok\n".to_owned())),
        Endpoint::Metrics => Ok(Answer::Ok(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            state.metrics.render(),
        )),
        Endpoint::Locks => {
            authorize(state, headers)?;
            locks(state).await
        }
        Endpoint::Release => {
            authorize(state, headers)?;
            release(state, body).await
        }
        Endpoint::Audit => {
            authorize(state, headers)?;
            audit(state, uri).await
        }
        Endpoint::Graph => graph(state, uri).await,
        Endpoint::Nodes => {
            authorize(state, headers)?;
            let nodes = blocking(state, |s| s.nodes()).await?;
            Ok(json(&crate::api::Nodes::new(nodes)))
        }
        Endpoint::Releases => {
            authorize(state, headers)?;
            releases(state, uri).await
        }
        Endpoint::Config => Ok(pool_config(state, uri, headers).await),
        Endpoint::Report => report(state, uri, headers, body).await,
        Endpoint::Pools => {
            authorize(state, headers)?;
            pools(state).await
        }
        Endpoint::Other => unreachable!("answered by dispatch"),
    }
}

/// Reads a body of at most [`MAX_BODY_BYTES`].
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ProtocolError> {
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

fn store_error(error: StoreError) -> ProtocolError {
    tracing::error!(error = %error_chain(&error), "store operation failed");
    ProtocolError::new(
        ErrorKind::StoreUnavailable,
        format!(
            "the store failed; nothing was changed: {}",
            error_chain(&error)
        ),
    )
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Runs a lock-store operation on the blocking pool, first applying the config's slot
/// counts if that could not be done at start.
async fn blocking_locks<T: Send + 'static>(
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
async fn blocking<T: Send + 'static>(
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

fn unknown_group(group: &str) -> ProtocolError {
    ProtocolError::new(
        ErrorKind::UnknownGroup,
        format!("unknown group \"{group}\""),
    )
}

async fn fleetlock(
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

/// Checks `Authorization: Bearer <admin token>`.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ProtocolError> {
    if state.config.admin_tokens.is_empty() {
        return Err(ProtocolError::new(
            ErrorKind::AdminDisabled,
            "the admin API is disabled: the server's config has no admin_tokens",
        ));
    }
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let valid = offered.is_some_and(|offered| {
        // Compare every token in full, so the time taken says nothing about how
        // much of a token matched.
        state
            .config
            .admin_tokens
            .iter()
            .fold(false, |found, token| {
                found | same_bytes(token.as_bytes(), offered.as_bytes())
            })
    });
    if valid {
        Ok(())
    } else {
        Err(ProtocolError::new(
            ErrorKind::Unauthorized,
            "an admin token is required (Authorization: Bearer …)",
        ))
    }
}

/// Equality whose time depends on the lengths only.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn json(value: &impl serde::Serialize) -> Answer {
    Answer::Ok(
        "application/json",
        serde_json::to_string(value).expect("API documents serialise"),
    )
}

async fn locks(state: &Arc<AppState>) -> Result<Answer, ProtocolError> {
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

async fn release(state: &Arc<AppState>, body: Body) -> Result<Answer, ProtocolError> {
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

async fn audit(state: &Arc<AppState>, uri: &Uri) -> Result<Answer, ProtocolError> {
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

async fn graph(state: &Arc<AppState>, uri: &Uri) -> Result<Answer, ProtocolError> {
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
        };
        // The inventory is for operators; the node gets its graph even if it fails.
        if let Err(e) = blocking(state, move |s| s.record_node(record)).await {
            tracing::warn!(error = %e, "could not record the node in the inventory");
        }
    }
    state
        .metrics
        .graph_nodes
        .get_or_create(&vec![("stream".to_owned(), stream_name.clone())])
        .set(i64::try_from(built.nodes.len()).unwrap_or(i64::MAX));
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

async fn releases(state: &Arc<AppState>, uri: &Uri) -> Result<Answer, ProtocolError> {
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

/// Whether `headers` carry `Authorization: Bearer <one of tokens>`.
fn has_token(tokens: &[String], headers: &HeaderMap) -> bool {
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    offered.is_some_and(|offered| {
        tokens.iter().fold(false, |found, t| {
            found | same_bytes(t.as_bytes(), offered.as_bytes())
        })
    })
}

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
async fn pool_config(state: &Arc<AppState>, uri: &Uri, headers: &HeaderMap) -> Answer {
    let name = uri.path().rsplit('/').next().unwrap_or("");
    let Some(pool) = state.config.pools.iter().find(|p| p.name == name) else {
        return Answer::Empty(StatusCode::NOT_FOUND);
    };
    if pool.require_token && !has_token(&state.config.tokens, headers) {
        return Answer::Empty(StatusCode::UNAUTHORIZED);
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
async fn report(
    state: &Arc<AppState>,
    uri: &Uri,
    headers: &HeaderMap,
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
    if pool.require_token && !has_token(&state.config.tokens, headers) {
        return Err(ProtocolError::new(
            ErrorKind::Unauthorized,
            "this pool requires an enrollment token (Authorization: Bearer …)",
        ));
    }
    report.node_uuid = node_uuid;
    report.at = now_ms();
    let record = blocking(state, move |s| s.report(&report)).await?;
    let desired = record.desired.map(|d| d.hash).unwrap_or_default();
    Ok(json(&crate::api::ReportAnswer { desired }))
}

/// `GET /v1/pools`.
async fn pools(state: &Arc<AppState>) -> Result<Answer, ProtocolError> {
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
