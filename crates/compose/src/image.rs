//! `ferro compose image`: an OSTree commit → a bootable disk image, as Fedora CoreOS
//! ships them: the GPT of [`disk`], a sysroot made by `ferro_sysroot` with
//! the commit deployed, the first-boot stamp, and GRUB for BIOS and for UEFI booting
//! the BLS entries through the menu `ferro_sysroot` generates. Optionally converted to qcow2, vmdk or vhd.
//!
//! The image is assembled in a temporary file beside the output, attached as a loop
//! device and mounted under a temporary directory; guards unmount and detach on every
//! exit path, and the output is renamed into place only when complete.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ferro_ostree::Checksum;
use ferro_ostree::Repo;
use ferro_sys::{CommandError, CommandRunExt, IoError, IoResultExt};
use ferro_sysroot::DeployOptions;
use ferro_vm::programs::QEMU_IMG;

use crate::disk::{self, BOOT, ESP, LAYOUT, ROOT};
use crate::loopdev::{self, LoopDevice};
use crate::mounts::{self, Mount};
use crate::tree::Step;
use crate::{grub_bios, grub_efi};

/// The format of the image file written. The image is always assembled raw; the others
/// are `qemu-img convert` outputs, for the hypervisors that want them. The type is
/// `ferro_vm`'s, which boots (and recognises) the same four, so the two cannot drift.
pub use ferro_vm::overlay::ImageFormat;

/// The stateroot the commit is deployed in.
pub const OSNAME: &str = "ferrocore";

/// Fedora CoreOS's first-boot stamp on the boot partition: while it exists the boot
/// menu adds `ignition.firstboot`, so Ignition runs. Removing it after a successful
/// first boot is the initramfs's job (`coreos-ignition-firstboot-complete` on FCOS).
pub const FIRSTBOOT_STAMP: &str = "ignition.firstboot";

/// Kernel arguments every image gets before the caller's: the root by label.
const KARGS_BEFORE: [&str; 2] = ["root=LABEL=root", "rw"];
/// Kernel arguments after the caller's: the serial console and Ignition's platform,
/// as Fedora CoreOS's QEMU images have them, and a console that does not slow the
/// boot: every byte on an emulated serial port costs the guest CPU, so the kernel
/// prints notices, warnings and errors only (`loglevel=6`: its banner stays, the
/// several hundred informational lines go), and systemd shows a unit's status only
/// when it fails or is slow (`systemd.show_status=auto`; the journal has them all).
const KARGS_AFTER: [&str; 4] = [
    "console=ttyS0,115200n8",
    "ignition.platform.id=qemu",
    "loglevel=6",
    "systemd.show_status=auto",
];

/// What to build.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    /// The repository holding the commit.
    pub repo: PathBuf,
    /// The ref (or commit) to deploy; also the deployment's origin refspec.
    pub rev: String,
    /// The image file to write.
    pub output: PathBuf,
    /// Its format.
    pub format: ImageFormat,
    /// The disk size in bytes (the file is sparse).
    pub size: u64,
    /// Kernel arguments added to the defaults.
    pub kargs: Vec<String>,
    /// The remote the deployed system updates from, if any.
    pub remote: Option<Remote>,
}

/// A remote configured in the image's repository; the deployment's origin becomes
/// `NAME:REV`, so `ferro upgrade` on the booted machine pulls from it.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Its name.
    pub name: String,
    /// Its URL (an archive repository served over HTTP).
    pub url: String,
}

/// Why the image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source repository or commit.
    #[error(transparent)]
    Repo(#[from] ferro_ostree::repo::Error),
    /// Creating, partitioning or formatting the disk.
    #[error(transparent)]
    Disk(#[from] disk::Error),
    /// Attaching the loop device.
    #[error(transparent)]
    Loop(#[from] loopdev::Error),
    /// Mounting or unmounting.
    #[error(transparent)]
    Mount(#[from] mounts::Error),
    /// Configuring the remote.
    #[error(transparent)]
    Remote(#[from] ferro_ostree::remote::Error),
    /// Making the sysroot or deploying.
    #[error(transparent)]
    Sysroot(#[from] ferro_sysroot::Error),
    /// Installing GRUB for BIOS.
    #[error(transparent)]
    Grub(#[from] grub_bios::Error),
    /// Installing GRUB for UEFI.
    #[error(transparent)]
    GrubEfi(#[from] grub_efi::Error),
    /// Converting the format.
    #[error(transparent)]
    Tool(#[from] CommandError),
    /// A file or directory of the build.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// What was built.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The deployed commit.
    pub commit: Checksum,
    /// The kernel arguments of its boot entry.
    pub kargs: String,
    /// Bytes the image occupies on disk (it is sparse).
    pub allocated: u64,
    /// Each step's duration, in order.
    pub steps: Vec<Step>,
}

/// Builds the image described by `options`; `on_step` is told each step's name as it
/// starts.
pub fn compose_image(
    options: &ImageOptions,
    on_step: &mut dyn FnMut(&str),
) -> Result<Outcome, Error> {
    let mut steps = Vec::new();
    let mut timer = Timer {
        on_step,
        steps: &mut steps,
        current: None,
    };
    timer.begin("resolve");
    let source = Repo::open(&options.repo)?;
    let commit = source.resolve_rev(&options.rev)?;

    let dir = match options.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let partial = temp_image(dir, ".raw")?;

    timer.begin("partition");
    disk::create(partial.path(), options.size)?;
    let kargs = fill(partial.path(), &source, &commit, options, &mut timer)?;

    timer.begin("write output");
    let file = match options.format {
        ImageFormat::Raw => partial,
        format => {
            let converted = temp_image(dir, ".converted")?;
            Command::new(QEMU_IMG)
                .args(["convert", "-f", "raw", "-O", format.name()])
                .arg(partial.path())
                .arg(converted.path())
                .run_get_output()?;
            converted
        }
    };
    // Temporary files are private (0600); an image is not.
    fs::set_permissions(file.path(), fs::Permissions::from_mode(0o644))
        .at("set mode of", file.path())?;
    file.persist(&options.output)
        .map_err(|e| e.error)
        .at("rename into", &options.output)?;
    let allocated = fs::metadata(&options.output)
        .map(|m| m.blocks() * 512)
        .at("stat", &options.output)?;
    timer.end();
    Ok(Outcome {
        commit,
        kargs,
        allocated,
        steps,
    })
}

/// A work file in the output's directory (so the finished image is renamed into
/// place), removed unless persisted. `losetup` and `qemu-img` open it by name, so it is
/// a named temporary file rather than `ferro_sys::atomic`'s unnamed one.
fn temp_image(dir: &Path, suffix: &str) -> Result<tempfile::NamedTempFile, Error> {
    let file = tempfile::Builder::new()
        .prefix(".ferro-image-")
        .suffix(suffix)
        .tempfile_in(dir)
        .at("create a temporary image in", dir)?;
    Ok(file)
}

/// Formats the partitioned disk `raw`, deploys `commit` into it and installs GRUB.
/// Everything it attaches or mounts is released before it returns, also on failure.
/// Returns the boot entry's kernel arguments.
fn fill(
    raw: &Path,
    source: &Repo,
    commit: &Checksum,
    options: &ImageOptions,
    timer: &mut Timer,
) -> Result<String, Error> {
    let device = LoopDevice::attach(raw, LAYOUT.len() as u32)?;
    timer.begin("mkfs");
    disk::format(|p| device.partition(p.number))?;

    timer.begin("deploy");
    let mnt = tempfile::Builder::new()
        .prefix("ferro-image-")
        .tempdir()
        .at("create a temporary directory in", &std::env::temp_dir())?;
    let root = Mount::new(&device.partition(ROOT.number), mnt.path(), "xfs")?;
    let mut sysroot = ferro_sysroot::init_fs(mnt.path())?;
    // The image is not the booted system: no command line names a deployment in it and
    // the host's staged deployment is not its business. Its own empty `/run` says so.
    let run = mnt.path().join("run");
    sysroot.set_cmdline_path(&run.join("cmdline"));
    sysroot.set_run_dir(&run);
    let boot_dir = mnt.path().join("boot");
    let boot = Mount::new(&device.partition(BOOT.number), &boot_dir, "ext4")?;
    sysroot.os_init(OSNAME)?;
    ferro_ostree::pull_local::copy_commit(source, sysroot.repo(), commit, Some(0))?;
    let refspec = match &options.remote {
        Some(remote) => {
            sysroot
                .repo()
                .remote_add(&remote.name, &remote.url, &[], &[], true)?;
            format!("{}:{}", remote.name, options.rev)
        }
        None => options.rev.clone(),
    };
    let kargs: Vec<String> = KARGS_BEFORE
        .iter()
        .map(|s| s.to_string())
        .chain(options.kargs.iter().cloned())
        .chain(KARGS_AFTER.iter().map(|s| s.to_string()))
        .collect();
    let report = sysroot.deploy(
        &commit.to_string(),
        &DeployOptions {
            osname: Some(OSNAME.to_owned()),
            kargs: Some(kargs),
            refspec: Some(refspec),
            ..DeployOptions::default()
        },
    )?;
    let stamp = boot_dir.join(FIRSTBOOT_STAMP);
    fs::write(&stamp, "").at("write", &stamp)?;

    timer.begin("bootloader");
    sysroot.install_grub_config()?;
    grub_bios::install(device.path(), &boot_dir)?;
    grub_efi::install(&device.partition(ESP.number), &boot_dir)?;

    timer.begin("unmount");
    drop(sysroot);
    boot.unmount()?;
    root.unmount()?;
    device.detach()?;
    Ok(report.deployment.kargs.to_string())
}

/// Times named steps in order.
struct Timer<'a> {
    on_step: &'a mut dyn FnMut(&str),
    steps: &'a mut Vec<Step>,
    current: Option<(&'static str, Instant)>,
}

impl Timer<'_> {
    /// Ends the running step, if any, and starts `name`.
    fn begin(&mut self, name: &'static str) {
        self.end();
        (self.on_step)(name);
        self.current = Some((name, Instant::now()));
    }

    /// Ends the running step.
    fn end(&mut self) {
        if let Some((name, start)) = self.current.take() {
            self.steps.push(Step {
                name,
                elapsed: start.elapsed(),
            });
        }
    }
}
