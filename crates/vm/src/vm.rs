//! The life of a VM: `run` (overlay, config copy, accelerator, QEMU started daemonized
//! or in the foreground), `wait_ssh`, `status` and `stop`.

use std::fs::{self, File};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferro_sys::{CommandError, CommandRunExt, IoError, IoResultExt};
use serde::Serialize;

use crate::accel::{self, Accel};
use crate::programs::QEMU_SYSTEM;
use crate::qemu::{
    Console, DirectBoot, Firmware, MachineSpec, OVMF_CODE, OVMF_VARS, PortForward, UefiFlash,
};
use crate::state::{self, VmDir, VmRecord};
use crate::{overlay, qmp, ssh};

/// Why a VM operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The VM's state directory.
    #[error(transparent)]
    State(#[from] state::Error),
    /// Choosing the accelerator.
    #[error(transparent)]
    Accel(#[from] accel::Error),
    /// Creating the overlay.
    #[error(transparent)]
    Overlay(#[from] overlay::Error),
    /// Talking to QEMU.
    #[error(transparent)]
    Qmp(#[from] qmp::Error),
    /// A VM of that name is running.
    #[error("VM '{name}' is already running (pid {pid}); stop it first")]
    AlreadyRunning {
        /// The VM.
        name: String,
        /// Its QEMU.
        pid: i32,
    },
    /// No free loopback port could be found for SSH.
    #[error("could not find a free port on 127.0.0.1")]
    NoFreePort(#[source] std::io::Error),
    /// A file of the VM (its directory, the image's path, the config copy, the log).
    #[error(transparent)]
    Io(#[from] IoError),
    /// QEMU could not be started (the error names the package that has it).
    #[error(transparent)]
    Qemu(#[from] CommandError),
    /// QEMU exited with an error while starting.
    #[error("{QEMU_SYSTEM} failed ({status}): {message}")]
    QemuFailed {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed.
        message: String,
    },
    /// The VM stopped while waiting for SSH.
    #[error("VM '{0}' exited before SSH answered; see its console log")]
    Exited(String),
    /// The initramfs stopped the boot (a failed Ignition stage); the console says why.
    #[error("VM '{name}' stopped its boot:\n{reason}\n(the full console log is '{}')", console.display())]
    BootStopped {
        /// The VM.
        name: String,
        /// The console's explanation.
        reason: String,
        /// The console log.
        console: std::path::PathBuf,
    },
    /// SSH did not answer in time.
    #[error("SSH of VM '{name}' did not answer within {} s", timeout.as_secs())]
    SshTimeout {
        /// The VM.
        name: String,
        /// How long was waited.
        timeout: Duration,
    },
    /// The VM did not end even when killed.
    #[error("VM '{0}' (pid {1}) did not exit")]
    StillRunning(String, i32),
}

/// What `ferro vm run` was asked for.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The VM's name, also its state directory's.
    pub name: String,
    /// The disk image (raw or qcow2), never written to.
    pub image: PathBuf,
    /// The Ignition config passed through fw_cfg.
    pub ignition: Option<PathBuf>,
    /// Guest memory in MiB.
    pub memory_mb: u32,
    /// Virtual CPUs.
    pub cpus: u32,
    /// Ports published on 127.0.0.1.
    pub publish: Vec<PortForward>,
    /// The host port for SSH; `None` picks a free one.
    pub ssh_port: Option<u16>,
    /// Where the serial console goes; `None` is `console.log` in the state directory.
    /// [`Console::Stdio`] implies `foreground`: a daemon has no terminal.
    pub console: Option<Console>,
    /// The accelerator; `None` probes (cached).
    pub accel: Option<Accel>,
    /// Run attached to the terminal until the VM exits, instead of daemonized.
    pub foreground: bool,
    /// BIOS or UEFI.
    pub firmware: Firmware,
    /// A live ISO in the CD drive, booted first once.
    pub cdrom: Option<PathBuf>,
    /// A kernel booted directly (PXE-like).
    pub direct_boot: Option<DirectBoot>,
}

/// A VM that `run` started.
#[derive(Debug)]
pub struct Started {
    /// Its files.
    pub vm: VmDir,
    /// What was recorded about it.
    pub record: VmRecord,
    /// The QEMU pid of a daemonized VM (`None` after a foreground run ended).
    pub pid: Option<i32>,
}

/// A free TCP port on 127.0.0.1, as the kernel hands out for port 0.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(Error::NoFreePort)?;
    Ok(listener.local_addr().map_err(Error::NoFreePort)?.port())
}

/// Creates VM `options.name` under `root` and starts it.
///
/// A stopped VM of the same name is replaced: its overlay is discarded, so the image
/// boots for the first time again (and Ignition runs again).
pub fn run(root: &Path, options: &RunOptions) -> Result<Started, Error> {
    let vm = VmDir::new(root, &options.name)?;
    if let Some(pid) = vm.running_pid() {
        return Err(Error::AlreadyRunning {
            name: options.name.clone(),
            pid,
        });
    }
    match fs::remove_dir_all(vm.path()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(IoError::new("remove", vm.path(), e).into());
        }
        _ => {}
    }
    fs::create_dir_all(vm.path()).at("create", vm.path())?;

    let image = std::path::absolute(&options.image).at("resolve", &options.image)?;
    overlay::create(&image, &vm.disk())?;
    let ignition = match &options.ignition {
        Some(config) => {
            fs::copy(config, vm.ignition()).at("copy the Ignition config", config)?;
            Some(vm.ignition())
        }
        None => None,
    };
    let accel = match options.accel {
        Some(accel) => accel,
        None => accel::detect(root)?,
    };
    let record = VmRecord {
        name: options.name.clone(),
        image,
        ssh_port: match options.ssh_port {
            Some(port) => port,
            None => free_port()?,
        },
        publish: options.publish.clone(),
        accel,
        memory_mb: options.memory_mb,
        cpus: options.cpus,
        console: match &options.console {
            None => Some(vm.console_log()),
            Some(Console::File(path)) => Some(std::path::absolute(path).at("resolve", path)?),
            Some(Console::Stdio) => None,
        },
    };
    vm.write_record(&record)?;

    let uefi = match options.firmware {
        Firmware::Bios => None,
        Firmware::Uefi => {
            let vars = vm.path().join("OVMF_VARS.fd");
            fs::copy(OVMF_VARS, &vars).at(
                "copy the UEFI variable store (package ovmf)",
                Path::new(OVMF_VARS),
            )?;
            Some(UefiFlash {
                code: OVMF_CODE.into(),
                vars,
            })
        }
    };
    let foreground = options.foreground || options.console == Some(Console::Stdio);
    let absolute = |p: &Path| std::path::absolute(p).at("resolve", p);
    let spec = MachineSpec {
        uefi,
        cdrom: options.cdrom.as_deref().map(absolute).transpose()?,
        direct_boot: match &options.direct_boot {
            Some(boot) => Some(DirectBoot {
                kernel: absolute(&boot.kernel)?,
                initrd: absolute(&boot.initrd)?,
                append: boot.append.clone(),
            }),
            None => None,
        },
        accel,
        memory_mb: options.memory_mb,
        cpus: options.cpus,
        disk: vm.disk(),
        ignition,
        ssh_port: record.ssh_port,
        publish: options.publish.clone(),
        console: match &record.console {
            Some(path) => Console::File(path.clone()),
            None => Console::Stdio,
        },
        qmp_socket: vm.qmp_socket(),
        pidfile: vm.pidfile(),
        daemonize: !foreground,
    };
    let mut command = Command::new(QEMU_SYSTEM);
    command.args(spec.args());
    if foreground {
        let status = command.run_status()?;
        if !status.success() {
            return Err(Error::QemuFailed {
                status,
                message: "see the output above".into(),
            });
        }
        return Ok(Started {
            vm,
            record,
            pid: None,
        });
    }
    // QEMU's parent process exits once the daemon is set up, with any startup error
    // on stderr; the log keeps it (and later warnings) next to the console.
    let log_path = vm.path().join("qemu.log");
    let log = File::create(&log_path).at("create", &log_path)?;
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .run_status()?;
    if !status.success() {
        let message = fs::read_to_string(&log_path).unwrap_or_default();
        return Err(Error::QemuFailed {
            status,
            message: message.trim().to_owned(),
        });
    }
    let pid = vm.running_pid();
    Ok(Started { vm, record, pid })
}

/// Polls until the VM's SSH server sends its banner, calling `progress` with the
/// console's last line about once a second.
pub fn wait_ssh(
    vm: &VmDir,
    record: &VmRecord,
    timeout: Duration,
    progress: &mut dyn FnMut(Option<&str>),
) -> Result<Duration, Error> {
    let start = Instant::now();
    loop {
        if ssh::banner_ready(record.ssh_port, Duration::from_secs(2)) {
            return Ok(start.elapsed());
        }
        if vm.running_pid().is_none() {
            return Err(Error::Exited(vm.name().into()));
        }
        // The console log is read once per round, for both the stop check and progress.
        let console = record
            .console
            .as_deref()
            .and_then(|log| std::fs::read(log).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        if let Some(reason) = ssh::boot_stopped(&console) {
            return Err(Error::BootStopped {
                name: vm.name().into(),
                reason,
                console: record.console.clone().unwrap_or_default(),
            });
        }
        if start.elapsed() >= timeout {
            return Err(Error::SshTimeout {
                name: vm.name().into(),
                timeout,
            });
        }
        progress(ssh::last_console_line(&console).as_deref());
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// One line of `ferro vm list`.
#[derive(Debug, Clone, Serialize)]
pub struct VmStatus {
    /// The recorded facts.
    #[serde(flatten)]
    pub record: VmRecord,
    /// The QEMU pid, if it is running.
    pub pid: Option<i32>,
    /// Whether QEMU is running.
    pub running: bool,
}

/// Every VM under `root` with whether it runs.
pub fn status(root: &Path) -> Result<Vec<VmStatus>, Error> {
    let mut out = Vec::new();
    for vm in state::list(root)? {
        let pid = vm.running_pid();
        out.push(VmStatus {
            record: vm.read_record()?,
            pid,
            running: pid.is_some(),
        });
    }
    Ok(out)
}

/// How a VM ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It was not running.
    NotRunning,
    /// The guest powered off after an ACPI power-button press.
    PoweredOff,
    /// QEMU quit when told to (the guest did not power off in time).
    Quit,
    /// QEMU was killed (it did not answer QMP).
    Killed,
}

/// Waits up to `timeout` for the VM's QEMU to be gone.
fn wait_gone(vm: &VmDir, timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        if vm.running_pid().is_none() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Resets VM `name` at once (QMP `system_reset`), as a machine's reset button does:
/// for a guest that hangs with no way left to reboot itself.
pub fn reset(root: &Path, name: &str) -> Result<(), Error> {
    let vm = VmDir::new(root, name)?;
    vm.read_record()?;
    let mut qmp = qmp::Qmp::connect(&vm.qmp_socket())?;
    qmp.execute("system_reset")?;
    Ok(())
}

/// Stops VM `name`: an ACPI power-off with `grace` to finish (zero skips it), then
/// QMP `quit`, then SIGKILL.
pub fn stop(root: &Path, name: &str, grace: Duration) -> Result<Stopped, Error> {
    let vm = VmDir::new(root, name)?;
    vm.read_record()?;
    let Some(pid) = vm.running_pid() else {
        return Ok(Stopped::NotRunning);
    };
    if !grace.is_zero()
        && let Ok(mut qmp) = qmp::Qmp::connect(&vm.qmp_socket())
        && qmp.execute("system_powerdown").is_ok()
        && wait_gone(&vm, grace)
    {
        return Ok(Stopped::PoweredOff);
    }
    if let Ok(mut qmp) = qmp::Qmp::connect(&vm.qmp_socket()) {
        // QEMU may close the socket before it answers `quit`: the exit is the answer.
        let _ = qmp.execute("quit");
        if wait_gone(&vm, Duration::from_secs(10)) {
            return Ok(Stopped::Quit);
        }
    }
    if let Some(raw) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(raw, rustix::process::Signal::KILL);
    }
    if wait_gone(&vm, Duration::from_secs(5)) {
        Ok(Stopped::Killed)
    } else {
        Err(Error::StillRunning(name.into(), pid))
    }
}
