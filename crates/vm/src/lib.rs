//! Booting ferrocore disk images under QEMU, as Fedora CoreOS users do: `ferro vm run`,
//! `ssh`, `list` and `stop`.
//!
//! A VM is a QEMU process started from a disk image that is never written to, with an
//! Ignition config handed to the guest through fw_cfg (Ignition's `qemu` platform) and
//! its SSH port published on the host's loopback address only. Each VM keeps its files
//! in a directory of its own, so later commands (and other `ferro` processes) find it
//! by name.
//!
//! The modules, from the bottom up (each uses only modules above it in this list):
//!
//! - [`programs`] names the QEMU programs the crate runs.
//! - [`accel`] picks KVM only when a probe guest proves it works, else TCG (the verdict
//!   is cached per host boot).
//! - [`qemu`] builds the command line from a [`qemu::MachineSpec`] alone (fw_cfg
//!   Ignition config, loopback-only port forwards, commas escaped), so it is tested
//!   without starting QEMU.
//! - [`overlay`] keeps the image pristine behind a qcow2 overlay, naming the image's
//!   format (raw, qcow2, vmdk, vhd) so QEMU does not have to probe it.
//! - [`state`] keeps each VM's files (overlay, config copy, console log, QMP socket,
//!   pidfile, `vm.json`) and tells a live QEMU from a stale pidfile.
//! - [`qmp`] talks to a running QEMU over its control socket.
//! - [`ssh`] reaches the guest and reads the console for why a boot stopped.
//! - [`vm`] ties them into run, wait for SSH, status and stop.
//!
//! Building the images booted here is `ferro-compose`'s job; this crate needs nothing of
//! it, only the disk formats `qemu-img` knows (which `ferro-compose` takes from here).
//!
//! Files, subprocesses and state directories go through `ferro-sys`: every file error is
//! its `IoError` ("could not ACTION 'PATH'"), QEMU and `qemu-img` run through its
//! `CommandRunExt`, and the records other `ferro` processes read are written with its
//! atomic writer.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod accel;
pub mod overlay;
pub mod programs;
pub mod qemu;
pub mod qmp;
pub mod ssh;
pub mod state;
pub mod vm;
