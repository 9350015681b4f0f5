//! Live media, as Fedora CoreOS ships them besides its disk images: `ferro compose
//! image --format iso` (a hybrid ISO booting on BIOS and UEFI, from CD or USB) and
//! `--format pxe` (kernel, initramfs and root image for network boot). Both run the OS
//! from RAM: the kernel and the tree's own initramfs boot with `boot=ferrolive
//! ferro.live=1`, and the root is `rootfs.img`, a newc cpio archive holding
//! `rootfs.squashfs` (the deployed tree), passed as a further initrd or fetched from
//! `coreos.live.rootfs_url=` (see the initramfs script `ferrolive`).
//!
//! The ISO also carries the raw disk image (`/images/disk.raw`), which `ferro
//! installer install` on the live system writes without any network, an Ignition
//! embed area (`/images/ignition.img`, loaded as the last initrd) and a kernel
//! argument area in its GRUB config, both announced by the headers [`crate::iso`]
//! reads: `ferro installer iso ignition embed` and `iso kargs modify` customise it
//! without a rebuild. The ISO is made by `grub-mkrescue` (xorriso with GRUB's BIOS
//! and EFI images).

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ferro_compose::disk::ROOT;
use ferro_compose::image::{self, ImageFormat, ImageOptions, Remote, compose_image};
use ferro_compose::loopdev::LoopDevice;
use ferro_compose::mounts::Mount;
use ferro_compose::tree::Step;
use ferro_sys::{CommandError, CommandRunExt, IoError, IoResultExt};

use crate::iso::{self, IgnitionArea, IsoError, KargAreas};

/// The ISO's volume label; the live initramfs mounts the medium by it.
pub const VOLUME_ID: &str = "FERROCORE";
/// The kernel argument that marks a live system (the update agent and the
/// first-boot growth of the root do not run there).
pub const LIVE_KARG: &str = "ferro.live=1";
/// The size of the ISO's Ignition embed area (as Fedora CoreOS's).
pub const IGNITION_AREA_LEN: u64 = 256 << 10;
/// The size of the ISO's kernel argument area.
pub const KARGS_AREA_LEN: u64 = 1024;
/// The name of the squashfs in `rootfs.img`.
pub const ROOTFS_SQUASHFS: &str = "rootfs.squashfs";
/// What `ignition.img` holds at build time, so that its place in the ISO can be
/// found; zeroed afterwards. Made unique per build: a fixed text would also be found
/// in the `ferro` binary inside the ISO's own images.
fn ignition_marker() -> Vec<u8> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "ferrocore embed area {nanos:x}.{:x} (zeroed once located)\n",
        std::process::id()
    )
    .into_bytes()
}

/// The live medium to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveFormat {
    /// A hybrid ISO image.
    Iso,
    /// Kernel, initramfs and root image for PXE.
    Pxe,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The repository holding the commit.
    pub repo: PathBuf,
    /// The ref (or commit).
    pub rev: String,
    /// The ISO file, or for PXE the prefix of the three files
    /// (`PREFIX-kernel`, `PREFIX-initramfs.img`, `PREFIX-rootfs.img`).
    pub output: PathBuf,
    /// ISO or PXE.
    pub format: LiveFormat,
    /// The size of the disk image the ISO carries (its root grows to the target
    /// disk on the installed system's first boot).
    pub size: u64,
    /// Kernel arguments for the installed system's disk image.
    pub kargs: Vec<String>,
    /// Kernel arguments added to the live system's defaults.
    pub live_kargs: Vec<String>,
    /// The remote the installed system updates from.
    pub remote: Option<Remote>,
}

/// What was built.
#[derive(Debug, Clone)]
pub struct LiveOutcome {
    /// The files written.
    pub files: Vec<PathBuf>,
    /// The live kernel arguments (in the ISO's area, or to put on the PXE
    /// command line with `coreos.live.rootfs_url=` or the root image as an initrd).
    pub kargs: String,
    /// Each step's duration.
    pub steps: Vec<Step>,
}

/// Why the live medium could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Composing the disk image.
    #[error(transparent)]
    Image(#[from] image::Error),
    /// A host tool.
    #[error(transparent)]
    Tool(#[from] CommandError),
    /// A file.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Writing the ISO's headers.
    #[error(transparent)]
    Iso(#[from] IsoError),
    /// Attaching or mounting the image.
    #[error("{0}")]
    Mount(String),
    /// The image's layout is not what was expected.
    #[error("{0}")]
    Layout(String),
}

/// The live system's kernel arguments: the live boot, first boot (Ignition runs on
/// every live boot), the platform, a serial and a screen console, then `extra`.
pub fn live_kargs(extra: &[String]) -> String {
    let mut kargs = vec![
        "boot=ferrolive".to_owned(),
        LIVE_KARG.to_owned(),
        "ignition.firstboot".to_owned(),
        "ignition.platform.id=metal".to_owned(),
        "console=tty0".to_owned(),
        "console=ttyS0,115200n8".to_owned(),
        "loglevel=6".to_owned(),
        "systemd.show_status=auto".to_owned(),
    ];
    kargs.extend(extra.iter().cloned());
    kargs.join(" ")
}

/// Builds the live medium.
pub fn build_live(
    options: &LiveOptions,
    on_step: &mut dyn FnMut(&str),
) -> Result<LiveOutcome, LiveError> {
    let mut steps: Vec<Step> = Vec::new();
    let mut current: Option<(&'static str, Instant)> = None;
    let mut step = |name: Option<&'static str>, steps: &mut Vec<Step>| {
        if let Some((done, start)) = current.take() {
            steps.push(Step {
                name: done,
                elapsed: start.elapsed(),
            });
        }
        if let Some(name) = name {
            on_step(name);
            current = Some((name, Instant::now()));
        }
    };
    let dir = match options.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let work = tempfile::Builder::new()
        .prefix(".ferro-live-")
        .tempdir_in(&dir)
        .at("create a work directory in", &dir)?;
    let images = work.path().join("iso/images");
    fs::create_dir_all(&images).at("create", &images)?;

    step(Some("disk image"), &mut steps);
    let disk = images.join("disk.raw");
    compose_image(
        &ImageOptions {
            repo: options.repo.clone(),
            rev: options.rev.clone(),
            output: disk.clone(),
            format: ImageFormat::Raw,
            size: options.size,
            kargs: options.kargs.clone(),
            remote: options.remote.clone(),
        },
        &mut |_| {},
    )?;

    step(Some("live root"), &mut steps);
    let squashfs = work.path().join(ROOTFS_SQUASHFS);
    extract_root(
        &disk,
        &images.join("vmlinuz"),
        &images.join("initramfs.img"),
        &squashfs,
    )?;
    let rootfs = images.join("rootfs.img");
    write_cpio_file(&rootfs, ROOTFS_SQUASHFS, &squashfs)?;
    fs::remove_file(&squashfs).at("remove", &squashfs)?;
    if options.format == LiveFormat::Iso {
        // The installer checks the image it writes against this.
        let digest = crate::verify::sha256_file(&disk, &mut |_| {})
            .map_err(|e| LiveError::Layout(e.to_string()))?;
        let sums = images.join("disk.raw.sha256");
        fs::write(
            &sums,
            format!("{}  disk.raw\n", crate::verify::hex(&digest)),
        )
        .at("write", &sums)?;
    } else {
        fs::remove_file(&disk).at("remove", &disk)?;
    }

    let kargs = live_kargs(&options.live_kargs);
    let files = match options.format {
        LiveFormat::Pxe => {
            step(Some("pxe files"), &mut steps);
            let mut files = Vec::new();
            for (from, suffix) in [
                ("vmlinuz", "-kernel"),
                ("initramfs.img", "-initramfs.img"),
                ("rootfs.img", "-rootfs.img"),
            ] {
                let mut name = options.output.clone().into_os_string();
                name.push(suffix);
                let to = PathBuf::from(name);
                let source = images.join(from);
                fs::set_permissions(&source, fs::Permissions::from_mode(0o644))
                    .at("set mode of", &source)?;
                fs::rename(&source, &to).at("rename into", &to)?;
                files.push(to);
            }
            files
        }
        LiveFormat::Iso => {
            step(Some("iso"), &mut steps);
            make_iso(work.path(), &kargs, &options.output)?;
            vec![options.output.clone()]
        }
    };
    step(None, &mut steps);
    Ok(LiveOutcome {
        files,
        kargs,
        steps,
    })
}

/// Mounts the root of the disk image `disk` and takes from its one deployment the
/// kernel, the initramfs and the tree (as a squashfs).
fn extract_root(
    disk: &Path,
    kernel: &Path,
    initramfs: &Path,
    squashfs: &Path,
) -> Result<(), LiveError> {
    let device =
        LoopDevice::attach(disk, ROOT.number).map_err(|e| LiveError::Mount(e.to_string()))?;
    let mnt = tempfile::Builder::new()
        .prefix("ferro-live-root-")
        .tempdir()
        .at("create a temporary directory in", &std::env::temp_dir())?;
    let root = Mount::new(&device.partition(ROOT.number), mnt.path(), "xfs")
        .map_err(|e| LiveError::Mount(e.to_string()))?;
    let result = (|| {
        let deploy = mnt
            .path()
            .join("ostree/deploy")
            .join(image::OSNAME)
            .join("deploy");
        let deployment = fs::read_dir(&deploy)
            .at("list", &deploy)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.is_dir())
            .ok_or_else(|| LiveError::Layout(format!("no deployment in {}", deploy.display())))?;
        let modules = deployment.join("usr/lib/modules");
        let kver = fs::read_dir(&modules)
            .at("list", &modules)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.join("vmlinuz").is_file())
            .ok_or_else(|| LiveError::Layout(format!("no kernel in {}", modules.display())))?;
        fs::copy(kver.join("vmlinuz"), kernel).at("copy the kernel to", kernel)?;
        fs::copy(kver.join("initramfs.img"), initramfs).at("copy the initramfs to", initramfs)?;
        Command::new("mksquashfs")
            .arg(&deployment)
            .arg(squashfs)
            .args(["-noappend", "-no-progress", "-quiet", "-comp", "zstd"])
            // Level 3: a few percent larger than the default 15, several times faster.
            .args(["-Xcompression-level", "3"])
            .run_get_output()?;
        Ok::<(), LiveError>(())
    })();
    let unmounted = root.unmount().map_err(|e| LiveError::Mount(e.to_string()));
    let detached = device.detach().map_err(|e| LiveError::Mount(e.to_string()));
    result.and(unmounted).and(detached)
}

/// Writes `archive` as a newc cpio holding `file` as `name` (streamed: the root is
/// hundreds of megabytes).
fn write_cpio_file(archive: &Path, name: &str, file: &Path) -> Result<(), LiveError> {
    let size = fs::metadata(file).at("inspect", file)?.len();
    let header = iso::cpio::header_bytes(name, 0o100_644, size, 1)
        .map_err(|e| LiveError::Layout(format!("{}: {e}", file.display())))?;
    let mut out = File::create(archive).at("create", archive)?;
    let mut input = File::open(file).at("open", file)?;
    out.write_all(&header).at("write", archive)?;
    std::io::copy(&mut input, &mut out).at("write", archive)?;
    let pad = (4 - (size % 4) as usize) % 4;
    out.write_all(&[0; 3][..pad]).at("write", archive)?;
    out.write_all(&iso::cpio::trailer()).at("write", archive)?;
    Ok(())
}

/// Lays out the ISO tree in `work/iso` (the images are there already), makes the ISO
/// with grub-mkrescue and writes the customisation headers.
fn make_iso(work: &Path, kargs: &str, output: &Path) -> Result<(), LiveError> {
    let tree = work.join("iso");
    let images = tree.join("images");
    let marker = ignition_marker();
    let mut embed = marker.clone();
    embed.resize(IGNITION_AREA_LEN as usize, 0);
    fs::write(images.join("ignition.img"), &embed).at("write", &images)?;
    let area = iso::karg_area_bytes(kargs, KARGS_AREA_LEN)?;
    fs::write(images.join("kargs.default"), &area).at("write", &images)?;
    let grub_dir = tree.join("boot/grub");
    fs::create_dir_all(&grub_dir).at("create", &grub_dir)?;
    let mut config = String::from(
        "# ferrocore live ISO. The kernel arguments below are followed by '#' padding:\n\
         # `ferro installer iso kargs modify` rewrites them in place.\n\
         serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1\n\
         terminal_input serial console\n\
         terminal_output serial console\n\
         set timeout=1\n\
         menuentry 'ferrocore live' {\n\
         \tlinux /images/vmlinuz ",
    )
    .into_bytes();
    config.extend_from_slice(&area);
    config.extend_from_slice(
        b"\n\tinitrd /images/initramfs.img /images/rootfs.img /images/ignition.img\n}\n",
    );
    fs::write(grub_dir.join("grub.cfg"), &config).at("write", &grub_dir)?;

    let partial = tempfile::Builder::new()
        .prefix(".ferro-iso-")
        .suffix(".iso")
        .tempfile_in(
            output
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
        .at("create a temporary file beside", output)?;
    Command::new("grub-mkrescue")
        .arg("-o")
        .arg(partial.path())
        .arg(&tree)
        .args(["--", "-volid", VOLUME_ID])
        .run_get_output()?;

    let mut file = File::options()
        .read(true)
        .write(true)
        .open(partial.path())
        .at("open", partial.path())?;
    // Files start at ISO 9660 sectors.
    let ignition: Vec<u64> = find_all(&mut file, partial.path(), &marker)?
        .into_iter()
        .filter(|o| o % 2048 == 0)
        .collect();
    let [ignition_offset] = ignition[..] else {
        return Err(LiveError::Layout(format!(
            "the Ignition embed area was found {} times in the ISO",
            ignition.len()
        )));
    };
    file.seek(SeekFrom::Start(ignition_offset))
        .and_then(|_| file.write_all(&vec![0; marker.len()]))
        .at("write", partial.path())?;
    let mut live_area = b"/images/vmlinuz ".to_vec();
    live_area.extend_from_slice(&area);
    let in_config = find_all(&mut file, partial.path(), &live_area)?;
    let copies = find_all(&mut file, partial.path(), &area)?;
    let [config_offset] = in_config[..] else {
        return Err(LiveError::Layout(
            "the kernel argument area is not in the ISO's GRUB config once".into(),
        ));
    };
    let config_offset = config_offset + b"/images/vmlinuz ".len() as u64;
    let Some(&default_offset) = copies
        .iter()
        .find(|&&o| o != config_offset && o % 2048 == 0)
    else {
        return Err(LiveError::Layout(
            "the default kernel arguments are not in the ISO".into(),
        ));
    };
    iso::write_headers(
        &mut file,
        partial.path(),
        IgnitionArea {
            offset: ignition_offset,
            length: IGNITION_AREA_LEN,
        },
        &KargAreas {
            length: KARGS_AREA_LEN,
            default_offset,
            offsets: vec![config_offset],
        },
    )?;
    file.sync_all().at("sync", partial.path())?;
    drop(file);
    fs::set_permissions(partial.path(), fs::Permissions::from_mode(0o644))
        .at("set mode of", partial.path())?;
    partial
        .persist(output)
        .map_err(|e| e.error)
        .at("rename into", output)?;
    Ok(())
}

/// Every offset of `needle` in the file (which is read in 4 MiB windows overlapping
/// by the needle's length).
fn find_all(file: &mut File, path: &Path, needle: &[u8]) -> Result<Vec<u64>, LiveError> {
    const WINDOW: usize = 4 << 20;
    let mut found = Vec::new();
    let mut buf = vec![0u8; WINDOW + needle.len()];
    let mut base = 0u64;
    file.seek(SeekFrom::Start(0)).at("read", path)?;
    let mut carried = 0usize;
    loop {
        let mut n = carried;
        while n < buf.len() {
            let got = file.read(&mut buf[n..]).at("read", path)?;
            if got == 0 {
                break;
            }
            n += got;
        }
        if n < needle.len() {
            break;
        }
        for i in memchr::memmem::find_iter(&buf[..n], needle) {
            let offset = base + i as u64;
            if !found.contains(&offset) {
                found.push(offset);
            }
        }
        if n < buf.len() {
            break;
        }
        // Keep the last needle-length bytes, so a match across windows is seen.
        let keep = needle.len() - 1;
        buf.copy_within(n - keep..n, 0);
        base += (n - keep) as u64;
        carried = keep;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_are_found_across_windows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut bytes = vec![0u8; (4 << 20) + 100];
        let needle = b"needle-in-the-haystack";
        let at = (4 << 20) - 5;
        bytes[at..at + needle.len()].copy_from_slice(needle);
        bytes[10..10 + needle.len()].copy_from_slice(needle);
        fs::write(&path, &bytes).unwrap();
        let mut file = File::open(&path).unwrap();
        assert_eq!(find_all(&mut file, &path, needle).unwrap(), [10, at as u64]);
    }

    #[test]
    fn live_kargs_mark_the_live_boot() {
        let kargs = live_kargs(&["x=1".into()]);
        assert!(kargs.starts_with("boot=ferrolive ferro.live=1 ignition.firstboot "));
        assert!(kargs.ends_with(" x=1"));
    }
}
