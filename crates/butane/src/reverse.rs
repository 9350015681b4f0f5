//! Ignition JSON back to Butane YAML (`ferro butane --from-ignition`).
//!
//! Users inherit Ignition configs that nobody can read: embedded files are data URLs,
//! keys are camelCase. The reverse translation writes the same config as Butane, with
//! text contents decoded into `inline`, so that translating it again gives back an
//! equivalent config.

use std::io::Read;

use ferro_document::Shape;
use ferro_spec::{Config, DataUrl, HasShape};
use serde_json::{Map, Value};

use crate::profile::{PROFILES, Profile, ProfileError};
use crate::yaml_out::to_yaml;

/// Why an Ignition config could not be written as Butane.
#[derive(Debug, thiserror::Error)]
pub enum ReverseError {
    /// The input is not a valid Ignition config.
    #[error("the Ignition config is not valid: {0}")]
    Parse(String),
    /// The requested variant/version does not exist.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// No version of the variant can hold the config's spec version.
    #[error("no {variant} version produces Ignition {ignition}; pick one with --spec-version")]
    NoProfile {
        /// The variant.
        variant: String,
        /// The config's Ignition version.
        ignition: String,
    },
    /// The chosen Butane version produces an older Ignition spec than the config's.
    #[error("{variant} {version} produces Ignition {target}, older than the config's {ignition}")]
    TooOld {
        /// The variant.
        variant: String,
        /// The Butane version.
        version: String,
        /// What it produces.
        target: String,
        /// The config's version.
        ignition: String,
    },
}

/// The Butane YAML for the Ignition config `bytes`, as `variant` of `version` (default:
/// the oldest version producing the config's Ignition spec).
pub fn from_ignition(
    bytes: &[u8],
    variant: &str,
    version: Option<&str>,
) -> Result<String, ReverseError> {
    let parsed = ferro_spec::parse::parse(bytes).map_err(|e| ReverseError::Parse(e.to_string()))?;
    let ignition = parsed.version;
    let profile = match version {
        Some(version) => Profile::lookup(Some(variant), Some(version))?,
        None => *PROFILES
            .iter()
            .find(|p| p.variant.as_str() == variant && p.target == ignition)
            .ok_or_else(|| ReverseError::NoProfile {
                variant: variant.to_owned(),
                ignition: ignition.to_string(),
            })?,
    };
    if profile.target < ignition {
        return Err(ReverseError::TooOld {
            variant: variant.to_owned(),
            version: profile.version.to_owned(),
            target: profile.target.to_string(),
            ignition: ignition.to_string(),
        });
    }
    Ok(to_butane(&parsed.config, &profile))
}

/// `config` as Butane YAML of `profile`.
pub fn to_butane(config: &Config, profile: &Profile) -> String {
    let json = serde_json::to_value(config).unwrap_or(Value::Null);
    let mut body = rename(&json, Config::shape());
    if let Value::Object(map) = &mut body
        && let Some(Value::Object(ignition)) = map.get_mut("ignition")
    {
        ignition.shift_remove("version");
        if ignition.is_empty() {
            map.shift_remove("ignition");
        }
    }
    let mut document = Map::new();
    document.insert("variant".into(), profile.variant.as_str().into());
    document.insert("version".into(), profile.version.into());
    if let Value::Object(map) = body {
        document.extend(map);
    }
    to_yaml(&Value::Object(document))
}

/// Renames keys from Ignition's to Butane's and turns data URL resources into `inline`.
fn rename(value: &Value, shape: Shape) -> Value {
    match (shape, value) {
        (Shape::List(item), Value::Array(items)) => {
            Value::Array(items.iter().map(|v| rename(v, item())).collect())
        }
        (Shape::Struct(structure), Value::Object(object)) => {
            let mut out = Map::new();
            for field in structure.fields {
                if let Some(child) = object.get(field.json) {
                    out.insert(field.yaml.to_owned(), rename(child, (field.shape)()));
                }
            }
            if structure.name == "Resource" {
                inline_contents(&mut out);
            }
            Value::Object(out)
        }
        (_, other) => other.clone(),
    }
}

/// Replaces a `data:` source holding text by `inline`, undoing gzip.
fn inline_contents(resource: &mut Map<String, Value>) {
    let Some(source) = resource.get("source").and_then(Value::as_str) else {
        return;
    };
    let Ok(url) = DataUrl::parse(source) else {
        return;
    };
    let mut bytes = url.into_data();
    let compression = resource
        .get("compression")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if compression == "gzip" {
        let mut plain = Vec::new();
        if flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut plain)
            .is_err()
        {
            return;
        }
        bytes = plain;
    } else if !compression.is_empty() {
        return;
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return;
    };
    resource.shift_remove("source");
    resource.shift_remove("compression");
    resource.insert("inline".into(), Value::String(text));
}
