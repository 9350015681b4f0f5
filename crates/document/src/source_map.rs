use std::collections::HashMap;

use crate::{Mark, Path, Segment};

/// Where a value of a derived config came from in the document the user wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The path as the user wrote it (their key names, their indices).
    pub path: Path,
    /// Where the value starts.
    pub mark: Mark,
    /// Where its key was written, if it is a map entry.
    pub key_mark: Option<Mark>,
}

/// Maps paths of a derived config (canonical JSON keys, merged indices) back to the
/// places the user wrote, so that every report points into the user's file.
///
/// A large config records a path for every value, so the map hashes with foldhash
/// rather than the standard SipHash (no key here comes from an adversary who could
/// aim at collisions worth defending against).
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    origins: HashMap<Path, Origin, foldhash::fast::RandomState>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that the value at `path` came from `origin`.
    pub fn insert(&mut self, path: Path, origin: Origin) {
        self.origins.insert(path, origin);
    }

    /// The exact origin of `path`, if recorded.
    pub fn get(&self, path: &Path) -> Option<&Origin> {
        self.origins.get(path)
    }

    /// Number of recorded paths.
    pub fn len(&self) -> usize {
        self.origins.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// Records every path below `from` in `other` again below `to` in this map; used when
    /// a sub-document (a merged config) moves to another place.
    pub fn graft(&mut self, other: &SourceMap, from: &Path, to: &Path) {
        for (path, origin) in &other.origins {
            if let Some(rest) = path.strip_prefix(from) {
                self.origins.insert(to.join(&rest), origin.clone());
            }
        }
    }

    /// Every recorded path with its origin.
    pub fn iter(&self) -> impl Iterator<Item = (&Path, &Origin)> {
        self.origins.iter()
    }

    /// Where to report about `path`: the user's path for it and the mark of the deepest
    /// recorded ancestor (a missing field is reported where its parent was written).
    ///
    /// Segments below the deepest recorded ancestor are kept, turned from camelCase into
    /// snake_case when `snake_case` is set (Butane's fallback for fields nobody wrote).
    pub fn locate(&self, path: &Path, snake_case: bool) -> (Path, Option<Mark>) {
        let segments = path.segments();
        for depth in (0..=segments.len()).rev() {
            let prefix: Path = segments[..depth].iter().cloned().collect();
            if let Some(origin) = self.origins.get(&prefix) {
                let mut user_path = origin.path.clone();
                for segment in &segments[depth..] {
                    user_path = match segment {
                        Segment::Key(key) if snake_case => user_path.key(camel_to_snake(key)),
                        Segment::Key(key) => user_path.key(key.clone()),
                        Segment::Index(index) => user_path.index(*index),
                    };
                }
                return (user_path, Some(origin.mark));
            }
        }
        (path.clone(), None)
    }
}

/// `sizeMiB` → `size_mib`, `httpHeaders` → `http_headers`: the snake_case spelling of an
/// Ignition key, as Butane writes it.
pub fn camel_to_snake(key: &str) -> String {
    let key = key.replace("MiB", "Mib");
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases_ignition_keys() {
        assert_eq!(camel_to_snake("sizeMiB"), "size_mib");
        assert_eq!(camel_to_snake("httpHeaders"), "http_headers");
        assert_eq!(camel_to_snake("path"), "path");
    }

    #[test]
    fn locates_missing_fields_at_their_parent() {
        let mut map = SourceMap::new();
        map.insert(
            Path::parse("storage.disks.0"),
            Origin {
                path: Path::parse("storage.disks.0"),
                mark: Mark::new(5, 7),
                key_mark: None,
            },
        );
        let (path, mark) = map.locate(&Path::parse("storage.disks.0.wipeTable"), true);
        assert_eq!(path.to_string(), "$.storage.disks.0.wipe_table");
        assert_eq!(mark, Some(Mark::new(5, 7)));
    }
}
