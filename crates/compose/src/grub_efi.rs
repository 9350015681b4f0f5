//! GRUB for UEFI boot from Debian's `grub-efi-amd64-bin`: the modules go to
//! `/boot/grub/x86_64-efi` next to the BIOS ones, and an EFI image made by
//! `grub-mkimage` goes onto the EFI system partition at the removable-media path
//! `EFI/BOOT/BOOTX64.EFI`, which firmware boots without a boot entry in its NVRAM (an
//! image copied to a new disk has none). The image carries the same early config as
//! the BIOS core image: it finds `/boot` by its label and reads the same generated
//! menu, so both firmwares boot the same BLS entries.
//!
//! The ESP is filled with mtools, not mounted: the build host's kernel need not have
//! FAT, and nothing stays mounted if the build fails. The image is unsigned (Secure
//! Boot must be off); Debian's signed GRUB looks for its config on the ESP under
//! `EFI/debian`, a different layout.

use std::path::Path;
use std::process::Command;

use ferro_sys::{CommandError, CommandRunExt, IoError};

use crate::grub_bios::{copy_modules, make_core};

/// Where Debian's `grub-efi-amd64-bin` keeps the x86_64-efi images and modules.
pub const GRUB_EFI_DIR: &str = "/usr/lib/grub/x86_64-efi";

/// The removable-media boot path of x86-64 UEFI, on the ESP.
pub const BOOT_PATH: &str = "EFI/BOOT/BOOTX64.EFI";

/// Modules built into the EFI image: the GPT, the `/boot` filesystem, and finding it
/// by label; the rest (`linux`, `normal`, `serial`…) load from `/boot/grub`.
const CORE_MODULES: [&str; 5] = ["part_gpt", "ext2", "fat", "search", "search_label"];

/// Why GRUB could not be installed for UEFI.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `grub-mkimage` or an mtools command failed or is missing.
    #[error(transparent)]
    Tool(#[from] CommandError),
    /// GRUB's files could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Making the image (shared with the BIOS core image).
    #[error(transparent)]
    Image(#[from] crate::grub_bios::Error),
    /// Debian's EFI GRUB is not installed.
    #[error(
        "{GRUB_EFI_DIR} is missing: install Debian's grub-efi-amd64-bin to build UEFI-bootable images"
    )]
    Missing,
}

/// Installs GRUB for UEFI: modules into `boot/grub/x86_64-efi`, the EFI image onto
/// `esp` (the FAT-formatted partition device or image) at [`BOOT_PATH`].
pub fn install(esp: &Path, boot: &Path) -> Result<(), Error> {
    let source = Path::new(GRUB_EFI_DIR);
    if !source.join("kernel.img").exists() {
        return Err(Error::Missing);
    }
    let modules = copy_modules(source, boot)?;
    let image = make_core(source, &modules, "x86_64-efi", "core.efi", &CORE_MODULES)?;
    copy_to_fat(esp, &image, BOOT_PATH)
}

/// Copies `file` to `dest` (a `/`-separated path) in the FAT filesystem on `fat`,
/// creating its directories, with mtools.
pub fn copy_to_fat(fat: &Path, file: &Path, dest: &str) -> Result<(), Error> {
    let mut dir = String::from("::");
    let parents = dest.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    for part in parents.split('/').filter(|p| !p.is_empty()) {
        dir.push('/');
        dir.push_str(part);
        // A directory that exists already is fine; a real failure shows in mcopy's.
        let _ = mtools("mmd").arg("-i").arg(fat).arg(&dir).run_capture();
    }
    mtools("mcopy")
        .arg("-o")
        .arg("-i")
        .arg(fat)
        .arg(file)
        .arg(format!("::/{dest}"))
        .run_get_output()?;
    Ok(())
}

/// An mtools command that does not insist on a floppy geometry.
fn mtools(program: &str) -> Command {
    let mut command = Command::new(program);
    command.env("MTOOLS_SKIP_CHECK", "1");
    command
}
