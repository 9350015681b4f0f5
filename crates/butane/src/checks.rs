//! Warnings about the translated config's disk partitions (fcos and openshift): the
//! labels a CoreOS boot disk reserves, and (fcos 1.3+) the root partition's size.

use ferro_document::{Path, Report};
use ferro_spec::Config;

const ROOT_MIN_MIB: i64 = 8192;

/// Partition labels that the boot disk reserves, with the number each must have.
const RESERVED: &[(&str, i64)] = &[
    ("BIOS-BOOT", 1),
    ("PowerPC-PReP-boot", 1),
    ("EFI-SYSTEM", 2),
    ("boot", 3),
    ("root", 4),
];

/// Warns, on every disk, about reserved labels at the wrong partition number and, when
/// `root_sizes` (fcos 1.3+), about a root partition that is too small or cannot grow;
/// paths are in the translated config.
pub(crate) fn disk_partitions(config: &Config, root_sizes: bool) -> Report {
    let mut report = Report::new();
    for (d, disk) in config.storage.disks.iter().enumerate() {
        let disk_path = Path::parse("storage.disks").index(d).key("partitions");
        let partitions = &disk.partitions;
        for (p, partition) in partitions.iter().enumerate() {
            let at = disk_path.index(p);
            let label = partition.label.as_deref().unwrap_or_default();
            if root_sizes && label == "root" {
                let size = partition.size_mib.unwrap_or(0);
                if size != 0 && size < ROOT_MIN_MIB {
                    // The reference names the field as written in Butane (`size_mib`)
                    // below the generated config's indices, a path its translation set
                    // cannot map: it is placed along it as it stands.
                    report.warning(
                        at.key("size_mib"),
                        "root should have 8GiB of space assigned",
                    );
                }
                let others_auto = partitions
                    .iter()
                    .enumerate()
                    .any(|(q, other)| q != p && other.start_mib.unwrap_or(0) == 0);
                if size == 0 && others_auto {
                    report.warning(
                        at.key("label"),
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
