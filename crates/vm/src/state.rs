//! Where VMs keep their files: one directory per VM under a state root, holding the
//! overlay disk, the Ignition config QEMU reads, the console log, the QMP socket, the
//! pidfile and `vm.json`, the record `ferro vm list` shows.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use ferro_sys::atomic::{WriteOptions, write_file};
use ferro_sys::{IoError, IoResultExt};
use serde::{Deserialize, Serialize};

use crate::accel::Accel;
use crate::qemu::PortForward;

/// The longest socket path Linux accepts (`sun_path` minus its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Why a VM's state could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The name would escape the state root or is empty.
    #[error("invalid VM name '{0}': use letters, digits, '-', '_' and '.', not starting with '.'")]
    InvalidName(String),
    /// No VM of that name exists.
    #[error("no VM named '{0}'")]
    NotFound(String),
    /// The QMP socket path would be too long for a Unix socket.
    #[error("state directory '{0}' is too long for a Unix socket path; use a shorter --state-dir")]
    PathTooLong(PathBuf),
    /// A file of the VM's state could not be read or written.
    #[error(transparent)]
    Io(#[from] ferro_sys::IoError),
    /// `vm.json` is not a VM record.
    #[error("could not parse '{path}': {source}")]
    Record {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// The default state root: the runtime directory's `ferro/vms` (gone at logout, like
/// the VMs' sockets), else the state directory's (`~/.local/state/ferro/vms`), else
/// `/tmp/ferro-vms`.
pub fn default_root() -> PathBuf {
    ferro_sys::dirs::runtime_dir("ferro/vms")
        .or_else(|| ferro_sys::dirs::state_dir("ferro/vms"))
        .unwrap_or_else(|| PathBuf::from("/tmp/ferro-vms"))
}

/// What `ferro vm run` recorded about a VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRecord {
    /// The VM's name.
    pub name: String,
    /// The image the overlay is backed by (absolute).
    pub image: PathBuf,
    /// The host port forwarded to the guest's SSH port.
    pub ssh_port: u16,
    /// Further published ports.
    pub publish: Vec<PortForward>,
    /// How guest code runs.
    pub accel: Accel,
    /// Guest memory in MiB.
    pub memory_mb: u32,
    /// Virtual CPUs.
    pub cpus: u32,
    /// The console log (`None`: the console went to a terminal).
    pub console: Option<PathBuf>,
}

/// The files of one VM.
#[derive(Debug, Clone)]
pub struct VmDir {
    name: String,
    dir: PathBuf,
}

impl VmDir {
    /// The directory of VM `name` under `root`; the name must be a plain file name.
    pub fn new(root: &Path, name: &str) -> Result<Self, Error> {
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(Error::InvalidName(name.into()));
        }
        // Absolute, because QEMU's command line (which `running_pid` matches) and the
        // overlay's backing path must not depend on the directory a command runs in.
        let dir = root.join(name);
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        let vm = VmDir {
            name: name.into(),
            dir,
        };
        if vm.qmp_socket().as_os_str().len() > MAX_SOCKET_PATH {
            return Err(Error::PathTooLong(root.to_owned()));
        }
        Ok(vm)
    }

    /// The VM's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The qcow2 overlay the VM writes to.
    pub fn disk(&self) -> PathBuf {
        self.dir.join("disk.qcow2")
    }

    /// The copy of the Ignition config QEMU passes through fw_cfg.
    pub fn ignition(&self) -> PathBuf {
        self.dir.join("config.ign")
    }

    /// The serial console log.
    pub fn console_log(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    /// The QMP control socket.
    pub fn qmp_socket(&self) -> PathBuf {
        self.dir.join("qmp.sock")
    }

    /// The file QEMU writes its pid to.
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("qemu.pid")
    }

    fn record_path(&self) -> PathBuf {
        self.dir.join("vm.json")
    }

    /// Writes `vm.json` atomically: `ferro vm list` in another process reads it at any
    /// time and must never see half a record.
    pub fn write_record(&self, record: &VmRecord) -> Result<(), Error> {
        let path = self.record_path();
        let text = serde_json::to_string_pretty(record).expect("a VM record serialises");
        write_file(
            &path,
            (text + "\n").as_bytes(),
            WriteOptions::replace(0o644),
        )?;
        Ok(())
    }

    /// Reads `vm.json`; a VM without one does not exist.
    pub fn read_record(&self) -> Result<VmRecord, Error> {
        let path = self.record_path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::NotFound(self.name.clone()));
            }
            Err(e) => return Err(IoError::new("read", path, e).into()),
        };
        serde_json::from_str(&text).map_err(|source| Error::Record { path, source })
    }

    /// The QEMU process id, if the pidfile names a live QEMU of this VM.
    ///
    /// The process must exist, not be a zombie (a daemon's parent may not reap it), and
    /// have this pidfile on its command line, so a stale pidfile whose number was reused
    /// by another process does not count.
    pub fn running_pid(&self) -> Option<i32> {
        let text = fs::read_to_string(self.pidfile()).ok()?;
        let pid: i32 = text.trim().parse().ok().filter(|&p| p > 0)?;
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let stat = fs::read_to_string(proc.join("stat")).ok()?;
        let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
        if state == "Z" || state == "X" {
            return None;
        }
        let cmdline = fs::read(proc.join("cmdline")).ok()?;
        let pidfile = self.pidfile();
        cmdline
            .split(|&b| b == 0)
            .any(|arg| arg == pidfile.as_os_str().as_encoded_bytes())
            .then_some(pid)
    }
}

/// The VMs under `root` that have a record, sorted by name.
pub fn list(root: &Path) -> Result<Vec<VmDir>, Error> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(IoError::new("list", root, e).into()),
    };
    let mut vms = Vec::new();
    for entry in entries {
        let entry = entry.at("list", root)?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Ok(vm) = VmDir::new(root, &name)
            && vm.record_path().is_file()
        {
            vms.push(vm);
        }
    }
    vms.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(vms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_root() {
        for bad in ["", ".", "..", "../x", "a/b", ".hidden", "a b"] {
            assert!(VmDir::new(Path::new("/r"), bad).is_err(), "{bad:?}");
        }
        assert!(VmDir::new(Path::new("/r"), "web-1.test_a").is_ok());
    }

    #[test]
    fn overlong_socket_paths_are_refused() {
        let root = PathBuf::from("/").join("x".repeat(100));
        assert!(matches!(
            VmDir::new(&root, "vm"),
            Err(Error::PathTooLong(_))
        ));
    }

    #[test]
    fn records_round_trip_and_list_sorts() {
        let root = tempfile::tempdir().unwrap();
        for name in ["b", "a"] {
            let vm = VmDir::new(root.path(), name).unwrap();
            fs::create_dir_all(vm.path()).unwrap();
            let record = VmRecord {
                name: name.into(),
                image: "/img.raw".into(),
                ssh_port: 2222,
                publish: vec!["8080:80".parse().unwrap()],
                accel: Accel::Tcg,
                memory_mb: 512,
                cpus: 1,
                console: None,
            };
            vm.write_record(&record).unwrap();
            assert_eq!(vm.read_record().unwrap(), record);
            assert_eq!(vm.running_pid(), None);
        }
        fs::create_dir(root.path().join("no-record")).unwrap();
        let names: Vec<String> = list(root.path())
            .unwrap()
            .iter()
            .map(|vm| vm.name().to_owned())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(matches!(
            VmDir::new(root.path(), "c").unwrap().read_record(),
            Err(Error::NotFound(_))
        ));
    }
}
