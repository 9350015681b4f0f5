//! `ferro installer install DEVICE`: coreos-installer's install, for ferrocore's raw
//! disk images.
//!
//! In order, so that a refusal writes nothing: the target is inspected (in use, too
//! small), the Ignition config read and parsed, the image fetched (a URL into a
//! temporary file) and verified (SHA-256 file, Ed25519 signature), and the partitions
//! to keep located. Only then is the image written, skipping its zero blocks (sparse,
//! as the images are); the backup GPT moves to the end of the disk and the kept
//! partitions are put back. Finally the boot partition gets the Ignition config at
//! `/ignition/config.ign` (FCOS's `/boot/ignition/config.ign`, which the initramfs
//! hands to Ignition on the first boot), and its boot entries the platform, console
//! and kernel arguments asked for. The root partition and filesystem grow to the
//! disk on the first boot (`ferro-growfs.service`).
//!
//! If writing fails, the partition table is wiped (both GPT copies) so the disk does
//! not look bootable, and the kept partitions are put back; `--preserve-on-error`
//! leaves it as it is, for debugging.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ferro_compose::loopdev::LoopDevice;
use ferro_compose::mounts::Mount;
use ferro_sys::{IoError, IoResultExt};
use ferro_sysroot::Kargs;

use crate::device::{self, DeviceError, Kind, Target};
use crate::partitions::{self, Partition, PartitionError};
use crate::verify::{self, VerifyError};

/// The GPT name (and filesystem label) of the boot partition in ferrocore images.
pub const BOOT_LABEL: &str = "boot";
/// The GPT name of the EFI system partition in ferrocore images.
pub const ESP_LABEL: &str = "EFI-SYSTEM";
/// Where the config goes on the boot partition.
pub const IGNITION_PATH: &str = "ignition/config.ign";
/// Where `--copy-network` puts the network configuration on the boot partition; the
/// first boot copies it into `/etc/systemd/network` (FCOS: `coreos-firstboot-network`).
pub const NETWORK_DIR: &str = "ferro-firstboot-network";
/// The network configuration `--copy-network` copies by default (systemd-networkd's).
pub const DEFAULT_NETWORK_DIR: &str = "/etc/systemd/network";
/// Bytes per sector in the tables.
const SECTOR: u64 = 512;
/// Bytes written (or skipped when zero) at a time.
const CHUNK: usize = 1 << 20;

/// Where the OS image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A raw image file; `FILE.sha256` and `FILE.sig` beside it are used when present.
    File(PathBuf),
    /// A raw image at an HTTP(S) URL; `URL.sha256` or `URL.sig` must exist unless
    /// `insecure`.
    Url(String),
}

/// Where the Ignition config comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnitionSource {
    /// A file.
    File(PathBuf),
    /// An HTTP(S) URL (`coreos.inst.ignition_url`).
    Url(String),
}

/// What to install where.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The target disk (or file).
    pub device: PathBuf,
    /// The OS image.
    pub image: ImageSource,
    /// The Ignition config for the installed system's first boot.
    pub ignition: Option<IgnitionSource>,
    /// Kernel arguments to add.
    pub append_kargs: Vec<String>,
    /// Kernel arguments to remove.
    pub delete_kargs: Vec<String>,
    /// Copy this directory's network configuration to the installed system.
    pub copy_network: Option<PathBuf>,
    /// The Ignition platform of the installed system (`metal`).
    pub platform: String,
    /// Kernel consoles (`ttyS0,115200n8`, `tty0`), replacing the image's.
    pub console: Vec<String>,
    /// Keep partitions whose GPT name matches one of these globs.
    pub save_partlabels: Vec<String>,
    /// Keep partitions whose number is in one of these ranges.
    pub save_partindexes: Vec<String>,
    /// Leave the disk as it is when the install fails.
    pub preserve_on_error: bool,
    /// Only check and print the plan.
    pub dry_run: bool,
    /// Trusted Ed25519 keys: the image must carry a signature one of them verifies.
    pub verify_key: Option<PathBuf>,
    /// Install a downloaded image that has neither checksum nor signature.
    pub insecure: bool,
}

/// What happened (or, with `dry_run`, would).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The steps, in order, as sentences.
    pub plan: Vec<String>,
    /// Bytes of the image.
    pub image_size: u64,
    /// Bytes actually written (the rest were zero and skipped).
    pub written: u64,
    /// The image's SHA-256.
    pub sha256: String,
    /// The partitions kept.
    pub kept: Vec<String>,
}

/// Progress of a long step.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Verifying: bytes hashed of total.
    Verify(u64, u64),
    /// Writing: bytes done of total.
    Write(u64, u64),
}

/// Why the install did not happen or failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The target.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The image is not trusted.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The partition table.
    #[error(transparent)]
    Partitions(#[from] PartitionError),
    /// A file.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The target is smaller than the image.
    #[error(
        "{device} is too small: {size} bytes, but the image needs {needed}. Nothing was written"
    )]
    TooSmall {
        /// The target.
        device: PathBuf,
        /// Its size.
        size: u64,
        /// The image's.
        needed: u64,
    },
    /// A kept partition lies where the image goes.
    #[error(
        "partition {number} ('{name}') of {device} starts inside the image's {image} bytes, so it cannot be kept. Nothing was written"
    )]
    SavedOverlaps {
        /// The target.
        device: PathBuf,
        /// The partition.
        number: u32,
        /// Its name.
        name: String,
        /// The image's size.
        image: u64,
    },
    /// The config is not an Ignition config.
    #[error("the Ignition config {0}")]
    BadConfig(String),
    /// A download failed.
    #[error("could not download {url}: {why}")]
    Download {
        /// What.
        url: String,
        /// Why.
        why: String,
    },
    /// A URL image without checksum or signature.
    #[error("{0} has no .sha256 or .sig beside it; pass --insecure to install it unverified")]
    Unverified(String),
    /// `--verify-key` without a signature.
    #[error("--verify-key was given but there is no signature {0}")]
    NoSignature(String),
    /// The image is not a ferrocore disk image.
    #[error(
        "{0}: no partition named 'boot' in the image's GPT; is it a ferrocore raw disk image? Nothing was written"
    )]
    NoBoot(PathBuf),
    /// The image cannot boot on UEFI machines.
    #[error(
        "{0}: no EFI system partition ('{ESP_LABEL}') in the image's GPT, so it cannot boot on UEFI machines; build it with `ferro compose image` of this version. Nothing was written"
    )]
    NoEsp(PathBuf),
    /// A kernel argument edit does not apply.
    #[error("kernel arguments: {0}")]
    Kargs(String),
    /// Attaching or mounting the boot partition.
    #[error("{0}")]
    Mount(String),
    /// The install failed after writing started; the disk was reset.
    #[error(
        "{error}\n(the partition table of {device} was wiped so the disk does not boot half-written{kept}; --preserve-on-error keeps it as it is)"
    )]
    Failed {
        /// What failed.
        error: Box<InstallError>,
        /// The target.
        device: PathBuf,
        /// Whether kept partitions were restored.
        kept: String,
    },
}

/// `GET url`: the response body's reader when the status is 200, `None` on 404 when
/// `optional`.
fn get(url: &str, optional: bool) -> Result<Option<impl Read>, InstallError> {
    let agent = ureq::Agent::new_with_config(
        ferro_sys::http::agent_config(concat!("ferro-installer/", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let response = agent.get(url).call().map_err(|e| download_error(url, e))?;
    match response.status().as_u16() {
        200 => Ok(Some(response.into_body().into_reader())),
        404 if optional => Ok(None),
        status => Err(download_error(url, format!("HTTP status {status}"))),
    }
}

fn download_error(url: &str, why: impl ToString) -> InstallError {
    InstallError::Download {
        url: url.to_owned(),
        why: why.to_string(),
    }
}

/// Fetches `url` into memory; `None` on 404 when `optional`.
fn fetch(url: &str, optional: bool) -> Result<Option<Vec<u8>>, InstallError> {
    let Some(mut reader) = get(url, optional)? else {
        return Ok(None);
    };
    let mut body = Vec::new();
    reader
        .read_to_end(&mut body)
        .map_err(|e| download_error(url, e))?;
    Ok(Some(body))
}

/// Downloads `url` into a temporary file.
fn download(url: &str) -> Result<tempfile::NamedTempFile, InstallError> {
    let mut reader = get(url, false)?.ok_or_else(|| download_error(url, "not found"))?;
    let dir = std::env::temp_dir();
    let mut file = tempfile::Builder::new()
        .prefix("ferro-installer-")
        .tempfile_in(&dir)
        .at("create a temporary file in", &dir)?;
    std::io::copy(&mut reader, file.as_file_mut()).map_err(|e| download_error(url, e))?;
    Ok(file)
}

/// The image, verified: its local path (and the download keeping it alive), digest
/// and size.
struct Verified {
    path: PathBuf,
    _download: Option<tempfile::NamedTempFile>,
    sha256: verify::Sha256Digest,
    size: u64,
}

fn verified_image(
    options: &InstallOptions,
    plan: &mut Vec<String>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Verified, InstallError> {
    let (path, download_file, name, checksum, signature) = match &options.image {
        ImageSource::File(path) => {
            let side = |ext: &str| {
                let mut p = path.clone().into_os_string();
                p.push(ext);
                PathBuf::from(p)
            };
            let read = |p: PathBuf| -> Result<Option<Vec<u8>>, InstallError> {
                match fs::read(&p) {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(IoError::new("read", &p, e).into()),
                }
            };
            (
                path.clone(),
                None,
                path.display().to_string(),
                read(side(".sha256"))?,
                read(side(".sig"))?,
            )
        }
        ImageSource::Url(url) => {
            let checksum = fetch(&format!("{url}.sha256"), true)?;
            let signature = fetch(&format!("{url}.sig"), true)?;
            if checksum.is_none() && signature.is_none() && !options.insecure {
                return Err(InstallError::Unverified(url.clone()));
            }
            plan.push(format!("download {url}"));
            let file = download(url)?;
            (
                file.path().to_owned(),
                Some(file),
                url.clone(),
                checksum,
                signature,
            )
        }
    };
    let size = fs::metadata(&path).at("inspect the image", &path)?.len();
    if options.verify_key.is_some() && signature.is_none() {
        return Err(InstallError::NoSignature(format!("{name}.sig")));
    }
    let digest = verify::sha256_file(&path, &mut |done| progress(Progress::Verify(done, size)))?;
    if let Some(text) = &checksum {
        verify::check_sha256(
            &path,
            &digest,
            &String::from_utf8_lossy(text),
            &format!("{name}.sha256"),
        )?;
        plan.push(format!(
            "verified SHA-256 {} ({name}.sha256)",
            verify::hex(&digest)
        ));
    }
    if let Some(keys) = &options.verify_key {
        let sig_name = format!("{name}.sig");
        let sig = verify::parse_signature(
            signature.as_deref().unwrap_or_default(),
            Path::new(&sig_name),
        )?;
        verify::check_signature(&path, &digest, &sig, &sig_name, keys)?;
        plan.push(format!(
            "verified the Ed25519 signature {sig_name} with {}",
            keys.display()
        ));
    }
    Ok(Verified {
        path,
        _download: download_file,
        sha256: digest,
        size,
    })
}

/// Reads and checks the Ignition config (JSON with `ignition.version`).
fn read_config(source: &IgnitionSource) -> Result<Vec<u8>, InstallError> {
    let (bytes, name) = match source {
        IgnitionSource::File(path) => (
            fs::read(path).at("read the Ignition config", path)?,
            path.display().to_string(),
        ),
        IgnitionSource::Url(url) => (fetch(url, false)?.unwrap_or_default(), url.clone()),
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| InstallError::BadConfig(format!("{name} is not JSON: {e}")))?;
    if value
        .pointer("/ignition/version")
        .and_then(|v| v.as_str())
        .is_none()
    {
        return Err(InstallError::BadConfig(format!(
            "{name} has no ignition.version"
        )));
    }
    Ok(bytes)
}

/// Installs (or with `dry_run` plans) per `options`.
pub fn install(
    options: &InstallOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, InstallError> {
    let mut plan = Vec::new();
    let target = device::inspect(&options.device)?;
    plan.push(format!(
        "target {} ({}, {} bytes)",
        target.path.display(),
        match target.kind {
            Kind::Block => "block device",
            Kind::File => "file",
        },
        target.size
    ));
    let config = options.ignition.as_ref().map(read_config).transpose()?;
    // Checked before the image is hashed: cheap mistakes first.
    if let ImageSource::File(path) = &options.image {
        let size = fs::metadata(path).at("inspect the image", path)?.len();
        check_size(&target, size)?;
    }
    let image = verified_image(options, &mut plan, progress)?;
    check_size(&target, image.size)?;
    // The image's own table: what the boot needs is there before anything is written.
    let layout = partitions::read(&image.path)?;
    if !layout.iter().any(|p| p.name == BOOT_LABEL) {
        return Err(InstallError::NoBoot(image.path.clone()));
    }
    if !layout.iter().any(|p| p.name == ESP_LABEL) {
        return Err(InstallError::NoEsp(image.path.clone()));
    }
    let table = partitions::read(&target.path)?;
    let kept = partitions::select(&table, &options.save_partlabels, &options.save_partindexes)?;
    for p in &kept {
        if p.start * SECTOR < image.size {
            return Err(InstallError::SavedOverlaps {
                device: target.path.clone(),
                number: p.number,
                name: p.name.clone(),
                image: image.size,
            });
        }
    }
    plan.push(format!(
        "write {} bytes of {} (zero blocks skipped)",
        image.size,
        image.path.display()
    ));
    for p in &kept {
        plan.push(format!("keep partition {} ('{}')", p.number, p.name));
    }
    if config.is_some() {
        plan.push(format!(
            "write the Ignition config to /boot/{IGNITION_PATH}"
        ));
    }
    plan.push(format!("set ignition.platform.id={}", options.platform));
    if !options.console.is_empty() {
        plan.push(format!("set console={}", options.console.join(" console=")));
    }
    for k in &options.append_kargs {
        plan.push(format!("append kernel argument {k}"));
    }
    for k in &options.delete_kargs {
        plan.push(format!("delete kernel argument {k}"));
    }
    if let Some(dir) = &options.copy_network {
        plan.push(format!("copy network configuration from {}", dir.display()));
    }
    let mut report = Report {
        plan,
        image_size: image.size,
        written: 0,
        sha256: verify::hex(&image.sha256),
        kept: kept
            .iter()
            .map(|p| format!("{} ({})", p.number, p.name))
            .collect(),
    };
    if options.dry_run {
        return Ok(report);
    }
    match write_and_configure(options, &target, &image, &kept, config.as_deref(), progress) {
        Ok(written) => {
            report.written = written;
            Ok(report)
        }
        Err(error) if options.preserve_on_error => Err(error),
        Err(error) => {
            let kept_note = match reset(&target, &kept) {
                Ok(()) if kept.is_empty() => String::new(),
                Ok(()) => ", and the kept partitions were put back".to_owned(),
                Err(e) => format!("; resetting failed too: {e}"),
            };
            Err(InstallError::Failed {
                error: Box::new(error),
                device: target.path.clone(),
                kept: kept_note,
            })
        }
    }
}

fn check_size(target: &Target, needed: u64) -> Result<(), InstallError> {
    if needed > target.size {
        return Err(InstallError::TooSmall {
            device: target.path.clone(),
            size: target.size,
            needed,
        });
    }
    Ok(())
}

/// Wipes both GPT copies (the first and last MiB) and puts `kept` back on a new GPT.
fn reset(target: &Target, kept: &[Partition]) -> Result<(), InstallError> {
    let mut file = device::open_for_write(&target.path, target.kind)?;
    let zeros = vec![0u8; CHUNK];
    let last = target.size.saturating_sub(CHUNK as u64);
    for offset in [0, last] {
        let len = CHUNK.min(target.size as usize);
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.write_all(&zeros[..len]))
            .at("wipe", &target.path)?;
    }
    file.sync_all().at("sync", &target.path)?;
    drop(file);
    if !kept.is_empty() {
        partitions::restore(&target.path, kept, true)?;
    }
    Ok(())
}

/// Writes the image and configures the boot partition; returns bytes written.
fn write_and_configure(
    options: &InstallOptions,
    target: &Target,
    image: &Verified,
    kept: &[Partition],
    config: Option<&[u8]>,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, InstallError> {
    let written = write_image(target, image, kept, progress)?;
    partitions::relocate_backup(&target.path)?;
    if !kept.is_empty() {
        partitions::restore(&target.path, kept, false)?;
    }
    configure_boot(options, target, config)?;
    Ok(written)
}

/// Copies the image onto the target, skipping zero chunks; zeroes the old backup GPT
/// at the end unless a kept partition is there.
fn write_image(
    target: &Target,
    image: &Verified,
    kept: &[Partition],
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, InstallError> {
    let mut out = device::open_for_write(&target.path, target.kind)?;
    let mut input = File::open(&image.path).at("open", &image.path)?;
    let mut buf = vec![0u8; CHUNK];
    let (mut offset, mut written) = (0u64, 0u64);
    loop {
        let mut n = 0;
        while n < CHUNK {
            let got = input.read(&mut buf[n..]).at("read", &image.path)?;
            if got == 0 {
                break;
            }
            n += got;
        }
        if n == 0 {
            break;
        }
        // A block device keeps its old bytes where zeros are skipped; the image's
        // filesystems do not read unused blocks, and its tables are never zero.
        if buf[..n].iter().any(|&b| b != 0) {
            out.seek(SeekFrom::Start(offset))
                .and_then(|_| out.write_all(&buf[..n]))
                .at("write", &target.path)?;
            written += n as u64;
        }
        offset += n as u64;
        progress(Progress::Write(offset, image.size));
    }
    let tail = target.size.saturating_sub(CHUNK as u64).max(image.size);
    let tail_kept = kept.iter().any(|p| (p.start + p.size) * SECTOR > tail);
    if tail < target.size && !tail_kept {
        let zeros = vec![0u8; (target.size - tail) as usize];
        out.seek(SeekFrom::Start(tail))
            .and_then(|_| out.write_all(&zeros))
            .at("wipe the old backup GPT of", &target.path)?;
    }
    if target.kind == Kind::File && target.size > image.size {
        // A file target keeps its size (a disk does not shrink).
        out.set_len(target.size).at("resize", &target.path)?;
    }
    out.sync_all().at("sync", &target.path)?;
    Ok(written)
}

/// Applies the kernel argument changes to one `options` line.
pub fn edit_kargs(line: &str, options: &InstallOptions) -> Result<String, String> {
    let mut kargs = Kargs::parse(line);
    kargs.replace_or_append(&format!("ignition.platform.id={}", options.platform));
    if !options.console.is_empty() {
        let others: Vec<String> = kargs
            .args()
            .iter()
            .filter(|a| !a.starts_with("console="))
            .cloned()
            .collect();
        kargs = Kargs::parse(&others.join(" "));
        for console in &options.console {
            kargs
                .apply(&ferro_sysroot::KargEdit::Append(format!(
                    "console={console}"
                )))
                .map_err(|e| e.to_string())?;
        }
    }
    for arg in &options.delete_kargs {
        kargs
            .apply(&ferro_sysroot::KargEdit::Delete(arg.clone()))
            .map_err(|e| e.to_string())?;
    }
    for arg in &options.append_kargs {
        kargs
            .apply(&ferro_sysroot::KargEdit::Append(arg.clone()))
            .map_err(|e| e.to_string())?;
    }
    Ok(kargs.to_string())
}

/// Mounts the written disk's boot partition and writes the config, the network
/// configuration and the boot entries' arguments.
fn configure_boot(
    options: &InstallOptions,
    target: &Target,
    config: Option<&[u8]>,
) -> Result<(), InstallError> {
    let table = partitions::read(&target.path)?;
    let boot = table
        .iter()
        .find(|p| p.name == BOOT_LABEL)
        .ok_or_else(|| InstallError::NoBoot(target.path.clone()))?;
    // Waits for partitions 1 to boot's number only: a kept partition may leave gaps.
    let device = LoopDevice::attach(&target.path, boot.number)
        .map_err(|e| InstallError::Mount(e.to_string()))?;
    let dir = tempfile::Builder::new()
        .prefix("ferro-installer-boot-")
        .tempdir()
        .at("create a temporary directory in", &std::env::temp_dir())?;
    let mount = Mount::new(&device.partition(boot.number), dir.path(), "ext4")
        .map_err(|e| InstallError::Mount(e.to_string()))?;
    let result = fill_boot(options, dir.path(), config);
    let unmounted = mount
        .unmount()
        .map_err(|e| InstallError::Mount(e.to_string()));
    let detached = device
        .detach()
        .map_err(|e| InstallError::Mount(e.to_string()));
    result.and(unmounted).and(detached)
}

fn fill_boot(
    options: &InstallOptions,
    boot: &Path,
    config: Option<&[u8]>,
) -> Result<(), InstallError> {
    if let Some(config) = config {
        let path = boot.join(IGNITION_PATH);
        let dir = path.parent().unwrap_or(boot);
        fs::create_dir_all(dir).at("create", dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).at("set mode of", dir)?;
        ferro_sys::atomic::write_file(
            &path,
            config,
            ferro_sys::atomic::WriteOptions::replace(0o600),
        )?;
    }
    if let Some(source) = &options.copy_network {
        let dest = boot.join(NETWORK_DIR);
        fs::create_dir_all(&dest).at("create", &dest)?;
        for entry in fs::read_dir(source).at("list", source)? {
            let entry = entry.at("list", source)?;
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let to = dest.join(entry.file_name());
                fs::copy(entry.path(), &to).at("copy to", &to)?;
            }
        }
    }
    let failure = std::cell::RefCell::new(None);
    ferro_sysroot::edit_boot_options(boot, &|line| match edit_kargs(line, options) {
        Ok(new) => new,
        Err(e) => {
            failure.borrow_mut().get_or_insert(e);
            line.to_owned()
        }
    })
    .map_err(|e| InstallError::Mount(e.to_string()))?;
    if let Some(e) = failure.into_inner() {
        return Err(InstallError::Kargs(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> InstallOptions {
        InstallOptions {
            device: "/dev/null".into(),
            image: ImageSource::File("/x".into()),
            ignition: None,
            append_kargs: vec!["nosmt".into()],
            delete_kargs: vec!["loglevel".into()],
            copy_network: None,
            platform: "metal".into(),
            console: vec!["tty0".into(), "ttyS1,9600".into()],
            save_partlabels: vec![],
            save_partindexes: vec![],
            preserve_on_error: false,
            dry_run: false,
            verify_key: None,
            insecure: false,
        }
    }

    #[test]
    fn boot_arguments_get_platform_consoles_and_edits() {
        let line = "root=LABEL=root rw console=ttyS0,115200n8 ignition.platform.id=qemu loglevel=6 ostree=/ostree/boot.1/x";
        assert_eq!(
            edit_kargs(line, &options()).unwrap(),
            "root=LABEL=root rw ignition.platform.id=metal ostree=/ostree/boot.1/x console=tty0 console=ttyS1,9600 nosmt"
        );
        let mut o = options();
        o.delete_kargs = vec!["absent".into()];
        assert!(edit_kargs(line, &o).unwrap_err().contains("absent"));
    }
}
