//! Building and booting ferrocore systems.
//!
//! Two halves, one per end of the pipeline:
//!
//! - **Compose** turns a manifest into an OSTree commit: [`manifest`] reads what to
//!   build, [`debootstrap`] installs the Debian packages into a directory (downloads
//!   cached), [`postprocess`] reshapes that directory into the immutable layout
//!   (`/usr/etc`, an empty `/var` recreated by tmpfiles, the kernel under
//!   `/usr/lib/modules`), and [`commit`] stores it with its version. [`tree`] runs the
//!   steps in order.
//! - **VMs** boot images under QEMU as Fedora CoreOS users do: [`qemu`] builds the
//!   command line (fw_cfg Ignition config, loopback-only port forwards), [`overlay`]
//!   keeps the image pristine behind a qcow2 overlay, [`accel`] picks KVM only when a
//!   probe guest proves it works, [`state`] keeps each VM's files, [`qmp`] talks to a
//!   running QEMU, [`ssh`] reaches the guest, and [`vm`] ties them into run, list, stop.
//! - **Images** put a commit on a bootable disk: [`disk`] partitions and formats it,
//!   [`loopdev`] and [`mounts`] are guards that attach and mount it for the build and
//!   always release it, [`grub_bios`] installs GRUB, [`command`] runs the host tools,
//!   and [`image`] orchestrates.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod accel;
pub mod command;
pub mod commit;
pub mod debootstrap;
pub mod disk;
pub mod grub_bios;
pub mod image;
pub mod loopdev;
pub mod manifest;
pub mod mounts;
pub mod overlay;
pub mod postprocess;
pub mod qemu;
pub mod qmp;
pub mod ssh;
pub mod state;
pub mod tree;
pub mod vm;
