//! The translation pipeline: Butane YAML in, Ignition config and a positioned report out.
//!
//! Steps, each of which may end the run when it reports an error (Butane's order):
//! parse and pick the profile; check keys and types against the profile's shape; check
//! the Butane config; expand sugar into a generated config and merge the user's config
//! over it; add trees and quadlets; warn about boot disk partitions; apply the variant's
//! field filters; validate the result as Ignition does.

pub(crate) mod boot_device;
pub(crate) mod context;
mod grub;
mod local_sugar;
pub(crate) mod locate;
mod many;
mod mount_units;
mod openshift;
pub(crate) mod quadlets;
pub(crate) mod resources;
mod trees;
mod validate;

use std::path::PathBuf;

use ferro_document::yaml::{self, YamlError};
use ferro_document::{
    Mark, Node, Path, Report, Segment, Value as NodeValue, camel_to_snake, normalize,
};
use ferro_spec::{Config, merge::merge};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::files_dir::FilesDir;
use crate::profile::{Profile, ProfileError, Variant};
use crate::schema::{self, BootDevice, Grub, Metadata, Openshift, Quadlet, Tree};
use crate::{checks, filters};
use context::{Context, at_mut, items, take};
use locate::Locator;
use mount_units::MountRequest;
use validate::Sugar;

pub use many::{Merged, MultiFailure, translate_many};

/// How to translate.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The directory `local` paths are relative to (`-d/--files-dir`).
    pub files_dir: Option<PathBuf>,
    /// For openshift: emit plain Ignition instead of a MachineConfig (`-r/--raw`).
    pub raw: bool,
    /// Indent the JSON (`-p/--pretty`).
    pub pretty: bool,
    /// Never gzip embedded contents (a library option of Butane's).
    pub no_auto_compression: bool,
}

/// A successful translation.
#[derive(Debug)]
pub struct Translation {
    /// How the output is made from [`Translation::config`].
    rendered: Rendered,
    /// Warnings, positioned in the Butane file.
    pub report: Report,
    /// The translated config itself.
    pub config: Config,
    /// How paths of `config` lead back into the Butane file.
    locator: Locator,
}

/// The output of a translation, made when it is written.
#[derive(Debug)]
enum Rendered {
    /// The config as Ignition JSON.
    Json { pretty: bool },
    /// Already rendered (an openshift MachineConfig).
    Text(String),
}

impl Translation {
    /// The Ignition JSON (or MachineConfig YAML), ending in a newline.
    pub fn output(&self) -> String {
        let mut out = Vec::new();
        self.write_output(&mut out)
            .expect("writing into memory cannot fail");
        String::from_utf8(out).expect("the output is UTF-8")
    }

    /// Writes [`Translation::output`] to `out` as it is made: the JSON of a config
    /// embedding large contents is as large as they are, so it is not held in memory.
    pub fn write_output(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match &self.rendered {
            Rendered::Json { pretty } => {
                ferro_spec::write_go_json(&self.config, *pretty, out)?;
                out.write_all(b"\n")
            }
            Rendered::Text(text) => out.write_all(text.as_bytes()),
        }
    }

    /// Positions entries whose paths are paths of [`Translation::config`] in the Butane file.
    pub fn place(&self, report: &mut Report) {
        self.locator.place(report, true);
    }
}

/// A failed translation: what was found, and why it stopped.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Everything found before stopping, positioned in the Butane file.
    pub report: Report,
    /// Why the translation stopped.
    pub error: Error,
}

/// Why a translation stopped; the texts follow Butane's `Error translating config: …`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The YAML of the top level could not be read.
    #[error("Error unmarshaling yaml: {0}")]
    TopLevelYaml(YamlError),
    /// The YAML could not be read.
    #[error("{0}")]
    Yaml(YamlError),
    /// `variant`/`version` name no known profile.
    #[error("{0}")]
    Profile(#[from] ProfileError),
    /// Values of the wrong type, one line each.
    #[error("yaml: unmarshal errors:{0}")]
    Types(String),
    /// The Butane config has errors (see the report).
    #[error("source config is invalid")]
    SourceInvalid,
    /// The generated Ignition config has errors (see the report).
    #[error("config generated was invalid")]
    GeneratedInvalid,
    /// Configs merged with each other produce different Ignition versions.
    #[error(
        "{name} produces Ignition {found}, but the first config produces {expected}; merged configs must share a spec version"
    )]
    MixedVersions {
        /// The input that differs.
        name: String,
        /// Its Ignition version.
        found: String,
        /// The first input's.
        expected: String,
    },
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            report: Report::new(),
            error,
        }
    }
}

/// Translates the Butane config `text`.
pub fn translate(text: &str, options: &Options) -> Result<Translation, Failure> {
    translate_parsed(parse(text)?, options)
}

/// [`translate`], freeing `text` as soon as it is parsed: a large config is then not
/// held as text and as a tree at once (its reports keep positions, not text).
pub fn translate_owned(text: String, options: &Options) -> Result<Translation, Failure> {
    let parsed = parse(&text)?;
    drop(text);
    translate_parsed(parsed, options)
}

fn parse(text: &str) -> Result<(Node, Vec<yaml::KeyErrors>), Failure> {
    yaml::parse_keys_apart(text).map_err(|e| {
        let error = if e.in_top_level() {
            Error::TopLevelYaml(e)
        } else {
            Error::Yaml(e)
        };
        error.into()
    })
}

fn translate_parsed(
    (document, key_errors): (Node, Vec<yaml::KeyErrors>),
    options: &Options,
) -> Result<Translation, Failure> {
    let profile = Profile::lookup(scalar(&document, "variant"), scalar(&document, "version"))
        .map_err(Error::Profile)?;
    let mut document = document;
    let normalized = normalize(
        &mut document,
        schema::root_shape(&profile),
        &schema::normalizer(&profile),
    );
    // The normalized tree and the source map carry everything needed from here on.
    drop(document);
    let lines = unmarshal_errors(&normalized, &key_errors, &profile);
    if !lines.is_empty() {
        return Err(Error::Types(lines).into());
    }
    let files = FilesDir::new(options.files_dir.clone());
    let old_openshift = profile.openshift_minor().is_some_and(|m| m <= 9);
    let mut ctx = Context {
        profile: &profile,
        files: &files,
        allow_gzip: !options.no_auto_compression && !old_openshift,
        report: normalized.report,
        locator: Locator {
            source_map: normalized.source_map,
            ..Locator::default()
        },
    };
    let mut value = normalized.value;
    let root = Path::root();
    for key in ["variant", "version"] {
        take(&mut value, &root, key);
    }
    let boot_device: BootDevice = take_typed(&mut value, &root, "boot_device");
    let grub: Grub = take_typed(&mut value, &root, "grub");
    let metadata: Metadata = take_typed(&mut value, &root, "metadata");
    let openshift_fields: Openshift = take_typed(&mut value, &root, "openshift");
    let trees: Vec<Tree> = take_typed(&mut value, &Path::parse("storage"), "trees");
    let quadlets: Vec<Quadlet> = take_typed(&mut value, &Path::parse("systemd"), "quadlets");

    let sugar = Sugar {
        boot_device: &boot_device,
        grub: &grub,
        metadata: &metadata,
        openshift: &openshift_fields,
        trees: &trees,
        quadlets: &quadlets,
    };
    validate::validate(&value, &sugar, &mut ctx);
    stop_if_fatal(&ctx.report, Error::SourceInvalid)?;

    let mounts = mount_requests(&mut value);
    // Local files are read in Butane's translation order: ignition, passwd, storage,
    // systemd.
    resources::embed_contents(&mut value, "ignition", &mut ctx);
    local_sugar::ssh_keys(&mut value, &mut ctx);
    resources::embed_contents(&mut value, "storage", &mut ctx);
    local_sugar::unit_contents(&mut value, &mut ctx);
    let written_clevis = if profile.target == ferro_spec::Version::V3_2 {
        written_clevis(&value)
    } else {
        Vec::new()
    };
    let mut user: Config = serde_json::from_value(value).unwrap_or_default();
    user.ignition.version = profile.target.as_str().to_owned();

    let mut parent = Config::default();
    if profile.fcos_at_least(5) {
        grub::add(&grub, &mut parent, &mut ctx);
    }
    if profile.fcos_at_least(3) {
        boot_device::add(&boot_device, &mut parent, &mut ctx.locator.sugar);
    }
    mount_units::add(&mounts, &user, &mut parent, &mut ctx);
    // Without sugar there is nothing to merge, and paths stay where the user wrote them.
    let mut config = if parent == Config::default() {
        user
    } else {
        let merged = merge(&parent, &user);
        ctx.locator.transcript = Some(merged.transcript);
        merged.config
    };
    trees::add(&trees, &mut config, &mut ctx);
    quadlets::add(&quadlets, &mut config, &mut ctx);
    if profile.target < ferro_spec::Version::V3_3 {
        // Before 3.3.0 a link's target is a plain string, always written.
        for link in &mut config.storage.links {
            link.target.get_or_insert_with(String::new);
        }
    }
    if profile.variant == Variant::Openshift {
        openshift::translate(&mut config, &openshift_fields, &profile, &mut ctx.locator);
    }
    stop_if_fatal(&ctx.report, Error::SourceInvalid)?;

    let openshift_raw = profile.variant == Variant::Openshift && options.raw;
    if profile.fcos_minor.is_some() {
        let partitions = checks::disk_partitions(&config, profile.fcos_at_least(3));
        // The reference's fcos layer reports these at paths of the config it generated,
        // which openshift's translation set (prefixed `spec.config`) cannot map, nor
        // any translation set a path with a Butane key (`size_mib`): such a finding
        // keeps its path, placed along it in the file.
        let untranslatable = |path: &Path| {
            (profile.variant == Variant::Openshift && !openshift_raw)
                || path.segments().last() == Some(&Segment::Key("size_mib".into()))
        };
        let mut partitions = partitions;
        for entry in &mut partitions.entries {
            if entry.path.as_ref().is_some_and(untranslatable) {
                ctx.locator.place_along_output_path(entry);
            } else {
                ctx.locator.place_entry(entry, true);
            }
        }
        ctx.report.extend(partitions);
    }
    // Whether the reference merged a generated config into this one, after which its
    // translation set no longer records empty strings: always from fcos 1.5 (GRUB
    // sugar), else for boot device sugar, or for any filesystem (mount units).
    let merged = profile.fcos_at_least(5)
        || ctx.locator.transcript.is_some()
        || !config.storage.filesystems.is_empty();
    let openshift = profile.variant == Variant::Openshift;
    // The generated config as JSON, made only when a MachineConfig finding needs it.
    let mut written: Option<Value> = None;
    if openshift {
        let support = filters::machine_config_support(&config, &profile);
        // With `--raw` no MachineConfig path can be placed.
        let support = place_in_machine_config(&ctx, support, &config, &mut written, |w, p| {
            openshift_raw || unrecorded_at(w, p, profile.target, merged)
        });
        ctx.report.extend(support);
        if openshift_raw {
            openshift::warn_ignored_in_raw_mode(&openshift_fields, &mut ctx);
        }
        stop_if_fatal(&ctx.report, Error::SourceInvalid)?;
    }
    // In a MachineConfig the reference places only what its translation recorded: a
    // finding about a field left out (or zero, after a merge) keeps its
    // `$.spec.config.…` path.
    let unrecorded = |w: &Value, p: &Path| {
        locate::value_at(w, p).is_none() || unrecorded_at(w, p, profile.target, merged)
    };
    // The reference keys openshift's filters by MachineConfig paths, which a plain
    // Ignition config (`--raw`) never has.
    if !openshift_raw {
        let filtered = filters::check(&config, &profile);
        let filtered = if openshift {
            place_in_machine_config(&ctx, filtered, &config, &mut written, unrecorded)
        } else {
            ctx.place_output(filtered)
        };
        ctx.report.extend(filtered);
        stop_if_fatal(&ctx.report, Error::SourceInvalid)?;
    }

    let mut ignition = ferro_spec::validate::validate(&config, profile.target);
    quote_unit_garbage(&mut ignition);
    let ignition = if openshift && !options.raw {
        place_in_machine_config(&ctx, ignition, &config, &mut written, unrecorded)
    } else if ctx.locator.transcript.is_some() && !ignition.is_empty() {
        // After a merge, a finding about a field the config lacks has no translation:
        // the reference reports it at its own path, wherever that leads in the file.
        let written =
            written.get_or_insert_with(|| serde_json::to_value(&config).unwrap_or(Value::Null));
        let mut ignition = ignition;
        for entry in &mut ignition.entries {
            if entry.path.as_ref().is_some_and(|p| {
                locate::value_at(written, p).is_none()
                    || unrecorded_at(written, p, profile.target, true)
            }) {
                ctx.locator.place_along_output_path(entry);
            }
        }
        ctx.place_output(ignition)
    } else {
        ctx.place_output(ignition)
    };
    ctx.report.extend(ignition);
    stop_if_fatal(&ctx.report, Error::GeneratedInvalid)?;

    // Only spec 3.2.0 has pointers to structs (a LUKS volume's `clevis` and its
    // `custom`), which Go writes as `{}` when the user wrote them empty.
    let patched = (!written_clevis.is_empty()).then(|| {
        let mut json = serde_json::to_value(&config).unwrap_or(Value::Null);
        restore_empty_clevis(&mut json, &written_clevis);
        json
    });
    let rendered = if profile.variant == Variant::Openshift && !options.raw {
        let json = patched.unwrap_or_else(|| serde_json::to_value(&config).unwrap_or(Value::Null));
        Rendered::Text(openshift::machine_config(
            json,
            &metadata,
            &openshift_fields,
        ))
    } else if let Some(json) = patched {
        Rendered::Text(format!(
            "{}\n",
            ferro_spec::to_go_json(&json, options.pretty)
        ))
    } else {
        Rendered::Json {
            pretty: options.pretty,
        }
    };
    Ok(Translation {
        rendered,
        report: ctx.report,
        config,
        locator: ctx.locator,
    })
}

/// The LUKS volumes (by name) whose `clevis` the user wrote, each with whether its
/// `custom` was written too.
fn written_clevis(value: &Value) -> Vec<(String, bool)> {
    let Some(volumes) = value.pointer("/storage/luks").and_then(Value::as_array) else {
        return Vec::new();
    };
    volumes
        .iter()
        .filter_map(|volume| {
            let clevis = volume.get("clevis")?.as_object()?;
            let name = volume
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Some((
                name.to_owned(),
                clevis.get("custom").is_some_and(Value::is_object),
            ))
        })
        .collect()
}

/// Writes back as `{}` the `clevis` objects of [`written_clevis`] that serialization
/// left out for being empty, and a written `custom` as Go writes spec 3.2.0's struct:
/// `config` and `pin` always, `needsNetwork` when set.
fn restore_empty_clevis(json: &mut Value, written: &[(String, bool)]) {
    let Some(volumes) = json
        .pointer_mut("/storage/luks")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for volume in volumes {
        let name = volume
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some((_, custom)) = written.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let Some(object) = volume.as_object_mut() else {
            continue;
        };
        if !object.contains_key("clevis") {
            // `clevis` is the first field of a 3.2.0 LUKS volume.
            object.shift_insert(0, "clevis".into(), Value::Object(Default::default()));
        }
        let clevis = &mut object["clevis"];
        if *custom && let Some(clevis) = clevis.as_object_mut() {
            let mut written = match clevis.get("custom") {
                Some(Value::Object(fields)) => fields.clone(),
                _ => serde_json::Map::new(),
            };
            let mut custom = serde_json::Map::new();
            let empty = || Value::String(String::new());
            custom.insert(
                "config".into(),
                written.remove("config").unwrap_or_else(empty),
            );
            if let Some(needs_network) = written.remove("needsNetwork") {
                custom.insert("needsNetwork".into(), needs_network);
            }
            custom.insert("pin".into(), written.remove("pin").unwrap_or_else(empty));
            // `custom` is the first field of 3.2.0's Clevis.
            match clevis.get_mut("custom") {
                Some(slot) => *slot = Value::Object(custom),
                None => {
                    clevis.shift_insert(0, "custom".into(), Value::Object(custom));
                }
            }
        }
    }
}

/// Places the entries of `report` (paths of the generated config), except those
/// `unplaced` picks by their value in the generated config: the reference's
/// MachineConfig translation cannot place them, so they keep a `$.spec.config.…`
/// path and point at the start of the file.
fn place_in_machine_config(
    ctx: &Context<'_>,
    report: Report,
    config: &Config,
    written: &mut Option<Value>,
    unplaced: impl Fn(&Value, &Path) -> bool,
) -> Report {
    if report.is_empty() {
        return report;
    }
    let written =
        written.get_or_insert_with(|| serde_json::to_value(config).unwrap_or(Value::Null));
    let prefix = Path::parse("spec.config");
    let mut report = report;
    for entry in &mut report.entries {
        let Some(path) = entry.path.as_ref() else {
            continue;
        };
        if unplaced(written, path) {
            // The reference falls back to the path's snake_case spelling.
            let snake: Path = path
                .segments()
                .iter()
                .map(|s| match s {
                    Segment::Key(key) => Segment::Key(camel_to_snake(key)),
                    other => other.clone(),
                })
                .collect();
            entry.path = Some(prefix.join(&snake));
            entry.mark = Some(Mark::new(1, 1));
        }
    }
    ctx.place_output(report)
}

/// Whether the reference's translation set records nothing at `path`, which holds a
/// value: a list or object records only through its leaves, and a leaf that is the
/// zero value of a plain (non-pointer) field of Ignition's Go types of spec `version`
/// is not recorded — a partition's `number` always, and after a merge (`merged`) an
/// empty plain string (`name`, `path`, `device`; before 3.3.0 also `level`, `target`
/// and others).
fn unrecorded_at(written: &Value, path: &Path, version: ferro_spec::Version, merged: bool) -> bool {
    use ferro_spec::Version as V;
    let plain: &[&str] = match version {
        _ if !merged => &[],
        V::V3_0 => &["device", "level", "name", "path", "source", "target"],
        V::V3_1 => &["device", "level", "name", "path", "target"],
        V::V3_2 => &[
            "config", "device", "level", "name", "path", "pin", "target", "url",
        ],
        _ => &["device", "name", "path", "url"],
    };
    fn recorded(value: &Value, key: Option<&str>, plain: &[&str]) -> bool {
        match value {
            Value::String(s) if s.is_empty() => !key.is_some_and(|k| plain.contains(&k)),
            Value::Number(n) if key == Some("number") => n.as_i64() != Some(0),
            Value::Array(items) => items.iter().any(|v| recorded(v, None, plain)),
            Value::Object(fields) => fields.iter().any(|(k, v)| recorded(v, Some(k), plain)),
            _ => true,
        }
    }
    let key = match path.segments().last() {
        Some(Segment::Key(key)) => Some(key.as_str()),
        _ => None,
    };
    locate::value_at(written, path).is_some_and(|v| !recorded(v, key, plain))
}

/// yaml.v3's unmarshal errors, as it finds them decoding the document in order: the
/// key errors of the mappings it decodes (those of known fields) and the type errors
/// of values, except inside a mapping with duplicate keys, which it does not decode.
fn unmarshal_errors(
    normalized: &ferro_document::Normalized,
    key_errors: &[yaml::KeyErrors],
    profile: &Profile,
) -> String {
    if key_errors.is_empty() && normalized.type_errors.is_empty() {
        return String::new();
    }
    let decoded: std::collections::HashMap<Mark, &Path> = normalized
        .source_map
        .iter()
        .map(|(_, origin)| (origin.mark, &origin.path))
        .collect();
    let mut skipped: Vec<&Path> = Vec::new();
    let mut found: Vec<(Mark, String)> = Vec::new();
    for errors in key_errors {
        let Some(&path) = decoded.get(&errors.map) else {
            continue;
        };
        if skipped.iter().any(|s| path.starts_with(s) && path != *s) {
            continue;
        }
        found.extend(errors.duplicates.iter().map(|l| (errors.map, l.clone())));
        if !errors.duplicates.is_empty() {
            skipped.push(path);
        } else {
            found.extend(errors.keys.iter().cloned());
        }
    }
    for e in &normalized.type_errors {
        if skipped.iter().any(|s| e.path.starts_with(s)) {
            continue;
        }
        // yaml.v3 looks for duplicate keys in a mapping before it looks at the type it
        // decodes into: a mapping with duplicates where a list belongs reports those.
        if let Some(errors) = key_errors
            .iter()
            .find(|k| k.map == e.mark && !k.duplicates.is_empty())
        {
            found.extend(errors.duplicates.iter().map(|l| (errors.map, l.clone())));
            continue;
        }
        let expected = match e.expected.as_str() {
            "string" => go_string_type(&e.path, profile).unwrap_or_else(|| e.expected.clone()),
            "[]string" => go_string_type(&e.path.index(0), profile)
                .map_or_else(|| e.expected.clone(), |item| format!("[]{item}")),
            other => go_type_name(other, profile),
        };
        let line = format!(
            "line {}: cannot unmarshal {} into {expected}",
            e.mark.line, e.found
        );
        found.push((e.mark, line));
    }
    found.sort_by_key(|(mark, _)| (mark.line, mark.column));
    found
        .iter()
        .map(|(_, line)| format!("\n  {line}"))
        .collect()
}

/// The Go type yaml.v3 names for a list item of one of Butane's named string types
/// (`v0_6.Device`…), qualified by the base schema package the profile builds on.
fn go_string_type(path: &Path, profile: &Profile) -> Option<String> {
    let segments = path.segments();
    let [.., Segment::Key(list), Segment::Index(_)] = segments else {
        return None;
    };
    let parent = match segments.len().checked_sub(4).map(|i| &segments[i]) {
        Some(Segment::Key(parent)) => parent.as_str(),
        _ => segments.first().map_or("", |s| match s {
            Segment::Key(k) => k.as_str(),
            Segment::Index(_) => "",
        }),
    };
    let package = base_package(profile);
    let options = matches!(package, "v0_3" | "v0_4");
    let name = match (parent, list.as_str()) {
        ("raid", "devices") => "Device",
        ("users", "groups") => "Group",
        ("users", "ssh_authorized_keys") => "SSHAuthorizedKey",
        ("kernel_arguments", "should_exist" | "should_not_exist") if package >= "v0_4" => {
            "KernelArgument"
        }
        ("filesystems", "options") if package == "v0_1" => "FilesystemOption",
        ("raid", "options") if package <= "v0_4" => "RaidOption",
        ("luks", "options") if options => "LuksOption",
        _ => return None,
    };
    Some(format!("{package}.{name}"))
}

/// The Go package of Butane's base schema for `profile` (`v0_6`), which follows the
/// Ignition spec version it targets.
fn base_package(profile: &Profile) -> &'static str {
    use ferro_spec::Version as V;
    match profile.target {
        V::V3_0 => "v0_1",
        V::V3_1 => "v0_2",
        V::V3_2 => "v0_3",
        V::V3_3 => "v0_4",
        V::V3_4 => "v0_5",
        V::V3_5 => "v0_6",
        V::V3_6 => "v0_7",
        _ => "v0_8_exp",
    }
}

/// A type name of the schema (`[]File`, `BootDevice`) as yaml.v3 prints the Go type:
/// struct names qualified by their package — the fcos one (`v1_5`) for the boot device
/// and GRUB sugar, the openshift one (`v4_14`) for its own sections, else the base.
fn go_type_name(name: &str, profile: &Profile) -> String {
    let mut rest = name;
    let mut prefix = String::new();
    while let Some((wrapper, inner)) =
        rest.strip_prefix("[]")
            .map(|inner| ("[]", inner))
            .or_else(|| {
                rest.strip_prefix("map[string]")
                    .map(|inner| ("map[string]", inner))
            })
    {
        prefix.push_str(wrapper);
        rest = inner;
    }
    if !rest.starts_with(|c: char| c.is_ascii_uppercase()) {
        return name.to_owned();
    }
    let experimental = if profile.version.ends_with("-experimental") {
        "_exp"
    } else {
        ""
    };
    let (package, rest) = match rest {
        "BootDevice" | "BootDeviceLuks" | "BootDeviceMirror" | "Grub" | "GrubUser" => (
            format!(
                "v1_{}{experimental}",
                profile.fcos_minor.unwrap_or_default()
            ),
            rest,
        ),
        "Metadata" | "Openshift" => (
            format!(
                "v4_{}{experimental}",
                profile.openshift_minor().unwrap_or_default()
            ),
            if rest == "Openshift" {
                "OpenShift"
            } else {
                rest
            },
        ),
        _ => (base_package(profile).to_owned(), rest),
    };
    format!("{prefix}{package}.{rest}")
}

/// The go-systemd Butane vendors quotes the garbage after a unit's section name (`%q`);
/// the shared validation words it as the older one Ignition 2.14 has (`%v` of bytes).
fn quote_unit_garbage(report: &mut Report) {
    const MARK: &str = "found garbage after section name : [";
    for entry in &mut report.entries {
        let Some(at) = entry.message.find(MARK) else {
            continue;
        };
        let list = entry.message[at + MARK.len()..].trim_end_matches(']');
        let bytes: Option<Vec<u8>> = list.split(' ').map(|b| b.parse().ok()).collect();
        if let Some(text) = bytes.and_then(|b| String::from_utf8(b).ok()) {
            entry.message = format!(
                "{}found garbage after section name : {}",
                &entry.message[..at],
                yaml::go_quote(&text)
            );
        }
    }
}

/// The text of a top-level scalar such as `variant`.
fn scalar<'a>(document: &'a Node, key: &str) -> Option<&'a str> {
    match &document.get(key)?.value {
        NodeValue::Plain(text) | NodeValue::Str(text) => Some(text),
        _ => None,
    }
}

fn stop_if_fatal(report: &Report, error: Error) -> Result<(), Failure> {
    if report.is_fatal() {
        Err(Failure {
            report: report.clone(),
            error,
        })
    } else {
        Ok(())
    }
}

/// Removes `key` of the object at `at` and reads it as `T` (already shape-checked).
fn take_typed<T: DeserializeOwned + Default>(value: &mut Value, at: &Path, key: &str) -> T {
    take(value, at, key)
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Removes `with_mount_unit` from every filesystem, returning those that set it.
fn mount_requests(value: &mut Value) -> Vec<MountRequest> {
    let mut requests = Vec::new();
    for path in items(value, "storage.filesystems") {
        let wanted = take(value, &path, "with_mount_unit").and_then(|v| v.as_bool());
        if wanted != Some(true) {
            continue;
        }
        let filesystem = at_mut(value, &path)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        requests.push(MountRequest { path, filesystem });
    }
    requests
}
