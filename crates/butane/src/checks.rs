//! Warnings about the translated config's boot disk partitions (fcos 1.3+).

use ferro_document::{Path, Report};
use ferro_spec::Config;

const BOOT_DISK: &str = "/dev/disk/by-id/coreos-boot-disk";
const ROOT_MIN_MIB: i64 = 8192;

/// Partition labels that the boot disk reserves, with the number each must have.
const RESERVED: &[(&str, i64)] = &[
    ("BIOS-BOOT", 1),
    ("PowerPC-PReP-boot", 1),
    ("EFI-SYSTEM", 2),
    ("boot", 3),
    ("root", 4),
];

/// Warns about a root partition that is too small or cannot grow, and about reserved
/// labels at the wrong partition number; paths are in the translated config.
pub(crate) fn boot_disk_partitions(config: &Config) -> Report {
    let mut report = Report::new();
    for (d, disk) in config.storage.disks.iter().enumerate() {
        if disk.device != BOOT_DISK {
            continue;
        }
        let disk_path = Path::parse("storage.disks").index(d).key("partitions");
        let partitions = &disk.partitions;
        for (p, partition) in partitions.iter().enumerate() {
            let at = disk_path.index(p);
            let label = partition.label.as_deref().unwrap_or_default();
            if label == "root" {
                let size = partition.size_mib.unwrap_or(0);
                if size != 0 && size < ROOT_MIN_MIB {
                    report.warning(at.key("sizeMiB"), "root should have 8GiB of space assigned");
                }
                let followed_by_auto = partitions[p + 1..]
                    .iter()
                    .any(|next| next.start_mib.unwrap_or(0) == 0);
                if size == 0 && followed_by_auto {
                    report.warning(
                        at.key("sizeMiB"),
                        "root partition cannot expand; it is set to fill available space but is followed by an auto-positioned partition",
                    );
                }
            }
            if disk.wipe_table != Some(true) {
                let wrong = RESERVED
                    .iter()
                    .any(|(reserved, number)| label == *reserved && partition.number != *number);
                if wrong {
                    report.warning(
                        at.key("label"),
                        "incorrect partition number; a new partition will be created using reserved label",
                    );
                }
            }
        }
    }
    report
}
