//! Kernel discovery in a deployment (`usr/lib/modules/KVER/vmlinuz` + optional
//! `initramfs.img` and `devicetree`, or OSTree's legacy layout: `vmlinuz-CSUM`,
//! `initramfs-CSUM`, `devicetree-CSUM` in `usr/lib/ostree-boot` or `boot`), the boot
//! checksum that names `/boot/ostree/OS-BOOTCSUM`, and the copy of the kernel into
//! `/boot`.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use ferro_sys::IoResultExt;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::fsutil;
use crate::layout::Sysroot;

/// Where a deployment's kernel and initramfs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLayout {
    /// The `usr/lib/modules` directory name, e.g. `6.1.0`.
    pub kver: String,
    /// The kernel image inside the deployment.
    pub vmlinuz: PathBuf,
    /// The initramfs inside the deployment, if any.
    pub initramfs: Option<PathBuf>,
    /// The device tree blob inside the deployment, if any (boards without ACPI).
    pub devicetree: Option<PathBuf>,
    /// `usr/lib/modules/KVER/dtb`, a directory of device trees (and overlays) installed
    /// as `/boot/ostree/OS-BOOTCSUM/dtb` and named by the entry's `fdtdir`, if any.
    pub dtb_dir: Option<PathBuf>,
    /// `usr/lib/modules/KVER/.vmlinuz.hmac` (FIPS), installed as `.vmlinuz-KVER.hmac`.
    pub hmac: Option<PathBuf>,
    /// The boot checksum a legacy layout carries in its file names, which OSTree uses
    /// as it is rather than hashing the files again.
    pub legacy_bootcsum: Option<String>,
}

impl KernelLayout {
    /// Finds the first `usr/lib/modules/*` (in name order) with a regular `vmlinuz`;
    /// `no_dtb` ignores its `dtb/` directory (OSTree's `no-dtb` debug switch). As
    /// OSTree: when that kernel has no initramfs, a kernel of the legacy layout
    /// (`usr/lib/ostree-boot` or `boot`) wins if there is one.
    pub fn find(deployment: &Path, no_dtb: bool) -> Result<Self, Error> {
        match Self::find_modules(deployment, no_dtb)? {
            Some(layout) if layout.initramfs.is_some() => Ok(layout),
            modules => Self::find_legacy(deployment)?
                .or(modules)
                .ok_or_else(|| Error::NoKernel(deployment.to_owned())),
        }
    }

    fn find_modules(deployment: &Path, no_dtb: bool) -> Result<Option<Self>, Error> {
        let modules = deployment.join("usr/lib/modules");
        let mut names: Vec<String> = match fs::read_dir(&modules) {
            Ok(entries) => entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => vec![],
            Err(e) => return Err(ferro_sys::io_err("list", &modules)(e).into()),
        };
        names.sort();
        for kver in names {
            let dir = modules.join(&kver);
            let vmlinuz = dir.join("vmlinuz");
            if !is_file(&vmlinuz) {
                continue;
            }
            let initramfs = ["initramfs.img", "initramfs"]
                .iter()
                .map(|n| dir.join(n))
                .find(|p| is_file(p));
            let devicetree = Some(dir.join("devicetree")).filter(|p| is_file(p));
            let dtb_dir = Some(dir.join("dtb"))
                .filter(|p| !no_dtb && fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()));
            let hmac = Some(dir.join(".vmlinuz.hmac")).filter(|p| is_file(p));
            return Ok(Some(KernelLayout {
                kver,
                vmlinuz,
                initramfs,
                devicetree,
                dtb_dir,
                hmac,
                legacy_bootcsum: None,
            }));
        }
        Ok(None)
    }

    /// OSTree's legacy layout: `vmlinuz-KVER-CSUM`, `initramfs-KVER.img-CSUM` and
    /// `devicetree-KVER-CSUM`, the boot checksum in their names.
    fn find_legacy(deployment: &Path) -> Result<Option<Self>, Error> {
        for legacy in ["usr/lib/ostree-boot", "boot"] {
            let dir = deployment.join(legacy);
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| is_file(&dir.join(n)))
                .collect();
            names.sort();
            let Some(kernel) = names.iter().find(|n| n.starts_with("vmlinuz-")) else {
                continue;
            };
            let rest = &kernel["vmlinuz-".len()..];
            let (kver, csum) = rest.rsplit_once('-').unwrap_or(("", rest));
            let named = |prefix: &str| {
                names
                    .iter()
                    .find(|n| n.starts_with(prefix) && n.ends_with(&format!("-{csum}")))
                    .map(|n| dir.join(n))
            };
            return Ok(Some(KernelLayout {
                vmlinuz: dir.join(kernel),
                initramfs: named("initramfs-"),
                devicetree: named("devicetree-"),
                dtb_dir: None,
                hmac: None,
                kver: kver.to_owned(),
                legacy_bootcsum: Some(csum.to_owned()),
            }));
        }
        Ok(None)
    }

    /// SHA-256 of the kernel, the initramfs and the device tree (or the `dtb/`
    /// directory's files, in name order at each level, as OSTree hashes them), hex:
    /// OSTree's boot checksum, shared by deployments with identical boot files.
    pub fn bootcsum(&self) -> Result<String, Error> {
        if let Some(csum) = &self.legacy_bootcsum {
            return Ok(csum.clone());
        }
        let mut hasher = Sha256::new();
        let files = std::iter::once(&self.vmlinuz)
            .chain(&self.initramfs)
            .chain(&self.devicetree);
        for path in files {
            let mut file = File::open(path).at("open", path)?;
            io::copy(&mut file, &mut hasher).at("read", path)?;
        }
        if let Some(dir) = &self.dtb_dir {
            hash_dir(dir, &mut hasher)?;
        }
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    /// File names under `/boot/ostree/OS-BOOTCSUM/`: kernel, then initramfs (a legacy
    /// layout's names without their `-CSUM`).
    pub fn boot_names(&self) -> (String, Option<String>) {
        let initramfs = self.initramfs.as_ref().map(|path| {
            match (
                &self.legacy_bootcsum,
                path.file_name().and_then(|n| n.to_str()),
            ) {
                (Some(csum), Some(name)) => name
                    .strip_suffix(&format!("-{csum}"))
                    .unwrap_or(name)
                    .to_owned(),
                _ => format!("initramfs-{}.img", self.kver),
            }
        });
        (format!("vmlinuz-{}", self.kver), initramfs)
    }

    /// The device tree's file name under `/boot/ostree/OS-BOOTCSUM/`.
    pub fn devicetree_name(&self) -> Option<String> {
        self.devicetree
            .as_ref()
            .map(|_| format!("devicetree-{}", self.kver))
    }
}

impl Sysroot {
    /// Makes `/boot/ostree/OS-BOOTCSUM/` hold the kernel (hardlinked when `/boot` is on
    /// the same filesystem, else copied). Built under a temporary name and renamed, so
    /// the directory is complete whenever it exists.
    pub(crate) fn install_kernel(
        &self,
        osname: &str,
        bootcsum: &str,
        layout: &KernelLayout,
    ) -> Result<(), Error> {
        let dir = self.boot_kernel_dir(osname, bootcsum);
        if dir.is_dir() {
            // As OSTree: a directory made without the device trees (`no-dtb`) gets them
            // when its deployment is written again without the switch.
            if let Some(dtb) = &layout.dtb_dir
                && fs::symlink_metadata(dir.join("dtb")).is_err()
            {
                let tmp = dir.join("dtb.tmp");
                fsutil::remove_tree(&tmp)?;
                copy_tree(dtb, &tmp)?;
                fs::rename(&tmp, dir.join("dtb")).at("rename into", &dir)?;
                fsutil::sync_dir(&dir)?;
            }
            return Ok(());
        }
        let tmp = dir.with_file_name(format!("{osname}-{bootcsum}.tmp"));
        fsutil::remove_tree(&tmp)?;
        fs::create_dir_all(&tmp).at("create directory", &tmp)?;
        let (kernel, initramfs) = layout.boot_names();
        let pairs = std::iter::once((&layout.vmlinuz, kernel))
            .chain(layout.initramfs.iter().zip(initramfs))
            .chain(layout.devicetree.iter().zip(layout.devicetree_name()))
            .chain(
                (layout.hmac.iter()).zip(std::iter::once(format!(".vmlinuz-{}.hmac", layout.kver))),
            );
        for (src, name) in pairs {
            let dst = tmp.join(name);
            if fs::hard_link(src, &dst).is_err() {
                fs::copy(src, &dst).at("copy to", &dst)?;
                File::open(&dst)
                    .and_then(|f| f.sync_all())
                    .at("sync", &dst)?;
            }
        }
        if let Some(dtb) = &layout.dtb_dir {
            copy_tree(dtb, &tmp.join("dtb"))?;
        }
        fsutil::sync_dir(&tmp)?;
        fs::rename(&tmp, &dir).at("rename into", &dir)?;
        fsutil::sync_dir(dir.parent().unwrap_or(&dir))
    }
}

fn is_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

/// Feeds every file under `dir` to `hasher`, entries in byte order at each level,
/// directories recursed into where they sort (OSTree's boot checksum of a `dtb/`).
fn hash_dir(dir: &Path, hasher: &mut Sha256) -> Result<(), Error> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .at("list", dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .at("list", dir)?;
    names.sort();
    for name in names {
        let path = dir.join(name);
        let meta = fs::symlink_metadata(&path).at("inspect", &path)?;
        if meta.is_dir() {
            hash_dir(&path, hasher)?;
        } else if let Ok(mut file) = File::open(&path) {
            io::copy(&mut file, hasher).at("read", &path)?;
        }
    }
    Ok(())
}

/// Copies the directory tree `src` to `dst` (hardlinking files where it can), synced.
fn copy_tree(src: &Path, dst: &Path) -> Result<(), Error> {
    fs::create_dir_all(dst).at("create directory", dst)?;
    for entry in fs::read_dir(src).at("list", src)? {
        let entry = entry.at("list", src)?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let meta = fs::symlink_metadata(&from).at("inspect", &from)?;
        if meta.is_dir() {
            copy_tree(&from, &to)?;
        } else if meta.is_file() && fs::hard_link(&from, &to).is_err() {
            fs::copy(&from, &to).at("copy to", &to)?;
            File::open(&to).and_then(|f| f.sync_all()).at("sync", &to)?;
        }
    }
    fsutil::sync_dir(dst)
}
