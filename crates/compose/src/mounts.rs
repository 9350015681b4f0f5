//! Filesystems mounted while an image is filled, unmounted on every exit path:
//! [`Mount`] is a guard whose drop unmounts (lazily, if the filesystem is busy, so the
//! loop device below it can still be detached).

use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};

/// Why a filesystem could not be mounted or unmounted.
#[derive(Debug, thiserror::Error)]
#[error("could not {action} '{target}'")]
pub struct Error {
    /// `mount DEVICE on` or `unmount`.
    action: String,
    /// The mount point.
    target: PathBuf,
    /// The cause.
    #[source]
    source: std::io::Error,
}

/// A mounted filesystem; unmounted when dropped.
#[derive(Debug)]
pub struct Mount {
    target: PathBuf,
    mounted: bool,
}

impl Mount {
    /// Mounts the `fstype` filesystem on `device` at `target`.
    pub fn new(device: &Path, target: &Path, fstype: &str) -> Result<Self, Error> {
        rustix::mount::mount(device, target, fstype, MountFlags::empty(), None).map_err(|e| {
            Error {
                action: format!("mount {} on", device.display()),
                target: target.to_owned(),
                source: e.into(),
            }
        })?;
        Ok(Mount {
            target: target.to_owned(),
            mounted: true,
        })
    }

    /// Unmounts, reporting a failure (a busy filesystem stays mounted).
    pub fn unmount(mut self) -> Result<(), Error> {
        self.mounted = false;
        rustix::mount::unmount(&self.target, UnmountFlags::empty()).map_err(|e| Error {
            action: "unmount".to_owned(),
            target: self.target.clone(),
            source: e.into(),
        })
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if !self.mounted || rustix::mount::unmount(&self.target, UnmountFlags::empty()).is_ok() {
            return;
        }
        if let Err(e) = rustix::mount::unmount(&self.target, UnmountFlags::DETACH) {
            eprintln!(
                "warning: could not unmount '{}': {e}",
                self.target.display()
            );
        }
    }
}
