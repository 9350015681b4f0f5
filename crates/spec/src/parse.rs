//! Parsing Ignition JSON the way Ignition does (spec §3.1): reject empty input, report
//! syntax errors where Go's scanner stops, pick the spec version, decode with Go's
//! case-insensitive key matching (warning about keys it would not use), then validate.
//!
//! Every report entry is placed in the user's text: the path as the user spelled it and
//! the line and column where it was written.

use ferro_document::json::parse_bytes;
use ferro_document::normalize::TypeError;
use ferro_document::report::Entry;
use ferro_document::{Kind, Node, Normalizer, Path, Report, Segment, Shape, Value, normalize};

use crate::validate::validate;
use crate::{Config, Version, VersionError};

/// A config that parsed and validated without errors (warnings may remain).
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The decoded config; older specs are decoded into the newest types unchanged.
    pub config: Config,
    /// The spec version the config declares.
    pub version: Version,
    /// Warnings, each with the user's path and position.
    pub report: Report,
}

/// Why a config cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// Zero bytes of input.
    #[error("not a config (empty)")]
    Empty,
    /// The version is missing, malformed, or not a spec version.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// Syntax, type or validation errors; the report says which and where.
    #[error("config is not valid")]
    Invalid {
        /// All findings, errors and warnings, in Ignition's order.
        report: Report,
    },
}

impl ParseError {
    /// The findings behind the error, if it has any.
    pub fn report(&self) -> Option<&Report> {
        match self {
            ParseError::Invalid { report } => Some(report),
            _ => None,
        }
    }
}

/// Parses and validates an Ignition config.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    parse_report(bytes).1
}

/// Like [`parse`], but also hands back every finding whatever the outcome, so that a
/// `validate` command can print the report lines before the final verdict.
pub fn parse_report(bytes: &[u8]) -> (Report, Result<Parsed, ParseError>) {
    match run(bytes) {
        Ok(parsed) => (parsed.report.clone(), Ok(parsed)),
        Err(error) => (error.report().cloned().unwrap_or_default(), Err(error)),
    }
}

/// What a `validate` command reports: every finding, and the verdict.
#[derive(Debug, Clone)]
pub struct Validation {
    /// All findings, positioned, in Ignition's order (also for rejected configs).
    pub report: Report,
    /// Why the config cannot be used, if it cannot.
    pub error: Option<ParseError>,
    /// The config, if it can be used.
    pub parsed: Option<Parsed>,
}

impl Validation {
    /// Whether the config can be used (warnings allowed), i.e. `ignition-validate` exits 0.
    pub fn is_valid(&self) -> bool {
        self.error.is_none()
    }
}

/// [`parse_report`] shaped for a `validate` command: print `report`, then `error`.
pub fn validate_bytes(bytes: &[u8]) -> Validation {
    let (report, result) = parse_report(bytes);
    match result {
        Ok(parsed) => Validation {
            report,
            error: None,
            parsed: Some(parsed),
        },
        Err(error) => Validation {
            report,
            error: Some(error),
            parsed: None,
        },
    }
}

fn invalid(entry: Entry) -> ParseError {
    ParseError::Invalid {
        report: Report {
            entries: vec![entry],
        },
    }
}

fn run(bytes: &[u8]) -> Result<Parsed, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    let node = parse_bytes(bytes).map_err(|error| {
        invalid(Entry {
            kind: Kind::Error,
            message: error.message,
            path: None,
            mark: Some(error.mark),
        })
    })?;
    let version: Version = version_text(&node)?.parse()?;
    let shape = Shape::Struct(&Config::SHAPE);
    let mut node = node;
    let normalized = normalize(&mut node, shape, &Normalizer::ignition(version.level()));
    if let Some(error) = normalized.type_errors.first() {
        return Err(invalid(Entry {
            kind: Kind::Error,
            message: go_type_error(error, version.level()),
            path: Some(error.path.clone()),
            mark: Some(error.mark),
        }));
    }
    let config: Config = serde_json::from_value(normalized.value).map_err(|error| {
        invalid(Entry {
            kind: Kind::Error,
            message: error.to_string(),
            path: None,
            mark: None,
        })
    })?;
    let mut report = validate(&config, version);
    for entry in &mut report.entries {
        if let Some(path) = &entry.path {
            let (user_path, mark) = node.locate(path);
            entry.path = Some(user_path);
            entry.mark = mark;
        }
    }
    report.extend(normalized.report);
    if report.is_fatal() {
        return Err(ParseError::Invalid { report });
    }
    Ok(Parsed {
        config,
        version,
        report,
    })
}

/// The entry Go's decoder would use for `key`: the last one matching case-insensitively.
fn field<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .rev()
            .find(|e| e.key == key)
            .or_else(|| entries.iter().rev().find(|e| fold_eq(&e.key, key)))
            .map(|e| &e.value),
        _ => None,
    }
}

fn fold_eq(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// `ignition.version`, read before anything else as Ignition does.
fn version_text(root: &Node) -> Result<String, ParseError> {
    let type_error = |node: &Node, path: Path, expected: &str| {
        let field = path
            .segments()
            .iter()
            .map(|s| match s {
                Segment::Key(k) => k.clone(),
                Segment::Index(i) => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".");
        let message = if field.is_empty() {
            format!(
                "json: cannot unmarshal {} into Go value of type {expected}",
                node.kind_name()
            )
        } else {
            let owner = if path.len() == 1 {
                "Config"
            } else {
                "Ignition"
            };
            format!(
                "json: cannot unmarshal {} into Go struct field {owner}.{field} of type {expected}",
                node.kind_name()
            )
        };
        invalid(Entry {
            kind: Kind::Error,
            message,
            path: Some(path),
            mark: Some(node.mark),
        })
    };
    if !matches!(root.value, Value::Map(_) | Value::Null) {
        return Err(type_error(root, Path::root(), "types.Config"));
    }
    let Some(ignition) = field(root, "ignition").filter(|n| n.value != Value::Null) else {
        return Ok(String::new());
    };
    let ignition_path = Path::root().key("ignition");
    if !matches!(ignition.value, Value::Map(_)) {
        return Err(type_error(ignition, ignition_path, "types.Ignition"));
    }
    match field(ignition, "version").map(|n| (n, &n.value)) {
        None | Some((_, Value::Null)) => Ok(String::new()),
        Some((_, Value::Str(text))) => Ok(text.clone()),
        Some((node, _)) => Err(type_error(node, ignition_path.key("version"), "string")),
    }
}

/// Go's `UnmarshalTypeError` text for a value of the wrong type in a config of spec
/// level `level`.
fn go_type_error(error: &TypeError, level: u32) -> String {
    let mut shape = Shape::Struct(&Config::SHAPE);
    let mut owner = "";
    let mut fields: Vec<&str> = Vec::new();
    for segment in error.path.segments() {
        shape = match (segment, shape) {
            (Segment::Key(key), Shape::Struct(structure)) => {
                let Some(found) = structure
                    .fields
                    .iter()
                    .find(|f| f.json == key)
                    .or_else(|| structure.fields.iter().find(|f| fold_eq(f.json, key)))
                else {
                    break;
                };
                owner = structure.name;
                fields.push(found.json);
                found.shape_at(level)
            }
            (Segment::Key(_), Shape::Map(item)) | (Segment::Index(_), Shape::List(item)) => item(),
            _ => break,
        };
    }
    let expected = go_type(shape);
    if fields.is_empty() {
        format!(
            "json: cannot unmarshal {} into Go value of type {expected}",
            error.found
        )
    } else {
        format!(
            "json: cannot unmarshal {} into Go struct field {}.{} of type {expected}",
            error.found,
            go_name(owner),
            fields.join(".")
        )
    }
}

fn go_name(name: &str) -> &str {
    match name {
        "Tls" => "TLS",
        "HttpHeader" => "HTTPHeader",
        other => other,
    }
}

fn go_type(shape: Shape) -> String {
    match shape {
        Shape::Bool => "bool".to_owned(),
        Shape::Int => "int".to_owned(),
        Shape::Str => "string".to_owned(),
        Shape::List(item) => format!("[]{}", go_type(item())),
        Shape::Map(item) => format!("map[string]{}", go_type(item())),
        Shape::Struct(structure) => format!("types.{}", go_name(structure.name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferro_document::Mark;

    fn lines(text: &str) -> Vec<String> {
        parse_report(text.as_bytes())
            .0
            .entries
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn validation_keeps_report_and_verdict() {
        let outcome = validate_bytes(
            br#"{"ignition": {"version": "3.3.0"}, "systemd": {"units": [{"name": "x"}]}}"#,
        );
        assert!(!outcome.is_valid());
        assert_eq!(
            outcome.report.entries[0].message,
            "invalid systemd unit extension"
        );
        let outcome = validate_bytes(br#"{"ignition": {"version": "3.3.0"}, "x": 1}"#);
        assert!(outcome.is_valid());
        assert_eq!(outcome.report.entries.len(), 1);
    }

    #[test]
    fn rejects_empty_input() {
        assert_eq!(parse(b"").unwrap_err(), ParseError::Empty);
        assert_eq!(ParseError::Empty.to_string(), "not a config (empty)");
    }

    #[test]
    fn positions_syntax_errors() {
        let error = parse(b"{\"ignition\": }").unwrap_err();
        assert_eq!(error.to_string(), "config is not valid");
        assert_eq!(
            lines("{\"ignition\": }"),
            vec!["error at line 1 col 14: invalid character '}' looking for beginning of value"]
        );
    }

    #[test]
    fn reads_versions_case_insensitively() {
        let parsed = parse(br#"{"IGNITION": {"Version": "3.2.0"}}"#).expect("valid");
        assert_eq!(parsed.version, Version::V3_2);
        assert_eq!(
            parse(br#"{"ignition": {"version": "3.1.1"}}"#).unwrap_err(),
            ParseError::Version(VersionError::Unsupported)
        );
        assert_eq!(
            parse(br#"{"ignition": {"version": "banana"}}"#)
                .unwrap_err()
                .to_string(),
            "invalid config version (couldn't parse)"
        );
        assert_eq!(
            parse(br#"{"ignition": {}}"#).unwrap_err(),
            ParseError::Version(VersionError::Invalid)
        );
        assert_eq!(
            lines(r#"{"ignition": {"version": 3}}"#),
            vec![
                "error at $.ignition.version, line 1 col 26: json: cannot unmarshal number into Go struct field Ignition.ignition.version of type string"
            ]
        );
        assert_eq!(
            lines("[]"),
            vec![
                "error at $, line 1 col 1: json: cannot unmarshal array into Go value of type types.Config"
            ]
        );
    }

    #[test]
    fn warns_about_unused_keys_and_applies_case_insensitive_ones() {
        let text = "{\"ignition\": {\"version\": \"3.0.0\"},\n \"storage\": {\"files\": [{\"Path\": \"/a\", \"x\": 1}]},\n \"kernelArguments\": {}}";
        let parsed = parse(text.as_bytes()).expect("valid");
        assert_eq!(parsed.config.storage.files[0].path, "/a");
        let got: Vec<String> = parsed
            .report
            .entries
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            got,
            vec![
                "warning at $.kernelArguments, line 3 col 2: unused key kernelArguments",
                "warning at $.storage.files.0.Path, line 2 col 25: unused key Path",
                "warning at $.storage.files.0.x, line 2 col 39: unused key x"
            ]
        );
    }

    // What Debian's `ignition-validate` 2.14 says: 3.0.0's config and CA references have
    // no compression, need no source with a hash, and a CA's empty source is no URL.
    #[test]
    fn reads_the_references_of_3_0() {
        let text = r#"{"ignition":{"version":"3.0.0","config":{"replace":{"source":"https://e.com/x","compression":"gzip"},"merge":[{"verification":{"hash":"sha512-00"}}]},"security":{"tls":{"certificateAuthorities":[{"source":""},{"compression":"xz","source":"https://a.com/b"}]}}}}"#;
        assert_eq!(
            lines(text),
            vec![
                "error at $.ignition.config.merge.0.verification.hash, line 1 col 135: incorrect size for hash sum",
                "error at $.ignition.security.tls.certificateAuthorities.0.source, line 1 col 206: invalid url scheme",
                "warning at $.ignition.config.replace.compression, line 1 col 80: unused key compression",
                "warning at $.ignition.security.tls.certificateAuthorities.1.compression, line 1 col 211: unused key compression"
            ]
        );
        assert_eq!(
            lines(r#"{"ignition":{"version":"3.0.0","config":{"merge":[1]}}}"#),
            vec![
                "error at $.ignition.config.merge.0, line 1 col 51: json: cannot unmarshal number into Go struct field IgnitionConfig.ignition.config.merge of type types.ConfigReference"
            ]
        );
    }

    #[test]
    fn reports_type_errors_like_go() {
        assert_eq!(
            lines(
                r#"{"ignition": {"version": "3.3.0"}, "storage": {"files": [{"path": "/a", "mode": "0644"}]}}"#
            ),
            vec![
                "error at $.storage.files.0.mode, line 1 col 81: json: cannot unmarshal string into Go struct field File.storage.files.mode of type int"
            ]
        );
        assert_eq!(
            lines(r#"{"ignition": {"version": "3.3.0"}, "storage": {"files": {}}}"#),
            vec![
                "error at $.storage.files, line 1 col 57: json: cannot unmarshal object into Go struct field Storage.storage.files of type []types.File"
            ]
        );
    }

    #[test]
    fn places_validation_entries_in_the_text() {
        let text = "{\"ignition\": {\"version\": \"3.3.0\"},\n \"storage\": {\"files\": [\n  {\"path\": \"/a\"},\n  {\"path\": \"/a\", \"mode\": 99999}]}}";
        let (report, result) = parse_report(text.as_bytes());
        assert!(matches!(result, Err(ParseError::Invalid { .. })));
        let first = &report.entries[0];
        assert_eq!(
            first.to_string(),
            "error at $.storage.files.1, line 4 col 3: duplicate entry defined"
        );
        assert_eq!(report.entries[1].mark, Some(Mark::new(4, 26)));
        assert_eq!(report.entries[1].message, "illegal file mode");
    }
}
