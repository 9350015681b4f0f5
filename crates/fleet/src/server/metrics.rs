//! The server's Prometheus metrics and the endpoints they are labelled with.

use axum::http::{Method, StatusCode};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::protocol::{ErrorKind, Operation};

/// The endpoints, as metric labels (a bounded set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
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
    /// `GET /v1/versions`: nodes per version over time.
    Versions,
    /// The dashboard's page and its static assets.
    Dashboard,
    Other,
}

impl Endpoint {
    pub(super) fn of(path: &str) -> Endpoint {
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
            "/v1/versions" => Endpoint::Versions,
            p if super::assets::asset(p).is_some() => Endpoint::Dashboard,
            _ => Endpoint::Other,
        }
    }

    pub(super) fn as_str(self) -> &'static str {
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
            Endpoint::Versions => "versions",
            Endpoint::Dashboard => "dashboard",
            Endpoint::Other => "other",
        }
    }

    pub(super) fn methods(self) -> &'static [Method] {
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
pub(super) struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    holders: Family<Labels, Gauge>,
    slots: Family<Labels, Gauge>,
    graph_nodes: Family<Labels, Gauge>,
}

impl Metrics {
    pub(super) fn new() -> Metrics {
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

    /// Records how many nodes `stream`'s graph has (when it was last built).
    pub(super) fn set_graph_nodes(&self, stream: &str, nodes: usize) {
        self.graph_nodes
            .get_or_create(&vec![("stream".to_owned(), stream.to_owned())])
            .set(i64::try_from(nodes).unwrap_or(i64::MAX));
    }

    fn group(group: &str) -> Labels {
        vec![("group".to_owned(), group.to_owned())]
    }

    pub(super) fn set_group(&self, group: &str, slots: u32, holders: usize) {
        self.slots
            .get_or_create(&Self::group(group))
            .set(i64::from(slots));
        self.set_holders(group, holders);
    }

    pub(super) fn set_holders(&self, group: &str, holders: usize) {
        self.holders
            .get_or_create(&Self::group(group))
            .set(i64::try_from(holders).unwrap_or(i64::MAX));
    }

    pub(super) fn count(&self, endpoint: Endpoint, status: StatusCode, kind: Option<ErrorKind>) {
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

    pub(super) fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}
