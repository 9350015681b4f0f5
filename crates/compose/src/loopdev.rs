//! A disk image attached as a loop device with its partitions, detached again on every
//! exit path: [`LoopDevice`] is a guard whose drop runs `losetup --detach`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ferro_sys::{CommandError, CommandRunExt};

/// How long to wait for the kernel to create the partition nodes.
const NODE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the image could not be attached or detached.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `losetup` or `partx` failed.
    #[error(transparent)]
    Tool(#[from] CommandError),
    /// The partition device did not appear.
    #[error("partition device '{0}' did not appear")]
    NoPartition(PathBuf),
}

/// An attached loop device; detached when dropped (errors then are only printed; call
/// [`LoopDevice::detach`] to see them).
#[derive(Debug)]
pub struct LoopDevice {
    device: PathBuf,
    attached: bool,
}

impl LoopDevice {
    /// Attaches `image` to a free loop device and makes sure the devices of its first
    /// `partitions` partitions exist. Kernels that do not scan partitions of loop
    /// devices themselves (this one has no GPT parser) get them added with `partx`.
    pub fn attach(image: &Path, partitions: u32) -> Result<Self, Error> {
        let out = Command::new("losetup")
            .args(["--find", "--show", "--partscan"])
            .arg(image)
            .run_get_string()?;
        let guard = LoopDevice {
            device: PathBuf::from(out.trim()),
            attached: true,
        };
        if !guard.has_partition(1) {
            Command::new("partx")
                .arg("--add")
                .arg(&guard.device)
                .run_get_output()?;
        }
        let deadline = Instant::now() + NODE_TIMEOUT;
        for n in 1..=partitions {
            let node = guard.partition(n);
            while !node.exists() {
                if Instant::now() > deadline {
                    return Err(Error::NoPartition(node));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(guard)
    }

    /// Whether the kernel knows partition `n` (sysfs, independent of `/dev`).
    fn has_partition(&self, n: u32) -> bool {
        let name = self.name();
        Path::new("/sys/block")
            .join(&name)
            .join(format!("{name}p{n}"))
            .exists()
    }

    fn name(&self) -> String {
        self.device
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The whole-disk device, e.g. `/dev/loop0`.
    pub fn path(&self) -> &Path {
        &self.device
    }

    /// The device of partition `n`, e.g. `/dev/loop0p2`.
    pub fn partition(&self, n: u32) -> PathBuf {
        self.device.with_file_name(format!("{}p{n}", self.name()))
    }

    /// Detaches the device (its partitions go with it), reporting a failure.
    pub fn detach(mut self) -> Result<(), Error> {
        self.attached = false;
        detach(&self.device)?;
        Ok(())
    }
}

/// `losetup --detach DEVICE`.
fn detach(device: &Path) -> Result<(), CommandError> {
    Command::new("losetup")
        .arg("--detach")
        .arg(device)
        .run_get_output()
        .map(drop)
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        if self.attached
            && let Err(e) = detach(&self.device)
        {
            eprintln!("warning: {e}");
        }
    }
}
