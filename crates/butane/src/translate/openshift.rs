//! The openshift variant: MachineConfig output and the `openshift` section.

use ferro_document::{Kind, Path};
use ferro_spec::Config;
use serde_json::{Map, Value, json};

use super::context::Context;
use super::locate::Locator;
use crate::profile::Profile;
use crate::schema::{BootDevice, Metadata, Openshift};
use crate::yaml_out::machine_config_yaml;

const FIPS_CIPHER: [&str; 2] = ["--cipher", "aes-cbc-essiv:sha256"];
const CEX_KERNEL_ARGUMENT: &str = "rd.luks.key=/etc/luks/cex.key";
const GRUB_USER_CFG: &str = "/boot/grub2/user.cfg";

/// Applies the openshift-only rules to the translated config: FIPS mode picks a
/// FIPS-approved cipher for every LUKS volume that names none (up to 4.19); from 4.23
/// GRUB's `user.cfg` is written whole, since the MCO cannot append.
pub(crate) fn translate(
    config: &mut Config,
    fields: &Openshift,
    profile: &Profile,
    locator: &mut Locator,
) {
    let minor = profile.openshift_minor().unwrap_or(0);
    if minor >= 23 {
        grub_cfg_as_contents(config, locator);
    }
    if fields.fips == Some(true) && minor <= 19 {
        for luks in &mut config.storage.luks {
            let has_cipher = luks
                .options
                .iter()
                .any(|o| o == "--cipher" || o == "-c" || o.starts_with("--cipher="));
            if !has_cipher {
                luks.options
                    .extend(FIPS_CIPHER.iter().map(|s| (*s).to_owned()));
            }
        }
    }
}

/// Moves the single append of `/boot/grub2/user.cfg` (what the GRUB sugar writes) to
/// its contents, as the reference does; a file with more appends is the user's and is
/// left to the append filter.
fn grub_cfg_as_contents(config: &mut Config, locator: &mut Locator) {
    let Some(index) = config
        .storage
        .files
        .iter()
        .position(|f| f.path == GRUB_USER_CFG)
    else {
        return;
    };
    let file = &mut config.storage.files[index];
    if file.append.len() != 1 {
        return;
    }
    file.contents = file.append.pop().unwrap_or_default();
    let item = Path::parse("storage.files").index(index);
    locator
        .moved
        .insert(item.key("contents"), item.key("append").index(0));
}

/// Errors of the `openshift` section that need the LUKS settings (4.19+: CEX keys are
/// found through a kernel argument); the reference checks them first of all, once for
/// the boot device and once more if a `storage.luks` volume named `root` uses CEX.
pub(crate) fn check(
    config: &Value,
    fields: &Openshift,
    boot: &BootDevice,
    profile: &Profile,
    ctx: &mut Context<'_>,
) {
    let minor = profile.openshift_minor().unwrap_or(0);
    if minor < 19
        || fields
            .kernel_arguments
            .iter()
            .any(|a| a == CEX_KERNEL_ARGUMENT)
    {
        return;
    }
    let root_volume = config
        .pointer("/storage/luks")
        .and_then(Value::as_array)
        .is_some_and(|volumes| {
            volumes.iter().any(|v| {
                v.get("name").and_then(Value::as_str) == Some("root")
                    && v.pointer("/cex/enabled").and_then(Value::as_bool) == Some(true)
            })
        });
    let boot_device = boot.luks.cex.enabled == Some(true);
    for _ in 0..(usize::from(boot_device) + usize::from(root_volume)) {
        ctx.input_error(
            Path::parse("openshift.kernel_arguments"),
            format!("'{CEX_KERNEL_ARGUMENT}' must be set as kernel argument when CEX is enabled for the boot device"),
        );
    }
}

/// The MachineConfig YAML wrapping `config` (the Ignition config as JSON), keys sorted as the reference writes them.
pub(crate) fn machine_config(config: Value, metadata: &Metadata, fields: &Openshift) -> String {
    let mut spec = Map::new();
    spec.insert("config".into(), config);
    if !fields.extensions.is_empty() {
        spec.insert("extensions".into(), json!(fields.extensions));
    }
    // The reference's fields are pointers: a value the user wrote is kept, `false` and
    // `""` included.
    if let Some(fips) = fields.fips {
        spec.insert("fips".into(), Value::Bool(fips));
    }
    if !fields.kernel_arguments.is_empty() {
        spec.insert("kernelArguments".into(), json!(fields.kernel_arguments));
    }
    if let Some(kernel_type) = fields.kernel_type.as_deref() {
        spec.insert("kernelType".into(), json!(kernel_type));
    }
    let mut meta = Map::new();
    if !metadata.labels.is_empty() {
        meta.insert("labels".into(), json!(metadata.labels));
    }
    if let Some(name) = &metadata.name {
        meta.insert("name".into(), json!(name));
    }
    let document = json!({
        "apiVersion": "machineconfiguration.openshift.io/v1",
        "kind": "MachineConfig",
        "metadata": meta,
        "spec": spec,
    });
    machine_config_yaml(document)
}

/// Warns about every `openshift` field that plain Ignition output (`--raw`) drops.
pub(crate) fn warn_ignored_in_raw_mode(fields: &Openshift, ctx: &mut Context<'_>) {
    // In the order of the reference's struct fields, which its report follows.
    let set = [
        ("kernel_arguments", !fields.kernel_arguments.is_empty()),
        ("extensions", !fields.extensions.is_empty()),
        ("fips", fields.fips.is_some()),
        ("kernel_type", fields.kernel_type.is_some()),
    ];
    for (field, present) in set {
        if present {
            ctx.report_input(
                Kind::Warning,
                Path::parse("openshift").key(field),
                "field ignored in raw mode",
            );
        }
    }
}
