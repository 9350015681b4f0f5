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
//! - `GET /v1/versions?points=N` — nodes per version over time (admin).
//! - `GET|HEAD /config/<pool>`, `POST /v1/nodes/<uuid>/report`, `GET /v1/pools` — the
//!   pool config server ([`crate::pools`]).
//! - `GET /` and its assets — the dashboard, static files compiled into the binary
//!   that read the admin API with the token the operator types in.
//! - `GET /metrics` (Prometheus text format), `GET /healthz`.
//!
//! Routing is one `match` on the path rather than a router table so that every
//! answer, 404 and 405 included, is the protocol's `{"kind","value"}` JSON.
//!
//! Tokens (admin and enrollment) are accepted over HTTPS, or over plain HTTP from a
//! loopback peer only: a token that arrived in clear from another machine is refused
//! (403 `insecure_transport`) even when valid, so a setup that leaks tokens never
//! appears to work.
//!
//! A request's store change runs on tokio's blocking pool and is committed before
//! the answer is written; on SIGTERM or SIGINT the server stops accepting, lets the
//! requests in progress finish, and returns.
//!
//! The modules: `state` (what every route shares: state, answers, store runners,
//! token checks), `metrics`, `assets` (the dashboard's files), and the routes of
//! each service — `lock_routes`, `graph_routes`, `pool_routes`. Only this module
//! imports the route modules.

mod assets;
mod graph_routes;
mod lock_routes;
mod metrics;
mod pool_routes;
mod state;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri, header};
use tokio::net::TcpListener;

use self::metrics::{Endpoint, Metrics};
use self::state::{Answer, AppState, Transport, authorize, error_chain};
use crate::config::Config;
use crate::protocol::{ErrorKind, Operation, ProtocolError};
use crate::store::{LockStore, Store, StoreError};
use crate::time::now_ms;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
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

/// Starts logging to standard error for a server process, at `level` (`error`,
/// `warn`, `info`, `debug`, `trace`; `None` or anything else: `info`); a second call
/// does nothing. The caller reads the level (`ferro` from `FERRO_LOG`).
pub fn init_logging(level: Option<&str>) {
    let level = level
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

impl Server {
    /// Opens the store, applies the config's slot counts (logging each change) and
    /// binds the listener.
    pub async fn bind(config: Config) -> Result<Server, ServeError> {
        let tls = match &config.tls {
            Some(tls) => Some(crate::tls::server_config(&tls.cert, &tls.key)?),
            None => None,
        };
        if config.tokens_would_travel_in_clear() {
            tracing::warn!(listen = %config.listen, "tokens are configured but the listener is plain HTTP on a non-loopback address: requests carrying a token are refused unless they come from loopback (configure tls_cert and tls_key)");
        }
        let data = config.data.clone();
        let groups = config.lock.groups.clone();
        let etcd = config.etcd.clone();
        let etcd_tls = config.etcd_tls.clone();
        let refuse_conflicts = config.lock.refuse_conflicts;
        let opened = tokio::task::spawn_blocking(move || {
            let store = Arc::new(Store::open(&data)?);
            let locks: Arc<dyn LockStore> = if etcd.is_empty() {
                Arc::clone(&store) as Arc<dyn LockStore>
            } else {
                let client = crate::etcd::Etcd::new(etcd.clone(), etcd_tls.as_ref())
                    .map_err(|e| StoreError::Etcd(Box::new(e)))?;
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
        let https = tls.is_some();
        Ok(Server {
            listener,
            tls,
            state: Arc::new(AppState {
                https,
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
                // Plain HTTP: each request knows its peer, which decides whether it
                // may carry a token.
                axum::serve(
                    self.listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(shutdown)
                .await
            }
        }
        .map_err(ServeError::Runtime)
    }
}

/// Answers one request: routes it, counts it, and writes the answer (errors as
/// `{"kind","value"}` JSON, or empty for the config server as the MCS does).
async fn dispatch(State(state): State<Arc<AppState>>, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let transport = Transport {
        https: state.https,
        peer: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0),
    };
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
        match handle(&state, endpoint, &uri, &headers, transport, body).await {
            Ok(answer) => answer,
            Err(error) => Answer::Err(error),
        }
    };
    let mut extra: Vec<(header::HeaderName, HeaderValue)> = Vec::new();
    let (status, kind, content_type, body) = match answer {
        Answer::Ok(content_type, text) => (StatusCode::OK, None, content_type, Body::from(text)),
        Answer::Empty(status) => (status, None, "text/plain; charset=utf-8", Body::empty()),
        Answer::Config { json, hash } => {
            if let Ok(etag) = HeaderValue::from_str(&format!("\"{hash}\"")) {
                extra.push((header::ETAG, etag));
            }
            (StatusCode::OK, None, "application/json", Body::from(json))
        }
        Answer::Asset(asset) => {
            // The dashboard runs only its own files: no inline script, no other
            // origin, so an injected string can never run.
            extra.push((
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(assets::CONTENT_SECURITY_POLICY),
            ));
            extra.push((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")));
            (
                StatusCode::OK,
                None,
                asset.content_type,
                Body::from(asset.bytes),
            )
        }
        Answer::Err(error) => (
            StatusCode::from_u16(error.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Some(error.kind),
            "application/json",
            Body::from(error.to_json()),
        ),
    };
    state.metrics.count(endpoint, status, kind);
    let mut response = Response::new(if method == Method::HEAD {
        Body::empty()
    } else {
        body
    });
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in extra {
        response.headers_mut().insert(name, value);
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
    transport: Transport,
    body: Body,
) -> Result<Answer, ProtocolError> {
    let admin = || authorize(state, headers, transport);
    match endpoint {
        Endpoint::PreReboot => {
            lock_routes::fleetlock(state, Operation::PreReboot, headers, body).await
        }
        Endpoint::SteadyState => {
            lock_routes::fleetlock(state, Operation::SteadyState, headers, body).await
        }
        Endpoint::Healthz => Ok(Answer::Ok("text/plain; charset=utf-8", "ok\n".to_owned())),
        Endpoint::Metrics => Ok(lock_routes::metrics(state).await),
        Endpoint::Locks => {
            admin()?;
            lock_routes::locks(state).await
        }
        Endpoint::Release => {
            admin()?;
            lock_routes::release(state, body).await
        }
        Endpoint::Audit => {
            admin()?;
            lock_routes::audit(state, uri).await
        }
        Endpoint::Graph => graph_routes::graph(state, uri).await,
        Endpoint::Nodes => {
            admin()?;
            graph_routes::nodes(state).await
        }
        Endpoint::Versions => {
            admin()?;
            graph_routes::versions(state, uri).await
        }
        Endpoint::Releases => {
            admin()?;
            graph_routes::releases(state, uri).await
        }
        Endpoint::Config => Ok(pool_routes::pool_config(state, uri, headers, transport).await),
        Endpoint::Report => pool_routes::report(state, uri, headers, transport, body).await,
        Endpoint::Pools => {
            admin()?;
            pool_routes::pools(state).await
        }
        Endpoint::Dashboard => match assets::asset(uri.path()) {
            Some(asset) => Ok(Answer::Asset(asset)),
            None => unreachable!("Endpoint::of found the asset"),
        },
        Endpoint::Other => unreachable!("answered by dispatch"),
    }
}
