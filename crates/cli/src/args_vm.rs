//! `ferro vm …` and `ferro compose …` arguments, as clap types only.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use ferro_vm::qemu::PortForward;

/// `ferro vm`: boot images under QEMU as Fedora CoreOS users do.
#[derive(Debug, Args)]
pub struct VmArgs {
    /// Where VMs keep their files (default: `$FERRO_VM_STATE_DIR`, else
    /// `$XDG_RUNTIME_DIR/ferro/vms`, else `~/.local/state/ferro/vms`).
    #[arg(long, global = true, value_name = "DIR", env = crate::env::FERRO_VM_STATE_DIR)]
    pub state_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub verb: VmVerb,
}

/// The VM commands.
#[derive(Debug, Subcommand)]
pub enum VmVerb {
    /// Boot IMAGE behind a copy-on-write overlay with an Ignition config in fw_cfg.
    Run(VmRunArgs),
    /// Log in to a VM as `core` (or run CMD there).
    Ssh(VmSshArgs),
    /// Power a VM off (ACPI), then quit QEMU if it does not finish in time.
    Stop(VmStopArgs),
    /// List the VMs with their ports and whether they run.
    List(VmListArgs),
}

/// `ferro vm run`.
#[derive(Debug, Args)]
pub struct VmRunArgs {
    /// The disk image (raw or qcow2); never written to.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    /// The Ignition config, passed as fw_cfg `opt/com.coreos/config`.
    #[arg(long, value_name = "CONFIG")]
    pub ignition: Option<PathBuf>,
    /// A live ISO in the CD drive, booted once (the disk boots after a reboot).
    #[arg(long, value_name = "ISO")]
    pub cdrom: Option<PathBuf>,
    /// Boot this kernel directly (PXE-like), with --initrd and --append.
    #[arg(long, value_name = "FILE", requires = "initrd")]
    pub kernel: Option<PathBuf>,
    /// With --kernel: the initramfs.
    #[arg(long, value_name = "FILE", requires = "kernel")]
    pub initrd: Option<PathBuf>,
    /// With --kernel: the kernel command line.
    #[arg(long, value_name = "ARGS", requires = "kernel", default_value = "")]
    pub append: String,
    /// The VM's name; a stopped VM of that name is replaced.
    #[arg(long, default_value = "ferro")]
    pub name: String,
    /// Guest memory in MiB.
    #[arg(long, value_name = "MB", default_value_t = 2048)]
    pub memory: u32,
    /// Virtual CPUs.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub cpus: u32,
    /// Forward 127.0.0.1:HOST to the guest's port GUEST (repeatable).
    #[arg(long, value_name = "HOST:GUEST")]
    pub publish: Vec<PortForward>,
    /// The host port for SSH (default: a free one).
    #[arg(long, value_name = "PORT")]
    pub ssh_port: Option<u16>,
    /// Serial console: a log file, or `-` for this terminal (implies --foreground).
    /// Default: `console.log` in the VM's state directory.
    #[arg(long, value_name = "FILE|-")]
    pub console: Option<PathBuf>,
    /// How guest code runs; `auto` uses KVM only if a probe guest boots under it.
    #[arg(long, value_enum, default_value_t = AccelArg::Auto)]
    pub accel: AccelArg,
    /// Stay attached until the VM exits instead of running QEMU as a daemon.
    #[arg(long)]
    pub foreground: bool,
    /// Return once the guest's SSH server answers (progress shown on a terminal).
    #[arg(long, conflicts_with = "foreground")]
    pub wait_ssh: bool,
    /// The firmware: BIOS (SeaBIOS) or UEFI (Debian's OVMF, Secure Boot off).
    #[arg(long, value_enum, default_value_t = FirmwareArg::Bios)]
    pub firmware: FirmwareArg,
    /// With --wait-ssh: give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub wait_timeout: u64,
}

/// `--accel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccelArg {
    /// KVM if a probe guest boots under it (cached per host boot), else TCG.
    Auto,
    /// Hardware virtualisation.
    Kvm,
    /// Software emulation.
    Tcg,
}

/// `--firmware`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FirmwareArg {
    /// Legacy BIOS boot from the MBR.
    Bios,
    /// UEFI boot from the EFI system partition.
    Uefi,
}

/// `ferro vm ssh`.
#[derive(Debug, Args)]
pub struct VmSshArgs {
    /// The VM.
    pub name: String,
    /// The private key to log in with.
    #[arg(short = 'i', long, value_name = "KEY")]
    pub identity: Option<PathBuf>,
    /// A command to run instead of a login shell (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `ferro vm stop`.
#[derive(Debug, Args)]
pub struct VmStopArgs {
    /// The VM.
    pub name: String,
    /// Seconds the guest gets to power off before QEMU is told to quit (0: quit now).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
}

/// `ferro vm list`.
#[derive(Debug, Args)]
pub struct VmListArgs {
    /// One JSON array (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// `ferro compose`: build OS trees and images.
#[derive(Debug, Subcommand)]
pub enum ComposeCommand {
    /// Build an OS tree from Debian packages and commit it to an OSTree repository.
    Tree(ComposeTreeArgs),
    /// Build a bootable disk image (GPT, GRUB, the commit deployed) from a commit.
    Image(ComposeImageArgs),
}

/// `ferro compose image`.
#[derive(Debug, Args)]
pub struct ComposeImageArgs {
    /// The OSTree repository holding the commit.
    #[arg(long, value_name = "REPO")]
    pub repo: PathBuf,
    /// The ref (or commit) to deploy.
    #[arg(long = "ref", value_name = "REF")]
    pub rev: String,
    /// The image file to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// The image format.
    #[arg(long, value_enum, default_value_t = ImageFormatArg::Raw)]
    pub format: ImageFormatArg,
    /// The disk size (bytes or with a K, M, G, T suffix); the file is sparse.
    #[arg(long, value_name = "SIZE", default_value = "8G", value_parser = ferro_compose::disk::parse_size)]
    pub size: u64,
    /// A kernel argument added to the defaults (repeatable).
    #[arg(long = "karg", value_name = "KARG")]
    pub kargs: Vec<String>,
    /// With --format iso or pxe: a kernel argument added to the live system's
    /// defaults (repeatable).
    #[arg(long = "live-karg", value_name = "KARG")]
    pub live_kargs: Vec<String>,
    /// The remote machines update from (`ferro upgrade`), as Fedora CoreOS images
    /// come with `fedora`: configured in the image's repository (no GPG) and made the
    /// deployment's origin `NAME:REF`.
    #[arg(long, value_name = "NAME=URL", value_parser = parse_remote)]
    pub remote: Option<(String, String)>,
}

/// `NAME=URL`.
fn parse_remote(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, url)) if !name.is_empty() && !url.is_empty() => {
            Ok((name.to_owned(), url.to_owned()))
        }
        _ => Err("expected NAME=URL, e.g. ferrocore=https://updates.example.com/repo".into()),
    }
}

/// `--format` of `ferro compose image`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImageFormatArg {
    /// A plain disk image.
    Raw,
    /// QEMU's copy-on-write format (converted with qemu-img).
    Qcow2,
    /// VMware's sparse disk (converted with qemu-img).
    Vmdk,
    /// A dynamic VHD for Hyper-V and Azure (qemu-img's `vpc`).
    Vhd,
    /// A hybrid live ISO (BIOS and UEFI, CD or USB) running the OS from RAM and
    /// carrying a raw disk image of --size for `ferro installer install`.
    Iso,
    /// PXE files: OUTPUT-kernel, OUTPUT-initramfs.img and OUTPUT-rootfs.img.
    Pxe,
}

/// `ferro compose tree`.
#[derive(Debug, Args)]
pub struct ComposeTreeArgs {
    /// The manifest (YAML: ref, version, packages, debian.suite, debian.mirror).
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,
    /// The OSTree repository (created in archive mode if missing).
    #[arg(long, value_name = "REPO")]
    pub repo: PathBuf,
    /// Where downloads and the work tree are kept between runs (default:
    /// `$XDG_CACHE_HOME/ferro/compose`, else `~/.cache/ferro/compose`).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Compose even when the manifest, the ferro binary and the Debian archive's index
    /// are those of the ref's last commit (otherwise that commit is kept).
    #[arg(long)]
    pub force_nocache: bool,
}
