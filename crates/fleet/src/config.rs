//! The config of `ferro fleet serve`, a TOML file:
//!
//! ```toml
//! listen = "127.0.0.1:8410"          # also --listen ADDR on the command line
//! data = "/var/lib/ferro-fleet"      # embedded store (default backend)
//! # etcd = ["http://127.0.0.1:2379"] # the etcd v3 backend instead (or --etcd URL,URL)
//! # etcd_ca = "ca.pem"               # with https:// endpoints: the CA etcd's certificate is from
//! # etcd_cert = "client.pem"         # and a client certificate, for etcd's --client-cert-auth
//! # etcd_key = "client.key"
//! admin_tokens = ["…"]               # for `ferro fleet locks`, `release`, …
//! [lock]
//! default_group = "default"
//! default_slots = 1
//! [[lock.groups]]
//! name = "workers"
//! slots = 2
//! [graph]
//! repo = "/srv/repo"
//! [[graph.streams]]
//! name = "stable"
//! ref = "ferrocore/x86_64/stable"
//! [[pools]]
//! name = "worker"
//! fragments = ["/etc/ferro-fleet/worker.d"]
//! ```
//!
//! Every key is checked before the server starts; a mistake is reported like every
//! config mistake in ferrocore, with the key's path, line and column
//! (`error at $.lock.groups.0.slots, line 9 col 9: …`). Unknown keys are errors, not
//! silently ignored: a misspelt `slot = 5` would otherwise leave a group at one slot.
//!
//! The groups are the default group with `default_slots` plus every `[[lock.groups]]`
//! entry (whose `slots` defaults to `default_slots`). Unlike Airlock, naming a group
//! twice, or listing the default group again, is an error rather than one entry
//! silently overriding the other. Relative paths are relative to the config file's
//! directory.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use ferro_document::report::{Entry, Kind, Pretty, Report};
use ferro_document::{Mark, Path as KeyPath};
use ferro_sys::IoError;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::protocol::is_valid_group;

/// The address the server listens on when neither the config nor `--listen` says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8410";
/// Where the embedded store lives when the config does not say.
pub const DEFAULT_DATA: &str = "/var/lib/ferro-fleet";

/// A checked server config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The directory of the embedded store.
    pub data: PathBuf,
    /// etcd v3 endpoints; non-empty selects the etcd backend.
    pub etcd: Vec<String>,
    /// The CA and client certificate for `https://` etcd endpoints.
    pub etcd_tls: Option<EtcdTls>,
    /// The FleetLock groups.
    pub lock: LockConfig,
    /// The update graph's source, if served.
    pub graph: Option<GraphConfig>,
    /// The config pools.
    pub pools: Vec<PoolConfig>,
    /// Enrollment tokens for pools that require one.
    pub tokens: Vec<String>,
    /// Tokens of the admin API (`/v1/locks`, releases); none disables it.
    pub admin_tokens: Vec<String>,
    /// The listener's certificate and key, for HTTPS.
    pub tls: Option<TlsConfig>,
}

/// The FleetLock groups and their slot counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockConfig {
    /// The group of the default entry.
    pub default_group: String,
    /// Every group with its slot count.
    pub groups: BTreeMap<String, u32>,
    /// The optional lease, in seconds from a holder's last `pre-reboot`, after which
    /// its slot is freed for the next request (`None`: held until given back or
    /// released by an admin, as in the protocol).
    pub lease_seconds: Option<u64>,
    /// With etcd: refuse a request whose compare-and-swap met a concurrent change
    /// (Airlock's behaviour, `conflicts = "refuse"`) instead of retrying it (the
    /// default, `"retry"`). Only for comparisons: refusing turns contention into
    /// failed requests.
    pub refuse_conflicts: bool,
}

/// Where the update graph comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphConfig {
    /// An OSTree repository (archive mode).
    pub repo: PathBuf,
    /// The streams served.
    pub streams: Vec<StreamConfig>,
}

/// One update stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// The stream's name (`stable`), as agents ask for it.
    pub name: String,
    /// The OSTree ref whose commits are the stream's releases.
    pub ref_name: String,
    /// Release metadata in the format of FCOS's `updates/<stream>.json`.
    pub updates: Option<PathBuf>,
}

/// One config pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The pool's name, the last segment of `/config/<pool>`.
    pub name: String,
    /// Ignition or Butane files or directories, merged in name order.
    pub fragments: Vec<PathBuf>,
    /// Whether a request must carry one of [`Config::tokens`].
    pub require_token: bool,
}

/// The listener's certificate chain and private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// How the server reaches etcd over TLS (Airlock's `client_cert_pub_path` and
/// `client_cert_key_path`, plus the CA): PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdTls {
    /// The CA certificates etcd's server certificate must chain to (`None`: the
    /// system's public roots).
    pub ca: Option<PathBuf>,
    /// The client certificate chain and its key, for an etcd that requires client
    /// certificates (`--client-cert-auth`).
    pub client: Option<(PathBuf, PathBuf)>,
}

/// A config that could not be read or was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The text was refused; the report names each key with its line and column.
    #[error("invalid config '{name}':\n{}", report.to_string().trim_end())]
    Invalid {
        /// The file's name as the user gave it.
        name: String,
        /// The text, for [`ConfigError::pretty`].
        text: String,
        /// What is wrong and where.
        report: Report,
    },
}

impl ConfigError {
    /// The report with the source lines under each entry (Butane's default form), or
    /// `None` for an I/O error.
    pub fn pretty(&self, color: bool) -> Option<String> {
        match self {
            ConfigError::Io(_) => None,
            ConfigError::Invalid { name, text, report } => Some(
                Pretty {
                    source: text,
                    name,
                    color,
                }
                .render(report),
            ),
        }
    }
}

// The raw shape of the file: serde checks the types and refuses unknown keys; the
// spans let `check` name the place of a value it refuses.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<Spanned<String>>,
    data: Option<PathBuf>,
    etcd: Option<Vec<Spanned<String>>>,
    lock: Option<RawLock>,
    graph: Option<RawGraph>,
    #[serde(default)]
    pools: Vec<RawPool>,
    #[serde(default)]
    tokens: Vec<Spanned<String>>,
    #[serde(default)]
    admin_tokens: Vec<Spanned<String>>,
    tls_cert: Option<Spanned<PathBuf>>,
    tls_key: Option<Spanned<PathBuf>>,
    etcd_ca: Option<PathBuf>,
    etcd_cert: Option<Spanned<PathBuf>>,
    etcd_key: Option<Spanned<PathBuf>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLock {
    default_group: Option<Spanned<String>>,
    default_slots: Option<Spanned<i64>>,
    lease_seconds: Option<Spanned<i64>>,
    conflicts: Option<Spanned<String>>,
    #[serde(default)]
    groups: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: Spanned<String>,
    slots: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraph {
    repo: PathBuf,
    #[serde(default)]
    streams: Vec<RawStream>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStream {
    name: Spanned<String>,
    #[serde(rename = "ref")]
    ref_name: Spanned<String>,
    updates: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    name: Spanned<String>,
    #[serde(default)]
    fragments: Vec<PathBuf>,
    #[serde(default)]
    require_token: bool,
}

/// The longest lease: 30 days.
pub const MAX_LEASE_SECONDS: i64 = 30 * 86_400;

/// The most slots a group may have: far more than any fleet reboots at once, small
/// enough that a typo of many digits is caught.
pub const MAX_SLOTS: i64 = 100_000;

impl Config {
    /// Reads and checks the config file at `path`; relative paths inside it are taken
    /// relative to its directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| IoError::new("read", path, e))?;
        let base = path.parent().unwrap_or(Path::new(""));
        Config::parse(&text, &path.display().to_string(), base)
    }

    /// Parses and checks config `text` named `name`; relative paths are joined to
    /// `base`.
    pub fn parse(text: &str, name: &str, base: &Path) -> Result<Config, ConfigError> {
        let invalid = |report: Report| ConfigError::Invalid {
            name: name.to_owned(),
            text: text.to_owned(),
            report,
        };
        let tree = match DeTable::parse(text) {
            Ok(tree) => tree,
            Err(error) => {
                let mut report = Report::new();
                report.entries.push(entry_at(
                    text,
                    None,
                    error.span(),
                    first_line(error.message()),
                ));
                return Err(invalid(report));
            }
        };
        let raw: RawConfig = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(error) => {
                let span = error.span();
                let path = span.as_ref().map(|s| key_path_at(tree.get_ref(), s.start));
                let mut report = Report::new();
                report
                    .entries
                    .push(entry_at(text, path, span, first_line(error.message())));
                return Err(invalid(report));
            }
        };
        let mut checker = Checker {
            text,
            report: Report::new(),
        };
        let config = checker.check(raw, base);
        if checker.report.is_fatal() {
            return Err(invalid(checker.report));
        }
        Ok(config)
    }

    /// Whether the admin API needs TLS to be safe: tokens travel in every admin
    /// request, so they are refused over plain HTTP except on loopback.
    pub fn tokens_would_travel_in_clear(&self) -> bool {
        (!self.admin_tokens.is_empty() || !self.tokens.is_empty())
            && self.tls.is_none()
            && !self.listen.ip().is_loopback()
    }
}

struct Checker<'t> {
    text: &'t str,
    report: Report,
}

impl Checker<'_> {
    fn error(&mut self, path: &str, span: Range<usize>, message: impl Into<String>) {
        self.report.entries.push(entry_at(
            self.text,
            Some(KeyPath::parse(path)),
            Some(span),
            message.into(),
        ));
    }

    fn check(&mut self, raw: RawConfig, base: &Path) -> Config {
        let resolve = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
        let listen = match raw.listen {
            Some(listen) => listen.get_ref().parse().unwrap_or_else(|e| {
                self.error(
                    "listen",
                    listen.span(),
                    format!("not an address and port ({e}), e.g. \"{DEFAULT_LISTEN}\""),
                );
                DEFAULT_LISTEN.parse().expect("a valid default")
            }),
            None => DEFAULT_LISTEN.parse().expect("a valid default"),
        };
        let mut etcd = Vec::new();
        for (i, endpoint) in raw.etcd.unwrap_or_default().into_iter().enumerate() {
            let url = endpoint.get_ref();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.error(
                    &format!("etcd.{i}"),
                    endpoint.span(),
                    "an etcd endpoint is an http:// or https:// URL",
                );
            }
            etcd.push(endpoint.into_inner());
        }
        let lock = self.check_lock(raw.lock);
        let graph = raw.graph.map(|graph| GraphConfig {
            repo: resolve(graph.repo),
            streams: self.check_streams(graph.streams, &resolve),
        });
        let mut pools: Vec<PoolConfig> = Vec::new();
        for (i, pool) in raw.pools.into_iter().enumerate() {
            let name = pool.name.get_ref();
            if !is_valid_name(name) {
                self.error(
                    &format!("pools.{i}.name"),
                    pool.name.span(),
                    "a pool name must match ^[a-zA-Z0-9.-]+$",
                );
            } else if pools.iter().any(|p| &p.name == name) {
                self.error(
                    &format!("pools.{i}.name"),
                    pool.name.span(),
                    format!("pool '{name}' is defined twice"),
                );
            }
            pools.push(PoolConfig {
                name: pool.name.into_inner(),
                fragments: pool.fragments.into_iter().map(resolve).collect(),
                require_token: pool.require_token,
            });
        }
        let tokens = self.check_tokens("tokens", raw.tokens);
        let admin_tokens = self.check_tokens("admin_tokens", raw.admin_tokens);
        let tls = match (raw.tls_cert, raw.tls_key) {
            (Some(cert), Some(key)) => Some(TlsConfig {
                cert: resolve(cert.into_inner()),
                key: resolve(key.into_inner()),
            }),
            (None, None) => None,
            (Some(cert), None) => {
                self.error("tls_cert", cert.span(), "tls_cert needs tls_key too");
                None
            }
            (None, Some(key)) => {
                self.error("tls_key", key.span(), "tls_key needs tls_cert too");
                None
            }
        };
        let etcd_client = match (raw.etcd_cert, raw.etcd_key) {
            (Some(cert), Some(key)) => {
                Some((resolve(cert.into_inner()), resolve(key.into_inner())))
            }
            (None, None) => None,
            (Some(cert), None) => {
                self.error("etcd_cert", cert.span(), "etcd_cert needs etcd_key too");
                None
            }
            (None, Some(key)) => {
                self.error("etcd_key", key.span(), "etcd_key needs etcd_cert too");
                None
            }
        };
        let etcd_ca = raw.etcd_ca.map(resolve);
        let etcd_tls = (etcd_ca.is_some() || etcd_client.is_some()).then_some(EtcdTls {
            ca: etcd_ca,
            client: etcd_client,
        });
        Config {
            listen,
            data: resolve(raw.data.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA))),
            etcd,
            etcd_tls,
            lock,
            graph,
            pools,
            tokens,
            admin_tokens,
            tls,
        }
    }

    fn check_slots(&mut self, path: &str, slots: &Spanned<i64>) -> u32 {
        let n = *slots.get_ref();
        if !(1..=MAX_SLOTS).contains(&n) {
            self.error(
                path,
                slots.span(),
                format!("slots must be between 1 and {MAX_SLOTS}, not {n}"),
            );
            return 1;
        }
        u32::try_from(n).unwrap_or(1)
    }

    fn check_lock(&mut self, raw: Option<RawLock>) -> LockConfig {
        let raw = raw.unwrap_or(RawLock {
            default_group: None,
            default_slots: None,
            lease_seconds: None,
            conflicts: None,
            groups: Vec::new(),
        });
        let refuse_conflicts = match &raw.conflicts {
            None => false,
            Some(c) => match c.get_ref().as_str() {
                "retry" => false,
                "refuse" => true,
                other => {
                    self.error(
                        "lock.conflicts",
                        c.span(),
                        format!("conflicts is \"retry\" or \"refuse\", not \"{other}\""),
                    );
                    false
                }
            },
        };
        let lease_seconds = raw.lease_seconds.as_ref().and_then(|lease| {
            let n = *lease.get_ref();
            if !(0..=MAX_LEASE_SECONDS).contains(&n) {
                self.error(
                    "lock.lease_seconds",
                    lease.span(),
                    format!("lease_seconds must be between 0 (no lease) and {MAX_LEASE_SECONDS}, not {n}"),
                );
            }
            u64::try_from(n).ok().filter(|&n| n > 0)
        });
        let default_slots = raw
            .default_slots
            .as_ref()
            .map_or(1, |s| self.check_slots("lock.default_slots", s));
        let default_group = match raw.default_group {
            Some(name) => {
                if !is_valid_group(name.get_ref()) {
                    self.error(
                        "lock.default_group",
                        name.span(),
                        "a group name must match ^[a-zA-Z0-9.-]+$",
                    );
                }
                name.into_inner()
            }
            None => "default".to_owned(),
        };
        let mut groups = BTreeMap::from([(default_group.clone(), default_slots)]);
        for (i, group) in raw.groups.iter().enumerate() {
            let name = group.name.get_ref();
            let path = format!("lock.groups.{i}.name");
            if !is_valid_group(name) {
                self.error(
                    &path,
                    group.name.span(),
                    "a group name must match ^[a-zA-Z0-9.-]+$",
                );
                continue;
            }
            if *name == default_group {
                self.error(
                    &path,
                    group.name.span(),
                    format!("'{name}' is the default group; set its slots with lock.default_slots"),
                );
                continue;
            }
            let slots = group.slots.as_ref().map_or(default_slots, |s| {
                self.check_slots(&format!("lock.groups.{i}.slots"), s)
            });
            if groups.insert(name.clone(), slots).is_some() {
                self.error(
                    &path,
                    group.name.span(),
                    format!("group '{name}' is defined twice"),
                );
            }
        }
        LockConfig {
            default_group,
            groups,
            lease_seconds,
            refuse_conflicts,
        }
    }

    fn check_streams(
        &mut self,
        raw: Vec<RawStream>,
        resolve: &dyn Fn(PathBuf) -> PathBuf,
    ) -> Vec<StreamConfig> {
        let mut streams: Vec<StreamConfig> = Vec::new();
        for (i, stream) in raw.into_iter().enumerate() {
            let name = stream.name.get_ref();
            if !is_valid_name(name) {
                self.error(
                    &format!("graph.streams.{i}.name"),
                    stream.name.span(),
                    "a stream name must match ^[a-zA-Z0-9.-]+$",
                );
            } else if streams.iter().any(|s| &s.name == name) {
                self.error(
                    &format!("graph.streams.{i}.name"),
                    stream.name.span(),
                    format!("stream '{name}' is defined twice"),
                );
            }
            if stream.ref_name.get_ref().is_empty() {
                self.error(
                    &format!("graph.streams.{i}.ref"),
                    stream.ref_name.span(),
                    "the ref is empty",
                );
            }
            streams.push(StreamConfig {
                name: stream.name.into_inner(),
                ref_name: stream.ref_name.into_inner(),
                updates: stream.updates.map(resolve),
            });
        }
        streams
    }

    fn check_tokens(&mut self, key: &str, raw: Vec<Spanned<String>>) -> Vec<String> {
        let mut tokens = Vec::new();
        for (i, token) in raw.into_iter().enumerate() {
            let t = token.get_ref();
            if t.len() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                self.error(
                    &format!("{key}.{i}"),
                    token.span(),
                    "a token has at least 16 characters and no spaces",
                );
            }
            tokens.push(token.into_inner());
        }
        tokens
    }
}

fn is_valid_name(name: &str) -> bool {
    is_valid_group(name)
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_owned()
}

/// A report entry at byte offsets `span` of `text`.
fn entry_at(
    text: &str,
    path: Option<KeyPath>,
    span: Option<Range<usize>>,
    message: String,
) -> Entry {
    Entry {
        kind: Kind::Error,
        message,
        path: path.filter(|p| !p.is_root()),
        mark: span.map(|s| mark_at(text, s.start)),
    }
}

/// The line and column (from 1, in characters) of byte `offset` of `text`.
pub(crate) fn mark_at(text: &str, offset: usize) -> Mark {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Mark::new(line, text[line_start..offset].chars().count() + 1)
}

/// The path of the deepest key whose key or value contains byte `offset`: the key an
/// error at that place is about. Tables written with `[header]`s are not contiguous,
/// so every child is searched, not only those whose span contains the offset.
fn key_path_at(table: &DeTable<'_>, offset: usize) -> KeyPath {
    fn in_span(span: Range<usize>, offset: usize) -> bool {
        span.start <= offset && offset < span.end.max(span.start + 1)
    }
    fn search_value(
        value: &Spanned<DeValue<'_>>,
        path: &KeyPath,
        offset: usize,
    ) -> Option<KeyPath> {
        match value.get_ref() {
            DeValue::Table(table) => search_table(table, path, offset),
            DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let path = path.index(i);
                search_value(item, &path, offset)
                    .or_else(|| in_span(item.span(), offset).then_some(path))
            }),
            _ => None,
        }
    }
    fn search_table(table: &DeTable<'_>, path: &KeyPath, offset: usize) -> Option<KeyPath> {
        table.iter().find_map(|(key, value)| {
            let path = path.key(key.get_ref().as_ref());
            search_value(value, &path, offset).or_else(|| {
                (in_span(key.span(), offset) || in_span(value.span(), offset)).then_some(path)
            })
        })
    }
    search_table(table, &KeyPath::root(), offset).unwrap_or_default()
}

impl fmt::Display for LockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|(name, slots)| format!("{name}={slots}"))
            .collect();
        f.write_str(&groups.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_EXAMPLE: &str = r#"listen = "127.0.0.1:8410"          # also --listen ADDR on the command line
data = "/var/lib/ferro-fleet"      # embedded store (default backend)
# etcd = ["http://127.0.0.1:2379"] # or --etcd URL,URL: the etcd v3 backend instead
[lock]
default_group = "default"
default_slots = 1
[[lock.groups]]
name = "workers"
slots = 2
[graph]
repo = "/srv/repo"                 # an OSTree repository (archive mode) ferro or ostree made
[[graph.streams]]
name = "stable"
ref = "ferrocore/x86_64/stable"
[[pools]]
name = "worker"
fragments = ["/etc/ferro-fleet/worker.d"]   # Ignition or Butane files merged in name order
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "fleet.toml", Path::new("/etc/ferro-fleet"))
    }

    fn errors(text: &str) -> String {
        match parse(text) {
            Err(ConfigError::Invalid { report, .. }) => report.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_issue_example_parses() {
        let config = parse(ISSUE_EXAMPLE).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8410");
        assert_eq!(config.data, Path::new("/var/lib/ferro-fleet"));
        assert_eq!(config.lock.to_string(), "default=1,workers=2");
        let graph = config.graph.unwrap();
        assert_eq!(graph.repo, Path::new("/srv/repo"));
        assert_eq!(graph.streams[0].ref_name, "ferrocore/x86_64/stable");
        assert_eq!(config.pools[0].name, "worker");
        assert!(config.etcd.is_empty() && config.tls.is_none());
    }

    #[test]
    fn defaults_without_lock_table() {
        let config = parse("").unwrap();
        assert_eq!(config.lock.to_string(), "default=1");
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        let config =
            parse("data = \"state\"\n[lock]\ndefault_slots = 3\n[[lock.groups]]\nname = \"w\"\n")
                .unwrap();
        assert_eq!(config.lock.to_string(), "default=3,w=3");
        assert_eq!(config.lock.lease_seconds, None);
        let lease = parse("[lock]\nlease_seconds = 7200\n").unwrap();
        assert_eq!(lease.lock.lease_seconds, Some(7200));
        assert!(
            errors("[lock]\nlease_seconds = -1\n")
                .starts_with("error at $.lock.lease_seconds, line 2 col 17")
        );
        assert_eq!(config.data, Path::new("/etc/ferro-fleet/state"));
    }

    #[test]
    fn refusals_name_key_line_and_column() {
        let bad_slots = ISSUE_EXAMPLE.replace("slots = 2", "slots = 0");
        assert_eq!(
            errors(&bad_slots),
            "error at $.lock.groups.0.slots, line 9 col 9: slots must be between 1 and 100000, not 0\n"
        );
        let unknown = ISSUE_EXAMPLE.replace("slots = 2", "slot = 2");
        let report = errors(&unknown);
        assert!(
            report.starts_with("error at $.lock.groups.0.slot, line 9 col 1: unknown field `slot`"),
            "{report}"
        );
        let wrong_type = ISSUE_EXAMPLE.replace("default_slots = 1", "default_slots = \"1\"");
        let report = errors(&wrong_type);
        assert!(
            report.starts_with("error at $.lock.default_slots, line 6 col 17: invalid type"),
            "{report}"
        );
        let listen = ISSUE_EXAMPLE.replace("127.0.0.1:8410\"", "localhost\"");
        assert!(errors(&listen).starts_with("error at $.listen, line 1 col 10: not an address"));
        let syntax = "[lock\n";
        assert!(
            errors(syntax).starts_with("error at line 1 col"),
            "{}",
            errors(syntax)
        );
        let twice = "[[lock.groups]]\nname = \"a\"\n[[lock.groups]]\nname = \"a\"\n";
        assert_eq!(
            errors(twice),
            "error at $.lock.groups.1.name, line 4 col 8: group 'a' is defined twice\n"
        );
        let group = "[[lock.groups]]\nname = \"a b\"\n";
        assert!(errors(group).starts_with("error at $.lock.groups.0.name, line 2 col 8"));
    }

    #[test]
    fn pretty_form_shows_the_line() {
        let bad = ISSUE_EXAMPLE.replace("slots = 2", "slots = -4");
        let pretty = parse(&bad).unwrap_err().pretty(false).unwrap();
        assert!(pretty.contains("--> fleet.toml:9:9"), "{pretty}");
        assert!(pretty.contains(" 9 | slots = -4"), "{pretty}");
    }

    #[test]
    fn tokens_in_clear_only_on_loopback() {
        let token = "admin_tokens = [\"0123456789abcdef\"]\n";
        assert!(!parse(token).unwrap().tokens_would_travel_in_clear());
        let open = format!("listen = \"0.0.0.0:8410\"\n{token}");
        assert!(parse(&open).unwrap().tokens_would_travel_in_clear());
        assert!(errors("admin_tokens = [\"short\"]\n").contains("$.admin_tokens.0, line 1 col 17"));
    }
}
