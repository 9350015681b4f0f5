//! Checking a [`Node`] tree against a [`Shape`] and turning it into canonical JSON.
//!
//! The output is a `serde_json::Value` whose keys are the canonical Ignition (camelCase)
//! names, with unknown keys dropped and `null`s removed, ready for typed deserialization.
//! Findings go to a [`Report`] (unknown keys) or to [`TypeError`]s (a value of the wrong
//! type, which the reference tools treat as a decode failure rather than a report entry).

use serde_json::{Map, Number, Value as Json};

use crate::{
    Field, Kind, Mark, Node, Origin, Path, Report, Segment, Shape, SourceMap, StructShape, Value,
};

/// How keys written by the user are matched against a shape's field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMatching {
    /// Ignition JSON: camelCase names; like Go's `encoding/json`, a key that differs only
    /// in case is still applied, but reported as unused.
    Json,
    /// Butane YAML: snake_case names, matched exactly; plain scalars resolve by type.
    Yaml,
}

/// A value of the wrong type, e.g. a list where a map must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    /// Where, in the user's path notation.
    pub path: Path,
    /// Where in the text.
    pub mark: Mark,
    /// What was found (`!!str`, `string`, …) and, for scalars, the text.
    pub found: String,
    /// The name of the expected type, in the reference tool's notation.
    pub expected: String,
}

/// The result of [`normalize`].
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The canonical JSON.
    pub value: Json,
    /// Unknown keys and similar findings, already positioned.
    pub report: Report,
    /// Values of the wrong type; the value was dropped.
    pub type_errors: Vec<TypeError>,
    /// From canonical paths to where the user wrote them.
    pub source_map: SourceMap,
}

/// The dialect a tree is read in.
#[derive(Debug, Clone, Copy)]
pub struct Normalizer {
    /// How keys are matched.
    pub matching: KeyMatching,
    /// The spec level (Ignition 3.N) whose fields are accepted.
    pub level: u32,
    /// Extra fields a dialect accepts on a struct, by struct name (Butane sugar).
    pub extensions: fn(&str) -> &'static [Field],
    /// Whether a dialect leaves out a field of a struct (struct name, JSON key).
    pub hidden: fn(&str, &str) -> bool,
    /// Whether to record a [`SourceMap`]. Dialects whose canonical paths are the paths
    /// users wrote (Ignition JSON) locate through the [`Node`] tree instead and skip
    /// the cost, which dominates parsing large configs.
    pub record_origins: bool,
}

/// No dialect fields.
pub fn no_extensions(_: &str) -> &'static [Field] {
    &[]
}

/// No hidden fields.
pub fn nothing_hidden(_: &str, _: &str) -> bool {
    false
}

impl Normalizer {
    /// The fields of `shape` this dialect accepts at its level, in output order: the
    /// shape's own (less hidden ones), then the dialect's extensions.
    pub fn accepted_fields(&self, shape: &'static StructShape) -> Vec<&'static Field> {
        let extensions = (self.extensions)(shape.name);
        shape
            .fields
            .iter()
            .filter(|f| !(self.hidden)(shape.name, f.json))
            .chain(extensions.iter())
            .filter(|f| f.since <= self.level)
            .collect()
    }

    /// The key users write for `field` in this dialect.
    pub fn key_of(&self, field: &Field) -> &'static str {
        match self.matching {
            KeyMatching::Json => field.json,
            KeyMatching::Yaml => field.yaml,
        }
    }

    /// Plain Ignition JSON at spec level `level`.
    pub fn ignition(level: u32) -> Self {
        Self {
            matching: KeyMatching::Json,
            level,
            extensions: no_extensions,
            hidden: nothing_hidden,
            record_origins: false,
        }
    }
}

/// Checks `node` against `shape` in the dialect of `normalizer`.
///
/// The strings of the values it converts are moved out of `node` (left empty), so that
/// a large document is not held twice; the rest of the tree is kept.
pub fn normalize(node: &mut Node, shape: Shape, normalizer: &Normalizer) -> Normalized {
    let mut walk = Walk {
        dialect: normalizer,
        report: Report::new(),
        type_errors: Vec::new(),
        source_map: SourceMap::new(),
        in_alias: false,
    };
    let value = walk
        .value(node, shape, &Trail::ROOT, None)
        .unwrap_or_else(|| default_for(shape));
    Normalized {
        value,
        report: walk.report,
        type_errors: walk.type_errors,
        source_map: walk.source_map,
    }
}

/// Where the walk is: each level's canonical and written step, linked to its parent.
/// Paths are only built when needed (a report entry, a source map record), because
/// building one per node dominated the parsing of large configs.
#[derive(Clone, Copy)]
struct Trail<'a> {
    parent: Option<&'a Trail<'a>>,
    out: Step<'a>,
    user: Step<'a>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> Trail<'a> {
    const ROOT: Trail<'static> = Trail {
        parent: None,
        out: Step::Root,
        user: Step::Root,
    };

    fn child(&'a self, out: Step<'a>, user: Step<'a>) -> Trail<'a> {
        Trail {
            parent: Some(self),
            out,
            user,
        }
    }

    fn path(&self, user: bool) -> Path {
        let mut steps = Vec::new();
        let mut trail = Some(self);
        while let Some(t) = trail {
            steps.push(if user { t.user } else { t.out });
            trail = t.parent;
        }
        steps
            .into_iter()
            .rev()
            .filter_map(|step| match step {
                Step::Root => None,
                Step::Key(key) => Some(Segment::Key(key.to_owned())),
                Step::Index(index) => Some(Segment::Index(index)),
            })
            .collect()
    }

    fn user_path(&self) -> Path {
        self.path(true)
    }

    fn is_root(&self) -> bool {
        self.parent.is_none()
    }
}

struct Walk<'a> {
    dialect: &'a Normalizer,
    report: Report,
    type_errors: Vec<TypeError>,
    source_map: SourceMap,
    /// Inside a YAML alias's copy, where Butane's position tree has a leaf: no unused
    /// keys and no position warnings.
    in_alias: bool,
}

impl Walk<'_> {
    fn value(
        &mut self,
        node: &mut Node,
        shape: Shape,
        trail: &Trail<'_>,
        key_mark: Option<Mark>,
    ) -> Option<Json> {
        if !node.alias || self.in_alias {
            return self.node_value(node, shape, trail, key_mark);
        }
        let yaml_struct =
            matches!(shape, Shape::Struct(_)) && self.dialect.matching == KeyMatching::Yaml;
        if yaml_struct && node.value != Value::Null {
            self.tree_mismatch(trail, node.mark);
        }
        self.in_alias = node.value != Value::Null;
        let value = self.node_value(node, shape, trail, key_mark);
        self.in_alias = false;
        value
    }

    /// Butane's warning for a struct where its position tree has no map.
    fn tree_mismatch(&mut self, trail: &Trail<'_>, mark: Mark) {
        let user = trail.user_path();
        self.report.entries.push(crate::report::Entry {
            kind: Kind::Warning,
            message: format!(
                "context tree does not match content tree at {user}. Line and column reporting may be inconsistent. Unused keys may not be reported"
            ),
            path: Some(user),
            mark: Some(mark),
        });
    }

    fn node_value(
        &mut self,
        node: &mut Node,
        shape: Shape,
        trail: &Trail<'_>,
        key_mark: Option<Mark>,
    ) -> Option<Json> {
        if self.dialect.record_origins {
            self.source_map.insert(
                trail.path(false),
                Origin {
                    path: trail.user_path(),
                    mark: node.mark,
                    key_mark,
                },
            );
        }
        if node.value == Value::Null {
            let yaml_struct =
                matches!(shape, Shape::Struct(_)) && self.dialect.matching == KeyMatching::Yaml;
            if yaml_struct && !trail.is_root() && !self.in_alias {
                // Butane's wording for a section written as `key:` with no value.
                self.tree_mismatch(trail, node.mark);
            }
            return None;
        }
        let yaml = self.dialect.matching == KeyMatching::Yaml;
        let converted = match (shape, &mut node.value) {
            (Shape::Bool, Value::Bool(b)) => Some(Json::Bool(*b)),
            (Shape::Bool, Value::Plain(text)) if yaml => yaml_bool(text).map(Json::Bool),
            (Shape::Int, Value::Number(text)) => text.parse::<i64>().ok().map(Json::from),
            (Shape::Int, Value::Plain(text)) if yaml => yaml_int(text)
                .or_else(|| yaml_float(text).and_then(float_to_go_int))
                .map(Json::from),
            (Shape::Str, Value::Str(text)) => Some(Json::String(std::mem::take(text))),
            (Shape::Str, Value::Plain(text)) if yaml => Some(Json::String(std::mem::take(text))),
            (Shape::List(item), Value::Seq(items)) => {
                let item_shape = item();
                let mut list = Vec::with_capacity(items.len());
                for (index, item_node) in items.iter_mut().enumerate() {
                    let step = Step::Index(index);
                    let value = self
                        .value(item_node, item_shape, &trail.child(step, step), None)
                        .unwrap_or_else(|| default_for(item_shape));
                    list.push(value);
                }
                Some(Json::Array(list))
            }
            (Shape::Map(item), Value::Map(entries)) => {
                let item_shape = item();
                let mut object = Map::new();
                for entry in entries.iter_mut() {
                    let step = Step::Key(&entry.key);
                    if let Some(value) = self.value(
                        &mut entry.value,
                        item_shape,
                        &trail.child(step, step),
                        Some(entry.key_mark),
                    ) {
                        object.insert(entry.key.clone(), value);
                    }
                }
                Some(Json::Object(object))
            }
            (Shape::Struct(shape), Value::Map(entries)) => {
                Some(Json::Object(self.fields(shape, entries, trail)))
            }
            _ => None,
        };
        if converted.is_none() {
            self.type_errors.push(TypeError {
                path: trail.user_path(),
                mark: node.mark,
                found: describe(node, yaml),
                expected: type_name(shape),
            });
        }
        converted
    }

    fn fields(
        &mut self,
        shape: &'static StructShape,
        entries: &mut [crate::Entry],
        trail: &Trail<'_>,
    ) -> Map<String, Json> {
        let accepted = self.dialect.accepted_fields(shape);
        // Resolve every key first: unknown keys are reported in the order written.
        let mut matched: Vec<Option<&Field>> = Vec::with_capacity(entries.len());
        for entry in entries.iter() {
            let field = self.match_key(&accepted, &entry.key);
            match field {
                Some((_, exact)) if exact => {}
                _ if self.in_alias => {}
                _ => self.report.entries.push(crate::report::Entry {
                    kind: Kind::Warning,
                    message: format!("unused key {}", entry.key),
                    path: Some(trail.user_path().key(entry.key.clone())),
                    mark: Some(entry.key_mark),
                }),
            }
            matched.push(field.map(|(f, _)| f));
        }
        // Then walk the known fields in the type's field order, as the reference does.
        let mut object = Map::new();
        for field in &accepted {
            let name = self.output_name(field);
            let mut value = None;
            for (entry, matched) in entries.iter_mut().zip(&matched) {
                if matched.is_some_and(|m| std::ptr::eq(m, *field)) {
                    let child = trail.child(Step::Key(name), Step::Key(&entry.key));
                    value = self.value(
                        &mut entry.value,
                        field.shape_at(self.dialect.level),
                        &child,
                        Some(entry.key_mark),
                    );
                }
            }
            if let Some(value) = value {
                object.insert(name.to_owned(), value);
            }
        }
        object
    }

    fn output_name(&self, field: &'static Field) -> &'static str {
        field.json
    }

    /// The field a key selects and whether the match was exact.
    fn match_key<'f>(&self, fields: &[&'f Field], key: &str) -> Option<(&'f Field, bool)> {
        match self.dialect.matching {
            KeyMatching::Yaml => fields.iter().find(|f| f.yaml == key).map(|f| (*f, true)),
            KeyMatching::Json => fields
                .iter()
                .find(|f| f.json == key)
                .map(|f| (*f, true))
                .or_else(|| {
                    fields
                        .iter()
                        .find(|f| f.json.eq_ignore_ascii_case(key))
                        .map(|f| (*f, false))
                }),
        }
    }
}

fn default_for(shape: Shape) -> Json {
    match shape {
        Shape::Bool => Json::Bool(false),
        Shape::Int => Json::Number(Number::from(0)),
        Shape::Str => Json::String(String::new()),
        Shape::List(_) => Json::Array(Vec::new()),
        Shape::Map(_) | Shape::Struct(_) => Json::Object(Map::new()),
    }
}

/// yaml.v3's reading of a plain scalar as a bool, including the YAML 1.1 words it still
/// accepts for bool fields.
fn yaml_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => {
            Some(false)
        }
        _ => None,
    }
}

/// yaml.v3's reading of a plain scalar as an integer: decimal, `0x`, `0o`, `0b`, and the
/// YAML 1.1 octal `0644` that file modes are usually written in.
fn yaml_int(text: &str) -> Option<i64> {
    let cleaned = text.replace('_', "");
    let (negative, digits) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(octal) = digits.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()?
    } else if let Some(binary) = digits.strip_prefix("0b") {
        i64::from_str_radix(binary, 2).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// yaml.v3's reading of a plain scalar as a float: YAML 1.2 decimal notation (with `_`
/// allowed), or one of the spellings of infinity and not-a-number.
fn yaml_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let cleaned = text.replace('_', "");
    let body = cleaned.strip_prefix(['-', '+']).unwrap_or(&cleaned);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => digits(whole) && (fraction.is_empty() || digits(fraction)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    if !(mantissa_ok && exponent_ok) {
        return None;
    }
    cleaned.parse().ok()
}

/// How yaml.v3 stores a float in an integer field on 64-bit Linux: truncated toward
/// zero, refused above the largest integer (and for NaN), and anything too small ends
/// up as the smallest integer, as Go's conversion does there.
fn float_to_go_int(value: f64) -> Option<i64> {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if value.is_nan() || value > TWO_POW_63 {
        return None;
    }
    if value >= TWO_POW_63 {
        return Some(i64::MIN);
    }
    // `as` truncates toward zero and saturates at `i64::MIN` below the range.
    Some(value as i64)
}

fn describe(node: &Node, yaml: bool) -> String {
    if !yaml {
        return node.kind_name().to_owned();
    }
    match &node.value {
        Value::Null => "!!null".to_owned(),
        Value::Bool(b) => format!("!!bool `{b}`"),
        Value::Number(n) => format!("!!int `{n}`"),
        Value::Str(s) => format!("!!str `{}`", truncate(s)),
        Value::Plain(s) => {
            let tag = if yaml_int(s).is_some() {
                "!!int"
            } else if yaml_float(s).is_some() {
                "!!float"
            } else if matches!(
                s.as_str(),
                "true" | "false" | "True" | "False" | "TRUE" | "FALSE"
            ) {
                "!!bool"
            } else {
                "!!str"
            };
            format!("{tag} `{}`", truncate(s))
        }
        Value::Seq(_) => "!!seq".to_owned(),
        Value::Map(_) => "!!map".to_owned(),
    }
}

/// yaml.v3 shortens long values in messages.
fn truncate(text: &str) -> String {
    if text.chars().count() > 10 {
        let head: String = text.chars().take(7).collect();
        format!("{head}...")
    } else {
        text.to_owned()
    }
}

fn type_name(shape: Shape) -> String {
    match shape {
        Shape::Bool => "bool".to_owned(),
        Shape::Int => "int".to_owned(),
        Shape::Str => "string".to_owned(),
        Shape::List(item) => format!("[]{}", type_name(item())),
        Shape::Map(item) => format!("map[string]{}", type_name(item())),
        Shape::Struct(s) => s.name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yaml_integers_like_yaml_v3() {
        assert_eq!(yaml_int("0644"), Some(420));
        assert_eq!(yaml_int("0o644"), Some(420));
        assert_eq!(yaml_int("644"), Some(644));
        assert_eq!(yaml_int("0"), Some(0));
        assert_eq!(yaml_int("-12"), Some(-12));
        assert_eq!(yaml_int("0x1f"), Some(31));
        assert_eq!(yaml_int("0999"), None);
        assert_eq!(yaml_int("abc"), None);
    }

    // Minimised from the differential test: Butane takes `1.5` for an integer field.
    #[test]
    fn floats_fill_integer_fields_like_yaml_v3() {
        let int = |s: &str| yaml_float(s).and_then(float_to_go_int);
        assert_eq!(int("1.5"), Some(1));
        assert_eq!(int("-2.7"), Some(-2));
        assert_eq!(int("1e3"), Some(1000));
        assert_eq!(int("0999"), Some(999));
        assert_eq!(int(".inf"), None);
        assert_eq!(int("1e30"), None);
        assert_eq!(int(".nan"), None);
        assert_eq!(int("1.2.3"), None);
        assert_eq!(int("e5"), None);
    }

    #[test]
    fn reads_yaml_bools_for_bool_fields() {
        assert_eq!(yaml_bool("yes"), Some(true));
        assert_eq!(yaml_bool("off"), Some(false));
        assert_eq!(yaml_bool("maybe"), None);
    }
}
