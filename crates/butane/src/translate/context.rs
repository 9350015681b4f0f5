//! State shared by the translation steps.

use ferro_document::{Kind, Path, Report};
use serde_json::Value;

use super::locate::Locator;
use crate::files_dir::FilesDir;
use crate::profile::Profile;

/// What every translation step needs: the profile, the files dir, and the report with
/// the means to place its entries.
pub(crate) struct Context<'a> {
    pub profile: &'a Profile,
    pub files: &'a FilesDir,
    /// Whether inline and local contents may be gzip-compressed.
    pub allow_gzip: bool,
    pub report: Report,
    pub locator: Locator,
}

impl Context<'_> {
    /// Reports about a canonical path of the input, placed right away.
    pub fn report_input(&mut self, kind: Kind, path: Path, message: impl Into<String>) {
        let mut entry = Report::new();
        entry.add(kind, path, message);
        self.locator.place(&mut entry, false);
        self.report.extend(entry);
    }

    /// An error about a canonical path of the input.
    pub fn input_error(&mut self, path: Path, message: impl Into<String>) {
        self.report_input(Kind::Error, path, message);
    }

    /// Reports about paths of the generated config, placed through the merge.
    pub fn place_output(&self, mut report: Report) -> Report {
        self.locator.place(&mut report, true);
        report
    }
}

/// The value at `path` below `root`, if there is one.
pub(crate) fn at_mut<'v>(root: &'v mut Value, path: &Path) -> Option<&'v mut Value> {
    let mut value = root;
    for segment in path.segments() {
        value = match segment {
            ferro_document::Segment::Key(key) => value.get_mut(key.as_str())?,
            ferro_document::Segment::Index(index) => value.get_mut(*index)?,
        };
    }
    Some(value)
}

/// The paths of every item of the list at `list` (e.g. `storage.files`).
pub(crate) fn items(root: &Value, list: &str) -> Vec<Path> {
    let path = Path::parse(list);
    let mut value = root;
    for segment in path.segments() {
        let ferro_document::Segment::Key(key) = segment else {
            return Vec::new();
        };
        match value.get(key.as_str()) {
            Some(next) => value = next,
            None => return Vec::new(),
        }
    }
    let count = value.as_array().map_or(0, Vec::len);
    (0..count).map(|i| path.index(i)).collect()
}

/// Removes and returns the key `key` of the object at `path`, if both exist.
pub(crate) fn take(root: &mut Value, path: &Path, key: &str) -> Option<Value> {
    at_mut(root, path)?.as_object_mut()?.shift_remove(key)
}
