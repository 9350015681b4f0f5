//! Checks of the Butane config itself, before translation, with Butane's messages.
//!
//! The order is Butane's: the variant's own checks of the whole config first, then a
//! walk of the tree in field order where each struct is checked before its children.

use ferro_document::{Kind, Path};
use serde_json::Value;

use super::context::{Context, items};
use super::quadlets::{EXTENSIONS, template_of};
use super::resources::{pointer, resource_paths};
use crate::profile::{Profile, Variant};
use crate::schema::{BootDevice, Grub, Metadata, Openshift, Quadlet, Tree};

/// The sugar sections of the top level, read once.
pub(crate) struct Sugar<'a> {
    pub boot_device: &'a BootDevice,
    pub grub: &'a Grub,
    pub metadata: &'a Metadata,
    pub openshift: &'a Openshift,
    pub trees: &'a [Tree],
    pub quadlets: &'a [Quadlet],
}

/// Runs every check on the normalized config `config`, in Butane's order: the
/// variant's whole-config checks, then a walk of the fields in schema order (the base
/// config's sections, then `boot_device`, `grub`, and openshift's `metadata` and
/// `openshift`, which follow the embedded config).
pub(crate) fn validate(config: &Value, sugar: &Sugar<'_>, ctx: &mut Context<'_>) {
    let profile = *ctx.profile;
    // openshift 4.19+ has whole-config checks of its own, which shadow fcos's; the
    // checks of `boot_device` itself still run in the walk.
    let shadowed = profile.openshift_minor().is_some_and(|m| m >= 19);
    if shadowed {
        super::openshift::check(config, sugar.openshift, sugar.boot_device, &profile, ctx);
    }
    if profile.fcos_at_least(6) && !shadowed {
        partitions_reused_by_label(config, sugar.boot_device, ctx);
        mount_points(config, ctx);
    }
    base(config, sugar, ctx);
    if profile.fcos_at_least(3) {
        boot_device(sugar.boot_device, &profile, ctx);
    }
    if profile.fcos_at_least(5) {
        grub(sugar.grub, ctx);
    }
    if profile.variant == Variant::Openshift {
        openshift(sugar, ctx);
    }
}

fn openshift(sugar: &Sugar<'_>, ctx: &mut Context<'_>) {
    if sugar
        .metadata
        .name
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        ctx.input_error(Path::parse("metadata.name"), "metadata.name is required");
    }
    let role = sugar
        .metadata
        .labels
        .get("machineconfiguration.openshift.io/role");
    if role.is_none_or(|r| r.is_empty()) {
        ctx.input_error(
            Path::parse("metadata.labels"),
            "machineconfiguration.openshift.io/role label is required",
        );
    }
    if let Some(kernel_type) = &sugar.openshift.kernel_type
        && !matches!(kernel_type.as_str(), "" | "default" | "realtime")
    {
        ctx.input_error(
            Path::parse("openshift.kernel_type"),
            "must be empty, \"default\", or \"realtime\"",
        );
    }
}

const LAYOUTS_LEGACY: &str = "aarch64, ppc64le, x86_64";
const LAYOUTS: &str = "aarch64, ppc64le, s390x-eckd, s390x-virt, s390x-zfcp, x86_64";

/// Butane's `BootDevice.Validate`, then its walk into `luks` and `mirror`, in that
/// order (the walk checks a struct before its fields, and `mirror` once more).
fn boot_device(boot: &BootDevice, profile: &Profile, ctx: &mut Context<'_>) {
    let at = Path::parse("boot_device");
    let s390x_known = profile.fcos_at_least(6);
    let layout = boot.layout.as_deref();
    let mirror = !boot.mirror.devices.is_empty();
    // Before fcos 1.6 the s390x layouts are unknown, and have no rules of their own.
    let s390x_layout = layout.filter(|l| s390x_known && l.starts_with("s390x"));
    let s390x = s390x_layout.is_some();
    if mirror && layout.is_none() {
        let kind = if profile.fcos_at_least(7) {
            Kind::Error
        } else {
            Kind::Warning
        };
        ctx.report_input(
            kind,
            at.key("mirror"),
            "boot_device.layout should be specified when boot_device.mirror is specified",
        );
    }
    if let Some(layout) = layout {
        let known = matches!(layout, "aarch64" | "ppc64le" | "x86_64")
            || (s390x_known && matches!(layout, "s390x-eckd" | "s390x-zfcp" | "s390x-virt"));
        if !known {
            let list = if s390x_known { LAYOUTS } else { LAYOUTS_LEGACY };
            ctx.input_error(at.key("layout"), format!("layout must be one of: {list}"));
        }
    }
    if matches!(s390x_layout, Some("s390x-eckd" | "s390x-zfcp")) {
        match boot.luks.device.as_deref() {
            None | Some("") => ctx.input_error(
                at.key("layout"),
                "device is required for layouts: s390x-eckd, s390x-zfcp",
            ),
            Some(device) => {
                let prefix = if layout == Some("s390x-eckd") {
                    "/dev/dasd"
                } else {
                    "/dev/sd"
                };
                let rest = device.strip_prefix(prefix);
                if !rest.is_some_and(|r| r.len() == 1 && r.bytes().all(|b| b.is_ascii_lowercase()))
                {
                    ctx.input_error(
                        at.key("layout"),
                        "device name must start with /dev/dasd on s390x-eckd layout or /dev/sd on s390x-zfcp layout",
                    );
                }
            }
        }
    }
    if mirror && s390x {
        ctx.input_error(
            at.key("layout"),
            "mirroring not supported on layouts: s390x-eckd, s390x-zfcp, s390x-virt",
        );
    }
    let cex = boot.luks.cex.enabled == Some(true);
    if cex && !s390x {
        let place = if layout.is_some() {
            at.key("layout")
        } else {
            at.key("luks").key("cex")
        };
        ctx.input_error(
            place,
            "when using cex the targeted architecture must match s390x",
        );
    }
    if cex && (boot.luks.tpm2 == Some(true) || !boot.luks.tang.is_empty()) {
        ctx.input_error(at.key("luks"), "cannot use cex with clevis");
    }
    let too_few_mirrors = boot.mirror.devices.len() == 1;
    if too_few_mirrors {
        ctx.input_error(
            at.key("mirror").key("devices"),
            "mirroring requires at least two devices",
        );
    }
    // A method is a TPM2, CEX, or a Tang server with any field written (one with none
    // is Go's zero value, which the reference does not count).
    let has_method = boot.luks.tpm2 == Some(true)
        || boot.luks.cex.enabled == Some(true)
        || boot
            .luks
            .tang
            .iter()
            .any(|t| *t != ferro_spec::Tang::default());
    let device = boot.luks.device.as_deref().is_some_and(|d| !d.is_empty());
    if profile.fcos_at_least(7) && device && !has_method {
        // Butane reports this at `$.boot_device.luks.luks`; we keep its path.
        ctx.input_error(at.key("luks").key("luks"), "no method specified for luks");
    }
    if too_few_mirrors {
        ctx.input_error(
            at.key("mirror").key("devices"),
            "mirroring requires at least two devices",
        );
    }
}

fn grub(grub: &Grub, ctx: &mut Context<'_>) {
    for (index, user) in grub.users.iter().enumerate() {
        let at = Path::parse("grub.users").index(index);
        if user.name.as_deref().unwrap_or_default().is_empty() {
            ctx.input_error(at.key("name"), "field \"name\" is required");
        }
        if user.password_hash.as_deref().unwrap_or_default().is_empty() {
            ctx.input_error(
                at.key("password_hash"),
                "field \"password_hash\" is required",
            );
        }
    }
}

const BOOT_DISK: &str = "/dev/disk/by-id/coreos-boot-disk";

fn partitions_reused_by_label(config: &Value, boot: &BootDevice, ctx: &mut Context<'_>) {
    for disk in items(config, "storage.disks") {
        let Some(value) = config.pointer(&pointer(&disk)) else {
            continue;
        };
        let device = value
            .get("device")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let wiped = value.get("wipeTable").and_then(Value::as_bool) == Some(true);
        if device == BOOT_DISK || wiped || boot.mirror.devices.iter().any(|d| d == device) {
            continue;
        }
        let partitions = value.get("partitions").and_then(Value::as_array);
        for (index, partition) in partitions.into_iter().flatten().enumerate() {
            let labelled = partition.get("label").and_then(Value::as_str).is_some();
            let number = partition.get("number").and_then(Value::as_i64).unwrap_or(0);
            if labelled && number == 0 {
                ctx.report_input(
                    Kind::Warning,
                    disk.key("partitions").index(index).key("number"),
                    "partitions cannot be reused by label; number must be specified except on boot disk (/dev/disk/by-id/coreos-boot-disk) or when wipe_table is true",
                );
            }
        }
    }
}

fn mount_points(config: &Value, ctx: &mut Context<'_>) {
    for fs in items(config, "storage.filesystems") {
        let Some(value) = config.pointer(&pointer(&fs)) else {
            continue;
        };
        if value.get("with_mount_unit").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let Some(path) = value.get("path").and_then(Value::as_str) else {
            continue;
        };
        let allowed = ["/etc", "/var"]
            .iter()
            .any(|top| path == *top || path.starts_with(&format!("{top}/")));
        if !allowed {
            ctx.input_error(
                fs.key("path"),
                "path must be under /etc or /var if with_mount_unit is true",
            );
        }
    }
}

/// The distribution-independent checks, in the order of Butane's base walk.
fn base(config: &Value, sugar: &Sugar<'_>, ctx: &mut Context<'_>) {
    let resources = resource_paths(config);
    let in_order = |prefix: &str| -> Vec<Path> {
        let prefix = Path::parse(prefix);
        resources
            .iter()
            .filter(|p| p.starts_with(&prefix))
            .cloned()
            .collect()
    };
    for resource in in_order("ignition") {
        check_resource(config, &resource, ctx);
    }
    for dir in items(config, "storage.directories") {
        check_mode(config, &dir, true, ctx);
    }
    for file in items(config, "storage.files") {
        check_mode(config, &file, false, ctx);
        for append in items_below(config, &file, "append") {
            check_resource(config, &append, ctx);
        }
        check_resource(config, &file.key("contents"), ctx);
    }
    for fs in items(config, "storage.filesystems") {
        let Some(value) = config.pointer(&pointer(&fs)) else {
            continue;
        };
        if value.get("with_mount_unit").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let format = value
            .get("format")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path_missing = value
            .get("path")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        // Before Ignition 3.3.0 (base 0.3) Butane asks for the path whatever the
        // format, and then for the format.
        if ctx.profile.target < ferro_spec::Version::V3_3 {
            if path_missing {
                ctx.input_error(
                    fs.key("path"),
                    "path is required if with_mount_unit is true and format is not swap",
                );
            }
            if format.is_empty() {
                ctx.input_error(
                    fs.key("format"),
                    "format is required if with_mount_unit is true",
                );
            }
            continue;
        }
        if format.is_empty() {
            ctx.input_error(
                fs.key("format"),
                "format is required if with_mount_unit is true",
            );
        } else if format != "swap"
            && value
                .get("path")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            ctx.input_error(
                fs.key("path"),
                "path is required if with_mount_unit is true and format is not swap",
            );
        }
    }
    for resource in in_order("storage.luks") {
        check_resource(config, &resource, ctx);
    }
    for (index, tree) in sugar.trees.iter().enumerate() {
        if tree.local.is_none() {
            ctx.input_error(
                Path::parse("storage.trees").index(index),
                "local is required",
            );
        }
    }
    for unit in items(config, "systemd.units") {
        check_contents_local(config, &unit, ctx);
        for dropin in items_below(config, &unit, "dropins") {
            check_contents_local(config, &dropin, ctx);
        }
    }
    for (index, quadlet) in sugar.quadlets.iter().enumerate() {
        let at = Path::parse("systemd.quadlets").index(index);
        quadlet_itself(quadlet, &at, ctx);
        // The walk then checks each drop-in.
        for (i, dropin) in quadlet.dropins.iter().enumerate() {
            if dropin.contents.is_some() && dropin.contents_local.is_some() {
                ctx.input_error(
                    at.key("dropins").index(i).key("contents_local"),
                    "only one of the following can be set: contents, contents_local",
                );
            }
        }
    }
}

/// Butane's `Quadlet.Validate`: the extension first (nothing else when it is wrong),
/// then each contents field of a template instance, which is a symlink, or both
/// contents fields of another quadlet.
fn quadlet_itself(quadlet: &Quadlet, at: &Path, ctx: &mut Context<'_>) {
    if !EXTENSIONS.iter().any(|ext| quadlet.name.ends_with(ext)) {
        ctx.input_error(
            at.key("name"),
            format!(
                "unsupported file extension for quadlet: must be one of {}, or {}",
                EXTENSIONS[..EXTENSIONS.len() - 1].join(", "),
                EXTENSIONS[EXTENSIONS.len() - 1]
            ),
        );
        return;
    }
    if template_of(&quadlet.name).is_some() {
        for (field, set) in [
            ("contents", quadlet.contents.is_some()),
            ("contents_local", quadlet.contents_local.is_some()),
        ] {
            if set {
                ctx.input_error(
                    at.key(field),
                    "template instances cannot have contents or contents_local",
                );
            }
        }
    } else if quadlet.contents.is_some() && quadlet.contents_local.is_some() {
        ctx.input_error(
            at.key("contents_local"),
            "only one of the following can be set: contents, contents_local",
        );
    }
}

fn items_below(config: &Value, parent: &Path, list: &str) -> Vec<Path> {
    let path = parent.key(list);
    let count = config
        .pointer(&pointer(&path))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    (0..count).map(|i| path.index(i)).collect()
}

fn check_contents_local(config: &Value, holder: &Path, ctx: &mut Context<'_>) {
    let Some(value) = config.pointer(&pointer(holder)) else {
        return;
    };
    if value.get("contents").is_some() && value.get("contents_local").is_some() {
        ctx.input_error(
            holder.key("contents_local"),
            "only one of the following can be set: contents, contents_local",
        );
    }
}

fn check_resource(config: &Value, resource: &Path, ctx: &mut Context<'_>) {
    let Some(value) = config.pointer(&pointer(resource)) else {
        return;
    };
    let set: Vec<&str> = ["local", "inline", "source"]
        .into_iter()
        .filter(|key| value.get(*key).is_some())
        .collect();
    if set.len() > 1 {
        let last = set[set.len() - 1];
        ctx.input_error(
            resource.key(last),
            "only one of the following can be set: inline, local, source",
        );
        // Butane checks nothing more of such a resource.
        return;
    }
    let inline = value.get("inline").and_then(Value::as_str);
    if let Some(inline) = inline.filter(|_| resource.starts_with(&Path::parse("ignition.config"))) {
        check_embedded_config(inline, resource, ctx);
    }
}

/// Validates an inline merge/replace config as Butane does, while validating the
/// source config: as an Ignition config of the profile's own spec version. A config
/// of another version is only warned about (a newer Ignition may read it); a version
/// that is no version at all is an error at the embedded path `$.ignition.version`.
fn check_embedded_config(inline: &str, resource: &Path, ctx: &mut Context<'_>) {
    let parsed = serde_json::from_str::<Value>(inline).ok();
    // The version as Go decodes it: absent or null is "", anything else but a string is
    // a type error (reported by the parser below).
    let version = parsed.as_ref().and_then(|config| {
        let ignition = config.as_object()?.get("ignition");
        match ignition.map(|i| i.as_object().map(|i| i.get("version"))) {
            None | Some(Some(None | Some(Value::Null))) => Some(""),
            Some(Some(Some(Value::String(v)))) => Some(v.as_str()),
            _ => None,
        }
    });
    match version {
        Some(version) if !ferro_spec::is_semver(version) => {
            ctx.input_error(
                Path::parse("ignition.version"),
                "invalid config version (couldn't parse)",
            );
            return;
        }
        Some(version) if version != ctx.profile.target.as_str() => {
            ctx.report_input(
                ferro_document::Kind::Warning,
                resource.key("version"),
                "skipping validation for the merge/replace ignition config due to an unkown version",
            );
            return;
        }
        _ => {}
    }
    let (report, outcome) = ferro_spec::parse::parse_report(inline.as_bytes());
    let entries = match outcome {
        // Go's decoder reads zero bytes as truncated JSON.
        Err(ferro_spec::parse::ParseError::Empty) => vec![ferro_document::report::Entry {
            kind: ferro_document::Kind::Error,
            message: "unexpected end of JSON input".to_owned(),
            path: None,
            mark: None,
        }],
        _ => report.entries,
    };
    // A config that is not even JSON of the right shape is reported as such; the
    // decoder's findings (syntax and type errors) have no path there.
    let mut unreadable = false;
    for mut entry in entries {
        if entry.path.is_none() || entry.message.starts_with("json: ") {
            entry.path = None;
            unreadable |= entry.kind == ferro_document::Kind::Error;
        }
        // Butane keeps the embedded config's paths and places them in the Butane file,
        // at the deepest part of each path that the file has (else line 1 column 1).
        let mark = entry
            .path
            .as_ref()
            .and_then(|path| ctx.locator.source_map.locate(path, false).1);
        entry.mark = Some(mark.unwrap_or(ferro_document::Mark { line: 1, column: 1 }));
        ctx.report.entries.push(entry);
    }
    if unreadable {
        ctx.input_error(resource.key("inline"), "config is not valid");
    }
}

fn check_mode(config: &Value, node: &Path, directory: bool, ctx: &mut Context<'_>) {
    let mode = config
        .pointer(&pointer(&node.key("mode")))
        .and_then(Value::as_i64);
    if let Some(mode) = mode
        && looks_decimal(mode, directory)
    {
        ctx.report_input(
            Kind::Warning,
            node.key("mode"),
            "unreasonable mode would be reasonable if specified in octal; remember to add a leading zero",
        );
    }
}

/// Whether `mode` was probably meant as octal: its decimal digits are all octal digits,
/// it is no sensible mode itself, but the same digits read as octal are.
pub(crate) fn looks_decimal(mode: i64, directory: bool) -> bool {
    if !(0..=7777).contains(&mode) {
        return false;
    }
    let digits = mode.to_string();
    if digits.bytes().any(|b| b > b'7') {
        return false;
    }
    let Ok(as_octal) = i64::from_str_radix(&digits, 8) else {
        return false;
    };
    !is_typical(mode, directory) && is_typical(as_octal, directory)
}

/// Whether a mode is one people actually use: the reference's list (observed on
/// v0.29.0), plus setuid/setgid (files) or setgid/sticky (directories) on the ones
/// that can be run or entered by their owner's group.
fn is_typical(mode: i64, directory: bool) -> bool {
    const FILES: &[i64] = &[
        0o400, 0o440, 0o444, 0o500, 0o550, 0o555, 0o600, 0o640, 0o644, 0o660, 0o664, 0o666, 0o700,
        0o750, 0o755, 0o770, 0o775, 0o777,
    ];
    const SPECIAL_FILES: &[i64] = &[0o500, 0o550, 0o555, 0o700, 0o750, 0o755, 0o770, 0o775];
    const DIRECTORIES: &[i64] = &[
        0o500, 0o550, 0o555, 0o700, 0o750, 0o755, 0o770, 0o775, 0o777,
    ];
    const SPECIAL_DIRECTORIES: &[i64] = &[0o700, 0o750, 0o755, 0o770, 0o775, 0o777];
    let (special, base) = (mode & !0o777, mode & 0o777);
    if directory {
        match special {
            0 => DIRECTORIES.contains(&base),
            0o1000 | 0o2000 | 0o3000 => SPECIAL_DIRECTORIES.contains(&base),
            _ => false,
        }
    } else {
        match special {
            0 => FILES.contains(&base),
            0o2000 | 0o4000 | 0o6000 => SPECIAL_FILES.contains(&base),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_modes_written_in_decimal() {
        assert!(looks_decimal(644, false));
        assert!(looks_decimal(755, true));
        assert!(looks_decimal(600, false));
        assert!(!looks_decimal(420, false));
        assert!(!looks_decimal(493, true));
        assert!(!looks_decimal(0o644, false));
        assert!(!looks_decimal(8888, false));
        // Minimised from the differential test: Butane's list, not a rule.
        assert!(looks_decimal(400, false));
        assert!(!looks_decimal(544, false));
        assert!(looks_decimal(1777, true));
        assert!(!looks_decimal(1777, false));
    }
}
