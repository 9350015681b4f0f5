//! Ignition's stage contract (reference §1.1), so ferrocore can stand in for the
//! `ignition` binary in the initramfs units.
//!
//! Each stage is a separate run sharing state through files: `fetch-offline` and `fetch`
//! find, render, validate and cache the user config (`/run/ignition.json`); the other
//! stages read that cache. Every stage merges the system base configs under it. When the
//! offline fetch finds something that needs the network it touches the neednet flag and
//! succeeds, so that the `fetch` unit runs once networking is up.
//!
//! `disks` partitions disks and makes filesystems ([`crate::disks`]); `mount` mounts the
//! filesystems that have a path and records them in the state file, which `umount`
//! reads to unmount them ([`crate::mount`]). The state file is a JSON object that every
//! stage rewrites, keeping what earlier stages put in it. ferrocore does not do kernel
//! arguments, RAID or LUKS yet: `kargs` and `disks` fail clearly when the config asks
//! for them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferro_spec::{Config, Resource, Version};
use ferro_sys::atomic::{self, WriteOptions};
use ferro_sys::{IoError, IoResultExt};

use crate::disks::{self, Devices};
use crate::fetch::{FetchError, Fetcher};
use crate::files::{self, Changes};
use crate::mount::{self, Mounted};
use crate::render::{self, RenderError};
use crate::root::{Perms, Root};
use crate::sources::{Origin, SourceError, Sources};

/// One of Ignition's stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Fetch and cache the config without network; flag when the network is needed.
    FetchOffline,
    /// Fetch and cache the config with network.
    Fetch,
    /// Kernel arguments.
    Kargs,
    /// Partitions, RAID, LUKS, filesystems.
    Disks,
    /// Mount the config's filesystems.
    Mount,
    /// Users, files, directories, links, units.
    Files,
    /// Unmount what `mount` mounted.
    Umount,
}

impl Stage {
    /// Every stage, in boot order.
    pub const ALL: [Stage; 7] = [
        Stage::FetchOffline,
        Stage::Fetch,
        Stage::Kargs,
        Stage::Disks,
        Stage::Mount,
        Stage::Files,
        Stage::Umount,
    ];

    /// The stage's name on Ignition's command line.
    pub fn name(self) -> &'static str {
        match self {
            Stage::FetchOffline => "fetch-offline",
            Stage::Fetch => "fetch",
            Stage::Kargs => "kargs",
            Stage::Disks => "disks",
            Stage::Mount => "mount",
            Stage::Files => "files",
            Stage::Umount => "umount",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.name() == name)
            .ok_or_else(|| format!("invalid stage {name:?}"))
    }
}

/// Where a stage run reads and writes, with Ignition's defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// The stage to run.
    pub stage: Stage,
    /// The target root (`/sysroot` in the initramfs).
    pub root: PathBuf,
    /// The rendered user config shared between stages.
    pub config_cache: PathBuf,
    /// The state shared between stages.
    pub state_file: PathBuf,
    /// Touched by `fetch-offline` when the config needs the network.
    pub neednet: PathBuf,
    /// Where configs come from.
    pub sources: Sources,
    /// Limit for each fetch of the fetch stages unless the config sets
    /// `timeouts.httpTotal` (Ignition's `-fetch-timeout`, 2 minutes).
    pub fetch_timeout: Option<Duration>,
    /// The boot id recorded in the result file.
    pub boot_id: PathBuf,
    /// Write SSH keys to the `authorized_keys.d/ignition` fragment (Ignition's default;
    /// `IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT=false` turns it off).
    pub authorized_keys_fragment: bool,
}

impl Options {
    /// Ignition's default paths for `stage` with these sources and root.
    pub fn new(stage: Stage, sources: Sources, root: PathBuf) -> Self {
        Options {
            stage,
            root,
            config_cache: PathBuf::from("/run/ignition.json"),
            state_file: PathBuf::from("/run/ignition/state"),
            neednet: PathBuf::from("/run/ignition/neednet"),
            sources,
            fetch_timeout: Some(Duration::from_secs(120)),
            boot_id: PathBuf::from("/proc/sys/kernel/random/boot_id"),
            authorized_keys_fragment: true,
        }
    }
}

/// What a successful stage did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A fetch stage cached the rendered config.
    Cached {
        /// Where the user config came from.
        origin: Origin,
        /// Whether there was a user config at all (else an empty one was cached).
        user_config_provided: bool,
    },
    /// `fetch-offline` found that the config needs the network and touched the flag.
    NeedNetwork {
        /// What needs it.
        reason: String,
    },
    /// The stage had nothing to do for this config.
    NothingToDo,
    /// The files stage ran.
    Applied {
        /// What it changed.
        changes: Changes,
        /// Whether a result file of an earlier run was found (and nested in the new one).
        previous_run: bool,
    },
}

/// Why a stage failed. The CLI prints it after "Ignition failed: ".
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No config could be read from the sources.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The config could not be rendered or is invalid.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A file could not be read or written: one of the stage contract (config cache,
    /// state file, neednet flag) or the target root. Printed on one line with its cause
    /// (the CLI prints the error after "Ignition failed: " and no chain), and not made
    /// the `source()`, so a printer that walks causes does not repeat it.
    #[error("{}", .0.one_line())]
    Io(IoError),
    /// The config cache is not a config.
    #[error("failed to read the config cache {path}: {error}")]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// The decoding error.
        error: serde_json::Error,
    },
    /// The config asks a stage for something ferrocore cannot do yet.
    #[error("the {stage} stage is not supported by ferrocore yet, but the config sets {section}")]
    NotSupported {
        /// The stage.
        stage: Stage,
        /// The config section that needs it.
        section: &'static str,
    },
    /// The files stage failed.
    #[error(transparent)]
    Files(#[from] files::Error),
    /// The disks, mount or umount stage failed.
    #[error(transparent)]
    Storage(#[from] disks::Error),
}

impl From<IoError> for EngineError {
    fn from(error: IoError) -> Self {
        EngineError::Io(error)
    }
}

/// Where the files stage records a successful provisioning, inside the root.
pub const RESULT_FILE: &str = "/etc/.ignition-result.json";

/// Runs one stage.
pub fn run(options: &Options) -> Result<Outcome, EngineError> {
    let base = options.sources.base_config()?;
    let mut state = read_state(&options.state_file);
    let outcome = match options.stage {
        Stage::FetchOffline | Stage::Fetch => fetch_stage(options, &base)?,
        stage => {
            let user = read_cache(&options.config_cache)?;
            let full = render::over_base(&base, &user);
            match stage {
                Stage::Files => files_stage(options, &user, &full)?,
                Stage::Disks => disks_stage(options, &full)?,
                Stage::Mount => mount_stage(options, &full, &mut state)?,
                Stage::Umount => umount_stage(&mut state)?,
                other => unsupported_sections(other, &full)?,
            }
        }
    };
    let state = serde_json::to_vec(&state).unwrap_or_else(|_| b"{}".to_vec());
    write_atomically(&options.state_file, &state, 0o640)?;
    Ok(outcome)
}

/// The state file's JSON object; empty when there is none (or it is not an object).
fn read_state(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The state key listing what the mount stage mounted, for umount.
const STATE_MOUNTS: &str = "mounts";
/// The state key listing the mountpoint directories the mount stage created (Ignition's name).
const STATE_DIRS: &str = "notatedDirectories";

/// Where device nodes missing from `/dev` are made: `dev/` next to the state file.
fn device_dir(options: &Options) -> PathBuf {
    match options.state_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("dev"),
        _ => PathBuf::from("dev"),
    }
}

fn disks_stage(options: &Options, config: &Config) -> Result<Outcome, EngineError> {
    let storage = &config.storage;
    let unsupported = |section| EngineError::NotSupported {
        stage: Stage::Disks,
        section,
    };
    if !storage.raid.is_empty() {
        return Err(unsupported("storage.raid"));
    }
    if !storage.luks.is_empty() {
        return Err(unsupported("storage.luks"));
    }
    if storage.disks.is_empty() && storage.filesystems.is_empty() {
        return Ok(Outcome::NothingToDo);
    }
    let changes = disks::apply(config, &Devices::new(device_dir(options)))?;
    Ok(Outcome::Applied {
        changes,
        previous_run: false,
    })
}

fn mount_stage(
    options: &Options,
    config: &Config,
    state: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<Outcome, EngineError> {
    if mount::mountable(config).is_empty() {
        return Ok(Outcome::NothingToDo);
    }
    let report = mount::mount_all(config, &options.root, &Devices::new(device_dir(options)))?;
    let mut mounted = recorded_mounts(state);
    mounted.extend(report.mounted);
    state.insert(
        STATE_MOUNTS.to_owned(),
        serde_json::to_value(&mounted).unwrap_or_default(),
    );
    if let serde_json::Value::Array(dirs) = state
        .entry(STATE_DIRS)
        .or_insert_with(|| serde_json::Value::Array(Vec::new()))
    {
        dirs.extend(
            report
                .created_dirs
                .into_iter()
                .map(serde_json::Value::String),
        );
    }
    Ok(Outcome::Applied {
        changes: report.changes,
        previous_run: false,
    })
}

fn recorded_mounts(state: &serde_json::Map<String, serde_json::Value>) -> Vec<Mounted> {
    state
        .get(STATE_MOUNTS)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// Unmounts what the state file says the mount stage mounted (nothing recorded: nothing
/// to do, as when the config has no mountable filesystem).
fn umount_stage(
    state: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<Outcome, EngineError> {
    let mounted = recorded_mounts(state);
    if mounted.is_empty() {
        return Ok(Outcome::NothingToDo);
    }
    let changes = mount::umount_all(&mounted)?;
    state.remove(STATE_MOUNTS);
    Ok(Outcome::Applied {
        changes,
        previous_run: false,
    })
}

fn fetch_stage(options: &Options, base: &Config) -> Result<Outcome, EngineError> {
    let offline = options.stage == Stage::FetchOffline;
    let fetcher = if offline {
        Fetcher::offline()
    } else {
        Fetcher::new()
    }
    .with_total_timeout(options.fetch_timeout);
    let needs_network = |reason: String| -> Result<Outcome, EngineError> {
        write_atomically(&options.neednet, b"", 0o644)?;
        Ok(Outcome::NeedNetwork { reason })
    };
    let provided = match options.sources.provider_config(&fetcher) {
        Err(SourceError::Fetch(error @ FetchError::NeedNetwork { .. })) => {
            return needs_network(error.to_string());
        }
        other => other?,
    };
    // Zero bytes is Ignition's `ErrEmpty` too: no config, not a broken one.
    let bytes = provided.bytes.filter(|bytes| !bytes.is_empty());
    let user_config_provided = bytes.is_some();
    let user = match &bytes {
        Some(bytes) => render::parse_config(&provided.origin.to_string(), bytes)?,
        None => empty_config(),
    };
    let mut user = match render::render(user, &fetcher) {
        Err(error) if error.needs_network() => return needs_network(error.to_string()),
        other => other?,
    };
    let full = render::full_config(base, &user)?;
    if let Some(reason) = network_need(&full).filter(|_| offline) {
        return needs_network(reason);
    }
    let settings = fetcher
        .with_settings(&user.ignition)
        .map_err(RenderError::from)?;
    render::inline_certificate_authorities(&mut user, &settings)?;
    let json = ferro_spec::to_go_json(&user, false);
    write_atomically(&options.config_cache, json.as_bytes(), 0o640)?;
    Ok(Outcome::Cached {
        origin: provided.origin,
        user_config_provided,
    })
}

/// `{"ignition":{"version":"3.6.0"}}`: what is cached when no source has a config.
pub fn empty_config() -> Config {
    let mut config = Config::default();
    config.ignition.version = Version::LATEST_STABLE.as_str().to_owned();
    config
}

fn read_cache(path: &Path) -> Result<Config, EngineError> {
    let bytes = std::fs::read(path).at("read", path)?;
    serde_json::from_slice(&bytes).map_err(|error| EngineError::Cache {
        path: path.to_owned(),
        error,
    })
}

/// What in a config needs the network, as Ignition's offline walk finds it: a resource
/// whose source is not `data:` (or empty), a Tang server without an advertisement, or a
/// custom Clevis pin that says it needs the network.
pub fn network_need(config: &Config) -> Option<String> {
    let ignition = &config.ignition;
    let storage = &config.storage;
    let resources = ignition
        .config
        .merge
        .iter()
        .chain(std::iter::once(&ignition.config.replace))
        .chain(&ignition.security.tls.certificate_authorities)
        .chain(
            storage
                .files
                .iter()
                .flat_map(|f| std::iter::once(&f.contents).chain(&f.append)),
        )
        .chain(storage.luks.iter().map(|l| &l.key_file));
    if let Some(url) = resources.filter_map(remote_source).next() {
        return Some(format!("resource {url} requires networking"));
    }
    for luks in &storage.luks {
        if luks.clevis.tang.iter().any(|t| t.advertisement.is_none()) {
            return Some(format!(
                "LUKS volume {} uses Tang without an advertisement",
                luks.name
            ));
        }
        if luks.clevis.custom.needs_network == Some(true) {
            return Some(format!(
                "LUKS volume {} uses a Clevis pin that needs the network",
                luks.name
            ));
        }
    }
    None
}

fn remote_source(resource: &Resource) -> Option<&str> {
    let source = resource.source.as_deref().filter(|s| !s.is_empty())?;
    let is_data = source
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"));
    (!is_data).then_some(source)
}

/// The stages ferrocore does not implement (kargs): fine when the config needs nothing of them.
fn unsupported_sections(stage: Stage, config: &Config) -> Result<Outcome, EngineError> {
    let kargs = &config.kernel_arguments;
    let section = match stage {
        Stage::Kargs if !kargs.should_exist.is_empty() || !kargs.should_not_exist.is_empty() => {
            Some("kernelArguments")
        }
        _ => None,
    };
    match section {
        Some(section) => Err(EngineError::NotSupported { stage, section }),
        None => Ok(Outcome::NothingToDo),
    }
}

fn files_stage(options: &Options, user: &Config, full: &Config) -> Result<Outcome, EngineError> {
    let fetcher = Fetcher::new()
        .with_settings(&full.ignition)
        .map_err(RenderError::from)?;
    let root = Root::open(&options.root)?;
    let files_options = files::Options {
        authorized_keys_fragment: options.authorized_keys_fragment,
        ..files::Options::for_config(full, false)
    };
    let changes = files::apply(full, &root, &fetcher, &files_options)?;
    let previous = root
        .read(RESULT_FILE)?
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let boot_id = std::fs::read_to_string(&options.boot_id)
        .map(|id| id.trim().to_owned())
        .unwrap_or_default();
    let mut report = serde_json::json!({
        "provisioningBootID": boot_id,
        "provisioningDate": rfc3339(SystemTime::now()),
        "userConfigProvided": *user != empty_config() && *user != Config::default(),
    });
    let previous_run = previous.is_some();
    if let (Some(previous), Some(fields)) = (previous, report.as_object_mut()) {
        fields.insert("previousReport".to_owned(), previous);
    }
    root.create_dir_all("/etc", 0o755, None)?;
    let text = serde_json::to_vec(&report).unwrap_or_default();
    root.write_file(
        RESULT_FILE,
        &text,
        Perms {
            uid: Some(0),
            gid: Some(0),
            mode: 0o600,
        },
    )?;
    Ok(Outcome::Applied {
        changes,
        previous_run,
    })
}

/// `ferro ignition apply`: renders `config` (merge/replace), merges it over `base`,
/// validates, then runs the files stage on `root`, all in one process. No cache, state,
/// or result file: this is for image builds and containers, not first boot.
pub fn apply(
    config: &[u8],
    base: &Config,
    root: &Path,
    fetcher: &Fetcher,
    dry_run: bool,
) -> Result<Changes, EngineError> {
    let user = render::parse_config("config", config)?;
    let user = render::render(user, fetcher)?;
    let full = render::full_config(base, &user)?;
    let fetcher = fetcher
        .with_settings(&full.ignition)
        .map_err(RenderError::from)?;
    let root = Root::open(root)?;
    Ok(files::apply(
        &full,
        &root,
        &fetcher,
        &files::Options::for_config(&full, dry_run),
    )?)
}

/// Replaces `path` atomically with `mode` through ferrocore's one atomic writer (synced
/// before it is named), creating missing parent directories: a crash never leaves a
/// half-written cache, state file or flag.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), EngineError> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).at("create directory", dir)?;
    }
    atomic::write_file(path, bytes, WriteOptions::replace(mode))?;
    Ok(())
}

/// `2006-01-02T15:04:05Z` for a UTC time (the initramfs runs in UTC).
fn rfc3339(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
#[path = "../tests/support/workdir.rs"]
mod workdir;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::Platform;

    struct Bench {
        dir: tempfile::TempDir,
    }

    impl Bench {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("root")).unwrap();
            std::fs::write(dir.path().join("boot_id"), "abc\n").unwrap();
            Bench { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn options(&self, stage: Stage) -> Options {
            let env = workdir::ignition_env(self.dir.path());
            let sources = Sources::from_lookup(Platform::File, |name| env.get(name).cloned());
            Options {
                config_cache: self.path("run/ignition.json"),
                state_file: self.path("run/state"),
                neednet: self.path("run/neednet"),
                boot_id: self.path("boot_id"),
                fetch_timeout: Some(Duration::from_secs(2)),
                ..Options::new(stage, sources, self.path("root"))
            }
        }

        fn config(&self, text: &str) {
            std::fs::write(self.path("config.ign"), text).unwrap();
        }
    }

    #[test]
    fn names_stages() {
        for stage in Stage::ALL {
            assert_eq!(stage.name().parse::<Stage>(), Ok(stage));
        }
        assert!("nope".parse::<Stage>().is_err());
    }

    #[test]
    fn caches_an_empty_config_when_there_is_none() {
        let bench = Bench::new();
        let outcome = run(&bench.options(Stage::FetchOffline)).unwrap();
        assert!(matches!(
            outcome,
            Outcome::Cached {
                user_config_provided: false,
                ..
            }
        ));
        let cache = bench.path("run/ignition.json");
        assert_eq!(
            std::fs::read_to_string(&cache).unwrap(),
            r#"{"ignition":{"version":"3.6.0"}}"#
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        for stage in [Stage::Kargs, Stage::Disks, Stage::Mount, Stage::Umount] {
            assert_eq!(run(&bench.options(stage)).unwrap(), Outcome::NothingToDo);
        }
        assert!(bench.path("run/state").exists());
    }

    #[test]
    fn flags_neednet_offline_and_fetches_online() {
        let bench = Bench::new();
        bench.config(
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","contents":{"source":"http://127.0.0.1:9/x"}}]}}"#,
        );
        let outcome = run(&bench.options(Stage::FetchOffline)).unwrap();
        assert!(
            matches!(outcome, Outcome::NeedNetwork { ref reason } if reason.contains("127.0.0.1:9"))
        );
        assert!(bench.path("run/neednet").exists());
        assert!(!bench.path("run/ignition.json").exists());
        assert!(matches!(
            run(&bench.options(Stage::Fetch)).unwrap(),
            Outcome::Cached {
                user_config_provided: true,
                ..
            }
        ));
        assert!(bench.path("run/ignition.json").exists());
    }

    #[test]
    fn refuses_configs_for_unsupported_stages() {
        let bench = Bench::new();
        bench.config(
            r#"{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["quiet"]},"storage":{"raid":[{"name":"md0","level":"raid1","devices":["/dev/ferro-none-a","/dev/ferro-none-b"]}]}}"#,
        );
        run(&bench.options(Stage::Fetch)).unwrap();
        let error = run(&bench.options(Stage::Kargs)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the kargs stage is not supported by ferrocore yet, but the config sets kernelArguments"
        );
        assert!(
            run(&bench.options(Stage::Disks))
                .unwrap_err()
                .to_string()
                .contains("storage.raid")
        );
        assert_eq!(
            run(&bench.options(Stage::Mount)).unwrap(),
            Outcome::NothingToDo
        );
    }

    #[test]
    fn rejects_bad_configs() {
        let bench = Bench::new();
        bench.config(r#"{"ignition":{"version":"2.2.0"}}"#);
        assert!(run(&bench.options(Stage::Fetch)).is_err());
        assert!(matches!(
            run(&bench.options(Stage::Files)),
            Err(EngineError::Io(_))
        ));
    }

    #[test]
    fn finds_network_needs() {
        let mut config = empty_config();
        assert_eq!(network_need(&config), None);
        config.storage.files.push(ferro_spec::File {
            path: "/a".to_owned(),
            append: vec![Resource {
                source: Some("https://h/x".to_owned()),
                ..Resource::default()
            }],
            ..ferro_spec::File::default()
        });
        assert!(network_need(&config).unwrap().contains("https://h/x"));
    }

    #[test]
    fn formats_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_709_251_199)),
            "2024-02-29T23:59:59Z"
        );
    }
}
