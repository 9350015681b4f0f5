use crate::{Path, Segment};

/// A line and column in a source text, both counted from 1 like editors do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mark {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Mark {
    /// A mark at `line`:`column`.
    pub fn new(line: usize, column: usize) -> Self {
        Self { line, column }
    }
}

/// A value of a parsed config document together with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What was written.
    pub value: Value,
    /// Where it starts: for maps in YAML the first key, as Butane reports it.
    pub mark: Mark,
    /// Whether it is a copy made for a YAML alias (`*name`). Butane's position tree
    /// has a leaf there, so nothing inside is checked for unused keys.
    pub alias: bool,
}

/// The value of a [`Node`].
///
/// JSON scalars arrive typed. A YAML plain (unquoted) scalar stays [`Value::Plain`] until
/// the shape it is decoded into says what it must be, because YAML's meaning of `0644`,
/// `yes` or `12` depends on the target type in the tools users know (yaml.v3).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or an empty YAML value.
    Null,
    /// A JSON boolean.
    Bool(bool),
    /// A JSON number, kept as written so that integers and floats are told apart exactly.
    Number(String),
    /// A JSON string or a quoted YAML scalar.
    Str(String),
    /// An unquoted YAML scalar, resolved against the expected type.
    Plain(String),
    /// A list.
    Seq(Vec<Node>),
    /// A map, in the order written.
    Map(Vec<Entry>),
}

/// One key of a map with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key as written.
    pub key: String,
    /// Where the key was written.
    pub key_mark: Mark,
    /// The value.
    pub value: Node,
}

impl Node {
    /// A node holding `value` at `mark`.
    pub fn new(value: Value, mark: Mark) -> Self {
        Self {
            value,
            mark,
            alias: false,
        }
    }

    /// The entry for `key` in a map node (last one wins, like Go's decoders).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .rev()
                .find(|e| e.key == key)
                .map(|e| &e.value),
            _ => None,
        }
    }

    /// Where to report about `path` in this tree, with keys matched as Go's JSON decoder
    /// matches them (exactly, else ignoring case; the last match wins): the path as the
    /// user wrote it and the mark of the deepest node that exists (a missing field is
    /// reported where its parent was written).
    pub fn locate(&self, path: &Path) -> (Path, Option<Mark>) {
        let mut node = self;
        let mut user = Path::root();
        let mut rest = path.segments().iter();
        for segment in rest.by_ref() {
            let next = match (segment, &node.value) {
                (Segment::Key(key), Value::Map(entries)) => entries
                    .iter()
                    .rev()
                    .find(|e| e.key == *key)
                    .or_else(|| {
                        entries
                            .iter()
                            .rev()
                            .find(|e| e.key.eq_ignore_ascii_case(key))
                    })
                    .map(|e| (Segment::Key(e.key.clone()), &e.value)),
                (Segment::Index(index), Value::Seq(items)) => {
                    items.get(*index).map(|item| (Segment::Index(*index), item))
                }
                _ => None,
            };
            match next {
                Some((written, child)) => {
                    user = user.join(&std::iter::once(written).collect());
                    node = child;
                }
                None => {
                    user = user.join(
                        &std::iter::once(segment.clone())
                            .chain(rest.cloned())
                            .collect(),
                    );
                    return (user, Some(node.mark));
                }
            }
        }
        (user, Some(node.mark))
    }

    /// A short name of the kind of value, for messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::Str(_) | Value::Plain(_) => "string",
            Value::Seq(_) => "array",
            Value::Map(_) => "object",
        }
    }
}
