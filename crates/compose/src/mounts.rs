//! Filesystems mounted while an image is filled, unmounted on every exit path:
//! [`Mount`] is a guard whose drop unmounts (lazily, if the filesystem is busy, so the
//! loop device below it can still be detached).

use std::path::{Path, PathBuf};

use ferro_sys::{IoError, IoResultExt};
use rustix::mount::{MountFlags, UnmountFlags};

/// Why a filesystem could not be mounted or unmounted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Mounting: the device and the mount point are both named.
    #[error("could not mount '{}' on '{}'", device.display(), target.display())]
    Mount {
        /// The device.
        device: PathBuf,
        /// The mount point.
        target: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Unmounting.
    #[error(transparent)]
    Io(#[from] IoError),
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
            Error::Mount {
                device: device.to_owned(),
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
        rustix::mount::unmount(&self.target, UnmountFlags::empty()).at("unmount", &self.target)?;
        Ok(())
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
