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
use ferro_document::{Mark, Node, Path, Report, Value as NodeValue, normalize};
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
    /// The Ignition JSON (or MachineConfig YAML), ending in a newline.
    pub output: String,
    /// Warnings, positioned in the Butane file.
    pub report: Report,
    /// The translated config itself.
    pub config: Config,
    /// How paths of `config` lead back into the Butane file.
    locator: Locator,
}

impl Translation {
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
    let document = yaml::parse(text).map_err(|e| {
        if e.in_top_level() {
            Error::TopLevelYaml(e)
        } else {
            Error::Yaml(e)
        }
    })?;
    let profile = Profile::lookup(scalar(&document, "variant"), scalar(&document, "version"))
        .map_err(Error::Profile)?;
    let normalized = normalize(
        &document,
        schema::root_shape(&profile),
        &schema::normalizer(&profile),
    );
    // The normalized tree and the source map carry everything needed from here on.
    drop(document);
    if !normalized.type_errors.is_empty() {
        // yaml.v3 decodes mappings in the order written, so its errors come in document
        // order; the walk above visits fields in schema order.
        let mut type_errors: Vec<_> = normalized.type_errors.iter().collect();
        type_errors.sort_by_key(|e| (e.mark.line, e.mark.column));
        let lines: String = type_errors
            .iter()
            .map(|e| {
                format!(
                    "\n  line {}: cannot unmarshal {} into {}",
                    e.mark.line, e.found, e.expected
                )
            })
            .collect();
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
        openshift::translate(&mut config, &openshift_fields, &profile);
    }
    stop_if_fatal(&ctx.report, Error::SourceInvalid)?;

    if profile.fcos_minor.is_some() {
        let partitions = checks::disk_partitions(&config, profile.fcos_at_least(3));
        let warnings = ctx.place_output(partitions);
        ctx.report.extend(warnings);
    }
    let openshift_raw = profile.variant == Variant::Openshift && options.raw;
    if profile.variant == Variant::Openshift {
        let mut support = filters::machine_config_support(&config, &profile);
        let written = if support.is_empty() {
            Value::Null
        } else {
            serde_json::to_value(&config).unwrap_or(Value::Null)
        };
        // With `--raw` no MachineConfig path can be placed; otherwise an empty string
        // can't either from fcos 1.5 on, whose translation set does not record one.
        // Nor before, when sugar was merged into the config.
        let empty_unplaced = profile.fcos_at_least(5) || ctx.locator.transcript.is_some();
        unplace_in_machine_config(&mut support, |path| {
            openshift_raw
                || (empty_unplaced && locate::value_at(&written, path).is_some_and(|v| v == ""))
        });
        let support = ctx.place_output(support);
        ctx.report.extend(support);
        if openshift_raw {
            openshift::warn_ignored_in_raw_mode(&openshift_fields, &mut ctx);
        }
        stop_if_fatal(&ctx.report, Error::SourceInvalid)?;
    }
    // The reference keys openshift's filters by MachineConfig paths, which a plain
    // Ignition config (`--raw`) never has.
    if !openshift_raw {
        let filtered = ctx.place_output(filters::check(&config, &profile));
        ctx.report.extend(filtered);
        stop_if_fatal(&ctx.report, Error::SourceInvalid)?;
    }

    let ignition = ferro_spec::validate::validate(&config, profile.target);
    // In a MachineConfig the reference places only what its translation recorded: an
    // Ignition finding about a field left empty or out keeps its `$.spec.config.…` path.
    let unrecorded: Vec<bool> =
        if profile.variant == Variant::Openshift && !options.raw && !ignition.entries.is_empty() {
            let written = serde_json::to_value(&config).unwrap_or(Value::Null);
            ignition
                .entries
                .iter()
                .map(|e| {
                    e.path
                        .as_ref()
                        .is_some_and(|p| locate::value_at(&written, p).is_none_or(|v| v == ""))
                })
                .collect()
        } else {
            Vec::new()
        };
    let mut ignition = ctx.place_output(ignition);
    let prefix = Path::parse("spec.config");
    for (entry, _) in ignition
        .entries
        .iter_mut()
        .zip(&unrecorded)
        .filter(|(_, u)| **u)
    {
        if let Some(path) = &entry.path {
            entry.path = Some(prefix.join(path));
            entry.mark = Some(Mark::new(1, 1));
        }
    }
    ctx.report.extend(ignition);
    stop_if_fatal(&ctx.report, Error::GeneratedInvalid)?;

    let output = if profile.variant == Variant::Openshift && !options.raw {
        openshift::machine_config(&config, &metadata, &openshift_fields)
    } else {
        let mut json = ferro_spec::to_go_json(&config, options.pretty);
        json.push('\n');
        json
    };
    Ok(Translation {
        output,
        report: ctx.report,
        config,
        locator: ctx.locator,
    })
}

/// The entries of `report` that the reference cannot place, as it words them: its
/// MachineConfig checks report at `$.spec.config.…`, so those entries keep that path
/// and point at the start of the file.
fn unplace_in_machine_config(report: &mut Report, mut unplaced: impl FnMut(&Path) -> bool) {
    let prefix = Path::parse("spec.config");
    for entry in &mut report.entries {
        let Some(path) = entry.path.as_ref().filter(|p| unplaced(p)) else {
            continue;
        };
        entry.path = Some(prefix.join(path));
        entry.mark = Some(Mark::new(1, 1));
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
