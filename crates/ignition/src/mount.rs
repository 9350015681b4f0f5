//! The mount and umount stages (reference §1.2).
//!
//! [`mount_all`] mounts every filesystem of the config that has a `path` and a real
//! format (not absent, empty, `none` or `swap`) under the target root, shallowest path
//! first, so `/var` is mounted before `/var/lib/data`. Missing mountpoint directories are
//! created with mode 0755 through [`Root`]; the mountpoint must consist of directories
//! only, a symlink anywhere on it is refused. [`umount_all`] undoes it deepest first from
//! the list the mount stage recorded in the state file.
//!
//! Mounting uses `mount(2)` through `rustix::mount` rather than the `mount` command: the
//! mountpoint is opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)` and the
//! filesystem is mounted on that open directory (`/proc/self/fd/N`), so nothing can swap
//! a symlink in between the check and the mount and send it outside the root, which
//! mount(8) resolving a path string could not guarantee. Mount options are split into
//! the kernel's flags (`ro`, `nosuid`, `noatime`, …) and the filesystem's data string.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use ferro_spec::{Config, Filesystem};
use ferro_sys::{IoError, IoResultExt};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, UnmountFlags};
use serde::{Deserialize, Serialize};

use crate::apply::{Change, Changes};
use crate::disks::{Devices, Error};
use crate::root::{self, Kind, Root};

/// A filesystem the mount stage mounted, as recorded in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mounted {
    /// The config's path, inside the root (`/var`).
    pub path: String,
    /// The device mounted.
    pub device: String,
    /// Where it was mounted on the host (`/sysroot/var`).
    pub target: PathBuf,
}

/// What the mount stage did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountReport {
    /// The mounts, in the order they were made.
    pub mounted: Vec<Mounted>,
    /// Mountpoint directories created in the root (inside-root paths, outermost first).
    pub created_dirs: Vec<String>,
    /// One change per mount, for the log.
    pub changes: Changes,
}

/// The filesystems the mount stage mounts, with their config index, shallowest first.
pub fn mountable(config: &Config) -> Vec<(usize, &Filesystem)> {
    let mut list: Vec<(usize, &Filesystem)> = config
        .storage
        .filesystems
        .iter()
        .enumerate()
        .filter(|(_, fs)| {
            fs.path.as_deref().is_some_and(|p| !p.is_empty())
                && !matches!(fs.format.as_deref(), None | Some("" | "swap" | "none"))
        })
        .collect();
    list.sort_by_key(|(_, fs)| depth(fs.path.as_deref().unwrap_or("")));
    list
}

fn depth(path: &str) -> usize {
    root::clean(path)
        .split('/')
        .filter(|c| !c.is_empty())
        .count()
}

/// Mounts the config's filesystems under `root_dir` (see the module documentation). On
/// failure, what this call already mounted is unmounted again.
pub fn mount_all(
    config: &Config,
    root_dir: &Path,
    devices: &Devices,
) -> Result<MountReport, Error> {
    let mut report = MountReport::default();
    let list = mountable(config);
    if list.is_empty() {
        return Ok(report);
    }
    let root_error = |e: IoError| Error::new("$.storage.filesystems", e.one_line());
    let root = Root::open(root_dir).map_err(root_error)?;
    let root_fd = rustix::fs::open(
        root_dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .at("open root directory", root_dir)
    .map_err(root_error)?;
    for (index, fs) in list {
        let entry = format!("$.storage.filesystems.{index}");
        match mount_one(&entry, fs, &root, &root_fd, devices) {
            Ok((mounted, mut created)) => {
                report.changes.changes.push(Change {
                    entry,
                    summary: format!(
                        "mounted {} on {} ({})",
                        mounted.device,
                        mounted.path,
                        mounted.target.display()
                    ),
                });
                report.created_dirs.append(&mut created);
                report.mounted.push(mounted);
            }
            Err(error) => {
                // Best effort: the error being reported matters more than a failed undo.
                let _ = umount_all(&report.mounted);
                return Err(error);
            }
        }
    }
    Ok(report)
}

fn mount_one(
    entry: &str,
    fs: &Filesystem,
    root: &Root,
    root_fd: &impl std::os::fd::AsFd,
    devices: &Devices,
) -> Result<(Mounted, Vec<String>), Error> {
    let path = root::clean(fs.path.as_deref().unwrap_or("/"));
    let fail = |message: String| Error::new(entry, message);
    let format = fs.format.as_deref().unwrap_or_default();
    let device = devices.resolve(&fs.device).map_err(fail)?;
    // Every existing component must be a real directory.
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for n in 1..=comps.len() {
        let prefix = format!("/{}", comps[..n].join("/"));
        match root.lstat(&prefix).map_err(|e| fail(e.one_line()))? {
            None => break,
            Some(meta) if meta.kind == Kind::Dir => {}
            Some(_) => {
                return Err(fail(format!(
                    "cannot mount on {path}: {prefix} is not a directory \
                     (a mountpoint must consist of directories only)"
                )));
            }
        }
    }
    let created = root
        .create_dir_all(&path, 0o755, None)
        .map_err(|e| fail(e.one_line()))?;
    let rel = comps.join("/");
    let dir = rustix::fs::openat2(
        root_fd,
        if rel.is_empty() { "." } else { rel.as_str() },
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| match e {
        Errno::LOOP => fail(format!(
            "cannot mount on {path}: it goes through a symlink (a mountpoint must consist of directories only)"
        )),
        e => fail(format!("cannot open the mountpoint {path}: {e}")),
    })?;
    let handle = format!("/proc/self/fd/{}", dir.as_raw_fd());
    let target = std::fs::read_link(&handle)
        .map_err(|e| fail(format!("cannot find the mountpoint {path} in /proc: {e}")))?;
    let (flags, data) = mount_options(&fs.mount_options);
    let data = CString::new(data).map_err(|_| fail("mountOptions contain a NUL byte".into()))?;
    let data = (!data.is_empty()).then_some(data.as_c_str());
    rustix::mount::mount(&device, &handle, format, flags, data).map_err(|e| {
        fail(format!(
            "could not mount {} ({format}) on {path}: {e}",
            device.display()
        ))
    })?;
    let mounted = Mounted {
        path,
        device: device.display().to_string(),
        target,
    };
    Ok((mounted, created))
}

/// Splits `mountOptions` (each may hold several, comma-separated) into `mount(2)` flags
/// and the filesystem-specific data string.
pub fn mount_options(options: &[String]) -> (MountFlags, String) {
    let mut flags = MountFlags::empty();
    let mut data = Vec::new();
    for option in options.iter().flat_map(|o| o.split(',')) {
        let flag = match option.trim() {
            "" | "defaults" | "rw" | "suid" | "dev" | "exec" | "async" | "atime" | "diratime"
            | "nomand" | "loud" => continue,
            "ro" => MountFlags::RDONLY,
            "nosuid" => MountFlags::NOSUID,
            "nodev" => MountFlags::NODEV,
            "noexec" => MountFlags::NOEXEC,
            "sync" => MountFlags::SYNCHRONOUS,
            "dirsync" => MountFlags::DIRSYNC,
            "noatime" => MountFlags::NOATIME,
            "nodiratime" => MountFlags::NODIRATIME,
            "relatime" => MountFlags::RELATIME,
            "strictatime" => MountFlags::STRICTATIME,
            "lazytime" => MountFlags::LAZYTIME,
            "silent" => MountFlags::SILENT,
            "nosymfollow" => MountFlags::NOSYMFOLLOW,
            other => {
                data.push(other);
                continue;
            }
        };
        flags |= flag;
    }
    (flags, data.join(","))
}

/// Unmounts `mounts` deepest path first; mounts already gone are skipped.
pub fn umount_all(mounts: &[Mounted]) -> Result<Changes, Error> {
    let mut order: Vec<&Mounted> = mounts.iter().collect();
    // Among equal depths, undo the later mount first.
    order.reverse();
    order.sort_by_key(|m| std::cmp::Reverse(depth(&m.path)));
    let mut changes = Changes::default();
    for mounted in order {
        let entry = format!("umount {}", mounted.path);
        let summary = match rustix::mount::unmount(&mounted.target, UnmountFlags::NOFOLLOW) {
            Ok(()) => format!("unmounted {} ({})", mounted.path, mounted.target.display()),
            Err(Errno::INVAL | Errno::NOENT) => {
                format!("{} was not mounted any more", mounted.path)
            }
            Err(e) => {
                return Err(Error::new(
                    &entry,
                    format!(
                        "could not unmount {} ({}): {e}",
                        mounted.path,
                        mounted.target.display()
                    ),
                ));
            }
        };
        changes.changes.push(Change { entry, summary });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_mount_options() {
        let options = [
            "ro,noatime".to_owned(),
            "discard".to_owned(),
            "defaults".to_owned(),
        ];
        let (flags, data) = mount_options(&options);
        assert_eq!(flags, MountFlags::RDONLY | MountFlags::NOATIME);
        assert_eq!(data, "discard");
        assert_eq!(mount_options(&[]), (MountFlags::empty(), String::new()));
    }

    #[test]
    fn mounts_shallowest_first_and_skips_unmountable() {
        let config: Config = serde_json::from_str(
            r#"{"ignition":{"version":"3.4.0"},"storage":{"filesystems":[
                {"device":"/dev/a","format":"vfat","path":"/var/lib/efi"},
                {"device":"/dev/b","format":"swap","path":"/swap"},
                {"device":"/dev/c","format":"ext4"},
                {"device":"/dev/d","format":"ext4","path":"/var"},
                {"device":"/dev/e","format":"none","path":"/e"}]}}"#,
        )
        .unwrap();
        let order: Vec<usize> = mountable(&config).iter().map(|(i, _)| *i).collect();
        assert_eq!(order, [3, 0]);
    }

    #[test]
    fn unmounting_nothing_mounted_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Mounted {
            path: "/x".into(),
            device: "/dev/null".into(),
            target: dir.path().to_owned(),
        };
        match umount_all(&[mounted]) {
            Ok(changes) => assert!(changes.changes[0].summary.contains("not mounted")),
            // Without CAP_SYS_ADMIN umount2 says EPERM before looking.
            Err(error) => assert!(error.to_string().contains("ermission"), "{error}"),
        }
    }
}
