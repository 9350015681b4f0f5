//! GRUB for BIOS boot from Debian's `grub-pc-bin`: the modules go to `/boot/grub`, a
//! core image made by `grub-mkimage` goes into the BIOS boot partition, and GRUB's
//! boot sector into the MBR.
//!
//! `grub-install` (and `grub-bios-setup`) cannot do the last two steps on a loop
//! device: they ask the partition device for its geometry (`HDIO_GETGEO`), which loop
//! partitions do not answer. Embedding is simple enough to do here, as
//! `grub-bios-setup` does it: the boot sector learns where the core image starts, and
//! the core image's first sector (`diskboot`) learns where the rest of it is.
//!
//! The core image finds `/boot` by its filesystem label, so the disk may be attached
//! to any BIOS drive number.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

use ferro_sys::{CommandError, CommandRunExt, IoError, IoResultExt};

use crate::disk::{BIOS_BOOT, BOOT, SECTOR};

/// Where Debian's `grub-pc-bin` keeps the i386-pc images and modules.
pub const GRUB_PC_DIR: &str = "/usr/lib/grub/i386-pc";

/// Modules built into the core image: reading the BIOS disk, its GPT, the `/boot`
/// filesystem, and finding it by label.
const CORE_MODULES: [&str; 6] = [
    "biosdisk",
    "part_gpt",
    "ext2",
    "xfs",
    "search",
    "search_label",
];

/// In GRUB's boot sector (`boot.img`): the LBA of the core image's first sector.
const KERNEL_SECTOR: usize = 0x5c;
/// In the boot sector: a jump that skips the check for BIOSes passing a wrong drive
/// number; `grub-bios-setup` replaces it with two `nop`s for hard disks.
const DRIVE_CHECK: usize = 0x66;
/// The boot sector's BIOS parameter block and the MBR's disk signature + partition
/// table: both kept from the disk's own first sector.
const BPB: std::ops::Range<usize> = 0x03..0x5a;
const PARTITION_TABLE: std::ops::Range<usize> = 0x1b8..0x1fe;
/// In `diskboot` (the core image's first sector): the first block list entry,
/// `start: u64, len: u16, segment: u16`, and below it the terminating empty one.
const BLOCKLIST: usize = 0x1f4;
const BLOCKLIST_END: usize = 0x1e8;

/// Why GRUB could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `grub-mkimage` failed or is missing.
    #[error(transparent)]
    Tool(#[from] CommandError),
    /// GRUB's files or the disk could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The core image does not fit the BIOS boot partition.
    #[error("GRUB's core image ({0} bytes) does not fit the BIOS boot partition")]
    TooLarge(usize),
}

/// The configuration built into a GRUB core image (BIOS or EFI): find `/boot` by its
/// label and read the rest of GRUB (modules, `grub.cfg`) from its `/grub`.
pub(crate) fn early_config() -> String {
    format!(
        "search --no-floppy --label {} --set root\nset prefix=($root)/grub\n",
        BOOT.label
    )
}

/// Makes GRUB's core image for `format` (`i386-pc`, `x86_64-efi`) from
/// `platform_dir` as `modules/name`, with [`early_config`] and `core_modules` built in
/// and `/grub` (on the partition the early config finds) as its prefix.
pub(crate) fn make_core(
    platform_dir: &Path,
    modules: &Path,
    format: &str,
    name: &str,
    core_modules: &[&str],
) -> Result<std::path::PathBuf, Error> {
    let early = modules.join("load.cfg");
    fs::write(&early, early_config()).at("write", &early)?;
    let image = modules.join(name);
    Command::new("grub-mkimage")
        .args(["-O", format, "-d"])
        .arg(platform_dir)
        .args(["-p", "/grub", "-c"])
        .arg(&early)
        .arg("-o")
        .arg(&image)
        .args(core_modules)
        .run_get_output()?;
    Ok(image)
}

/// Copies GRUB's modules and lists of `platform_dir` (e.g. `/usr/lib/grub/i386-pc`)
/// into `boot/grub/<its name>`, where the core image loads them from; returns that
/// directory.
pub(crate) fn copy_modules(
    platform_dir: &Path,
    boot: &Path,
) -> Result<std::path::PathBuf, IoError> {
    let modules = boot
        .join("grub")
        .join(platform_dir.file_name().unwrap_or_default());
    fs::create_dir_all(&modules).at("create directory", &modules)?;
    for entry in fs::read_dir(platform_dir).at("list", platform_dir)? {
        let path = entry.at("list", platform_dir)?.path();
        if path.extension().is_some_and(|e| e == "mod" || e == "lst") {
            let dst = modules.join(path.file_name().unwrap_or_default());
            fs::copy(&path, &dst).at("copy to", &dst)?;
        }
    }
    Ok(modules)
}

/// Installs GRUB for BIOS boot: modules into `boot/grub/i386-pc`, the core image
/// into the BIOS boot partition of `disk` (the whole-disk device or image file), the
/// boot sector into its MBR.
pub fn install(disk: &Path, boot: &Path) -> Result<(), Error> {
    let source = Path::new(GRUB_PC_DIR);
    let modules = copy_modules(source, boot)?;

    let core_path = make_core(source, &modules, "i386-pc", "core.img", &CORE_MODULES)?;

    let boot_path = source.join("boot.img");
    let mut boot_img = vec![0; SECTOR as usize];
    File::open(&boot_path)
        .and_then(|mut f| f.read_exact(&mut boot_img))
        .at("read", &boot_path)?;
    let core = fs::read(&core_path).at("read", &core_path)?;
    let mut file = File::options()
        .read(true)
        .write(true)
        .open(disk)
        .at("open", disk)?;
    let mut mbr = vec![0; SECTOR as usize];
    file.read_exact(&mut mbr).at("read", disk)?;
    let (boot_sector, core) = embed(&boot_img, &mbr, &core, BIOS_BOOT.start)?;
    file.seek(SeekFrom::Start(BIOS_BOOT.start * SECTOR))
        .and_then(|_| file.write_all(&core))
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(&boot_sector))
        .and_then(|_| file.sync_all())
        .at("write", disk)?;
    Ok(())
}

/// The boot sector and core image as `grub-bios-setup` embeds them, the core image at
/// sector `core_start`: GRUB's `boot_img` (one sector, like `mbr`) with the disk's `mbr` BPB and partition table,
/// pointing at the core; the core (padded to whole sectors) with its block list naming
/// the sectors after its first. No Reed-Solomon codes are added (as with
/// `--no-rs-codes`).
fn embed(
    boot_img: &[u8],
    mbr: &[u8],
    core: &[u8],
    core_start: u64,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let sector = SECTOR as usize;
    let sectors = core.len().div_ceil(sector);
    let room = (BIOS_BOOT.size_mib << 20) as usize / sector;
    if sectors > room {
        return Err(Error::TooLarge(core.len()));
    }
    let mut boot = boot_img.to_vec();
    boot[BPB].copy_from_slice(&mbr[BPB]);
    boot[PARTITION_TABLE].copy_from_slice(&mbr[PARTITION_TABLE]);
    boot[KERNEL_SECTOR..KERNEL_SECTOR + 8].copy_from_slice(&core_start.to_le_bytes());
    boot[DRIVE_CHECK..DRIVE_CHECK + 2].copy_from_slice(&[0x90, 0x90]);

    let mut core = core.to_vec();
    core.resize(sectors * sector, 0);
    core[BLOCKLIST_END..BLOCKLIST].fill(0);
    core[BLOCKLIST..BLOCKLIST + 8].copy_from_slice(&(core_start + 1).to_le_bytes());
    // The rest of the core loads right after diskboot, at segment 0x820.
    let len = u16::try_from(sectors - 1).map_err(|_| Error::TooLarge(core.len()))?;
    core[BLOCKLIST + 8..BLOCKLIST + 10].copy_from_slice(&len.to_le_bytes());
    core[BLOCKLIST + 10..BLOCKLIST + 12].copy_from_slice(&0x820u16.to_le_bytes());
    Ok((boot, core))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_points_the_boot_sector_and_block_list_at_the_core() {
        let boot_img: Vec<u8> = (0..512).map(|i| (i % 251) as u8).collect();
        let mut mbr = vec![0u8; 512];
        mbr[0x1be..0x1ce].fill(0xee);
        mbr[0x1b8..0x1bc].copy_from_slice(&[1, 2, 3, 4]);
        let core = vec![0xaau8; 512 * 60 + 100];
        let (boot, core_out) = embed(&boot_img, &mbr, &core, 2048).unwrap();

        assert_eq!(&boot[0x5c..0x64], &2048u64.to_le_bytes());
        assert_eq!(&boot[0x66..0x68], &[0x90, 0x90]);
        assert_eq!(&boot[0x1b8..0x1fe], &mbr[0x1b8..0x1fe]);
        assert_eq!(&boot[0x03..0x5a], &mbr[0x03..0x5a]);
        assert_eq!(&boot[0x5a..0x5c], &boot_img[0x5a..0x5c]);
        assert_eq!(&boot[0x1fe..], &boot_img[0x1fe..]);

        assert_eq!(core_out.len(), 512 * 61);
        assert_eq!(&core_out[0x1f4..0x1fc], &2049u64.to_le_bytes());
        assert_eq!(&core_out[0x1fc..0x1fe], &60u16.to_le_bytes());
        assert_eq!(&core_out[0x1fe..0x200], &0x820u16.to_le_bytes());
        assert!(core_out[0x1e8..0x1f4].iter().all(|&b| b == 0));
        assert_eq!(
            &core_out[512..],
            &core[512..]
                .iter()
                .copied()
                .chain([0; 412])
                .collect::<Vec<_>>()[..]
        );
    }

    #[test]
    fn oversized_cores_are_refused() {
        let big = vec![0u8; 2 << 20];
        assert!(matches!(
            embed(&[0; 512], &[0; 512], &big, 2048),
            Err(Error::TooLarge(_))
        ));
    }
}
