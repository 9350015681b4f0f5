//! The provisioning engine: turns an Ignition config into a machine.
//!
//! At first boot Ignition reads its config from a source (a file, QEMU fw_cfg, a URL on
//! the kernel command line, system config dirs), fetches what it references, and writes
//! users, SSH keys, files, directories, links and systemd units into the target root,
//! or fails without leaving a half-configured machine. This crate does the same, with
//! every write confined to the root it was given.
//!
//! - [`fetch`]: getting resources (`data:`, `http(s)`, `file`), decompressing and verifying them.
//! - [`root`]: the target root; every path resolves inside it, symlinks included.
//! - [`files`], [`units`], [`passwd`]: the files stage.
//! - [`disks`], [`mount`]: the disks, mount and umount stages (GPT partitions through
//!   `sgdisk`, filesystems through `mkfs.*`, mounts confined to the root).
//! - [`sources`], [`render`], [`engine`]: where configs come from, merge/replace, stages.

#![deny(missing_docs)]

mod apply;
pub mod disks;
pub mod engine;
mod error;
pub mod fetch;
pub mod files;
pub mod mount;
pub mod passwd;
pub mod render;
pub mod root;
pub mod sources;
pub mod units;

#[cfg(test)]
mod test_support;
