//! Deployments on an OSTree sysroot, laid out exactly as OSTree lays them out so that
//! bootloaders, `ostree admin` and ferro understand each other's sysroots.
//!
//! A sysroot holds a `bare` repository (`ostree/repo`), stateroots
//! (`ostree/deploy/OS/{var,deploy}`) and deployments: hardlink checkouts
//! `deploy/CSUM.SERIAL` with their own `/etc` and a `.origin`. The deployment list is the
//! set of BLS entries of the current boot version `/boot/loader -> loader.N`; each
//! entry's `ostree=/ostree/boot.N/OS/BOOTCSUM/SERIAL` resolves through
//! `ostree/boot.N -> boot.N.S` to its deployment.
//!
//! Every change writes the *other* boot version beside the current one and commits by
//! renaming a new `/boot/loader` symlink over the old one, so a crash before that rename
//! leaves the old entries intact and one after it leaves the new ones complete;
//! [`Sysroot::cleanup`] removes what is left over either way.
//!
//! - [`layout`]: [`Sysroot`], `init-fs`, `os-init`; [`deployment`]: reading the state;
//! - [`deploy`] and `ops`: deploy, undeploy, set-default, rollback, kargs, pin;
//!   [`staged`]: deployments prepared now and finalized at shutdown; [`upgrade`]:
//!   following the origin (upgrade, rebase, deploy of a revision); [`layer`]: package
//!   layering (`install`, `uninstall`, `override remove|reset`) on Debian packages;
//! - [`prepare_root`](mod@prepare_root): the boot side, mounting a deployment as the new root;
//! - [`etc_merge`]: `/etc` from `/usr/etc` plus local changes; [`kernel`], [`bls`],
//!   [`kargs`]: the file formats (`.origin` files are `ferro_ostree::keyfile` key files); [`cleanup`], [`status`], `verify`.
//!
//! Once `/boot/grub/grub.cfg` is installed ([`Sysroot::install_grub_config`]), every
//! boot version also gets a GRUB menu generated from its entries, for GRUB builds
//! without `blscfg`.
//!
//! [`driver`]: the registered update driver (the node agent) that manual updates
//! must bypass; [`staged_record`]: OSTree's GVariant record of a staged deployment.
//!
//! Not yet: devicetree/`.vmlinuz.hmac` boot files, bootloader
//! configs other than BLS and GRUB (syslinux/uboot), SELinux labels, the subboot-version
//! swap OSTree uses when only boot links change (a full swap is always written).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bls;
mod bootloader;
pub mod cleanup;
pub mod deploy;
pub mod deployment;
pub mod driver;
mod error;
pub mod etc_edits;
pub mod etc_merge;
mod fsutil;
pub mod host;
pub mod kargs;
pub mod kernel;
pub mod layer;
pub mod layout;
mod ops;
pub mod prepare_root;
pub mod staged;
pub mod staged_record;
pub mod status;
pub mod upgrade;
mod verify;

pub use bootloader::edit_boot_options;
pub use cleanup::CleanupReport;
pub use deploy::{BootloaderUpdate, DeployOptions, DeployReport};
pub use deployment::{BootState, Deployment};
pub use driver::UpdateDriver;
pub use error::Error;
pub use etc_merge::EtcChanges;
pub use kargs::{KargEdit, Kargs};
pub use layout::{DEFAULT_RUN_DIR, InitFsLayout, Sysroot, SysrootDebug, init_fs, init_fs_layout};
pub use ops::SetKargs;
pub use prepare_root::{PreparedRoot, prepare_root};
pub use status::DeploymentStatus;
pub use upgrade::{Apply, UpgradeCheck, UpgradeOptions};
