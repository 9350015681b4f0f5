//! The disk layout of an image, Fedora CoreOS's: a sparse file with a GPT of a BIOS
//! boot partition (where GRUB's BIOS core image lives), an EFI system partition (FAT,
//! GRUB's EFI image as the removable-media path `EFI/BOOT/BOOTX64.EFI`), an ext4
//! `boot` partition and an xfs `root` partition filling the rest, each found at boot
//! by its label. One image boots on BIOS and on UEFI machines, both GRUBs reading the
//! same menu on `boot`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferro_sys::{CommandError, CommandRunExt, IoError, IoResultExt};

/// Bytes per sector in the partition table.
pub const SECTOR: u64 = 512;

/// One partition of the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// Its number in the GPT (and the loop device's `pN` suffix).
    pub number: u32,
    /// The GPT partition name, also the filesystem label.
    pub label: &'static str,
    /// The `sgdisk` type code.
    pub type_code: &'static str,
    /// First sector.
    pub start: u64,
    /// Size in MiB; 0 fills the rest of the disk.
    pub size_mib: u64,
}

/// GRUB's core image is embedded here; it must lie below 2 TiB for the BIOS.
pub const BIOS_BOOT: Partition = Partition {
    number: 1,
    label: "BIOS-BOOT",
    type_code: "EF02",
    start: 2048,
    size_mib: 1,
};

/// The EFI system partition: FAT (label `EFI-SYSTEM`, as its GPT name), holding only
/// GRUB's EFI image, which finds `boot` by its label as the BIOS core image does.
pub const ESP: Partition = Partition {
    number: 2,
    label: "EFI-SYSTEM",
    type_code: "EF00",
    start: 4096,
    size_mib: 127,
};

/// `/boot`: kernels, initramfs images, BLS entries and GRUB's files, on ext4, which
/// every GRUB reads.
pub const BOOT: Partition = Partition {
    number: 3,
    label: "boot",
    type_code: "8300",
    start: 4096 + 127 * 2048,
    size_mib: 384,
};

/// The physical root (`ostree/repo`, `ostree/deploy`) on xfs, as on Fedora CoreOS.
pub const ROOT: Partition = Partition {
    number: 4,
    label: "root",
    type_code: "8300",
    start: 4096 + (127 + 384) * 2048,
    size_mib: 0,
};

/// The partitions in table order.
pub const LAYOUT: [Partition; 4] = [BIOS_BOOT, ESP, BOOT, ROOT];

/// The smallest disk the layout fits: xfs needs 300 MiB for the root, and the GPT's
/// backup copy takes the last 33 sectors.
pub const MIN_SIZE: u64 = (2 + 127 + 384 + 300 + 1) << 20;

/// Why the disk could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image file could not be created.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The requested size is below [`MIN_SIZE`].
    #[error("a disk of {size} bytes is too small: the layout needs at least {MIN_SIZE}")]
    TooSmall {
        /// The requested size.
        size: u64,
    },
    /// Partitioning or formatting failed.
    #[error(transparent)]
    Tool(#[from] CommandError),
}

/// Parses a size as `qemu-img` and `truncate` take it: bytes, or a number with a
/// binary suffix `K`, `M`, `G`, `T` (`8G` = 8 GiB).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("unknown size suffix '{c}' (use K, M, G or T)")),
            };
            (&text[..i], shift)
        }
        _ => (text, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("invalid size '{text}' (e.g. 8G, 512M)"))
}

/// Creates `path` as a sparse file of `size` bytes with the partition table of
/// [`LAYOUT`].
pub fn create(path: &Path, size: u64) -> Result<(), Error> {
    if size < MIN_SIZE {
        return Err(Error::TooSmall { size });
    }
    File::create(path)
        .and_then(|f| f.set_len(size))
        .at("create the disk image", path)?;
    let mut sgdisk = Command::new("sgdisk");
    for p in LAYOUT {
        let end = match p.size_mib {
            0 => "0".to_owned(),
            mib => (p.start + mib * (1 << 20) / SECTOR - 1).to_string(),
        };
        sgdisk
            .arg(format!("--new={}:{}:{end}", p.number, p.start))
            .arg(format!("--typecode={}:{}", p.number, p.type_code))
            .arg(format!("--change-name={}:{}", p.number, p.label));
    }
    sgdisk.arg(path).run_get_output()?;
    Ok(())
}

/// Makes the filesystems: FAT on the ESP, ext4 on `boot`, xfs on `root`, each
/// labelled as its partition. `device(p)` is the block device of partition `p`.
pub fn format(device: impl Fn(&Partition) -> PathBuf) -> Result<(), Error> {
    Command::new("mkfs.vfat")
        .args(["-F", "32", "-n", ESP.label])
        .arg(device(&ESP))
        .run_get_output()?;
    Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", BOOT.label])
        .arg(device(&BOOT))
        .run_get_output()?;
    Command::new("mkfs.xfs")
        .args(["-q", "-f", "-L", ROOT.label])
        .arg(device(&ROOT))
        .run_get_output()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("8X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn partitions_are_contiguous_and_aligned() {
        for pair in LAYOUT.windows(2) {
            assert_eq!(pair[0].start + pair[0].size_mib * 2048, pair[1].start);
        }
        assert!(LAYOUT.iter().all(|p| p.start % 2048 == 0));
    }

    #[test]
    fn too_small_disks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = create(&dir.path().join("d.raw"), 100 << 20).unwrap_err();
        assert!(matches!(err, Error::TooSmall { .. }));
    }
}
