//! The real [`Host`]: the sysroot through ferro-sysroot (the same staging and
//! finalization `ferro upgrade --lock-finalization` and `ferro finalize-deployment`
//! use), systemd and logind through their command-line tools.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferro_sys::CommandRunExt;
use ferro_sys::atomic::{WriteOptions, write_file};
use ferro_sysroot::host::{HostActions, SystemHost};
use ferro_sysroot::upgrade::UpgradeOptions;
use ferro_sysroot::{Apply, Sysroot, UpdateDriver};

use super::machine::{Booted, Health, Host, Persisted, Release};
use super::pool::Plan;

/// The health target whose units must all start.
pub const HEALTH_TARGET: &str = "ferro-agent-health.target";

/// The host the agent runs on.
pub struct SysrootHost {
    /// The sysroot: `/` on a booted ferrocore system, as for `ferro status` (its
    /// `/boot` is the boot partition; `/sysroot/boot` is only a mount point).
    pub sysroot: Sysroot,
    /// The agent's record, `/var/lib/ferro/agent/state.json`.
    pub state_path: PathBuf,
    /// Health scripts, `/etc/ferro/agent/health.d`.
    pub health_dir: PathBuf,
    /// Whether to start [`HEALTH_TARGET`] and ask logind for sessions (false outside
    /// systemd).
    pub use_systemd: bool,
    /// Rebooting and shutdown inhibitors: [`SystemHost`] on a host, a recorder in a
    /// simulation.
    pub actions: Box<dyn HostActions + Send>,
    /// The running system's root, where pool config changes are written in place.
    pub root: PathBuf,
}

fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

impl SysrootHost {
    /// The deployments and the booted one's index.
    fn booted_state(&self) -> Result<(ferro_sysroot::BootState, usize), String> {
        let state = self.sysroot.load().map_err(text)?;
        let index = self
            .sysroot
            .booted_index(&state)
            .map_err(text)?
            .ok_or("not booted from this sysroot")?;
        Ok((state, index))
    }

    fn run_with_timeout(
        &self,
        timeout: Duration,
        program: &Path,
        args: &[&str],
    ) -> Result<(), String> {
        let out = Command::new("timeout")
            .arg(timeout.as_secs().max(1).to_string())
            .arg(program)
            .args(args)
            .run_capture()
            .map_err(text)?;
        match out.status.code() {
            Some(0) => Ok(()),
            Some(124) => Err(format!(
                "{} timed out after {}s",
                program.display(),
                timeout.as_secs()
            )),
            code => Err(format!(
                "{} exited with {code:?}: {}",
                program.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }
}

impl Host for SysrootHost {
    fn booted(&self) -> Result<Booted, String> {
        let (state, index) = self.booted_state()?;
        let d = &state.deployments[index];
        let version = self
            .sysroot
            .repo()
            .load_commit(&d.checksum)
            .ok()
            .and_then(|c| c.metadata_string("version"))
            .unwrap_or_default();
        // Releases are base commits: a deployment with layered packages is known by
        // the base it was built on.
        let base = |c: &ferro_ostree::Checksum| self.sysroot.layer_base(c).to_string();
        Ok(Booted {
            checksum: base(&d.checksum),
            version,
            staged: self
                .sysroot
                .staged()
                .map_err(text)?
                .map(|s| base(&s.checksum)),
            deployed: state
                .deployments
                .iter()
                .map(|d| base(&d.checksum))
                .collect(),
        })
    }

    fn register_driver(&self) -> Result<(), String> {
        self.sysroot
            .register_driver(&UpdateDriver {
                name: "ferro agent".into(),
                unit: "ferro-agent.service".into(),
            })
            .map_err(text)
    }

    fn stage(&self, release: &Release, allow_downgrade: bool) -> Result<(), String> {
        let how = UpgradeOptions {
            apply: Apply::StagedLocked,
            override_commit: Some(release.checksum.clone()),
            allow_downgrade,
            ..UpgradeOptions::default()
        };
        self.sysroot.upgrade_with(&how).map_err(text)?;
        Ok(())
    }

    fn finalize_and_reboot(&self, checksum: &str) -> Result<(), String> {
        // The staged deployment of release `checksum` may carry layered packages: it
        // is finalized by its own commit, once its base is checked to be the release.
        let staged = self.sysroot.staged().map_err(text)?;
        let commit = match staged {
            Some(s) if self.sysroot.layer_base(&s.checksum).to_string() == checksum => {
                s.checksum.to_string()
            }
            _ => checksum.to_owned(),
        };
        ferro_sysroot::host::finalize_deployment(&self.sysroot, &*self.actions, &commit, false)
            .map(|_| ())
            .map_err(text)
    }

    fn rollback_and_reboot(&self) -> Result<(), String> {
        self.sysroot.rollback().map_err(text)?;
        self.actions.reboot().map_err(text)
    }

    fn health(&self, timeout: Duration) -> Health {
        if self.use_systemd
            && let Err(e) =
                self.run_with_timeout(timeout, Path::new("systemctl"), &["start", HEALTH_TARGET])
        {
            return Health::Failed(format!("{HEALTH_TARGET}: {e}"));
        }
        let mut scripts: Vec<PathBuf> = match fs::read_dir(&self.health_dir) {
            Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(_) => vec![],
        };
        scripts.sort();
        for script in scripts {
            if let Err(e) = self.run_with_timeout(timeout, &script, &[]) {
                return Health::Failed(e);
            }
        }
        Health::Passed
    }

    fn interactive_sessions(&self) -> Result<Vec<String>, String> {
        if !self.use_systemd {
            return Ok(vec![]);
        }
        let out = Command::new("loginctl")
            .args(["list-sessions", "--json=short"])
            .run_get_string()
            .map_err(text)?;
        let sessions: serde_json::Value = serde_json::from_str(&out).map_err(text)?;
        Ok(sessions
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                s["tty"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
            })
            .collect())
    }

    fn warn_sessions(&self, message: &str) {
        for tty in self.interactive_sessions().unwrap_or_default() {
            // Best effort, as wall(1): a terminal that cannot be written is skipped.
            let _ = fs::write(Path::new("/dev").join(&tty), format!("\r\n{message}\r\n"));
        }
    }

    fn block_inhibitors(&self) -> Result<Vec<String>, String> {
        self.actions.block_shutdown_inhibitors().map_err(text)
    }

    fn apply_in_place(&self, plan: &Plan) -> Result<(), String> {
        super::pool::apply_in_place(&self.root, plan)
    }

    fn unit_file(&self, name: &str) -> Option<String> {
        ["etc/systemd/system", "usr/lib/systemd/system"]
            .iter()
            .find_map(|dir| fs::read_to_string(self.root.join(dir).join(name)).ok())
    }

    fn stage_config(
        &self,
        append: &[String],
        delete: &[String],
        etc: &[ferro_sysroot::etc_edits::EtcEdit],
    ) -> Result<String, String> {
        let (state, index) = self.booted_state()?;
        let booted = &state.deployments[index];
        let options = ferro_sysroot::DeployOptions {
            osname: Some(booted.osname.clone()),
            refspec: booted.refspec(),
            override_commit: booted.origin.get("origin", "override-commit").is_some(),
            karg_append: append.to_vec(),
            karg_delete: delete.to_vec(),
            lock_finalization: true,
            etc_edits: etc.to_vec(),
            ..ferro_sysroot::DeployOptions::default()
        };
        let report = self
            .sysroot
            .stage(&booted.checksum.to_string(), &options)
            .map_err(text)?;
        Ok(report.deployment.checksum.to_string())
    }

    fn load_state(&self) -> Result<Persisted, String> {
        match fs::read_to_string(&self.state_path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("{}: {e}", self.state_path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Persisted::default()),
            Err(e) => Err(format!("{}: {e}", self.state_path.display())),
        }
    }

    fn save_state(&self, state: &Persisted) -> Result<(), String> {
        if let Some(dir) = self.state_path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let json = serde_json::to_vec_pretty(state).map_err(text)?;
        write_file(&self.state_path, &json, WriteOptions::replace(0o644)).map_err(text)?;
        Ok(())
    }
}

/// Where a real agent finds its pieces (all under `/` on a host).
#[derive(Debug, Clone)]
pub struct SystemPaths {
    /// The root the config directories are under.
    pub config_root: PathBuf,
    /// The sysroot.
    pub sysroot: PathBuf,
    /// The kernel command line (booted deployment, platform).
    pub cmdline: PathBuf,
    /// The run directory (staged record, driver registration).
    pub run_dir: PathBuf,
    /// The machine id file.
    pub machine_id: PathBuf,
    /// The agent's record.
    pub state: PathBuf,
    /// The health scripts.
    pub health_dir: PathBuf,
    /// Whether to start the health target through systemd.
    pub use_systemd: bool,
}

impl Default for SystemPaths {
    fn default() -> Self {
        SystemPaths {
            config_root: PathBuf::from("/"),
            sysroot: PathBuf::from("/"),
            cmdline: PathBuf::from("/proc/cmdline"),
            run_dir: PathBuf::from(ferro_sysroot::DEFAULT_RUN_DIR),
            machine_id: PathBuf::from("/etc/machine-id"),
            state: PathBuf::from("/var/lib/ferro/agent/state.json"),
            health_dir: PathBuf::from("/etc/ferro/agent/health.d"),
            use_systemd: true,
        }
    }
}

/// The commit metadata keys naming the stream, ferrocore's then Fedora CoreOS's.
pub const STREAM_KEYS: [&str; 2] = ["ferrocore.stream", "fedora-coreos.stream"];

/// An agent for the real host and servers: config, identity (stream from the booted
/// commit's metadata, else `stable`), sysroot.
pub fn system_agent(
    paths: &SystemPaths,
) -> Result<super::Agent<SysrootHost, super::remote::HttpRemote>, String> {
    use super::identity::{
        Identity, ZINCATI_APP_ID, app_specific_id, platform_from_cmdline, this_basearch,
    };
    let config = super::Config::load(&paths.config_root).map_err(text)?;
    let mut sysroot = Sysroot::open(&paths.sysroot).map_err(text)?;
    sysroot.set_cmdline_path(&paths.cmdline);
    sysroot.set_run_dir(&paths.run_dir);
    let node_uuid = match &config.node_uuid {
        Some(id) => id.clone(),
        None => {
            let machine_id = fs::read_to_string(&paths.machine_id)
                .map_err(|e| format!("{}: {e}", paths.machine_id.display()))?;
            app_specific_id(&machine_id, &ZINCATI_APP_ID)
                .ok_or_else(|| format!("{}: not a machine id", paths.machine_id.display()))?
        }
    };
    let cmdline = fs::read_to_string(&paths.cmdline).unwrap_or_default();
    let host = SysrootHost {
        sysroot,
        state_path: paths.state.clone(),
        health_dir: paths.health_dir.clone(),
        use_systemd: paths.use_systemd,
        actions: Box::new(SystemHost),
        root: paths.config_root.clone(),
    };
    let booted = host.booted().unwrap_or_default();
    let stream = booted
        .checksum
        .parse()
        .ok()
        .and_then(|c| host.sysroot.repo().load_commit(&c).ok())
        .and_then(|c| STREAM_KEYS.iter().find_map(|k| c.metadata_string(k)))
        .unwrap_or_else(|| "stable".to_owned());
    let identity = Identity {
        node_uuid,
        group: config.group.clone(),
        basearch: this_basearch().to_owned(),
        stream,
        platform: platform_from_cmdline(&cmdline).unwrap_or_else(|| "metal".to_owned()),
        os_version: booted.version,
        os_checksum: booted.checksum,
    };
    let remote = super::remote::HttpRemote::new(&config, &identity);
    Ok(super::Agent::new(config, identity, host, remote))
}
