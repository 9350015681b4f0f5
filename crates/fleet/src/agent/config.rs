//! The agent's config: TOML drop-ins with Zincati's keys and defaults.
//!
//! Directories, lowest precedence first: `/usr/lib/zincati/config.d`,
//! `/usr/lib/ferro/agent.d`, `/run/zincati/config.d`, `/run/ferro/agent.d`,
//! `/etc/zincati/config.d`, `/etc/ferro/agent.d`. As in Zincati (liboverdrop), one file
//! per *file name* is kept — the one in the later directory, so `/etc` overrides
//! `/run` overrides `/usr/lib`, and a ferro directory overrides Zincati's of the same
//! level; a file that is a symlink to `/dev/null` masks the name. The kept files are
//! then merged in file-name order, later keys replacing earlier ones whatever their
//! directory, except `[[updates.periodic.window]]`, which accumulates.
//!
//! Unlike Zincati, files without the `.toml` suffix and keys Zincati does not know are
//! not silently ignored: they are returned as [`Config::warnings`] (the journal and
//! `ferro agent status` show them; zincati#1160, airlock#81). Bad values are errors
//! naming the file and key.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The drop-in directories, lowest precedence first (relative to the root).
pub const DIRS: [&str; 6] = [
    "usr/lib/zincati/config.d",
    "usr/lib/ferro/agent.d",
    "run/zincati/config.d",
    "run/ferro/agent.d",
    "etc/zincati/config.d",
    "etc/ferro/agent.d",
];

/// Zincati's default Cincinnati server; a ferrocore image ships its own drop-in.
pub const DEFAULT_CINCINNATI: &str = "https://updates.coreos.fedoraproject.org";

/// A config that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("agent config {}: {detail}", path.display())]
pub struct ConfigError {
    /// The file (or directory) at fault.
    pub path: PathBuf,
    /// What is wrong and how to fix it.
    pub detail: String,
}

/// A day of the week, Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Weekday(pub u8);

impl Weekday {
    fn parse(name: &str) -> Option<Weekday> {
        const NAMES: [&str; 7] = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        let lower = name.to_ascii_lowercase();
        NAMES
            .iter()
            .position(|full| *full == lower || full[..3] == lower)
            .map(|i| Weekday(i as u8))
    }
}

/// One maintenance window: on `days`, from `start_minute` (since midnight) for
/// `length_minutes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The days it starts on.
    pub days: Vec<Weekday>,
    /// Minutes since midnight.
    pub start_minute: u32,
    /// How long (> 0).
    pub length_minutes: u32,
}

/// `updates.strategy`.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Reboot as soon as the update is staged.
    Immediate,
    /// Reboot only inside a maintenance window.
    Periodic {
        /// The windows.
        windows: Vec<Window>,
        /// The zone the windows are in (`updates.periodic.time_zone`, UTC by default).
        time_zone: super::window::Zone,
    },
    /// Reboot when the FleetLock server grants a slot.
    FleetLock {
        /// The server's base URL.
        base_url: String,
    },
}

impl Strategy {
    /// Zincati's name for it (the `strategy` label of its metric).
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Immediate => "immediate",
            Strategy::Periodic { .. } => "periodic",
            Strategy::FleetLock { .. } => "fleet_lock",
        }
    }
}

/// `[pool]`: ferrocore's config pool, beyond Zincati.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// The pool name (`/config/<name>`).
    pub name: String,
    /// The config server.
    pub base_url: String,
    /// Its enrollment token, if it asks for one.
    pub token: Option<String>,
    /// Files (absolute paths) a config change may rewrite in place, without a reboot.
    pub no_reboot: Vec<String>,
}

/// The effective config.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `agent.timing.steady_interval_secs` (300).
    pub steady_interval_secs: u64,
    /// `cincinnati.base_url`.
    pub cincinnati_base_url: String,
    /// `identity.group` ("default").
    pub group: String,
    /// `identity.node_uuid`, when set (else derived from the machine id).
    pub node_uuid: Option<String>,
    /// `identity.rollout_wariness`, when set.
    pub rollout_wariness: Option<f64>,
    /// `updates.enabled` (true).
    pub enabled: bool,
    /// `updates.allow_downgrade` (false).
    pub allow_downgrade: bool,
    /// `updates.strategy` and its settings.
    pub strategy: Strategy,
    /// `agent.health.timeout_secs` (ferrocore; 300): how long health checks may take.
    pub health_timeout_secs: u64,
    /// `[pool]`, when configured.
    pub pool: Option<PoolSettings>,
    /// The files read, in merge order.
    pub files: Vec<PathBuf>,
    /// What was ignored and why (unknown keys, files without `.toml`).
    pub warnings: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Fragment {
    agent: Option<AgentFragment>,
    cincinnati: Option<CincinnatiFragment>,
    identity: Option<IdentityFragment>,
    updates: Option<UpdatesFragment>,
    pool: Option<PoolFragment>,
}
#[derive(Debug, Default, Deserialize)]
struct AgentFragment {
    timing: Option<TimingFragment>,
    health: Option<HealthFragment>,
}
#[derive(Debug, Default, Deserialize)]
struct TimingFragment {
    steady_interval_secs: Option<u64>,
}
#[derive(Debug, Default, Deserialize)]
struct HealthFragment {
    timeout_secs: Option<u64>,
}
#[derive(Debug, Default, Deserialize)]
struct CincinnatiFragment {
    base_url: Option<String>,
}
#[derive(Debug, Default, Deserialize)]
struct IdentityFragment {
    group: Option<String>,
    node_uuid: Option<String>,
    rollout_wariness: Option<f64>,
}
#[derive(Debug, Default, Deserialize)]
struct UpdatesFragment {
    enabled: Option<bool>,
    allow_downgrade: Option<bool>,
    strategy: Option<String>,
    fleet_lock: Option<FleetLockFragment>,
    periodic: Option<PeriodicFragment>,
}
#[derive(Debug, Default, Deserialize)]
struct FleetLockFragment {
    base_url: Option<String>,
}
#[derive(Debug, Default, Deserialize)]
struct PeriodicFragment {
    time_zone: Option<String>,
    window: Option<Vec<WindowFragment>>,
}
#[derive(Debug, Deserialize)]
struct WindowFragment {
    days: Vec<String>,
    start_time: String,
    length_minutes: u32,
}
#[derive(Debug, Default, Deserialize)]
struct PoolFragment {
    name: Option<String>,
    base_url: Option<String>,
    token: Option<String>,
    no_reboot: Option<Vec<String>>,
}

/// Every key the agent knows, dotted; tables end with `.`.
const KNOWN: &[&str] = &[
    "agent.",
    "agent.timing.",
    "agent.timing.steady_interval_secs",
    "agent.health.",
    "agent.health.timeout_secs",
    "cincinnati.",
    "cincinnati.base_url",
    "identity.",
    "identity.group",
    "identity.node_uuid",
    "identity.rollout_wariness",
    "updates.",
    "updates.enabled",
    "updates.allow_downgrade",
    "updates.strategy",
    "updates.fleet_lock.",
    "updates.fleet_lock.base_url",
    "updates.periodic.",
    "updates.periodic.time_zone",
    "updates.periodic.window",
    "updates.periodic.window.days",
    "updates.periodic.window.start_time",
    "updates.periodic.window.length_minutes",
    "pool.",
    "pool.name",
    "pool.base_url",
    "pool.token",
    "pool.no_reboot",
];

fn unknown_keys(prefix: &str, value: &toml::Value, out: &mut Vec<String>) {
    let tables: Vec<&toml::Table> = match value {
        toml::Value::Table(t) => vec![t],
        toml::Value::Array(items) => items.iter().filter_map(|v| v.as_table()).collect(),
        _ => return,
    };
    for table in tables {
        for (key, child) in table {
            let path = format!("{prefix}{key}");
            let known =
                KNOWN.contains(&path.as_str()) || KNOWN.contains(&format!("{path}.").as_str());
            if !known {
                out.push(path);
            } else {
                unknown_keys(&format!("{path}."), child, out);
            }
        }
    }
}

/// The drop-ins under `root`: one per file name (later directories win, a link to
/// `/dev/null` masks), sorted by name; plus warnings for files that are not `.toml`.
fn scan(root: &Path) -> Result<(Vec<PathBuf>, Vec<String>), ConfigError> {
    let mut by_name: BTreeMap<String, Option<PathBuf>> = BTreeMap::new();
    let mut warnings = vec![];
    for dir in DIRS {
        let dir = root.join(dir);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(ConfigError {
                    path: dir,
                    detail: format!("cannot list: {e}"),
                });
            }
        };
        let mut names: Vec<_> = entries.filter_map(Result::ok).collect();
        names.sort_by_key(|e| e.file_name());
        for entry in names {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let masked = fs::read_link(&path).is_ok_and(|t| t == Path::new("/dev/null"));
            if !name.ends_with(".toml") {
                if !masked {
                    warnings.push(format!(
                        "{}: ignored, only *.toml files are read (rename it to {name}.toml?)",
                        path.display()
                    ));
                }
                continue;
            }
            by_name.insert(name, (!masked).then_some(path));
        }
    }
    Ok((by_name.into_values().flatten().collect(), warnings))
}

fn bad(path: &Path, detail: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.to_owned(),
        detail: detail.into(),
    }
}

fn parse_window(path: &Path, w: WindowFragment) -> Result<Window, ConfigError> {
    let days = w
        .days
        .iter()
        .map(|d| {
            Weekday::parse(d).ok_or_else(|| {
                bad(
                    path,
                    format!("updates.periodic.window.days: '{d}' is not a weekday (Mon, Tuesday…)"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let time = w.start_time.split_once(':').and_then(|(h, m)| {
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    });
    let start_minute = time.ok_or_else(|| {
        bad(
            path,
            format!(
                "updates.periodic.window.start_time: '{}' is not hh:mm",
                w.start_time
            ),
        )
    })?;
    if w.length_minutes == 0 || days.is_empty() {
        return Err(bad(
            path,
            "updates.periodic.window: length_minutes must be > 0 and days not empty",
        ));
    }
    Ok(Window {
        days,
        start_minute,
        length_minutes: w.length_minutes,
    })
}

impl Config {
    /// Reads the drop-ins of every directory under `root` (`/` on a host).
    pub fn load(root: &Path) -> Result<Config, ConfigError> {
        let (files, mut warnings) = scan(root)?;
        let mut texts = vec![];
        for path in &files {
            let text =
                fs::read_to_string(path).map_err(|e| bad(path, format!("cannot read: {e}")))?;
            texts.push((path.clone(), text));
        }
        let mut config = Config::from_fragments(&texts, &mut warnings)?;
        config.files = files;
        config.warnings = warnings;
        Ok(config)
    }

    /// Merges fragments given as (name, text), in order.
    pub fn from_fragments(
        fragments: &[(PathBuf, String)],
        warnings: &mut Vec<String>,
    ) -> Result<Config, ConfigError> {
        let mut c = Config {
            steady_interval_secs: 300,
            cincinnati_base_url: DEFAULT_CINCINNATI.to_owned(),
            group: "default".to_owned(),
            node_uuid: None,
            rollout_wariness: None,
            enabled: true,
            allow_downgrade: false,
            strategy: Strategy::Immediate,
            health_timeout_secs: 300,
            pool: None,
            files: vec![],
            warnings: vec![],
        };
        let mut strategy = None::<(PathBuf, String)>;
        let mut fleet_lock_url = None;
        let mut windows = vec![];
        let mut time_zone = super::window::Zone::default();
        let (mut pool_name, mut pool_url, mut pool_token) = (None, None, None);
        let mut no_reboot = vec![];
        for (path, text) in fragments {
            let value: toml::Table = toml::from_str(text)
                .map_err(|e| bad(path, format!("not valid TOML: {}", e.message())))?;
            let mut unknown = vec![];
            unknown_keys("", &toml::Value::Table(value.clone()), &mut unknown);
            for key in unknown {
                warnings.push(format!("{}: unknown key '{key}' ignored", path.display()));
            }
            let f: Fragment = toml::Value::Table(value)
                .try_into()
                .map_err(|e: toml::de::Error| bad(path, e.message().to_owned()))?;
            if let Some(a) = f.agent {
                if let Some(v) = a.timing.and_then(|t| t.steady_interval_secs) {
                    if v == 0 {
                        return Err(bad(path, "agent.timing.steady_interval_secs must be > 0"));
                    }
                    c.steady_interval_secs = v;
                }
                if let Some(v) = a.health.and_then(|h| h.timeout_secs) {
                    c.health_timeout_secs = v;
                }
            }
            if let Some(v) = f.cincinnati.and_then(|c| c.base_url) {
                c.cincinnati_base_url = v;
            }
            if let Some(i) = f.identity {
                if let Some(g) = i.group {
                    if !crate::protocol::is_valid_group(&g) {
                        return Err(bad(
                            path,
                            format!("identity.group '{g}' must match ^[a-zA-Z0-9.-]+$"),
                        ));
                    }
                    c.group = g;
                }
                if let Some(u) = i.node_uuid {
                    let hex = u.replace('-', "").to_ascii_lowercase();
                    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad(
                            path,
                            format!("identity.node_uuid '{u}' is not a 128-bit id"),
                        ));
                    }
                    c.node_uuid = Some(hex);
                }
                if let Some(w) = i.rollout_wariness {
                    if !(0.0..=1.0).contains(&w) {
                        return Err(bad(
                            path,
                            format!("identity.rollout_wariness {w} is not within [0, 1]"),
                        ));
                    }
                    c.rollout_wariness = Some(w);
                }
            }
            if let Some(u) = f.updates {
                if let Some(v) = u.enabled {
                    c.enabled = v;
                }
                if let Some(v) = u.allow_downgrade {
                    c.allow_downgrade = v;
                }
                if let Some(s) = u.strategy {
                    strategy = Some((path.clone(), s));
                }
                if let Some(url) = u.fleet_lock.and_then(|f| f.base_url) {
                    fleet_lock_url = Some(url);
                }
                if let Some(p) = u.periodic {
                    if let Some(tz) = p.time_zone {
                        time_zone = super::window::Zone::parse(&tz)
                            .map_err(|e| bad(path, format!("updates.periodic.time_zone: {e}")))?;
                    }
                    for w in p.window.unwrap_or_default() {
                        windows.push(parse_window(path, w)?);
                    }
                }
            }
            if let Some(p) = f.pool {
                pool_name = p.name.or(pool_name);
                pool_url = p.base_url.or(pool_url);
                pool_token = p.token.or(pool_token);
                no_reboot.extend(p.no_reboot.unwrap_or_default());
            }
        }
        c.strategy = match strategy {
            None => Strategy::Immediate,
            Some((path, s)) => match s.as_str() {
                "" | "immediate" => Strategy::Immediate,
                "periodic" => {
                    if windows.is_empty() {
                        return Err(bad(
                            &path,
                            "strategy 'periodic' needs at least one [[updates.periodic.window]]",
                        ));
                    }
                    Strategy::Periodic {
                        windows: windows.clone(),
                        time_zone: time_zone.clone(),
                    }
                }
                "fleet_lock" => Strategy::FleetLock {
                    base_url: fleet_lock_url.clone().ok_or_else(|| {
                        bad(
                            &path,
                            "strategy 'fleet_lock' needs updates.fleet_lock.base_url",
                        )
                    })?,
                },
                other => {
                    return Err(bad(
                        &path,
                        format!(
                            "updates.strategy '{other}' is not immediate, periodic or fleet_lock"
                        ),
                    ));
                }
            },
        };
        c.pool = match (pool_name, pool_url) {
            (Some(name), Some(base_url)) => Some(PoolSettings {
                name,
                base_url,
                token: pool_token,
                no_reboot,
            }),
            (None, None) => None,
            _ => {
                return Err(ConfigError {
                    path: PathBuf::from("[pool]"),
                    detail: "[pool] needs both name and base_url".into(),
                });
            }
        };
        Ok(c)
    }

    /// Substitutes `${basearch}`, `${group}`, `${platform}`, `${stream}` in a URL
    /// template, as Zincati's envsubst does (nothing else).
    pub fn expand(
        template: &str,
        basearch: &str,
        group: &str,
        platform: &str,
        stream: &str,
    ) -> String {
        template
            .replace("${basearch}", basearch)
            .replace("${group}", group)
            .replace("${platform}", platform)
            .replace("${stream}", stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, file: &str, text: &str) {
        let path = root.join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn zincati_defaults_without_files() {
        let root = tempfile::tempdir().unwrap();
        let c = Config::load(root.path()).unwrap();
        assert_eq!(c.steady_interval_secs, 300);
        assert_eq!(c.group, "default");
        assert!(c.enabled && !c.allow_downgrade);
        assert_eq!(c.strategy, Strategy::Immediate);
        assert_eq!(c.cincinnati_base_url, DEFAULT_CINCINNATI);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn same_name_overrides_by_directory_then_name_order_merges() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(
            r,
            "usr/lib/zincati/config.d/30-strategy.toml",
            "[updates]\nstrategy = \"periodic\"\n",
        );
        // Same name in /etc replaces the /usr/lib file entirely.
        write(
            r,
            "etc/ferro/agent.d/30-strategy.toml",
            "[updates]\nstrategy = \"fleet_lock\"\n[updates.fleet_lock]\nbase_url = \"http://lock/\"\n",
        );
        // Name order, not directory, decides between different names.
        write(
            r,
            "etc/zincati/config.d/10-group.toml",
            "[identity]\ngroup = \"early\"\n",
        );
        write(
            r,
            "usr/lib/ferro/agent.d/90-group.toml",
            "[identity]\ngroup = \"late\"\n",
        );
        // Masked by /dev/null.
        write(
            r,
            "usr/lib/ferro/agent.d/50-off.toml",
            "[updates]\nenabled = false\n",
        );
        fs::create_dir_all(r.join("etc/ferro/agent.d")).unwrap();
        std::os::unix::fs::symlink("/dev/null", r.join("etc/ferro/agent.d/50-off.toml")).unwrap();
        let c = Config::load(r).unwrap();
        assert_eq!(
            c.strategy,
            Strategy::FleetLock {
                base_url: "http://lock/".into()
            }
        );
        assert_eq!(c.group, "late");
        assert!(c.enabled);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn unknown_keys_and_other_suffixes_are_reported() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(
            r,
            "etc/zincati/config.d/90-disable-auto-updates.yaml",
            "updates: {enabled: false}\n",
        );
        write(
            r,
            "etc/ferro/agent.d/20-x.toml",
            "[updates]\nenable = false\n[[updates.fleet_lock.window]]\ndays = [\"Mon\"]\n",
        );
        let c = Config::load(r).unwrap();
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("90-disable-auto-updates.yaml: ignored, only *.toml"));
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("unknown key 'updates.enable'"))
        );
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("unknown key 'updates.fleet_lock.window'"))
        );
    }

    #[test]
    fn windows_accumulate_and_bad_values_name_file_and_key() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(
            r,
            "etc/ferro/agent.d/10-a.toml",
            "[updates]\nstrategy = \"periodic\"\n[[updates.periodic.window]]\ndays = [\"Sat\", \"Sunday\"]\nstart_time = \"23:30\"\nlength_minutes = 60\n",
        );
        write(
            r,
            "etc/ferro/agent.d/20-b.toml",
            "[[updates.periodic.window]]\ndays = [\"wed\"]\nstart_time = \"01:00\"\nlength_minutes = 30\n",
        );
        let c = Config::load(r).unwrap();
        let Strategy::Periodic { windows, .. } = &c.strategy else {
            panic!("{:?}", c.strategy)
        };
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[0].days, [Weekday(5), Weekday(6)]);
        assert_eq!(windows[0].start_minute, 23 * 60 + 30);
        for (text, needle) in [
            (
                "[identity]\nrollout_wariness = 1.5\n",
                "rollout_wariness 1.5",
            ),
            ("[updates]\nstrategy = \"sometimes\"\n", "'sometimes'"),
            (
                "[updates]\nstrategy = \"fleet_lock\"\n",
                "needs updates.fleet_lock.base_url",
            ),
            ("[identity]\nnode_uuid = \"xyz\"\n", "not a 128-bit id"),
            (
                "[agent.timing]\nsteady_interval_secs = \"soon\"\n",
                "invalid type",
            ),
        ] {
            let err = Config::from_fragments(
                &[(PathBuf::from("/etc/ferro/agent.d/x.toml"), text.into())],
                &mut vec![],
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("x.toml") && err.contains(needle), "{err}");
        }
    }
}
