//! From paths in the generated Ignition config back to the place in the Butane file.

use std::collections::BTreeMap;

use ferro_document::{Path, Report, SourceMap};
use ferro_spec::merge::{Side, Transcript};

/// Where generated config paths came from.
///
/// User-written values reach the output through the merge with the sugar-generated
/// config (the transcript) and the key renaming of normalization (the source map).
/// Sugar-generated values are attributed to the Butane field that asked for them.
#[derive(Debug, Default)]
pub struct Locator {
    /// Canonical input paths to the places the user wrote them.
    pub source_map: SourceMap,
    /// Paths of the sugar-generated (parent) config → the input field behind them.
    pub sugar: BTreeMap<Path, Path>,
    /// Result paths added after the merge (trees, quadlets) → the input field behind them.
    pub added: BTreeMap<Path, Path>,
    /// Result paths moved after the merge (openshift's `user.cfg` append made contents)
    /// → where they were before.
    pub moved: BTreeMap<Path, Path>,
    /// How the merge moved values.
    pub transcript: Option<Transcript>,
}

impl Locator {
    /// Fills in the user path and mark of every entry of `report`, whose paths are
    /// canonical paths of the input (`in_output` false) or of the result config.
    pub fn place(&self, report: &mut Report, in_output: bool) {
        for entry in &mut report.entries {
            self.place_entry(entry, in_output);
        }
    }

    /// [`Locator::place`] for one entry.
    pub fn place_entry(&self, entry: &mut ferro_document::report::Entry, in_output: bool) {
        if entry.mark.is_some() {
            return;
        }
        let Some(path) = &entry.path else { return };
        let input = if in_output {
            self.input_path(path)
        } else {
            path.clone()
        };
        let (user_path, mark) = self.source_map.locate(&input, true);
        entry.path = Some(user_path);
        entry.mark = mark;
    }

    /// The canonical input path a result path came from.
    pub fn input_path(&self, result: &Path) -> Path {
        if let Some((before, rest)) = deepest_with_rest(&self.moved, result) {
            return self.input_path(&before.join(&rest));
        }
        if let Some(input) = deepest(&self.added, result) {
            return input;
        }
        let Some(transcript) = &self.transcript else {
            return result.clone();
        };
        let segments = result.segments();
        for depth in (0..=segments.len()).rev() {
            let prefix: Path = segments[..depth].iter().cloned().collect();
            match transcript.origin(&prefix) {
                Some((Side::Child, from)) => {
                    let rest: Path = segments[depth..].iter().cloned().collect();
                    return from.join(&rest);
                }
                Some((Side::Parent, from)) => {
                    // The sugar may record a field below the entry the merge took.
                    let rest: Path = segments[depth..].iter().cloned().collect();
                    return deepest(&self.sugar, &from.join(&rest)).unwrap_or(from);
                }
                None => {}
            }
        }
        result.clone()
    }
}

impl Locator {
    /// Gives `entry` (about a result path) that path as a path of the Butane file, at
    /// the deepest node the file has along it: where the reference cannot translate a
    /// path, it reports it so.
    pub fn place_along_output_path(&self, entry: &mut ferro_document::report::Entry) {
        if let Some(path) = &entry.path {
            let (path, mark) = self.along_output_path(path);
            entry.path = Some(path);
            entry.mark = mark;
        }
    }

    /// A result path taken as a path of the Butane file (snake_case keys), with the
    /// place of the deepest node the file has along it.
    pub fn along_output_path(&self, result: &Path) -> (Path, Option<ferro_document::Mark>) {
        let path: Path = result
            .segments()
            .iter()
            .map(|s| match s {
                ferro_document::Segment::Key(key) => {
                    ferro_document::Segment::Key(ferro_document::camel_to_snake(key))
                }
                other => other.clone(),
            })
            .collect();
        let deepest = self
            .source_map
            .iter()
            .filter(|(_, origin)| path.starts_with(&origin.path))
            .max_by_key(|(_, origin)| origin.path.len())
            .map(|(_, origin)| origin.mark);
        (path, deepest)
    }
}

/// The value of the longest key of `map` that is `path` or one of its ancestors.
fn deepest(map: &BTreeMap<Path, Path>, path: &Path) -> Option<Path> {
    deepest_with_rest(map, path).map(|(value, _)| value.clone())
}

/// [`deepest`], with the part of `path` below that key.
fn deepest_with_rest<'m>(map: &'m BTreeMap<Path, Path>, path: &Path) -> Option<(&'m Path, Path)> {
    let segments = path.segments();
    (0..=segments.len()).rev().find_map(|depth| {
        let prefix: Path = segments[..depth].iter().cloned().collect();
        let rest: Path = segments[depth..].iter().cloned().collect();
        map.get(&prefix).map(|value| (value, rest))
    })
}

/// The value at `path` of a JSON document, if there is one.
pub(crate) fn value_at<'v>(
    root: &'v serde_json::Value,
    path: &Path,
) -> Option<&'v serde_json::Value> {
    path.segments()
        .iter()
        .try_fold(root, |value, segment| match segment {
            ferro_document::Segment::Key(key) => value.get(key.as_str()),
            ferro_document::Segment::Index(index) => value.get(*index),
        })
}
