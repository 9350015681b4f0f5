//! The QEMU command line of a virtual machine, built from a [`MachineSpec`] and nothing
//! else, so that what QEMU is asked to do can be tested without starting it. The
//! program it is given to is [`crate::programs::QEMU_SYSTEM`].
//!
//! Every path that QEMU parses as part of an option list (`key=value,key=value`) goes
//! through [`opt_value`]: QEMU reads `,,` as a literal comma, and a path with an
//! unescaped comma would silently become two options.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::accel::Accel;

/// The fw_cfg key Ignition's `qemu` platform reads its config from.
pub const IGNITION_FW_CFG: &str = "opt/com.coreos/config";

/// A TCP port of the guest published on the host's loopback address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortForward {
    /// The port on 127.0.0.1.
    pub host: u16,
    /// The port in the guest.
    pub guest: u16,
}

/// A `--publish` value that is not `HOST:GUEST` with two port numbers.
#[derive(Debug, thiserror::Error)]
#[error("invalid port forward '{0}': expected HOST:GUEST, two port numbers 1-65535")]
pub struct PortForwardError(String);

impl FromStr for PortForward {
    type Err = PortForwardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let port = |p: &str| p.parse::<u16>().ok().filter(|&p| p != 0);
        match s.split_once(':') {
            Some((host, guest)) => match (port(host), port(guest)) {
                (Some(host), Some(guest)) => Ok(PortForward { host, guest }),
                _ => Err(PortForwardError(s.into())),
            },
            None => Err(PortForwardError(s.into())),
        }
    }
}

impl fmt::Display for PortForward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.guest)
    }
}

/// Where the guest's first serial port goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Console {
    /// Appended to a log file (what a daemonized VM needs).
    File(PathBuf),
    /// The terminal QEMU runs on (foreground only: a daemon has no terminal).
    Stdio,
}

/// The firmware a VM boots with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// QEMU's default SeaBIOS: the disk's MBR boot code (GRUB's BIOS core image).
    #[default]
    Bios,
    /// UEFI from Debian's `ovmf` (Secure Boot off): the ESP's removable-media path.
    Uefi,
}

/// Debian's OVMF (package `ovmf`): the firmware code, read-only and shared, and the
/// template of the variable store each UEFI VM gets a copy of.
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
/// See [`OVMF_CODE`].
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// The flash devices of a UEFI VM: OVMF's code and this VM's own variable store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UefiFlash {
    /// The firmware code (read-only).
    pub code: PathBuf,
    /// The VM's writable copy of the variable store.
    pub vars: PathBuf,
}

/// A kernel booted directly by QEMU, as a PXE server would hand it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectBoot {
    /// The kernel.
    pub kernel: PathBuf,
    /// The initramfs.
    pub initrd: PathBuf,
    /// The kernel command line.
    pub append: String,
}

/// Everything the command line of one VM depends on.
#[derive(Debug, Clone)]
pub struct MachineSpec {
    /// How guest code is executed.
    pub accel: Accel,
    /// Guest memory in MiB.
    pub memory_mb: u32,
    /// Virtual CPUs.
    pub cpus: u32,
    /// The boot disk (the qcow2 overlay).
    pub disk: PathBuf,
    /// The Ignition config passed through fw_cfg, if any.
    pub ignition: Option<PathBuf>,
    /// Host port forwarded to the guest's SSH port (22).
    pub ssh_port: u16,
    /// Further published ports.
    pub publish: Vec<PortForward>,
    /// Where the serial console goes.
    pub console: Console,
    /// The QMP socket `ferro vm stop` talks to.
    pub qmp_socket: PathBuf,
    /// The file QEMU writes its process id to.
    pub pidfile: PathBuf,
    /// Detach from the terminal once the VM is set up.
    pub daemonize: bool,
    /// UEFI flash; `None` boots with the BIOS.
    pub uefi: Option<UefiFlash>,
    /// An ISO in the CD drive, booted first once.
    pub cdrom: Option<PathBuf>,
    /// A kernel booted directly.
    pub direct_boot: Option<DirectBoot>,
}

/// Escapes a value for a QEMU option list: every `,` doubled.
pub fn opt_value(value: &OsStr) -> OsString {
    let mut out = Vec::with_capacity(value.len());
    for &byte in value.as_bytes() {
        out.push(byte);
        if byte == b',' {
            out.push(b',');
        }
    }
    OsString::from_vec(out)
}

/// `prefix` followed by the escaped `path`, e.g. `file=` + `/a,,b`.
fn opt_path(prefix: &str, path: &Path, suffix: &str) -> OsString {
    let mut arg = OsString::from(prefix);
    arg.push(opt_value(path.as_os_str()));
    arg.push(suffix);
    arg
}

impl MachineSpec {
    /// The arguments after the QEMU binary's name.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
        push(&["-no-user-config", "-nodefaults", "-display", "none"]);
        push(&["-machine", "q35", "-accel", self.accel.qemu_accel()]);
        // `host` passes the real CPU through under KVM; under TCG the default model boots
        // faster than `max`, which makes the guest load drivers for features it emulates.
        push(&["-cpu", self.accel.qemu_cpu()]);
        let (memory, cpus) = (self.memory_mb.to_string(), self.cpus.to_string());
        push(&["-m", &memory, "-smp", &cpus]);
        if let Some(flash) = &self.uefi {
            args.push("-drive".into());
            args.push(opt_path(
                "if=pflash,format=raw,unit=0,readonly=on,file=",
                &flash.code,
                "",
            ));
            args.push("-drive".into());
            args.push(opt_path(
                "if=pflash,format=raw,unit=1,file=",
                &flash.vars,
                "",
            ));
        }

        args.push("-drive".into());
        args.push(opt_path("file=", &self.disk, ",if=virtio,format=qcow2"));
        if let Some(iso) = &self.cdrom {
            args.push("-drive".into());
            args.push(opt_path("file=", iso, ",media=cdrom,if=ide,readonly=on"));
            args.extend(["-boot".into(), "once=d".into()]);
        }
        if let Some(boot) = &self.direct_boot {
            args.extend(["-kernel".into(), boot.kernel.clone().into_os_string()]);
            args.extend(["-initrd".into(), boot.initrd.clone().into_os_string()]);
            args.extend(["-append".into(), boot.append.clone().into()]);
        }
        if let Some(config) = &self.ignition {
            args.push("-fw_cfg".into());
            args.push(opt_path(
                &format!("name={IGNITION_FW_CFG},file="),
                config,
                "",
            ));
        }

        let mut netdev = format!("user,id=net0,hostfwd=tcp:127.0.0.1:{}-:22", self.ssh_port);
        for forward in &self.publish {
            netdev.push_str(&format!(
                ",hostfwd=tcp:127.0.0.1:{}-:{}",
                forward.host, forward.guest
            ));
        }
        args.extend(["-netdev".into(), netdev.into()]);
        args.extend(["-device".into(), "virtio-net-pci,netdev=net0".into()]);

        match &self.console {
            Console::File(path) => {
                args.push("-chardev".into());
                args.push(opt_path("file,id=console,path=", path, ",append=on"));
                args.extend(["-serial".into(), "chardev:console".into()]);
            }
            Console::Stdio => args.extend(["-serial".into(), "mon:stdio".into()]),
        }
        args.push("-chardev".into());
        args.push(opt_path(
            "socket,id=qmp,path=",
            &self.qmp_socket,
            ",server=on,wait=off",
        ));
        args.extend(["-mon".into(), "chardev=qmp,mode=control".into()]);
        args.extend(["-pidfile".into(), self.pidfile.clone().into_os_string()]);
        if self.daemonize {
            args.push("-daemonize".into());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> MachineSpec {
        MachineSpec {
            accel: Accel::Tcg,
            memory_mb: 2048,
            cpus: 2,
            disk: "/state/a,b/disk.qcow2".into(),
            ignition: Some("/cfg,dir/config.ign".into()),
            ssh_port: 2222,
            publish: vec!["8080:80".parse().unwrap(), "9000:9000".parse().unwrap()],
            console: Console::File("/state/a,b/console.log".into()),
            qmp_socket: "/state/a,b/qmp.sock".into(),
            pidfile: "/state/a,b/qemu.pid".into(),
            daemonize: true,
            uefi: None,
            cdrom: None,
            direct_boot: None,
        }
    }

    fn strings(spec: &MachineSpec) -> Vec<String> {
        spec.args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    /// The value following `flag` in `args` (each one for repeated flags).
    fn values<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    }

    #[test]
    fn every_forward_listens_on_loopback_only() {
        let args = strings(&spec());
        let netdev = values(&args, "-netdev");
        assert_eq!(
            netdev,
            [
                "user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:9000-:9000"
            ]
        );
        let forwards: Vec<&str> = netdev[0]
            .split(',')
            .filter(|o| o.starts_with("hostfwd="))
            .collect();
        assert_eq!(forwards.len(), 3);
        assert!(
            forwards
                .iter()
                .all(|f| f.starts_with("hostfwd=tcp:127.0.0.1:"))
        );
    }

    #[test]
    fn commas_in_paths_are_doubled() {
        let args = strings(&spec());
        assert_eq!(
            values(&args, "-fw_cfg"),
            ["name=opt/com.coreos/config,file=/cfg,,dir/config.ign"]
        );
        assert_eq!(
            values(&args, "-drive"),
            ["file=/state/a,,b/disk.qcow2,if=virtio,format=qcow2"]
        );
        assert_eq!(
            values(&args, "-chardev"),
            [
                "file,id=console,path=/state/a,,b/console.log,append=on",
                "socket,id=qmp,path=/state/a,,b/qmp.sock,server=on,wait=off"
            ]
        );
        // -pidfile is a plain argument, not an option list: no escaping.
        assert_eq!(values(&args, "-pidfile"), ["/state/a,b/qemu.pid"]);
    }

    #[test]
    fn escaping_keeps_non_utf8_bytes() {
        let raw = OsStr::from_bytes(b"/x,\xff");
        assert_eq!(opt_value(raw).as_bytes(), b"/x,,\xff");
    }

    #[test]
    fn accel_memory_console_and_daemon_flags() {
        let mut spec = spec();
        let args = strings(&spec);
        assert_eq!(values(&args, "-accel"), ["tcg,thread=multi"]);
        assert_eq!(values(&args, "-m"), ["2048"]);
        assert_eq!(values(&args, "-smp"), ["2"]);
        assert_eq!(values(&args, "-serial"), ["chardev:console"]);
        assert!(args.contains(&"-daemonize".to_string()));

        spec.accel = Accel::Kvm;
        spec.console = Console::Stdio;
        spec.daemonize = false;
        spec.ignition = None;
        let args = strings(&spec);
        assert_eq!(values(&args, "-accel"), ["kvm"]);
        assert_eq!(values(&args, "-cpu"), ["host"]);
        assert_eq!(values(&args, "-serial"), ["mon:stdio"]);
        assert!(!args.contains(&"-daemonize".to_string()));
        assert!(values(&args, "-fw_cfg").is_empty());
    }

    #[test]
    fn uefi_boots_ovmf_with_the_vms_own_variable_store() {
        let mut spec = spec();
        assert_eq!(
            values(&strings(&spec), "-drive").len(),
            1,
            "BIOS: the disk only"
        );
        spec.uefi = Some(UefiFlash {
            code: OVMF_CODE.into(),
            vars: "/state/a,b/OVMF_VARS.fd".into(),
        });
        let args = strings(&spec);
        assert_eq!(
            values(&args, "-drive"),
            [
                "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
                "if=pflash,format=raw,unit=1,file=/state/a,,b/OVMF_VARS.fd",
                "file=/state/a,,b/disk.qcow2,if=virtio,format=qcow2",
            ]
        );
    }

    #[test]
    fn live_media_boot_from_cd_once_or_directly() {
        let mut spec = spec();
        spec.cdrom = Some("/m,x/live.iso".into());
        spec.direct_boot = Some(DirectBoot {
            kernel: "/p/kernel".into(),
            initrd: "/p/initramfs.img".into(),
            append: "boot=ferrolive ferro.live=1".into(),
        });
        let args = strings(&spec);
        assert!(
            values(&args, "-drive").contains(&"file=/m,,x/live.iso,media=cdrom,if=ide,readonly=on")
        );
        assert_eq!(values(&args, "-boot"), ["once=d"]);
        assert_eq!(values(&args, "-kernel"), ["/p/kernel"]);
        assert_eq!(values(&args, "-initrd"), ["/p/initramfs.img"]);
        assert_eq!(values(&args, "-append"), ["boot=ferrolive ferro.live=1"]);
    }

    #[test]
    fn port_forwards_parse_strictly() {
        assert_eq!(
            "8080:80".parse::<PortForward>().unwrap(),
            PortForward {
                host: 8080,
                guest: 80
            }
        );
        for bad in ["8080", "0:80", "8080:", "a:80", "70000:80", "1:2:3"] {
            assert!(bad.parse::<PortForward>().is_err(), "{bad}");
        }
    }
}
