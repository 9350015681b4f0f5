//! Kernel discovery in a deployment (`usr/lib/modules/KVER/vmlinuz` + optional
//! `initramfs.img`), the boot checksum that names `/boot/ostree/OS-BOOTCSUM`, and the
//! copy of the kernel into `/boot`.

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
}

impl KernelLayout {
    /// Finds the first `usr/lib/modules/*` (in name order) with a regular `vmlinuz`.
    pub fn find(deployment: &Path) -> Result<Self, Error> {
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
            if !fs::symlink_metadata(&vmlinuz).is_ok_and(|m| m.is_file()) {
                continue;
            }
            let initramfs = ["initramfs.img", "initramfs"]
                .iter()
                .map(|n| dir.join(n))
                .find(|p| fs::symlink_metadata(p).is_ok_and(|m| m.is_file()));
            return Ok(KernelLayout {
                kver,
                vmlinuz,
                initramfs,
            });
        }
        Err(Error::NoKernel(deployment.to_owned()))
    }

    /// SHA-256 of the kernel followed by the initramfs, hex: OSTree's boot checksum,
    /// shared by deployments with identical boot files.
    pub fn bootcsum(&self) -> Result<String, Error> {
        let mut hasher = Sha256::new();
        for path in std::iter::once(&self.vmlinuz).chain(&self.initramfs) {
            let mut file = File::open(path).at("open", path)?;
            io::copy(&mut file, &mut hasher).at("read", path)?;
        }
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    /// File names under `/boot/ostree/OS-BOOTCSUM/`: kernel, then initramfs.
    pub fn boot_names(&self) -> (String, Option<String>) {
        (
            format!("vmlinuz-{}", self.kver),
            self.initramfs
                .as_ref()
                .map(|_| format!("initramfs-{}.img", self.kver)),
        )
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
            return Ok(());
        }
        let tmp = dir.with_file_name(format!("{osname}-{bootcsum}.tmp"));
        fsutil::remove_tree(&tmp)?;
        fs::create_dir_all(&tmp).at("create directory", &tmp)?;
        let (kernel, initramfs) = layout.boot_names();
        let pairs = std::iter::once((&layout.vmlinuz, kernel))
            .chain(layout.initramfs.iter().zip(initramfs));
        for (src, name) in pairs {
            let dst = tmp.join(name);
            if fs::hard_link(src, &dst).is_err() {
                fs::copy(src, &dst).at("copy to", &dst)?;
                File::open(&dst)
                    .and_then(|f| f.sync_all())
                    .at("sync", &dst)?;
            }
        }
        fsutil::sync_dir(&tmp)?;
        fs::rename(&tmp, &dir).at("rename into", &dir)?;
        fsutil::sync_dir(dir.parent().unwrap_or(&dir))
    }
}
