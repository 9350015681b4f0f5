//! What Butane accepts beyond Ignition's own fields: the sugar types, the extra keys on
//! Ignition types, and the top level of each variant.
//!
//! The Ignition types are shared with `ferro-spec` (Butane spells their keys in
//! snake_case); this module only adds. Sugar keys keep their snake_case name in the
//! normalized JSON, so the translation finds them by the name the user wrote.

use std::collections::BTreeMap;

use ferro_document::{Field, Normalizer, Shape, StructShape, normalize::KeyMatching};
use ferro_spec::{Cex, Config, HasShape, NodeGroup, NodeUser, Tang, ignition_type};

use crate::profile::{Profile, Variant};

ignition_type! {
    /// A directory of the files dir copied into the config.
    Tree {
        /// Mode of directories (fcos 1.7+).
        dir_mode: Option<i64> = "dir_mode" @ 6;
        /// Mode of files, replacing the executable-bit rule (fcos 1.7+).
        file_mode: Option<i64> = "file_mode" @ 6;
        /// Group of every node (fcos 1.7+).
        group: NodeGroup = "group" @ 6;
        /// The directory, relative to the files dir.
        local: Option<String> = "local" @ 1;
        /// Where it lands; `/` by default.
        path: Option<String> = "path" @ 1;
        /// Owner of every node (fcos 1.7+).
        user: NodeUser = "user" @ 6;
    }
}

ignition_type! {
    /// Encryption and mirroring of the boot disk.
    BootDevice {
        /// Disk layout: x86_64, aarch64, ppc64le, s390x-eckd, s390x-zfcp, s390x-virt.
        layout: Option<String> = "layout" @ 2;
        /// Encrypt the root filesystem.
        luks: BootDeviceLuks = "luks" @ 2;
        /// Mirror the boot disk.
        mirror: BootDeviceMirror = "mirror" @ 2;
    }
}

ignition_type! {
    /// How the root filesystem is encrypted.
    BootDeviceLuks {
        /// Bind to an IBM Crypto Express card.
        cex: Cex = "cex" @ 5;
        /// The disk, on s390x layouts.
        device: Option<String> = "device" @ 5;
        /// Allow discards.
        discard: Option<bool> = "discard" @ 4;
        /// Bind to Tang servers.
        tang: Vec<Tang> = "tang" @ 2;
        /// How many pins must unlock.
        threshold: Option<i64> = "threshold" @ 2;
        /// Bind to the TPM2.
        tpm2: Option<bool> = "tpm2" @ 2;
    }
}

ignition_type! {
    /// Boot disk mirroring.
    BootDeviceMirror {
        /// The disks to mirror across.
        devices: Vec<String> = "devices" @ 2;
    }
}

ignition_type! {
    /// GRUB settings.
    Grub {
        /// Users allowed to edit boot entries.
        users: Vec<GrubUser> = "users" @ 4;
    }
}

ignition_type! {
    /// A GRUB superuser.
    GrubUser {
        /// User name.
        name: Option<String> = "name" @ 4;
        /// PBKDF2 hash from `grub2-mkpasswd-pbkdf2`.
        password_hash: Option<String> = "password_hash" @ 4;
    }
}

ignition_type! {
    /// A Podman quadlet file.
    Quadlet {
        /// Quadlet contents.
        contents: Option<String> = "contents" @ 7;
        /// Contents read from the files dir.
        contents_local: Option<String> = "contents_local" @ 7;
        /// Drop-ins.
        dropins: Vec<QuadletDropin> = "dropins" @ 7;
        /// File name, with a quadlet extension.
        name: String = "name" @ 7;
        /// A system quadlet rather than one for every user.
        rootful: Option<bool> = "rootful" @ 7;
    }
}

ignition_type! {
    /// A quadlet drop-in.
    QuadletDropin {
        /// Drop-in contents.
        contents: Option<String> = "contents" @ 7;
        /// Contents read from the files dir.
        contents_local: Option<String> = "contents_local" @ 7;
        /// Drop-in file name.
        name: String = "name" @ 7;
    }
}

ignition_type! {
    /// OpenShift MachineConfig metadata.
    Metadata {
        /// Labels; `machineconfiguration.openshift.io/role` is required.
        labels: BTreeMap<String, String> = "labels" @ 0;
        /// MachineConfig name.
        name: Option<String> = "name" @ 0;
    }
}

ignition_type! {
    /// OpenShift-specific MachineConfig fields.
    Openshift {
        /// RHCOS extensions to install.
        extensions: Vec<String> = "extensions" @ 0;
        /// Enable FIPS mode.
        fips: Option<bool> = "fips" @ 0;
        /// Kernel arguments.
        kernel_arguments: Vec<String> = "kernel_arguments" @ 0;
        /// Kernel type: default or realtime.
        kernel_type: Option<String> = "kernel_type" @ 0;
    }
}

const fn sugar(name: &'static str, since: u32, shape: fn() -> Shape, doc: &'static str) -> Field {
    Field {
        json: name,
        yaml: name,
        since,
        shape,
        earlier: None,
        doc,
    }
}

const INLINE: Field = sugar(
    "inline",
    0,
    String::shape,
    "Contents, embedded as a data URL.",
);
const LOCAL: Field = sugar(
    "local",
    1,
    String::shape,
    "A file of the files dir, embedded.",
);
const WITH_MOUNT_UNIT: Field = sugar(
    "with_mount_unit",
    1,
    bool::shape,
    "Generate a systemd mount (or swap) unit for this filesystem.",
);
const TREES: Field = sugar(
    "trees",
    1,
    Vec::<Tree>::shape,
    "Directories of the files dir to copy in.",
);
const SSH_KEYS_LOCAL: Field = sugar(
    "ssh_authorized_keys_local",
    4,
    Vec::<String>::shape,
    "Files of the files dir holding SSH keys, one per line.",
);
const CONTENTS_LOCAL: Field = sugar(
    "contents_local",
    4,
    String::shape,
    "Contents read from a file of the files dir.",
);
const QUADLETS: Field = sugar("quadlets", 7, Vec::<Quadlet>::shape, "Podman quadlets.");
const VARIANT: Field = sugar("variant", 0, String::shape, "The Butane variant.");
const VERSION: Field = sugar("version", 0, String::shape, "The Butane spec version.");
const BOOT_DEVICE: Field = sugar(
    "boot_device",
    0,
    BootDevice::shape,
    "Boot disk encryption and mirroring.",
);
const GRUB: Field = sugar("grub", 0, Grub::shape, "GRUB settings.");
const METADATA: Field = sugar("metadata", 0, Metadata::shape, "MachineConfig metadata.");
const OPENSHIFT: Field = sugar("openshift", 0, Openshift::shape, "OpenShift settings.");

macro_rules! root {
    ($name:ident, $label:literal) => {
        static $name: StructShape = StructShape {
            name: $label,
            fields: Config::SHAPE.fields,
        };
    };
}

root!(ROOT_BASE, "Config/base");
root!(ROOT_BOOT, "Config/boot");
root!(ROOT_GRUB, "Config/grub");
root!(ROOT_OPENSHIFT_BOOT, "Config/openshift-boot");
root!(ROOT_OPENSHIFT_GRUB, "Config/openshift-grub");

/// The shape of a whole Butane config of `profile`.
pub fn root_shape(profile: &Profile) -> Shape {
    let openshift = profile.variant == Variant::Openshift;
    Shape::Struct(match (openshift, profile.fcos_minor) {
        (true, Some(minor)) if minor >= 5 => &ROOT_OPENSHIFT_GRUB,
        (true, _) => &ROOT_OPENSHIFT_BOOT,
        (false, Some(minor)) if minor >= 5 => &ROOT_GRUB,
        (false, Some(minor)) if minor >= 3 => &ROOT_BOOT,
        _ => &ROOT_BASE,
    })
}

/// The Butane keys a struct accepts besides Ignition's.
fn extensions(name: &str) -> &'static [Field] {
    match name {
        "Resource" => &[INLINE, LOCAL],
        "Filesystem" => &[WITH_MOUNT_UNIT],
        "Storage" => &[TREES],
        "PasswdUser" => &[SSH_KEYS_LOCAL],
        "Unit" | "Dropin" => &[CONTENTS_LOCAL],
        "Systemd" => &[QUADLETS],
        "Config/base" => &[VARIANT, VERSION],
        "Config/boot" => &[VARIANT, VERSION, BOOT_DEVICE],
        "Config/grub" => &[VARIANT, VERSION, BOOT_DEVICE, GRUB],
        "Config/openshift-boot" => &[VARIANT, VERSION, METADATA, OPENSHIFT, BOOT_DEVICE],
        "Config/openshift-grub" => &[VARIANT, VERSION, METADATA, OPENSHIFT, BOOT_DEVICE, GRUB],
        _ => &[],
    }
}

/// Butane sets `ignition.version` itself.
fn hidden(name: &str, json: &str) -> bool {
    name == "Ignition" && json == "version"
}

/// How Butane YAML of `profile` is read.
pub fn normalizer(profile: &Profile) -> Normalizer {
    Normalizer {
        matching: KeyMatching::Yaml,
        level: profile.level(),
        extensions,
        hidden,
        record_origins: true,
    }
}

/// The JSON Schema of Butane configs of `variant` and `version`, for editors.
pub fn json_schema(
    variant: &str,
    version: &str,
) -> Result<serde_json::Value, crate::profile::ProfileError> {
    let profile = Profile::lookup(Some(variant), Some(version))?;
    let mut schema =
        ferro_document::json_schema::json_schema(root_shape(&profile), &normalizer(&profile));
    schema["$schema"] = "http://json-schema.org/draft-07/schema#".into();
    schema["title"] = format!("Butane config ({variant} {version})").into();
    schema["required"] = serde_json::json!(["variant", "version"]);
    schema["properties"]["variant"] =
        serde_json::json!({"const": variant, "description": "The Butane variant."});
    schema["properties"]["version"] =
        serde_json::json!({"const": version, "description": "The Butane spec version."});
    Ok(schema)
}
