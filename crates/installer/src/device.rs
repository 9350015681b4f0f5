//! The disk an install writes: a block device, or a regular file standing in for one
//! (tests, image preparation). Refused while anything uses it: a mounted filesystem on
//! it or one of its partitions, a holder (device mapper, RAID), another exclusive
//! opener, or — for a file — a loop device backed by it.

use std::fs::{self, File};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ferro_sys::{IoError, IoResultExt};

/// What kind of thing the target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A block device (`/dev/sda`, `/dev/loop0`).
    Block,
    /// A regular file.
    File,
}

/// A target that may be written.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its path.
    pub path: PathBuf,
    /// Block device or file.
    pub kind: Kind,
    /// Its size in bytes.
    pub size: u64,
}

/// Why the target cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// It could not be opened or measured.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Neither a block device nor a regular file.
    #[error("{0} is neither a block device nor a regular file")]
    NotADisk(PathBuf),
    /// A filesystem on it is mounted.
    #[error("{device} is in use: {what} is mounted on {mountpoint}; unmount it first")]
    Mounted {
        /// The target.
        device: PathBuf,
        /// The device or partition mounted.
        what: String,
        /// Where.
        mountpoint: String,
    },
    /// Something else holds it.
    #[error("{device} is in use: {why}")]
    InUse {
        /// The target.
        device: PathBuf,
        /// By what.
        why: String,
    },
}

/// `major:minor` of a device number, as mountinfo and sysfs write it.
fn dev_name(rdev: u64) -> String {
    format!("{}:{}", rustix::fs::major(rdev), rustix::fs::minor(rdev))
}

/// The `major:minor` of a block device and of each of its partitions, with names.
fn device_numbers(rdev: u64) -> Vec<(String, String)> {
    let own = dev_name(rdev);
    let sys = Path::new("/sys/dev/block").join(&own);
    let mut numbers = vec![(own.clone(), "the device".to_owned())];
    if let Ok(entries) = fs::read_dir(&sys) {
        for entry in entries.flatten() {
            let dir = entry.path();
            if dir.join("partition").exists()
                && let Ok(dev) = fs::read_to_string(dir.join("dev"))
            {
                numbers.push((
                    dev.trim().to_owned(),
                    format!("partition {}", entry.file_name().to_string_lossy()),
                ));
            }
        }
    }
    numbers
}

/// The first mountinfo line (`mountinfo`'s text) whose device is one of `numbers`.
fn mounted(mountinfo: &str, numbers: &[(String, String)]) -> Option<(String, String)> {
    mountinfo.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let (dev, mountpoint) = (fields.get(2)?, fields.get(4)?);
        numbers
            .iter()
            .find(|(n, _)| n == dev)
            .map(|(_, what)| (what.clone(), mountpoint.replace("\\040", " ")))
    })
}

/// The loop device backed by `file`, if one is.
fn loop_backing(file: &Path) -> Option<String> {
    let canonical = fs::canonicalize(file).ok()?;
    fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let backing = fs::read_to_string(entry.path().join("loop/backing_file")).ok()?;
            (Path::new(backing.trim()) == canonical).then_some(format!("/dev/{name}"))
        })
}

/// Inspects `path` and refuses it if it is in use.
pub fn inspect(path: &Path) -> Result<Target, DeviceError> {
    let meta = fs::metadata(path).at("inspect the target", path)?;
    let kind = if meta.file_type().is_block_device() {
        Kind::Block
    } else if meta.is_file() {
        Kind::File
    } else {
        return Err(DeviceError::NotADisk(path.to_owned()));
    };
    match kind {
        Kind::Block => {
            let numbers = device_numbers(meta.rdev());
            let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            if let Some((what, mountpoint)) = mounted(&mountinfo, &numbers) {
                return Err(DeviceError::Mounted {
                    device: path.to_owned(),
                    what,
                    mountpoint,
                });
            }
            let holders = Path::new("/sys/dev/block")
                .join(dev_name(meta.rdev()))
                .join("holders");
            if let Some(holder) = fs::read_dir(&holders)
                .ok()
                .and_then(|mut d| d.next())
                .and_then(Result::ok)
            {
                return Err(DeviceError::InUse {
                    device: path.to_owned(),
                    why: format!("held by {}", holder.file_name().to_string_lossy()),
                });
            }
            // The kernel refuses an exclusive open of a disk that is mounted, swapped
            // on, or opened exclusively by someone else.
            let file = open_for_write(path, kind)?;
            let size = (&file).seek(SeekFrom::End(0)).at("measure", path)?;
            Ok(Target {
                path: path.to_owned(),
                kind,
                size,
            })
        }
        Kind::File => {
            if let Some(device) = loop_backing(path) {
                return Err(DeviceError::InUse {
                    device: path.to_owned(),
                    why: format!(
                        "{device} is attached to it; detach it first (losetup -d {device})"
                    ),
                });
            }
            Ok(Target {
                path: path.to_owned(),
                kind,
                size: meta.len(),
            })
        }
    }
}

/// Opens the target for writing; a block device exclusively.
pub fn open_for_write(path: &Path, kind: Kind) -> Result<File, DeviceError> {
    let mut options = File::options();
    options.read(true).write(true);
    if kind == Kind::Block {
        options.custom_flags(rustix::fs::OFlags::EXCL.bits() as i32);
    }
    options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) {
            DeviceError::InUse {
                device: path.to_owned(),
                why: "it is open exclusively elsewhere (mounted, swap, or another tool)".into(),
            }
        } else {
            DeviceError::Io(IoError::new("open for writing", path, e))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_are_matched_by_device_number() {
        let info = "22 1 8:3 / / rw,relatime shared:1 - xfs /dev/sda3 rw\n\
                    23 22 8:2 / /boot\\040dir rw shared:2 - ext4 /dev/sda2 rw\n";
        let numbers = vec![
            ("8:0".to_owned(), "the device".to_owned()),
            ("8:2".to_owned(), "partition sda2".to_owned()),
        ];
        assert_eq!(
            mounted(info, &numbers),
            Some(("partition sda2".into(), "/boot dir".into()))
        );
        assert_eq!(mounted(info, &numbers[..1]), None);
    }

    #[test]
    fn files_and_non_disks() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("disk.img");
        File::create(&file).unwrap().set_len(1 << 20).unwrap();
        let target = inspect(&file).unwrap();
        assert_eq!((target.kind, target.size), (Kind::File, 1 << 20));
        assert!(matches!(
            inspect(dir.path()).unwrap_err(),
            DeviceError::NotADisk(_)
        ));
        assert!(matches!(
            inspect(&dir.path().join("missing")).unwrap_err(),
            DeviceError::Io(_)
        ));
    }
}
