//! Installing Debian packages into a directory with `debootstrap`, downloads kept in a
//! cache directory so a rebuild fetches nothing that did not change.
//!
//! It runs in debootstrap's two stages (`--foreign`, then `--second-stage` in the
//! target) so that dpkg can be told `force-unsafe-io` in between: a tree being built
//! is thrown away if anything fails, so syncing each of its 30,000 files as dpkg
//! unpacks them buys nothing and costs a large part of the install. The setting is
//! removed before the tree is used.

use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferro_sys::{CommandError, CommandRunExt, IoError, IoResultExt};

/// The debootstrap binary.
pub const DEBOOTSTRAP: &str = "debootstrap";

/// dpkg's setting for the second stage, inside the target.
const UNSAFE_IO: &str = "etc/dpkg/dpkg.cfg.d/ferro-compose-unsafe-io";

/// Why the packages could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// debootstrap (or `chroot`, for the second stage) could not be started; the error
    /// names the package that has it.
    #[error(transparent)]
    Start(#[from] CommandError),
    /// A directory or the log could not be made.
    #[error(transparent)]
    Io(#[from] IoError),
    /// debootstrap failed.
    #[error("debootstrap failed ({status}); its log '{log}' ends with:\n{tail}")]
    Failed {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The full log.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
}

/// The Debian archive this host's apt uses: the first `URIs:` of
/// `/etc/apt/sources.list.d/debian.sources`, else the first `deb` line of
/// `/etc/apt/sources.list`, else `deb.debian.org`. Using the host's keeps builds on
/// whatever mirror (or proxy) the machine is set up to reach.
pub fn host_mirror() -> String {
    let deb822 = fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
    let list = fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    mirror_from(&deb822, &list).unwrap_or_else(|| "http://deb.debian.org/debian".into())
}

fn mirror_from(deb822: &str, list: &str) -> Option<String> {
    let from_deb822 = deb822.lines().find_map(|line| {
        let uris = line.strip_prefix("URIs:")?;
        uris.split_whitespace().next().map(str::to_owned)
    });
    from_deb822.or_else(|| {
        list.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "deb").then_some(())?;
            words.find(|w| !w.starts_with('[')).map(str::to_owned)
        })
    })
}

/// One debootstrap run.
#[derive(Debug, Clone)]
pub struct Debootstrap {
    /// The Debian release.
    pub suite: String,
    /// The archive.
    pub mirror: String,
    /// Packages besides the `minbase` variant's.
    pub packages: Vec<String>,
    /// Where downloaded packages are kept between runs.
    pub cache_dir: PathBuf,
}

impl Debootstrap {
    /// The arguments for installing into `target`.
    pub fn args(&self, target: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--foreign".into(), "--variant=minbase".into()];
        if !self.packages.is_empty() {
            args.push(format!("--include={}", self.packages.join(",")).into());
        }
        let mut cache = OsString::from("--cache-dir=");
        cache.push(&self.cache_dir);
        args.push(cache);
        args.extend([
            self.suite.clone().into(),
            target.as_os_str().to_owned(),
            self.mirror.clone().into(),
        ]);
        args
    }

    /// Installs into `target` (which must not exist yet or be empty), logging to `log`.
    pub fn run(&self, target: &Path, log: &Path) -> Result<(), Error> {
        fs::create_dir_all(&self.cache_dir).at("create", &self.cache_dir)?;
        let out = File::create(log).at("create", log)?;
        let logged = |command: &mut Command| -> Result<std::process::ExitStatus, Error> {
            let stdout = out.try_clone().at("write", log)?;
            let stderr = out.try_clone().at("write", log)?;
            command
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .run_status()
                .map_err(Error::Start)
        };
        let mut status = logged(Command::new(DEBOOTSTRAP).args(self.args(target)))?;
        if status.success() {
            let unsafe_io = target.join(UNSAFE_IO);
            let dir = unsafe_io.parent().expect("has a parent");
            fs::create_dir_all(dir).at("create", dir)?;
            fs::write(&unsafe_io, "force-unsafe-io\n").at("write", &unsafe_io)?;
            status = logged(
                Command::new("chroot")
                    .arg(target)
                    .args(["/debootstrap/debootstrap", "--second-stage"])
                    .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            )?;
            match fs::remove_file(&unsafe_io) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(IoError::new("remove", unsafe_io, e).into());
                }
                _ => {}
            }
        }
        if status.success() {
            return Ok(());
        }
        let text = fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        Err(Error::Failed {
            status,
            log: log.to_owned(),
            tail: lines[lines.len().saturating_sub(10)..].join("\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_comes_from_deb822_then_sources_list() {
        let deb822 =
            "Types: deb\n# comment\nURIs: http://a/debian http://b/debian\nSuites: bookworm\n";
        assert_eq!(mirror_from(deb822, "").as_deref(), Some("http://a/debian"));
        let list = "# x\ndeb-src http://s/ bookworm main\ndeb [arch=amd64] http://l/debian bookworm main\n";
        assert_eq!(mirror_from("", list).as_deref(), Some("http://l/debian"));
        assert_eq!(mirror_from("", ""), None);
    }

    #[test]
    fn arguments() {
        let run = Debootstrap {
            suite: "bookworm".into(),
            mirror: "http://m/debian".into(),
            packages: vec!["systemd".into(), "udev".into()],
            cache_dir: "/cache/debs".into(),
        };
        let args: Vec<String> = run
            .args(Path::new("/work/rootfs"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "--foreign",
                "--variant=minbase",
                "--include=systemd,udev",
                "--cache-dir=/cache/debs",
                "bookworm",
                "/work/rootfs",
                "http://m/debian"
            ]
        );
    }
}
