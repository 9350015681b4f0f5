//! Copy-on-write overlays: each VM writes to its own qcow2 file backed by the image, so
//! one image boots any number of fresh VMs and is never modified.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use ferro_sys::{CommandError, CommandRunExt, IoError, IoResultExt};

use crate::programs::QEMU_IMG;

/// A disk image format QEMU can back an overlay with. The one definition of the formats:
/// `ferro compose image` writes these four (`ferro_compose::image` uses this type), so
/// every image it builds boots here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// A plain disk image.
    Raw,
    /// QEMU's copy-on-write format.
    Qcow2,
    /// VMware's sparse disk (`qemu-img` `vmdk`).
    Vmdk,
    /// Microsoft's dynamic virtual hard disk (`qemu-img` `vpc`), for Hyper-V and Azure.
    Vhd,
}

impl ImageFormat {
    /// The name `qemu-img` uses.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Raw => "raw",
            ImageFormat::Qcow2 => "qcow2",
            ImageFormat::Vmdk => "vmdk",
            ImageFormat::Vhd => "vpc",
        }
    }

    /// Reads the format from the file's first bytes: qcow2 starts with `QFI\xfb`, a
    /// sparse vmdk with `KDMV`, a dynamic vhd with its footer's copy `conectix`;
    /// anything else is taken as raw. Naming the backing format explicitly keeps QEMU
    /// from probing it, which it refuses to do for raw images.
    pub fn detect(image: &Path) -> Result<Self, Error> {
        let mut magic = [0u8; 8];
        let mut file = File::open(image).at("read the image", image)?;
        let n = file.read(&mut magic).at("read the image", image)?;
        let magic = &magic[..n];
        Ok(if magic.starts_with(b"QFI\xfb") {
            ImageFormat::Qcow2
        } else if magic.starts_with(b"KDMV") {
            ImageFormat::Vmdk
        } else if magic == b"conectix" {
            ImageFormat::Vhd
        } else {
            ImageFormat::Raw
        })
    }
}

/// Why an overlay could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image could not be read.
    #[error(transparent)]
    Io(#[from] IoError),
    /// `qemu-img` could not be started (the error names its package) or failed (the
    /// error carries its command line and message).
    #[error(transparent)]
    QemuImg(#[from] CommandError),
}

/// Creates `overlay` as a qcow2 file backed by `image` (made absolute, so the overlay
/// works from any directory) and returns the image's format.
pub fn create(image: &Path, overlay: &Path) -> Result<ImageFormat, Error> {
    let image = std::path::absolute(image).at("read the image", image)?;
    let format = ImageFormat::detect(&image)?;
    Command::new(QEMU_IMG)
        .args(["create", "-q", "-f", "qcow2", "-b"])
        .arg(&image)
        .args(["-F", format.name()])
        .arg(overlay)
        .run_get_output()?;
    Ok(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_image_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let error = create(Path::new("/nonexistent/x.raw"), &dir.path().join("o")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "could not read the image '/nonexistent/x.raw'"
        );
        assert!(!dir.path().join("o").exists());
    }
}
