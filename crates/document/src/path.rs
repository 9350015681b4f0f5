use std::fmt;

/// One step from a value to one of its children.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// A key of a map.
    Key(String),
    /// An index into a list.
    Index(usize),
}

/// The place of a value inside a config, printed as `$.storage.files.0.mode`.
///
/// This is the notation of Ignition and Butane reports, so users can grep for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(Vec<Segment>);

impl Path {
    /// The root of a config (`$`).
    pub fn root() -> Self {
        Self::default()
    }

    /// Builds a path from dotted notation without the leading `$`, such as
    /// `storage.files.0.mode`; all-digit components become indices.
    pub fn parse(dotted: &str) -> Self {
        let dotted = dotted.trim_start_matches('$').trim_start_matches('.');
        if dotted.is_empty() {
            return Self::root();
        }
        Self(
            dotted
                .split('.')
                .map(|part| match part.parse::<usize>() {
                    Ok(index) => Segment::Index(index),
                    Err(_) => Segment::Key(part.to_owned()),
                })
                .collect(),
        )
    }

    /// This path extended by a key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.into()));
        path
    }

    /// This path extended by a list index.
    pub fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }

    /// This path extended by every segment of `tail`.
    pub fn join(&self, tail: &Path) -> Self {
        let mut path = self.clone();
        path.0.extend(tail.0.iter().cloned());
        path
    }

    /// The segments, root first.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// The path without its last segment; the root stays the root.
    pub fn parent(&self) -> Self {
        let mut path = self.clone();
        path.0.pop();
        path
    }

    /// The last segment, if any.
    pub fn last(&self) -> Option<&Segment> {
        self.0.last()
    }

    /// Whether `prefix` is this path or one of its ancestors.
    pub fn starts_with(&self, prefix: &Path) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// The rest of this path after `prefix`, if it starts with it.
    pub fn strip_prefix(&self, prefix: &Path) -> Option<Path> {
        self.0
            .strip_prefix(prefix.0.as_slice())
            .map(|rest| Path(rest.to_vec()))
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this path has no segments (same as [`Path::is_root`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Segment> for Path {
    fn from_iter<T: IntoIterator<Item = Segment>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for segment in &self.0 {
            match segment {
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, ".{index}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_in_report_notation() {
        let path = Path::root()
            .key("storage")
            .key("files")
            .index(0)
            .key("mode");
        assert_eq!(path.to_string(), "$.storage.files.0.mode");
        assert_eq!(Path::root().to_string(), "$");
        assert_eq!(Path::parse("storage.files.0.mode"), path);
    }

    #[test]
    fn strips_prefixes() {
        let path = Path::parse("spec.config.storage.files.1");
        let rest = path.strip_prefix(&Path::parse("spec.config")).unwrap();
        assert_eq!(rest.to_string(), "$.storage.files.1");
        assert!(path.strip_prefix(&Path::parse("storage")).is_none());
    }
}
