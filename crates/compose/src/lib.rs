//! Building ferrocore systems: OS trees committed to OSTree, and bootable disk images
//! of those commits. (Booting the images under QEMU is `ferro-vm`'s job.)
//!
//! Two halves, one per end of the pipeline:
//!
//! - **Compose** turns a manifest into an OSTree commit: [`manifest`] reads what to
//!   build, [`debootstrap`] installs the Debian packages into a directory (downloads
//!   cached), [`integrate`] adds ferrocore itself (the `ferro` binary, the initramfs
//!   that runs Ignition and prepare-root, the base config creating `core`, sshd and
//!   podman settings), [`postprocess`] reshapes that directory into the immutable layout
//!   (`/usr/etc`, an empty `/var` recreated by tmpfiles, the kernel under
//!   `/usr/lib/modules`), and [`commit`] stores it with its version. [`tree`] runs the
//!   steps in order, or skips them when the [`inputs`] are those of the ref's commit.
//!   [`container`] writes the tiny busybox httpd container image `integrate` puts in
//!   the tree as an OCI archive, for VMs that reach no registry (`podman load -i`).
//! - **Images** put a commit on a bootable disk: [`disk`] partitions and formats it,
//!   [`loopdev`] and [`mounts`] are guards that attach and mount it for the build and
//!   always release it, [`grub_bios`] and [`grub_efi`] install GRUB for both
//!   firmwares, and [`image`] orchestrates
//!   (converting to qcow2, vmdk or vhd with `qemu-img`).
//!
//! The shared mechanisms come from `ferro-sys`: host tools run through its
//! `CommandRunExt` (a missing tool names its Debian package, a failed one its command
//! line and message), file errors are its `IoError`, outputs other programs read are
//! written with its atomic writer, and the archive is fetched with its HTTP settings and
//! retries. The disk formats are `ferro-vm`'s, which boots them.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod commit;
pub mod container;
pub mod debootstrap;
pub mod disk;
pub mod grub_bios;
pub mod grub_efi;
pub mod image;
pub mod inputs;
pub mod integrate;
pub mod loopdev;
pub mod manifest;
pub mod mounts;
pub mod postprocess;
pub mod tree;
