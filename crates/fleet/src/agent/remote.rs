//! The real [`Remote`]: Cincinnati, FleetLock and node reports over HTTP (ureq), sent
//! exactly as Zincati sends them (query parameters, `fleet-lock-protocol: true`, the
//! `client_params` body), so any Cincinnati or FleetLock server works.

use std::time::Duration;

use ferro_sys::http::agent_config;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::config::{Config, Strategy};
use super::identity::Identity;
use super::machine::Remote;
use crate::api::NodeReport;
use crate::graph::Graph;
use crate::protocol::{Operation, PROTOCOL_HEADER, PROTOCOL_HEADER_VALUE};

/// The servers of one config.
pub struct HttpRemote {
    graph_base: String,
    lock_base: Option<String>,
    pool: Option<(String, Option<String>)>,
    pool_name: Option<String>,
    agent: ureq::Agent,
}

fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// `{kind}: {value}` of an error body, or `generic_http_<status>`.
fn refusal(status: u16, body: &str) -> String {
    let doc: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |k: &str| doc.as_ref().and_then(|d| d[k].as_str()).map(str::to_owned);
    match (field("kind"), field("value")) {
        (Some(kind), Some(value)) => format!("{kind}: {value}"),
        _ => format!("generic_http_{status}"),
    }
}

impl HttpRemote {
    /// The servers `config` names, with URL templates expanded for `identity`.
    pub fn new(config: &Config, identity: &Identity) -> Self {
        let expand = |t: &str| {
            Config::expand(
                t,
                &identity.basearch,
                &identity.group,
                &identity.platform,
                &identity.stream,
            )
        };
        let agent = agent_config(concat!("ferro-agent/", env!("CARGO_PKG_VERSION")))
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        HttpRemote {
            graph_base: expand(&config.cincinnati_base_url),
            lock_base: match &config.strategy {
                Strategy::FleetLock { base_url } => Some(expand(base_url)),
                _ => None,
            },
            pool: config
                .pool
                .as_ref()
                .map(|p| (p.base_url.clone(), p.token.clone())),
            pool_name: config.pool.as_ref().map(|p| p.name.clone()),
            agent,
        }
    }

    fn send(
        &self,
        request: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<String, String> {
        let mut response = request.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(refusal(status, &body))
        }
    }
}

impl Remote for HttpRemote {
    fn graph(&self, id: &Identity, wariness: Option<f64>) -> Result<Graph, String> {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut url = format!(
            "{}?basearch={}&stream={}&os_version={}&os_checksum={}&group={}&node_uuid={}&platform={}",
            join(&self.graph_base, "/v1/graph"),
            enc(&id.basearch),
            enc(&id.stream),
            enc(&id.os_version),
            enc(&id.os_checksum),
            enc(&id.group),
            enc(&id.node_uuid),
            enc(&id.platform),
        );
        if let Some(w) = wariness {
            url += &format!("&rollout_wariness={w:.6}");
        }
        let body = self.send(
            self.agent
                .get(&url)
                .header("accept", "application/json")
                .call(),
        )?;
        serde_json::from_str(&body).map_err(|e| format!("{url}: not a graph: {e}"))
    }

    fn lock(&self, id: &Identity, op: Operation) -> Result<(), String> {
        let base = self
            .lock_base
            .as_deref()
            .ok_or("no FleetLock server configured")?;
        let body = serde_json::json!({"client_params": {"id": id.node_uuid, "group": id.group}});
        let url = join(base, op.path());
        self.send(
            self.agent
                .post(&url)
                .header(PROTOCOL_HEADER, PROTOCOL_HEADER_VALUE)
                .send(serde_json::to_string_pretty(&body).expect("JSON").as_str()),
        )
        .map(|_| ())
    }

    fn report(&self, report: &NodeReport) -> Result<Option<String>, String> {
        let Some((base, token)) = &self.pool else {
            return Ok(None);
        };
        let url = join(base, &format!("/v1/nodes/{}/report", report.node_uuid));
        let mut request = self.agent.post(&url).content_type("application/json");
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let body =
            self.send(request.send(serde_json::to_string(report).expect("JSON").as_str()))?;
        let answer: crate::api::ReportAnswer =
            serde_json::from_str(&body).map_err(|e| format!("{url}: {e}"))?;
        Ok(Some(answer.desired))
    }

    fn pool_config(&self, hash: &str) -> Result<serde_json::Value, String> {
        let (base, token) = self.pool.as_ref().ok_or("no pool configured")?;
        let name = self.pool_name.as_deref().unwrap_or_default();
        let url = join(base, &format!("/config/{name}?hash={hash}"));
        let mut request = self.agent.get(&url).header(
            "accept",
            "application/vnd.coreos.ignition+json;version=3.4.0",
        );
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let body = self.send(request.call())?;
        serde_json::from_str(&body).map_err(|e| format!("{url}: not a config: {e}"))
    }
}
