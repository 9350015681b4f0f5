//! `boot_device`: LUKS encryption and RAID1 mirroring of the boot disk.

use ferro_document::Path;
use ferro_spec::{Clevis, Config, Disk, Filesystem, Luks, Partition, Raid};

use crate::schema::BootDevice;

const RESERVED_TYPE: &str = "8DA63339-0007-60C0-C436-083AC8230908";
const BIOS_TYPE: &str = "21686148-6449-6E6F-744E-656564454649";
const PREP_TYPE: &str = "9E1A2D38-C612-4316-AA26-8B49521E5A8B";
const ESP_TYPE: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const ESP_MIB: i64 = 127;
const BOOT_MIB: i64 = 384;

/// Whether the boot device settings ask for encryption.
pub(crate) fn wants_luks(boot: &BootDevice) -> bool {
    boot.luks.tpm2 == Some(true)
        || !boot.luks.tang.is_empty()
        || boot.luks.cex.enabled == Some(true)
}

/// Adds the disks, filesystems, LUKS volume and RAID arrays `boot` asks for to `parent`,
/// attributing everything to `$.boot_device`.
pub(crate) fn add(
    boot: &BootDevice,
    parent: &mut Config,
    sugar: &mut std::collections::BTreeMap<Path, Path>,
) {
    let luks = wants_luks(boot);
    let mirror = !boot.mirror.devices.is_empty();
    if !luks && !mirror {
        return;
    }
    let layout = boot.layout.as_deref().unwrap_or("x86_64");
    let storage = &mut parent.storage;
    let from = Path::parse("boot_device");
    let mut tang_fields = Vec::new();
    let mut attribute = |list: &str, index: usize, field: &str| {
        sugar.insert(Path::parse(list).index(index), from.key(field));
    };
    let mut root_device = "/dev/disk/by-partlabel/root".to_owned();
    if mirror {
        let mut esps = Vec::new();
        for (i, device) in boot.mirror.devices.iter().enumerate() {
            let k = i + 1;
            let (first, second) = match layout {
                "aarch64" => (
                    partition(&format!("reserved-{k}"), 1, RESERVED_TYPE),
                    partition(&format!("esp-{k}"), ESP_MIB, ESP_TYPE),
                ),
                "ppc64le" => (
                    partition(&format!("prep-{k}"), 4, PREP_TYPE),
                    partition(&format!("reserved-{k}"), 1, RESERVED_TYPE),
                ),
                _ => (
                    partition(&format!("bios-{k}"), 1, BIOS_TYPE),
                    partition(&format!("esp-{k}"), ESP_MIB, ESP_TYPE),
                ),
            };
            if layout != "ppc64le" {
                esps.push(k);
            }
            attribute("storage.disks", storage.disks.len(), "mirror");
            storage.disks.push(Disk {
                device: device.clone(),
                partitions: vec![
                    first,
                    second,
                    Partition {
                        label: Some(format!("boot-{k}")),
                        size_mib: Some(BOOT_MIB),
                        ..Partition::default()
                    },
                    Partition {
                        label: Some(format!("root-{k}")),
                        ..Partition::default()
                    },
                ],
                wipe_table: Some(true),
            });
        }
        for k in esps {
            attribute("storage.filesystems", storage.filesystems.len(), "mirror");
            storage.filesystems.push(Filesystem {
                device: format!("/dev/disk/by-partlabel/esp-{k}"),
                format: Some("vfat".into()),
                label: Some(format!("esp-{k}")),
                wipe_filesystem: Some(true),
                ..Filesystem::default()
            });
        }
        let members = |prefix: &str| -> Vec<String> {
            (1..=boot.mirror.devices.len())
                .map(|k| format!("/dev/disk/by-partlabel/{prefix}-{k}"))
                .collect()
        };
        attribute("storage.raid", storage.raid.len(), "mirror");
        storage.raid.push(Raid {
            devices: members("boot"),
            level: Some("raid1".into()),
            name: "md-boot".into(),
            options: vec!["--metadata=1.0".into()],
            ..Raid::default()
        });
        attribute("storage.raid", storage.raid.len(), "mirror");
        storage.raid.push(Raid {
            devices: members("root"),
            level: Some("raid1".into()),
            name: "md-root".into(),
            ..Raid::default()
        });
        attribute("storage.filesystems", storage.filesystems.len(), "mirror");
        storage.filesystems.push(Filesystem {
            device: "/dev/md/md-boot".into(),
            format: Some("ext4".into()),
            label: Some("boot".into()),
            wipe_filesystem: Some(true),
            ..Filesystem::default()
        });
        root_device = "/dev/md/md-root".to_owned();
    }
    if luks {
        let device = match (layout, boot.luks.device.as_deref()) {
            ("s390x-eckd", Some(device)) => format!("{device}2"),
            ("s390x-zfcp", Some(device)) => format!("{device}4"),
            _ => root_device.clone(),
        };
        let index = storage.luks.len();
        attribute("storage.luks", index, "luks");
        // The reference also records each Tang server's non-zero fields at the field
        // the user wrote: an empty URL (a plain string) is left out, as its merge leaves
        // it out, but an empty thumbprint or advertisement (pointers in Go) is kept.
        for (i, tang) in boot.luks.tang.iter().enumerate() {
            let written = [
                ("url", !tang.url.is_empty()),
                ("thumbprint", tang.thumbprint.is_some()),
                ("advertisement", tang.advertisement.is_some()),
            ];
            for (field, written) in written {
                if written {
                    tang_fields.push((
                        Path::parse("storage.luks")
                            .index(index)
                            .key("clevis")
                            .key("tang")
                            .index(i)
                            .key(field),
                        from.key("luks").key("tang").index(i).key(field),
                    ));
                }
            }
        }
        // A CEX volume has no Clevis binding; otherwise CEX is left out, even
        // `enabled: false`, as the reference does.
        let (cex, clevis) = if boot.luks.cex.enabled == Some(true) {
            (boot.luks.cex.clone(), Clevis::default())
        } else {
            let clevis = Clevis {
                tang: boot.luks.tang.clone(),
                threshold: boot.luks.threshold,
                tpm2: boot.luks.tpm2,
                ..Clevis::default()
            };
            (Default::default(), clevis)
        };
        storage.luks.push(Luks {
            cex,
            clevis,
            device: Some(device),
            discard: boot.luks.discard,
            label: Some("luks-root".into()),
            name: "root".into(),
            wipe_volume: Some(true),
            ..Luks::default()
        });
        root_device = "/dev/mapper/root".to_owned();
    }
    // The reference attributes the root filesystem to `boot_device` itself.
    sugar.insert(
        Path::parse("storage.filesystems").index(storage.filesystems.len()),
        from.clone(),
    );
    storage.filesystems.push(Filesystem {
        device: root_device,
        format: Some("xfs".into()),
        label: Some("root".into()),
        wipe_filesystem: Some(true),
        ..Filesystem::default()
    });
    sugar.extend(tang_fields);
}

fn partition(label: &str, size_mib: i64, type_guid: &str) -> Partition {
    Partition {
        label: Some(label.to_owned()),
        size_mib: Some(size_mib),
        type_guid: Some(type_guid.to_owned()),
        ..Partition::default()
    }
}
