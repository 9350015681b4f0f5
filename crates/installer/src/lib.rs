//! coreos-installer's jobs for ferrocore, and the live media it runs from: [`install`] writes the OS's raw disk image
//! to a disk with the user's Ignition config (verified first, zero blocks skipped,
//! data partitions kept on request), and [`iso`] customises a live ISO — its embedded
//! Ignition config and kernel arguments — without rebuilding it, in the layout
//! coreos-installer uses. [`live`] builds those media: a hybrid live ISO carrying
//! the disk image, and PXE kernel, initramfs and root image.
//!
//! [`device`] decides whether a target may be written (a mounted, held or
//! loop-attached target is refused), [`verify`] checks SHA-256 files and Ed25519
//! signatures, and [`partitions`] reads and edits GPTs with `sfdisk`. Loop devices and
//! mounts are `ferro_compose`'s guards, kernel arguments and boot entries
//! `ferro_sysroot`'s.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod device;
pub mod install;
pub mod iso;
pub mod live;
pub mod partitions;
pub mod verify;
