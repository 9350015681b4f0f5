//! Where configs come from (reference §2.1, §2.2).
//!
//! The user config is taken from the first source that has one: the kernel command line
//! (`ignition.config.url=`), then `user.ign` in the system config dirs, then the
//! platform. Base configs (`base.d/`, `base.platform.d/<platform>/` in the same dirs) are
//! merged *under* it at every stage.
//!
//! Every location is a field of [`Sources`], filled from the environment variables
//! Ignition honours by [`Sources::from_env`]; tests fill it from their own table instead
//! of mutating the process environment.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ferro_spec::Config;
use ferro_sys::{IoError, IoResultExt};

use crate::fetch::{FetchError, Fetcher};

/// The platforms ferrocore can read a config from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// A file on disk (`$IGNITION_CONFIG_FILE` or `./config.ign`): tests and development.
    File,
    /// QEMU's fw_cfg entry `opt/com.coreos/config`.
    Qemu,
    /// Bare metal: no platform config, it comes from the kernel command line.
    Metal,
}

/// Platforms Ignition knows that ferrocore has no provider for yet: named so that the
/// error says "not supported yet" rather than "unknown".
const KNOWN_PLATFORMS: &[&str] = &[
    "akamai",
    "aliyun",
    "applehv",
    "aws",
    "azure",
    "azurestack",
    "brightbox",
    "cloudstack",
    "digitalocean",
    "exoscale",
    "gcp",
    "hetzner",
    "hyperv",
    "ibmcloud",
    "kubevirt",
    "nutanix",
    "nvidiabluefield",
    "openstack",
    "oraclecloud",
    "packet",
    "powervs",
    "proxmoxve",
    "scaleway",
    "upcloud",
    "virtualbox",
    "vmware",
    "vultr",
    "zvm",
];

/// A platform name that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// Ignition has this platform; ferrocore does not yet.
    #[error("platform {0:?} is not supported by ferrocore yet (supported: file, qemu, metal)")]
    NotSupported(String),
    /// Not a platform name at all.
    #[error("invalid platform name {0:?}")]
    Unknown(String),
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "file" => Ok(Platform::File),
            "qemu" => Ok(Platform::Qemu),
            "metal" => Ok(Platform::Metal),
            other if KNOWN_PLATFORMS.contains(&other) => {
                Err(PlatformError::NotSupported(other.to_owned()))
            }
            other => Err(PlatformError::Unknown(other.to_owned())),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::File => "file",
            Platform::Qemu => "qemu",
            Platform::Metal => "metal",
        })
    }
}

/// Why no config could be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A config file or directory exists but cannot be read. Printed on one line with
    /// its cause, as the engine's errors are (see `EngineError::Io`).
    #[error("{}", .0.one_line())]
    Read(IoError),
    /// The kernel command line asks for something that cannot be done.
    #[error("{0}")]
    Cmdline(String),
    /// The config URL could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A base config is not a valid config.
    #[error("{path}: {error}")]
    BaseConfig {
        /// The base config file.
        path: PathBuf,
        /// Why it was rejected, with the findings when there are any.
        error: String,
    },
}

/// Where the user config came from, for logs and the result file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `ignition.config.url` on the kernel command line.
    Cmdline(String),
    /// `user.ign` in a system config dir.
    System(PathBuf),
    /// The platform provider.
    Platform(Platform),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Cmdline(url) => write!(f, "kernel command line URL {url}"),
            Origin::System(path) => write!(f, "system config {}", path.display()),
            Origin::Platform(platform) => write!(f, "platform {platform}"),
        }
    }
}

/// The user config as found: its bytes, or `None` when the source has no config
/// (Ignition's `ErrEmpty`: provisioning continues with an empty config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provided {
    /// Which source answered.
    pub origin: Origin,
    /// The raw config, not yet parsed.
    pub bytes: Option<Vec<u8>>,
}

/// The system config dirs, highest priority first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemDirs {
    /// `/run/ignition` (`IGNITION_SYSTEM_RUNTIME_CONFIG_DIR`).
    pub runtime: PathBuf,
    /// `/etc/ignition` (`IGNITION_SYSTEM_LOCAL_CONFIG_DIR`).
    pub local: PathBuf,
    /// `/usr/lib/ignition` (`IGNITION_SYSTEM_CONFIG_DIR`).
    pub vendor: PathBuf,
}

impl SystemDirs {
    fn by_priority(&self) -> [&Path; 3] {
        [&self.runtime, &self.local, &self.vendor]
    }
}

/// Every place a config is looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// The platform whose provider is asked last and whose base configs apply.
    pub platform: Platform,
    /// The kernel command line file (`/proc/cmdline`, `IGNITION_KERNEL_CMDLINE_PATH`).
    pub cmdline: PathBuf,
    /// The system config dirs.
    pub system_dirs: SystemDirs,
    /// The `file` platform's config (`$IGNITION_CONFIG_FILE`, default `config.ign`).
    pub config_file: PathBuf,
    /// The `qemu` platform's fw_cfg entry directory (holding `raw` and `size`).
    pub fw_cfg: PathBuf,
}

impl Sources {
    /// The locations Ignition uses, overridden by its environment variables.
    pub fn from_env(platform: Platform) -> Self {
        Sources::from_lookup(platform, |name| std::env::var(name).ok())
    }

    /// Like [`Sources::from_env`] with variables from `lookup` (empty values count as
    /// unset, as Ignition treats them).
    pub fn from_lookup(platform: Platform, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str, default: &str| {
            PathBuf::from(
                lookup(name)
                    .filter(|value| !value.is_empty())
                    .unwrap_or_else(|| default.to_owned()),
            )
        };
        Sources {
            platform,
            cmdline: var("IGNITION_KERNEL_CMDLINE_PATH", "/proc/cmdline"),
            system_dirs: SystemDirs {
                runtime: var("IGNITION_SYSTEM_RUNTIME_CONFIG_DIR", "/run/ignition"),
                local: var("IGNITION_SYSTEM_LOCAL_CONFIG_DIR", "/etc/ignition"),
                vendor: var("IGNITION_SYSTEM_CONFIG_DIR", "/usr/lib/ignition"),
            },
            config_file: var("IGNITION_CONFIG_FILE", "config.ign"),
            fw_cfg: PathBuf::from("/sys/firmware/qemu_fw_cfg/by_name/opt/com.coreos/config"),
        }
    }

    /// The user config: kernel command line, else system `user.ign`, else the platform.
    /// A URL on the command line is fetched with `fetcher`.
    pub fn provider_config(&self, fetcher: &Fetcher) -> Result<Provided, SourceError> {
        if let Some(url) = self.cmdline_url()? {
            let bytes = fetcher.fetch_url(&url)?;
            return Ok(Provided {
                origin: Origin::Cmdline(url),
                bytes,
            });
        }
        for dir in self.system_dirs.by_priority() {
            let path = dir.join("user.ign");
            if let Some(bytes) = read_optional(&path)? {
                return Ok(Provided {
                    origin: Origin::System(path),
                    bytes: Some(bytes),
                });
            }
        }
        let bytes = match self.platform {
            Platform::File => read_optional(&self.config_file)?,
            Platform::Qemu => self.read_fw_cfg()?,
            Platform::Metal => None,
        };
        Ok(Provided {
            origin: Origin::Platform(self.platform),
            bytes,
        })
    }

    /// `ignition.config.url` from the kernel command line (the last non-empty one).
    ///
    /// `ignition.config.device`/`path` (Ignition 2.27) need a block device mounted; they
    /// are checked for consistency and otherwise reported as not supported yet.
    fn cmdline_url(&self) -> Result<Option<String>, SourceError> {
        let Some(bytes) = read_optional(&self.cmdline)? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        let (mut url, mut device, mut path) = (None, None, None);
        for argument in text.split_whitespace() {
            let Some((key, value)) = argument.split_once('=') else {
                continue;
            };
            let slot = match key {
                "ignition.config.url" => &mut url,
                "ignition.config.device" => &mut device,
                "ignition.config.path" => &mut path,
                _ => continue,
            };
            if !value.is_empty() {
                *slot = Some(value.to_owned());
            }
        }
        if url.is_some() {
            return Ok(url);
        }
        match (device, path) {
            (None, None) => Ok(None),
            (Some(device), Some(path)) => Err(SourceError::Cmdline(format!(
                "reading the config from a device (ignition.config.device={device}, \
                 ignition.config.path={path}) is not supported by ferrocore yet"
            ))),
            _ => Err(SourceError::Cmdline(
                "both ignition.config.device and ignition.config.path must be provided together"
                    .to_owned(),
            )),
        }
    }

    /// The QEMU fw_cfg entry, read in one go into a buffer sized from its `size` file:
    /// the kernel's fw_cfg reads cost time proportional to the offset, so small reads
    /// take quadratic time on large configs.
    fn read_fw_cfg(&self) -> Result<Option<Vec<u8>>, SourceError> {
        let raw = self.fw_cfg.join("raw");
        let size = std::fs::read_to_string(self.fw_cfg.join("size"))
            .ok()
            .and_then(|text| text.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut file = match std::fs::File::open(&raw) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(SourceError::Read(IoError::new("read", raw, error))),
        };
        // One spare byte so that a size that grew is noticed by the same read.
        let mut bytes = Vec::with_capacity(size.max(64 * 1024) + 1);
        file.read_to_end(&mut bytes)
            .map_err(|error| SourceError::Read(IoError::new("read", raw, error)))?;
        Ok(Some(bytes).filter(|b| !b.is_empty()))
    }

    /// The base config: every file of `base.d/`, then of `base.platform.d/<platform>/`,
    /// across the system dirs (the highest-priority dir wins for a name), each group in
    /// sorted name order, merged in that order. Base configs are not rendered.
    pub fn base_config(&self) -> Result<Config, SourceError> {
        let mut config = Config::default();
        let platform_dir = format!("base.platform.d/{}", self.platform);
        for subdir in ["base.d", platform_dir.as_str()] {
            for path in self.base_files(subdir)? {
                let bytes = std::fs::read(&path)
                    .at("read", &path)
                    .map_err(SourceError::Read)?;
                let parsed = ferro_spec::parse::parse(&bytes).map_err(|error| {
                    let findings = error.report().map(ToString::to_string).unwrap_or_default();
                    SourceError::BaseConfig {
                        path: path.clone(),
                        error: format!("{error}\n{findings}").trim_end().to_owned(),
                    }
                })?;
                config = ferro_spec::merge::merge(&config, &parsed.config).config;
            }
        }
        Ok(config)
    }

    fn base_files(&self, subdir: &str) -> Result<Vec<PathBuf>, SourceError> {
        let mut chosen = std::collections::BTreeMap::new();
        for dir in self.system_dirs.by_priority() {
            let dir = dir.join(subdir);
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(SourceError::Read(IoError::new("list", dir, error))),
            };
            for entry in entries {
                let entry = entry.at("list", &dir).map_err(SourceError::Read)?;
                let path = entry.path();
                if path.is_file() {
                    chosen.entry(entry.file_name()).or_insert(path);
                }
            }
        }
        Ok(chosen.into_values().collect())
    }
}

/// A file's contents, or `None` if it does not exist.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, SourceError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(SourceError::Read(IoError::new("read", path, error))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(dir: &Path, platform: Platform) -> Sources {
        Sources::from_lookup(platform, |name| {
            let sub = match name {
                "IGNITION_KERNEL_CMDLINE_PATH" => "cmdline",
                "IGNITION_SYSTEM_RUNTIME_CONFIG_DIR" => "run",
                "IGNITION_SYSTEM_LOCAL_CONFIG_DIR" => "etc",
                "IGNITION_SYSTEM_CONFIG_DIR" => "usr",
                "IGNITION_CONFIG_FILE" => "config.ign",
                _ => return None,
            };
            Some(dir.join(sub).display().to_string())
        })
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn file_config(path: &str, text: &str) -> String {
        format!(
            r#"{{"ignition":{{"version":"3.0.0"}},"storage":{{"files":[{{"path":"{path}","contents":{{"source":"data:,{text}"}}}}]}}}}"#
        )
    }

    #[test]
    fn parses_platforms() {
        assert_eq!("qemu".parse::<Platform>(), Ok(Platform::Qemu));
        assert_eq!(Platform::Metal.to_string(), "metal");
        assert!(
            "aws"
                .parse::<Platform>()
                .unwrap_err()
                .to_string()
                .contains("not supported by ferrocore yet")
        );
        assert_eq!(
            "nope".parse::<Platform>(),
            Err(PlatformError::Unknown("nope".to_owned()))
        );
    }

    #[test]
    fn precedence_is_cmdline_then_system_then_platform() {
        let dir = tempfile::tempdir().unwrap();
        let s = sources(dir.path(), Platform::File);
        let offline = Fetcher::offline();
        let got = s.provider_config(&offline).unwrap();
        assert_eq!(got.origin, Origin::Platform(Platform::File));
        assert_eq!(got.bytes, None);
        write(&dir.path().join("config.ign"), "platform");
        assert_eq!(
            s.provider_config(&offline).unwrap().bytes.as_deref(),
            Some(&b"platform"[..])
        );
        write(&dir.path().join("usr/user.ign"), "vendor");
        write(&dir.path().join("etc/user.ign"), "local");
        let got = s.provider_config(&offline).unwrap();
        assert_eq!(got.bytes.as_deref(), Some(&b"local"[..]));
        assert_eq!(got.origin, Origin::System(dir.path().join("etc/user.ign")));
        write(
            &dir.path().join("cmdline"),
            "quiet ignition.config.url=data:,first ignition.config.url=data:,cmdline ignition.config.url=\n",
        );
        let got = s.provider_config(&offline).unwrap();
        assert_eq!(got.bytes.as_deref(), Some(&b"cmdline"[..]));
        assert_eq!(got.origin, Origin::Cmdline("data:,cmdline".to_owned()));
    }

    #[test]
    fn device_and_path_go_together() {
        let dir = tempfile::tempdir().unwrap();
        let s = sources(dir.path(), Platform::Metal);
        write(
            &dir.path().join("cmdline"),
            "ignition.config.path=/config.ign",
        );
        let error = s.provider_config(&Fetcher::offline()).unwrap_err();
        assert!(error.to_string().contains("must be provided together"));
        write(
            &dir.path().join("cmdline"),
            "ignition.config.device=L ignition.config.path=/c",
        );
        let error = s.provider_config(&Fetcher::offline()).unwrap_err();
        assert!(error.to_string().contains("not supported by ferrocore yet"));
    }

    #[test]
    fn reads_qemu_fw_cfg_and_treats_absence_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sources(dir.path(), Platform::Qemu);
        s.fw_cfg = dir.path().join("fw_cfg");
        assert_eq!(s.provider_config(&Fetcher::offline()).unwrap().bytes, None);
        let big = "x".repeat(200_000);
        write(&s.fw_cfg.join("raw"), &big);
        write(&s.fw_cfg.join("size"), "200000\n");
        let got = s.provider_config(&Fetcher::offline()).unwrap();
        assert_eq!(got.bytes.map(|b| b.len()), Some(200_000));
    }

    #[test]
    fn merges_base_configs_by_name_and_priority() {
        let dir = tempfile::tempdir().unwrap();
        let s = sources(dir.path(), Platform::Qemu);
        write(
            &dir.path().join("usr/base.d/40-a.ign"),
            &file_config("/a", "vendor"),
        );
        write(
            &dir.path().join("run/base.d/40-a.ign"),
            &file_config("/a", "runtime"),
        );
        write(
            &dir.path().join("etc/base.d/50-b.ign"),
            &file_config("/b", "local"),
        );
        write(
            &dir.path().join("usr/base.d/60-b.ign"),
            &file_config("/b", "later"),
        );
        write(
            &dir.path().join("usr/base.platform.d/qemu/10-p.ign"),
            &file_config("/a", "platform"),
        );
        write(
            &dir.path().join("usr/base.platform.d/file/10-p.ign"),
            &file_config("/z", "other"),
        );
        let base = s.base_config().unwrap();
        let files: Vec<(String, String)> = base
            .storage
            .files
            .iter()
            .map(|f| (f.path.clone(), f.contents.source.clone().unwrap()))
            .collect();
        assert_eq!(
            files,
            vec![
                ("/a".to_owned(), "data:,platform".to_owned()),
                ("/b".to_owned(), "data:,later".to_owned()),
            ]
        );
        write(&dir.path().join("etc/base.d/70-bad.ign"), "{");
        assert!(
            s.base_config()
                .unwrap_err()
                .to_string()
                .contains("70-bad.ign")
        );
    }
}
