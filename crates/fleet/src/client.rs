//! The admin client: what `ferro fleet locks` and `ferro fleet release` send to a
//! running server. It is blocking (ureq, as every other ferrocore client) and needs no
//! server feature, so a node image without the server can still inspect a fleet.
//!
//! Tokens are never sent in clear text to another machine: an `http://` server URL is
//! accepted only for a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`).
//! Transient failures (connection refused, 5xx) are retried with ferrocore's backoff;
//! every admin request is idempotent, so a retry after an unseen success is harmless.

use std::net::IpAddr;
use std::time::Duration;

use ferro_sys::http::{Backoff, agent_config, is_transient, is_transient_status};

use crate::api::{
    Audit, Locks, Nodes, Pools, ReleaseRequest, ReleaseResult, Releases, VersionHistory,
};

/// An admin request that failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL is not an `http(s)://host[:port]` URL.
    #[error("'{0}' is not an http:// or https:// URL")]
    InvalidServer(String),
    /// The token would travel in clear text to another machine.
    #[error(
        "refusing to send a token over plain http to '{0}', which is not a loopback address; use https://"
    )]
    InsecureToken(String),
    /// The server could not be reached.
    #[error("could not reach {url}")]
    Transport {
        /// The URL asked.
        url: String,
        /// The cause.
        #[source]
        source: ureq::Error,
    },
    /// The server refused the request with its `{"kind","value"}` error.
    #[error("{url} answered {status} {kind}: {value}")]
    Refused {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The error kind (`generic_http_<status>` when the body had none).
        kind: String,
        /// The server's explanation.
        value: String,
    },
    /// The CA certificate file could not be used.
    #[error("no PEM certificate usable as a CA in the given file")]
    Ca(#[source] ureq::Error),
    /// The answer was not the expected document.
    #[error("{url} answered something that is not the expected JSON")]
    Decode {
        /// The URL asked.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// A client of one server's admin API.
#[derive(Debug)]
pub struct AdminClient {
    base: String,
    token: String,
    agent: ureq::Agent,
}

/// Whether `server`'s host is a loopback address.
fn is_loopback_url(server: &str) -> bool {
    let rest = server.split_once("://").map_or(server, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The TLS settings of an HTTPS client (the admin client, the etcd backend) from PEM
/// texts: trust only the CA certificates of `ca_pem` (`None`: the public roots), and
/// present the certificate chain and key of `client` when the server asks for one.
pub(crate) fn tls_config(
    ca_pem: Option<&[u8]>,
    client: Option<(&[u8], &[u8])>,
) -> Result<ureq::tls::TlsConfig, ureq::Error> {
    use ureq::tls::{ClientCert, PemItem, RootCerts, TlsConfig};
    let certificates = |pem: &[u8]| -> Result<Vec<_>, ureq::Error> {
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(pem) {
            if let PemItem::Certificate(cert) = item? {
                certs.push(cert);
            }
        }
        if certs.is_empty() {
            return Err(ureq::Error::Tls("no certificate in the PEM file"));
        }
        Ok(certs)
    };
    let mut builder = TlsConfig::builder();
    if let Some(ca_pem) = ca_pem {
        builder = builder.root_certs(RootCerts::new_with_certs(&certificates(ca_pem)?));
    }
    if let Some((chain_pem, key_pem)) = client {
        let key = ureq::tls::PrivateKey::from_pem(key_pem)?;
        builder = builder.client_cert(Some(ClientCert::new_with_certs(
            &certificates(chain_pem)?,
            key,
        )));
    }
    Ok(builder.build())
}

impl AdminClient {
    /// A client for the server at `server` (its base URL) using admin `token`.
    pub fn new(server: &str, token: &str) -> Result<AdminClient, ClientError> {
        let base = server.trim_end_matches('/').to_owned();
        let https = base.starts_with("https://");
        if !(https || base.starts_with("http://")) || base.len() <= "https://".len() {
            return Err(ClientError::InvalidServer(server.to_owned()));
        }
        if !https && !is_loopback_url(&base) {
            return Err(ClientError::InsecureToken(server.to_owned()));
        }
        let agent = agent_config(concat!("ferro-fleet/", env!("CARGO_PKG_VERSION")))
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Ok(AdminClient {
            base,
            token: token.to_owned(),
            agent,
        })
    }

    /// Trusts only the CA certificates in `ca_pem` (PEM) for `https://` servers, e.g. a
    /// fleet's private CA, instead of the public roots.
    pub fn trusting(mut self, ca_pem: &[u8]) -> Result<AdminClient, ClientError> {
        let tls = tls_config(Some(ca_pem), None).map_err(ClientError::Ca)?;
        self.agent = agent_config(concat!("ferro-fleet/", env!("CARGO_PKG_VERSION")))
            .timeout_global(Some(Duration::from_secs(60)))
            .tls_config(tls)
            .build()
            .new_agent();
        Ok(self)
    }

    /// `GET /v1/versions?points=N`: nodes per version over time.
    pub fn versions(&self, points: usize) -> Result<VersionHistory, ClientError> {
        self.call(&format!("/v1/versions?points={points}"), None)
    }

    /// `GET /v1/locks`: every group with its slots and holders.
    pub fn locks(&self) -> Result<Locks, ClientError> {
        self.call("/v1/locks", None)
    }

    /// `POST /v1/admin/release`: frees `id`'s slot of `group` (audit-logged).
    pub fn release(&self, group: &str, id: &str) -> Result<ReleaseResult, ClientError> {
        let body = serde_json::to_string(&ReleaseRequest {
            group: group.to_owned(),
            id: id.to_owned(),
        })
        .expect("a request serialises");
        self.call("/v1/admin/release", Some(body))
    }

    /// `GET /v1/nodes`: the inventory of nodes that asked for the update graph.
    pub fn nodes(&self) -> Result<Nodes, ClientError> {
        self.call("/v1/nodes", None)
    }

    /// `GET /v1/releases?basearch=…`: what each stream serves for `basearch`.
    pub fn releases(&self, basearch: &str) -> Result<Releases, ClientError> {
        self.call(&format!("/v1/releases?basearch={basearch}"), None)
    }

    /// `GET /v1/pools`: every pool with its rendered configs and its nodes' reports.
    pub fn pools(&self) -> Result<Pools, ClientError> {
        self.call("/v1/pools", None)
    }

    /// `GET /v1/audit?after=N`: audit records after position `after`.
    pub fn audit(&self, after: u64) -> Result<Audit, ClientError> {
        self.call(&format!("/v1/audit?after={after}"), None)
    }

    fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: Option<String>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let mut delays =
            Backoff::new(Duration::from_millis(200), Duration::from_secs(2)).attempts(4);
        loop {
            let result = match &body {
                Some(body) => self
                    .agent
                    .post(&url)
                    .header("Authorization", &auth)
                    .content_type("application/json")
                    .send(body.as_str()),
                None => self.agent.get(&url).header("Authorization", &auth).call(),
            };
            let transport = |source| ClientError::Transport {
                url: url.clone(),
                source,
            };
            let mut response = match result {
                Ok(response) => response,
                Err(error) if is_transient(&error) => match delays.next() {
                    Some(delay) => {
                        std::thread::sleep(delay);
                        continue;
                    }
                    None => return Err(transport(error)),
                },
                Err(error) => return Err(transport(error)),
            };
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().map_err(transport)?;
            if (200..300).contains(&status) {
                return serde_json::from_str(&text).map_err(|source| ClientError::Decode {
                    url: url.clone(),
                    source,
                });
            }
            if is_transient_status(status)
                && let Some(delay) = delays.next()
            {
                std::thread::sleep(delay);
                continue;
            }
            let error: Option<serde_json::Value> = serde_json::from_str(&text).ok();
            let field = |name: &str| {
                error
                    .as_ref()
                    .and_then(|e| e.get(name))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            return Err(ClientError::Refused {
                url,
                status,
                kind: field("kind").unwrap_or_else(|| format!("generic_http_{status}")),
                value: field("value").unwrap_or(text),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_in_clear_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:8410",
            "http://localhost:8410/",
            "http://[::1]:8410",
            "https://fleet.example:8410",
        ] {
            assert!(AdminClient::new(ok, "t").is_ok(), "{ok}");
        }
        assert!(matches!(
            AdminClient::new("http://10.0.0.1:8410", "t"),
            Err(ClientError::InsecureToken(_))
        ));
        assert!(matches!(
            AdminClient::new("fleet:8410", "t"),
            Err(ClientError::InvalidServer(_))
        ));
    }
}
