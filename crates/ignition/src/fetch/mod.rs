//! Getting the bytes of a resource: fetched, decompressed, verified.
//!
//! [`Fetcher`] is the real implementation of [`Fetch`]. It follows Ignition's resource
//! rules (reference §2.3):
//!
//! * `data:` URLs (RFC 2397, percent-encoded or `;base64`) are decoded in memory by
//!   [`ferro_spec::DataUrl`], the grammar validation uses too, and are the only sources
//!   allowed offline;
//! * `http(s)://` is fetched with Ignition's default headers (`User-Agent`, `Accept`,
//!   `Accept-Encoding: identity`), the resource's `httpHeaders` replacing defaults of the
//!   same name and dropped when the server redirects; transport errors and 5xx answers are
//!   retried with a backoff from 200 ms doubling up to 5 s until `timeouts.httpTotal`;
//! * `tftp`, `s3`, `gs` and `arn` sources are valid in a config but not fetched by
//!   ferrocore yet, which is reported as such rather than as a bad URL;
//! * `compression: gzip` is undone before `verification.hash` (sha256 or sha512) is
//!   checked, so a file is never written from unverified data.
//!
//! There is no `file` scheme: Ignition has none, and tests serve resources from a
//! loopback HTTP server instead, which exercises the real code path.

use std::io::Read;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ferro_spec::{DataUrl, HttpHeader, Ignition, Resource};
use ferro_sys::http::{self, Backoff};
use sha2::Digest;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Why a resource could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The source could not be read (network, file, server status).
    #[error("failed to fetch {url}: {reason}")]
    Failed {
        /// The source URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The data does not match `verification.hash`.
    #[error("hash mismatch for {url}: calculated {calculated}, expected {expected}")]
    HashMismatch {
        /// The source URL.
        url: String,
        /// What the data hashes to.
        calculated: String,
        /// What the config says.
        expected: String,
    },
    /// The server answered 404: Ignition does not retry this.
    #[error("failed to fetch {url}: resource not found")]
    NotFound {
        /// The source URL.
        url: String,
    },
    /// Fetching offline (the `fetch-offline` stage) hit a source that needs the network;
    /// the engine turns this into the neednet flag, not a failure.
    #[error("resource {url} requires networking")]
    NeedNetwork {
        /// The source URL.
        url: String,
    },
    /// A `data:` URL that Ignition's decoder refuses.
    #[error("invalid data URL {url}: {source}")]
    InvalidDataUrl {
        /// The source URL.
        url: String,
        /// What is wrong with it.
        source: ferro_spec::data_url::DataUrlError,
    },
    /// A scheme Ignition supports but ferrocore does not fetch yet (tftp, s3, gs, arn).
    #[error("{scheme} sources are not supported by ferrocore yet: {url}")]
    NotSupported {
        /// The source URL.
        url: String,
        /// The URL scheme.
        scheme: String,
    },
    /// A scheme Ignition does not know either.
    #[error("unsupported source scheme {scheme:?}: {url}")]
    UnsupportedScheme {
        /// The source URL.
        url: String,
        /// The URL scheme.
        scheme: String,
    },
}

impl FetchError {
    fn failed(url: &str, reason: impl Into<String>) -> Self {
        FetchError::Failed {
            url: url.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Something that can get the bytes of a resource: the real fetcher, or a test double.
pub trait Fetch {
    /// The resource's data, decompressed and verified; `None` when the resource has no
    /// source (a file without contents).
    fn fetch(&self, resource: &Resource) -> Result<Option<Vec<u8>>, FetchError>;
}

/// The newest stable spec version, announced in the `Accept` header so that a config
/// server can pick a config version this engine understands.
pub const LATEST_STABLE_SPEC: &str = "3.6.0";

/// How long to wait for response headers when the config does not say (Ignition's 10 s).
pub const DEFAULT_RESPONSE_HEADERS_TIMEOUT: Duration = Duration::from_secs(10);

/// The first wait between tries. Ignition starts from 100 ms but doubles before it
/// waits, so its first wait is 200 ms.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Ignition's longest wait between tries.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const MAX_REDIRECTS: usize = 10;
/// Bodies are held in memory; this bounds what a hostile server can make us allocate.
const BODY_LIMIT: u64 = 4 << 30;

/// Ignition's `User-Agent`: servers (cloud metadata services, config servers) match on
/// the `Ignition/` prefix.
pub fn user_agent() -> String {
    format!("Ignition/ferrocore-{}", env!("CARGO_PKG_VERSION"))
}

/// Ignition's `Accept` header.
pub fn accept_header() -> String {
    format!("application/vnd.coreos.ignition+json;version={LATEST_STABLE_SPEC}, */*;q=0.1")
}

/// The real fetcher: `data:` and `http(s)`, with the config's timeouts, proxy and
/// certificate authorities.
///
/// It is a value: [`Fetcher::with_settings`] derives the fetcher for a config from the
/// one that fetched it, as Ignition applies the merged-so-far settings to the next fetch.
#[derive(Debug, Clone)]
pub struct Fetcher {
    offline: bool,
    response_headers: Duration,
    total: Option<Duration>,
    extra_roots: Arc<Vec<Certificate<'static>>>,
    proxy: ferro_spec::Proxy,
}

impl Default for Fetcher {
    fn default() -> Self {
        Fetcher::new()
    }
}

impl Fetcher {
    /// An online fetcher with Ignition's defaults: 10 s for response headers, retries
    /// without a total limit, system certificate authorities, no proxy.
    pub fn new() -> Self {
        Fetcher {
            offline: false,
            response_headers: DEFAULT_RESPONSE_HEADERS_TIMEOUT,
            total: None,
            extra_roots: Arc::default(),
            proxy: ferro_spec::Proxy::default(),
        }
    }

    /// A fetcher for the `fetch-offline` stage: anything but `data:` is
    /// [`FetchError::NeedNetwork`].
    pub fn offline() -> Self {
        Fetcher {
            offline: true,
            ..Fetcher::new()
        }
    }

    /// Whether this fetcher refuses to use the network.
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// Limits every HTTP fetch (retries included) to `total`, unless a config sets
    /// `timeouts.httpTotal`; `None` retries for ever, as Ignition does while the network
    /// comes up. Used for the initial config fetch (`-fetch-timeout`) and by tests.
    pub fn with_total_timeout(mut self, total: Option<Duration>) -> Self {
        self.total = total;
        self
    }

    /// The fetcher for resources of a config with these `ignition` settings: its
    /// timeouts, its proxy, and its certificate authorities (fetched now, with this
    /// fetcher, and trusted in addition to the system's).
    pub fn with_settings(&self, ignition: &Ignition) -> Result<Fetcher, FetchError> {
        let mut next = self.clone();
        if let Some(seconds) = ignition.timeouts.http_response_headers.filter(|s| *s > 0) {
            next.response_headers = seconds_to_duration(seconds);
        }
        if let Some(seconds) = ignition.timeouts.http_total.filter(|s| *s > 0) {
            next.total = Some(seconds_to_duration(seconds));
        }
        if ignition.proxy != ferro_spec::Proxy::default() {
            next.proxy = ignition.proxy.clone();
        }
        let mut roots = (*self.extra_roots).clone();
        for authority in &ignition.security.tls.certificate_authorities {
            let url = authority.source.clone().unwrap_or_default();
            let Some(pem) = self.fetch(authority)? else {
                continue;
            };
            roots.extend(certificates(&url, &pem)?);
        }
        next.extra_roots = Arc::new(roots);
        Ok(next)
    }

    /// Fetches a config from a URL given outside any config (the kernel command line):
    /// default headers, no decompression, no verification.
    pub fn fetch_url(&self, url: &str) -> Result<Option<Vec<u8>>, FetchError> {
        self.fetch(&Resource {
            source: Some(url.to_owned()),
            ..Resource::default()
        })
    }

    fn fetch_raw(&self, url: &str, headers: &[HttpHeader]) -> Result<Vec<u8>, FetchError> {
        let scheme = scheme(url);
        if scheme != "data" && self.offline {
            return Err(FetchError::NeedNetwork {
                url: url.to_owned(),
            });
        }
        match scheme.as_str() {
            "data" => decode_data_url(url),
            "http" | "https" => self.fetch_http(url, headers),
            "tftp" | "s3" | "gs" | "arn" => Err(FetchError::NotSupported {
                url: url.to_owned(),
                scheme,
            }),
            _ => Err(FetchError::UnsupportedScheme {
                url: url.to_owned(),
                scheme,
            }),
        }
    }

    /// One HTTP fetch with Ignition's retry loop around it.
    fn fetch_http(&self, url: &str, headers: &[HttpHeader]) -> Result<Vec<u8>, FetchError> {
        let deadline = self.total.map(|total| Instant::now() + total);
        // Unbounded: only `timeouts.httpTotal` ends the retries, as in Ignition.
        let mut delays = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        loop {
            let reason = match self.attempt(url, headers, deadline) {
                Ok(body) => return Ok(body),
                Err(Attempt::Fatal(error)) => return Err(error),
                Err(Attempt::Retry(reason)) => reason,
            };
            let delay = delays.next().unwrap_or(MAX_BACKOFF);
            if deadline.is_some_and(|deadline| Instant::now() + delay >= deadline) {
                return Err(FetchError::failed(
                    url,
                    format!("{reason} (giving up: timeouts.httpTotal reached)"),
                ));
            }
            std::thread::sleep(delay);
        }
    }

    /// One try, following redirects by hand so that the config's headers are sent to
    /// the first server only.
    fn attempt(
        &self,
        url: &str,
        headers: &[HttpHeader],
        deadline: Option<Instant>,
    ) -> Result<Vec<u8>, Attempt> {
        let mut current = url.to_owned();
        let mut user_headers = headers;
        for _ in 0..=MAX_REDIRECTS {
            let remaining = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(Attempt::Retry("timed out".to_owned())),
                },
                None => None,
            };
            let agent = self.agent(&current, remaining)?;
            let mut request = agent.get(&current);
            for (name, value) in request_headers(user_headers) {
                request = request.header(name, value);
            }
            let mut response = match request.call() {
                Ok(response) => response,
                Err(error) => return Err(classify(url, error)),
            };
            let status = response.status().as_u16();
            match status {
                200 | 204 => {
                    return response
                        .body_mut()
                        .with_config()
                        .limit(BODY_LIMIT)
                        .read_to_vec()
                        .map_err(|error| classify(url, error));
                }
                301 | 302 | 303 | 307 | 308 => {
                    let location = response
                        .headers()
                        .get("location")
                        .and_then(|value| value.to_str().ok())
                        .ok_or_else(|| {
                            Attempt::Fatal(FetchError::failed(
                                url,
                                format!("redirect ({status}) without a location"),
                            ))
                        })?;
                    current = resolve_location(&current, location);
                    user_headers = &[];
                }
                404 => {
                    return Err(Attempt::Fatal(FetchError::NotFound {
                        url: url.to_owned(),
                    }));
                }
                // Ignition retries server errors only; 408 and 429, which
                // `ferro_sys::http::is_transient_status` would retry too, fail the fetch
                // there, and so they do here.
                500..=599 => return Err(Attempt::Retry(format!("server answered {status}"))),
                _ => {
                    return Err(Attempt::Fatal(FetchError::failed(
                        url,
                        format!("failed to fetch resource (status {status})"),
                    )));
                }
            }
        }
        Err(Attempt::Fatal(FetchError::failed(
            url,
            "too many redirects",
        )))
    }

    fn agent(&self, url: &str, remaining: Option<Duration>) -> Result<ureq::Agent, Attempt> {
        let proxy = match self.proxy_for(url) {
            Some(proxy) => Some(ureq::Proxy::new(&proxy).map_err(|error| {
                Attempt::Fatal(FetchError::failed(
                    url,
                    format!("invalid proxy {proxy}: {error}"),
                ))
            })?),
            None => None,
        };
        let roots = if self.extra_roots.is_empty() && system_roots().is_empty() {
            RootCerts::WebPki
        } else {
            let mut all = system_roots().clone();
            all.extend(self.extra_roots.iter().cloned());
            RootCerts::new_with_certs(&all)
        };
        // Redirects are followed by hand (see `attempt`); statuses are read there.
        let config = http::agent_config(&user_agent())
            .max_redirects(0)
            .proxy(proxy)
            .timeout_recv_response(Some(self.response_headers))
            .timeout_global(remaining)
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build();
        Ok(config.into())
    }

    /// The proxy URL for a request, with Go's `httpproxy` rules: per scheme, never for
    /// loopback hosts, and not for hosts matching `noProxy`.
    fn proxy_for(&self, url: &str) -> Option<String> {
        let proxy = match scheme(url).as_str() {
            "https" => self.proxy.https_proxy.as_deref(),
            _ => self.proxy.http_proxy.as_deref(),
        }
        .filter(|p| !p.is_empty())?;
        let (host, port) = host_port(url);
        if is_loopback(&host) || self.proxy.no_proxy.iter().any(|e| no_proxy(e, &host, port)) {
            return None;
        }
        Some(proxy.to_owned())
    }
}

impl Fetch for Fetcher {
    fn fetch(&self, resource: &Resource) -> Result<Option<Vec<u8>>, FetchError> {
        let url = match resource.source.as_deref() {
            None | Some("") => return Ok(None),
            Some(url) => url,
        };
        let raw = self.fetch_raw(url, &resource.http_headers)?;
        let data = match resource.compression.as_deref() {
            None | Some("") => raw,
            Some("gzip") => {
                let mut out = Vec::new();
                flate2::read::MultiGzDecoder::new(raw.as_slice())
                    .read_to_end(&mut out)
                    .map_err(|error| FetchError::failed(url, format!("gzip: {error}")))?;
                out
            }
            Some(other) => {
                return Err(FetchError::failed(
                    url,
                    format!("invalid compression method {other:?}"),
                ));
            }
        };
        if let Some(expected) = resource.verification.hash.as_deref() {
            verify(url, &data, expected)?;
        }
        Ok(Some(data))
    }
}

/// Outcome of one HTTP try: worth retrying or not.
enum Attempt {
    Retry(String),
    Fatal(FetchError),
}

/// A transport failure is retried when it may go away by itself, by the rule every
/// HTTP client of ferrocore shares ([`http::is_transient`]).
fn classify(url: &str, error: ureq::Error) -> Attempt {
    if http::is_transient(&error) {
        Attempt::Retry(error.to_string())
    } else {
        Attempt::Fatal(FetchError::failed(url, error.to_string()))
    }
}

/// Defaults first, then the config's headers replacing defaults of the same name
/// (case-insensitively); headers without a value only cancel inherited ones.
fn request_headers(user: &[HttpHeader]) -> Vec<(String, String)> {
    let mut headers = vec![
        ("User-Agent".to_owned(), user_agent()),
        ("Accept".to_owned(), accept_header()),
        ("Accept-Encoding".to_owned(), "identity".to_owned()),
    ];
    for header in user {
        let Some(value) = &header.value else {
            continue;
        };
        headers.retain(|(name, _)| !name.eq_ignore_ascii_case(&header.name));
        headers.push((header.name.clone(), value.clone()));
    }
    headers
}

fn seconds_to_duration(seconds: i64) -> Duration {
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

/// The lower-cased scheme of a URL ("" when it has none).
fn scheme(url: &str) -> String {
    match url.split_once(':') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            scheme.to_ascii_lowercase()
        }
        _ => String::new(),
    }
}

/// `scheme://authority` and the rest of an absolute URL.
fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| after_scheme + at);
    url.split_at(end)
}

/// Host (without brackets or user info) and port of an http(s) URL.
fn host_port(url: &str) -> (String, Option<u16>) {
    let (origin, _) = split_origin(url);
    let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').unwrap_or((rest, ""));
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return (host.to_ascii_lowercase(), port);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host.to_ascii_lowercase(), port.parse().ok()),
        None => (authority.to_ascii_lowercase(), None),
    }
}

fn resolve_location(base: &str, location: &str) -> String {
    if !scheme(location).is_empty() {
        return location.to_owned();
    }
    let (origin, path) = split_origin(base);
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{}://{rest}", scheme(base));
    }
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = path.rfind('/').map_or("/", |at| &path[..=at]);
    format!("{origin}{dir}{location}")
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// Whether one `noProxy` entry (IP, CIDR, `domain`, `.domain`, `*`, optionally with
/// `:port`) matches the host, as Go's `httpproxy` reads it.
fn no_proxy(entry: &str, host: &str, port: Option<u16>) -> bool {
    let entry = entry.trim().to_ascii_lowercase();
    if entry.is_empty() {
        return false;
    }
    if entry == "*" {
        return true;
    }
    if let Some((network, bits)) = entry.split_once('/') {
        let (Ok(network), Ok(bits), Ok(ip)) = (
            network.parse::<IpAddr>(),
            bits.parse::<u32>(),
            host.parse::<IpAddr>(),
        ) else {
            return false;
        };
        return in_network(ip, network, bits);
    }
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return host.parse::<IpAddr>().is_ok_and(|h| h == ip);
    }
    let (name, entry_port) = match entry.rsplit_once(':') {
        Some((name, p)) => match p.parse::<u16>() {
            Ok(p) => (name.to_owned(), Some(p)),
            Err(_) => return false,
        },
        None => (entry.clone(), None),
    };
    if entry_port.is_some() && entry_port != port {
        return false;
    }
    let name = name.strip_prefix('*').unwrap_or(&name);
    match name.strip_prefix('.') {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => host == name || host.ends_with(&format!(".{name}")),
    }
}

fn in_network(ip: IpAddr, network: IpAddr, bits: u32) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// The certificates of a PEM bundle; a bundle without any is an error, as a CA the
/// config relies on must not be silently dropped.
fn certificates(url: &str, pem: &[u8]) -> Result<Vec<Certificate<'static>>, FetchError> {
    let mut found = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => found.push(cert),
            Ok(_) => {}
            Err(error) => {
                return Err(FetchError::failed(url, format!("invalid PEM: {error}")));
            }
        }
    }
    if found.is_empty() {
        return Err(FetchError::failed(url, "no certificate in PEM data"));
    }
    Ok(found)
}

/// The system's certificate authorities, from the distribution's bundle (read once).
fn system_roots() -> &'static Vec<Certificate<'static>> {
    static ROOTS: OnceLock<Vec<Certificate<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        [
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/certs/ca-certificates.crt",
        ]
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .map(|pem| {
            ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(cert)) => Some(cert),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
    })
}

/// The payload of a `data:` URL, by the one grammar validation also uses. Ignition
/// decodes the URL it parsed and wrote back, and Go's URL parser lower-cases the scheme,
/// so `DATA:,x` is read here as `data:,x` (validation, which sees the text as written,
/// refuses it).
fn decode_data_url(url: &str) -> Result<Vec<u8>, FetchError> {
    let parsed = match url.strip_prefix("data:") {
        Some(_) => DataUrl::parse(url),
        None => DataUrl::parse(&format!("data:{}", url.get(5..).unwrap_or_default())),
    };
    parsed
        .map(DataUrl::into_data)
        .map_err(|source| FetchError::InvalidDataUrl {
            url: url.to_owned(),
            source,
        })
}

/// Checks `sha512-<hex>` / `sha256-<hex>` against the data.
fn verify(url: &str, data: &[u8], expected: &str) -> Result<(), FetchError> {
    let (function, hex) = expected
        .split_once('-')
        .ok_or_else(|| FetchError::failed(url, format!("invalid hash {expected:?}")))?;
    let calculated = match function {
        "sha512" => to_hex(&sha2::Sha512::digest(data)),
        "sha256" => to_hex(&sha2::Sha256::digest(data)),
        other => {
            return Err(FetchError::failed(
                url,
                format!("unsupported hash function {other:?}"),
            ));
        }
    };
    if calculated.eq_ignore_ascii_case(hex) {
        Ok(())
    } else {
        Err(FetchError::HashMismatch {
            url: url.to_owned(),
            calculated: format!("{function}-{calculated}"),
            expected: expected.to_owned(),
        })
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The loopback HTTP server of the tests, shared with the conformance harness.
#[cfg(test)]
#[path = "../../tests/support/server.rs"]
mod test_server;

#[cfg(test)]
mod tests;
