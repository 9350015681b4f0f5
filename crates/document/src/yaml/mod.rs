//! YAML text to a positioned [`Node`] tree, with the semantics of Go's `gopkg.in/yaml.v3`.
//!
//! Butane users write configs that the Go tool accepted, and they grep for the Go tool's
//! messages, so this parser follows yaml.v3 where it is visible to users:
//!
//! * only the first document counts; later ones are not even read to the end;
//! * plain scalars stay untyped ([`Value::Plain`]) until the expected type is known,
//!   because `0644` or `yes` mean different things for different fields;
//! * duplicate keys are fatal with yaml.v3's text (`yaml: unmarshal errors:` and one
//!   `line N: mapping key "k" already defined at line M` per duplicate);
//! * anchors, aliases and `<<` merge keys work; the `<<` entry itself stays in the map so
//!   that the caller can warn about it like Butane does (`unused key <<`);
//! * syntax errors read `yaml: line N: <message>` with libyaml's wording where it differs
//!   from the underlying parser's.
//!
//! It lives beside the tree it builds rather than in the Butane front end because other
//! hand-written YAML (compose manifests) needs the same positions and the same rules.
//!
//! The tree is built without recursion, nesting is capped and alias expansion is budgeted,
//! so no input can exhaust the stack or memory.

use std::borrow::Cow;
use std::fmt;

use crate::{Entry, Mark, Node, Value};
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span, Tag};

/// The deepest nesting of lists and maps accepted. Real configs stay below ten levels;
/// the cap keeps every later recursive walk over the tree (clone, drop, decoding) safe.
pub const MAX_DEPTH: usize = 1000;

/// How many nodes aliases and merge keys may copy in total before the document is
/// rejected, so that a "billion laughs" document fails fast instead of filling memory.
pub const MAX_ALIAS_NODES: usize = 1_000_000;

/// Why a YAML text could not be turned into a [`Node`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlError {
    /// The text is not well-formed YAML.
    Syntax {
        /// Where the parser gave up.
        mark: Mark,
        /// What it found, in libyaml's wording where known.
        message: String,
    },
    /// The text is YAML, but a mapping has keys a config cannot have: duplicates, or
    /// lists and maps used as keys. yaml.v3 collects these as "unmarshal errors".
    Unmarshal {
        /// Whether the errors are in the top-level mapping. Butane finds those while
        /// reading `variant` and `version` and prefixes `Error unmarshaling yaml: `.
        /// When set, only the top-level mapping's errors are listed, as Butane stops
        /// there.
        root: bool,
        /// One `line N: …` text per problem, in yaml.v3's order.
        lines: Vec<String>,
    },
    /// A problem found while expanding the document: unknown or self-containing
    /// aliases, bad merge values, excessive aliasing.
    Decode(String),
}

impl YamlError {
    /// Whether Butane finds this error while reading `variant` and `version`, the first
    /// pass over the document, and so prefixes `Error unmarshaling yaml: `: key errors of
    /// the top-level mapping (see [`YamlError::Unmarshal`]), and everything the parser
    /// itself rejects (syntax errors and unknown anchors), since that first pass parses
    /// the whole document.
    pub fn in_top_level(&self) -> bool {
        match self {
            YamlError::Unmarshal { root, .. } => *root,
            YamlError::Syntax { .. } => true,
            YamlError::Decode(message) => message.starts_with("unknown anchor "),
        }
    }
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // yaml.v3 names no line for a parser error on the first line.
            YamlError::Syntax { mark, message } if mark.line == 0 => write!(f, "yaml: {message}"),
            YamlError::Syntax { mark, message } => write!(f, "yaml: line {}: {message}", mark.line),
            YamlError::Unmarshal { lines, .. } => {
                f.write_str("yaml: unmarshal errors:")?;
                for line in lines {
                    write!(f, "\n  {line}")?;
                }
                Ok(())
            }
            YamlError::Decode(message) => write!(f, "yaml: {message}"),
        }
    }
}

impl std::error::Error for YamlError {}

/// Parses the first YAML document of `text` into a positioned tree.
///
/// An empty text, or one holding only comments, is a `Null` node at 1:1. Marks are
/// 1-based; a block map is marked at its first key, a list at its first `-` (or its
/// bracket), a scalar at its first character, an empty value just after its `:`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let (node, errors) = parse_keys_apart(text)?;
    if errors.is_empty() {
        return Ok(node);
    }
    let lines = errors
        .into_iter()
        .flat_map(|e| {
            e.duplicates
                .into_iter()
                .chain(e.keys.into_iter().map(|(_, l)| l))
        })
        .collect();
    Err(YamlError::Unmarshal { root: false, lines })
}

/// The key errors of one nested mapping, as yaml.v3 words them.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyErrors {
    /// Where the mapping starts.
    pub map: Mark,
    /// Its duplicate keys: yaml.v3 then decodes nothing inside it.
    pub duplicates: Vec<String>,
    /// Its keys that are collections, each with the key's place.
    pub keys: Vec<(Mark, String)>,
}

/// Like [`parse`], but the key errors of nested mappings come back beside the tree
/// (in document order) instead of failing: yaml.v3 reports them only for mappings it
/// decodes, interleaved with type errors, which only the caller's schema knows.
/// Errors of the top-level mapping still fail (Butane reports those alone).
pub fn parse_keys_apart(text: &str) -> Result<(Node, Vec<KeyErrors>), YamlError> {
    // libyaml (YAML 1.1) also breaks lines at NEL, LINE SEPARATOR and PARAGRAPH
    // SEPARATOR, which can end a block scalar early and shifts the lines it names; the
    // document is checked that way first.
    const BREAKS: [char; 3] = ['\u{85}', '\u{2028}', '\u{2029}'];
    if has_libyaml_breaks(text) {
        // The key errors as libyaml's lines place them, at the marks the remapped tree
        // has.
        let (_, errors) = parse_text(&text.replace(BREAKS, "\n"))?;
        let (mut node, _) = parse_text(text)?;
        LibyamlLines::new(text, &BREAKS).remap(&mut node);
        return Ok((node, errors));
    }
    parse_text(text)
}

/// Whether `text` holds NEL, LINE SEPARATOR or PARAGRAPH SEPARATOR: a byte search for
/// their lead bytes (`C2 85`, `E2 80 A8`, `E2 80 A9`), since configs can embed megabytes
/// of text and a search by `char` decodes every one of them.
fn has_libyaml_breaks(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr2_iter(0xc2, 0xe2, bytes).any(|i| match bytes[i] {
        0xc2 => bytes.get(i + 1) == Some(&0x85),
        _ => bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)),
    })
}

/// Marks as libyaml counts lines in a text with more line breaks than `\n`.
struct LibyamlLines {
    /// For every line (split at `\n`): the 0-based columns of the other breaks in it.
    breaks: Vec<Vec<usize>>,
    /// For every line: how many other breaks come before it.
    before: Vec<usize>,
}

impl LibyamlLines {
    fn new(text: &str, others: &[char]) -> Self {
        let breaks: Vec<Vec<usize>> = text
            .split('\n')
            .map(|line| {
                line.chars()
                    .enumerate()
                    .filter(|(_, c)| others.contains(c))
                    .map(|(column, _)| column)
                    .collect()
            })
            .collect();
        let before = breaks
            .iter()
            .scan(0, |seen, line| {
                let here = *seen;
                *seen += line.len();
                Some(here)
            })
            .collect();
        Self { breaks, before }
    }

    fn mark(&self, mark: Mark) -> Mark {
        let Some(breaks) = mark.line.checked_sub(1).and_then(|l| self.breaks.get(l)) else {
            return mark;
        };
        let column = mark.column.saturating_sub(1);
        let earlier: Vec<usize> = breaks.iter().copied().filter(|&b| b < column).collect();
        let line = mark.line + self.before[mark.line - 1] + earlier.len();
        match earlier.last() {
            Some(&last) => Mark::new(line, column - last),
            None => Mark::new(line, mark.column),
        }
    }

    fn remap(&self, root: &mut Node) {
        let mut pending = vec![root];
        while let Some(node) = pending.pop() {
            node.mark = self.mark(node.mark);
            match &mut node.value {
                Value::Seq(items) => pending.extend(items.iter_mut()),
                Value::Map(entries) => {
                    for entry in entries {
                        entry.key_mark = self.mark(entry.key_mark);
                        pending.push(&mut entry.value);
                    }
                }
                _ => {}
            }
        }
    }
}

fn parse_text(text: &str) -> Result<(Node, Vec<KeyErrors>), YamlError> {
    Builder::new(text).run()
}

/// A node that is complete, with what its parent needs to know about it.
#[derive(Clone)]
struct Built {
    node: Node,
    /// Number of nodes in the subtree (keys count), to budget alias copies.
    size: usize,
    /// For scalars: the text as written, and whether it is an untagged plain scalar
    /// (only such a `<<` is a merge key).
    scalar: Option<(String, bool)>,
}

/// A list or map whose end event has not been seen yet.
enum Frame {
    Seq {
        mark: Mark,
        anchor: usize,
        items: Vec<Node>,
        size: usize,
    },
    Map {
        mark: Mark,
        anchor: usize,
        /// Position of this map in document (pre-)order, to report errors in yaml.v3's
        /// order although maps complete innermost first.
        serial: usize,
        entries: Vec<Entry>,
        /// Whether each entry's key is a merge key (`<<`).
        merge: Vec<bool>,
        key: Option<(String, Mark, bool)>,
        size: usize,
    },
}

impl Frame {
    fn mark(&self) -> Mark {
        match self {
            Frame::Seq { mark, .. } | Frame::Map { mark, .. } => *mark,
        }
    }
}

/// Unmarshal errors of one map: its serial number, and the texts.
struct MapErrors {
    serial: usize,
    map: Mark,
    duplicates: Vec<String>,
    keys: Vec<(Mark, String)>,
}

/// Character positions of a text as byte offsets, without a copy of the text: only the
/// non-ASCII characters are recorded (a config is mostly ASCII).
struct CharIndex<'a> {
    text: &'a str,
    /// For every non-ASCII character: its character index and its byte offset.
    wide: Vec<(usize, usize)>,
}

impl<'a> CharIndex<'a> {
    fn new(text: &'a str) -> Self {
        let wide = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices()
                .enumerate()
                .filter(|(_, (_, c))| !c.is_ascii())
                .map(|(index, (offset, _))| (index, offset))
                .collect()
        };
        Self { text, wide }
    }

    /// The byte offset of the character at `index` (the text's length past its end).
    fn byte(&self, index: usize) -> usize {
        let before = self.wide.partition_point(|&(i, _)| i < index);
        let offset = match before.checked_sub(1).map(|k| self.wide[k]) {
            None => index,
            Some((i, offset)) => {
                let width = self.text[offset..].chars().next().map_or(1, char::len_utf8);
                offset.saturating_add(width).saturating_add(index - i - 1)
            }
        };
        offset.min(self.text.len())
    }

    fn get(&self, index: usize) -> Option<char> {
        self.text[self.byte(index)..].chars().next()
    }

    /// The characters `start..end` (clamped to the text).
    fn slice(&self, start: usize, end: usize) -> &'a str {
        let (start, end) = (self.byte(start), self.byte(end));
        &self.text[start..end.max(start)]
    }
}

struct Builder<'a> {
    text: &'a str,
    /// The parser's positions are character indices: this finds them in the text.
    chars: CharIndex<'a>,
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Built>,
    next_serial: usize,
    /// Serial number of the top-level map, if the document is one.
    root_map: Option<usize>,
    copied: usize,
    errors: Vec<MapErrors>,
}

impl<'a> Builder<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            chars: CharIndex::new(text),
            stack: Vec::new(),
            anchors: std::collections::HashMap::new(),
            next_serial: 0,
            root_map: None,
            copied: 0,
            errors: Vec::new(),
        }
    }

    fn run(&mut self) -> Result<(Node, Vec<KeyErrors>), YamlError> {
        let mut parser = Parser::new_from_str(self.text);
        let mut root = None;
        while let Some(event) = parser.next_event() {
            let (event, span) = event.map_err(|e| self.syntax_error(&e))?;
            let done = match event {
                Event::DocumentEnd | Event::StreamEnd => true,
                Event::Nothing | Event::StreamStart | Event::DocumentStart(_) => false,
                Event::Scalar(text, style, anchor, tag) => {
                    let built = self.scalar(text, style, tag, span);
                    self.complete(built, anchor, &mut root);
                    false
                }
                Event::Alias(id) => {
                    let built = self.alias(id, span)?;
                    self.complete(built, 0, &mut root);
                    false
                }
                Event::SequenceStart(anchor, _) => {
                    let mark = self.collection_mark(span);
                    self.push(Frame::Seq {
                        mark,
                        anchor,
                        items: Vec::new(),
                        size: 1,
                    })?;
                    false
                }
                Event::MappingStart(anchor, _) => {
                    let mark = self.collection_mark(span);
                    let serial = self.next_serial;
                    self.next_serial += 1;
                    if self.stack.is_empty() {
                        self.root_map = Some(serial);
                    }
                    self.push(Frame::Map {
                        mark,
                        anchor,
                        serial,
                        entries: Vec::new(),
                        merge: Vec::new(),
                        key: None,
                        size: 1,
                    })?;
                    false
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (built, anchor) = match self.stack.pop() {
                        Some(frame) => self.finish(frame)?,
                        None => continue,
                    };
                    self.complete(built, anchor, &mut root);
                    false
                }
            };
            if done && self.stack.is_empty() {
                break;
            }
        }
        let errors = self.report_errors()?;
        Ok((
            root.unwrap_or_else(|| Node::new(Value::Null, Mark::new(1, 1))),
            errors,
        ))
    }

    fn push(&mut self, frame: Frame) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            let mark = match &frame {
                Frame::Seq { mark, .. } | Frame::Map { mark, .. } => *mark,
            };
            return Err(YamlError::Syntax {
                mark,
                message: format!("exceeded max depth of {MAX_DEPTH}"),
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    /// A list or map is marked where its content starts: the bracket of a flow
    /// collection, else the first `-` or key (after any anchor or tag).
    fn collection_mark(&self, span: Span) -> Mark {
        let end = span.end;
        let opens_flow = end.index() > span.start.index()
            && matches!(self.chars.get(end.index().wrapping_sub(1)), Some('[' | '{'));
        if opens_flow {
            Mark::new(end.line(), end.col())
        } else {
            to_mark(end)
        }
    }

    fn scalar(
        &self,
        text: Cow<'_, str>,
        style: ScalarStyle,
        tag: Option<Cow<'_, Tag>>,
        span: Span,
    ) -> Built {
        let core = tag
            .as_deref()
            .filter(|t| t.is_yaml_core_schema())
            .map(|t| t.suffix.as_str());
        let plain = style == ScalarStyle::Plain;
        let value = match core {
            Some("str") => Value::Str(text.to_string()),
            Some("null") => Value::Null,
            Some("int" | "bool" | "float") => Value::Plain(text.to_string()),
            _ if plain && matches!(&*text, "" | "~" | "null" | "Null" | "NULL") => Value::Null,
            _ if plain => Value::Plain(text.to_string()),
            _ => Value::Str(text.to_string()),
        };
        let mut mark = to_mark(span.start);
        if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
            mark = self.block_indicator(span.start).unwrap_or(mark);
        }
        // An empty value is reported just after the `:` that introduced it, like yaml.v3.
        if text.is_empty() && span.is_empty() && self.chars.get(span.start.index()) == Some(':') {
            mark.column += 1;
        }
        Built {
            node: Node::new(value, mark),
            size: 1,
            scalar: Some((text.into_owned(), plain && tag.is_none())),
        }
    }

    /// Where the `|` or `>` of a block scalar whose content starts at `content` is:
    /// yaml.v3 places the scalar there (or at its anchor or tag, where the parser
    /// already starts it).
    fn block_indicator(&self, content: Marker) -> Option<Mark> {
        let start = content.index();
        match self.chars.get(start) {
            Some('|' | '>') => return None,
            // An anchor or tag before the indicator on its line, not content that
            // happens to start with `&` or `!`.
            Some('&' | '!') => {
                let at = self.chars.byte(start);
                let rest = self.text[at..].split('\n').next().unwrap_or_default();
                let before = &self.text[..at];
                let line_start = before.rfind('\n').map_or(0, |n| n + 1);
                // Content starts a line below its header.
                let content = before[line_start..].trim_start_matches(' ').is_empty()
                    && line_start > 0
                    && block_header(
                        before[..line_start - 1]
                            .rsplit('\n')
                            .next()
                            .unwrap_or_default(),
                    );
                if !content && block_header(&format!(" {rest}")) {
                    return None;
                }
            }
            _ => {}
        }
        let before = self.chars.slice(0, start);
        let at = before.rfind(['|', '>'])?;
        let lines_between = memchr::memchr_iter(b'\n', &before.as_bytes()[at..]).count();
        let line_start = before[..at].rfind('\n').map_or(0, |newline| newline + 1);
        Some(Mark::new(
            content.line().checked_sub(lines_between)?,
            before[line_start..at].chars().count() + 1,
        ))
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<Built, YamlError> {
        let Some(target) = self.anchors.get(&id) else {
            // The parser rejects unknown anchors, so this one is still being built.
            return Err(YamlError::Decode(format!(
                "anchor '{}' value contains itself",
                self.alias_name(span)
            )));
        };
        self.copied = self.copied.saturating_add(target.size);
        if self.copied > MAX_ALIAS_NODES {
            return Err(YamlError::Decode(
                "document contains excessive aliasing".into(),
            ));
        }
        let mut built = target.clone();
        // The copy as a whole is where the alias was written; its inside stays where the
        // anchored original is, which is where a user has to fix it.
        built.node.mark = to_mark(span.start);
        built.node.alias = true;
        Ok(built)
    }

    /// A parser error as yaml.v3 words it; an unknown alias is a decoding error there.
    fn syntax_error(&mut self, error: &ScanError) -> YamlError {
        if error.info() == "while parsing node, found unknown anchor" {
            let start = error.marker().index().saturating_add(1);
            let name: String = self
                .chars
                .slice(start, usize::MAX)
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
                .collect();
            return YamlError::Decode(format!("unknown anchor '{name}' referenced"));
        }
        let YamlError::Syntax { mark, message } = syntax_error(error) else {
            return syntax_error(error);
        };
        self.as_libyaml_reports(mark, message)
    }

    /// The line yaml.v3 names for an error, and libyaml's message where the two parsers
    /// tell the same problem apart differently.
    ///
    /// yaml.v3 names the line of the error's *context* (the collection, key or scalar
    /// being read) when that is not the first line, else the line of the problem; both
    /// count from 0 for parser errors (what a collection did not find) and from 1 for
    /// scanner errors (what a token cannot be). A parser error on the first line has no
    /// line at all ([`Mark::line`] 0).
    fn as_libyaml_reports(&mut self, problem: Mark, message: String) -> YamlError {
        if let Some((message, context)) = self.leading_tab(problem) {
            return YamlError::Syntax {
                mark: context,
                message,
            };
        }
        let (message, parser_error, context) = match message.as_str() {
            "did not find expected key" | "did not find expected '-' indicator" => {
                (message.clone(), true, self.open_block(problem.column))
            }
            "did not find expected ',' or '}'" | "did not find expected ',' or ']'" => {
                (message.clone(), true, self.stack.last().map(Frame::mark))
            }
            // A node starts at the token the parser rejects (a `-` in a flow collection).
            "did not find expected node content" => (message.clone(), true, None),
            "tabs disallowed within this context (block indentation)" => (
                "found character that cannot start any token".to_owned(),
                false,
                None,
            ),
            // The context is the key, which a simple key allows on one line only: where
            // the plain scalar that ran on to the line before started.
            "could not find expected ':'" => (
                message.clone(),
                false,
                Some(Mark::new(self.simple_key_line(problem.line), 1)),
            ),
            // The scanner names where the unclosed quoted scalar starts.
            "found unexpected end of stream" => (message.clone(), false, Some(problem)),
            _ => {
                return YamlError::Syntax {
                    mark: problem,
                    message,
                };
            }
        };
        let end_problem = if message == "found unexpected end of stream" {
            let lines = self.text.lines().count().max(1);
            let trailing_newline = self.text.ends_with('\n');
            Mark::new(lines + usize::from(trailing_newline), 1)
        } else {
            problem
        };
        let at = match context {
            Some(context) if context.line > 1 => context,
            _ => end_problem,
        };
        let line = if parser_error { at.line - 1 } else { at.line };
        YamlError::Syntax {
            mark: Mark::new(line, at.column),
            message,
        }
    }

    /// libyaml's finding for a tab in the leading whitespace of a line up to
    /// `problem`'s, in block context: the message, and the line yaml.v3 names (its
    /// context's, or the tab's when that is on the first line).
    ///
    /// After a plain scalar that ends the line before, a tab left of the enclosing
    /// block's indentation "violates indentation" (context: the scalar), further right it
    /// continues the scalar, so a `:` there is a "mapping value not allowed"; in a block
    /// scalar, a tab left of its content's indentation is where "an indentation space is
    /// expected" (context: the `|`/`>`); anywhere else a tab "cannot start any token".
    fn leading_tab(&self, problem: Mark) -> Option<(String, Mark)> {
        let lines: Vec<&str> = self.text.split('\n').collect();
        // The parser underneath can stop at the end of the line before the tab.
        let last = (problem.line + 1).min(lines.len());
        let (index, spaces) = (0..last).find_map(|i| {
            let line = lines[i];
            let spaces = line.len() - line.trim_start_matches(' ').len();
            (line.as_bytes().get(spaces) == Some(&b'\t')).then_some((i, spaces))
        })?;
        let tab_line = index + 1;
        // A quoted scalar reads tabs as blanks, and flow collections allow them.
        if self
            .quoted_scalar(Mark::new(tab_line, spaces + 1))
            .is_some_and(|(start, _)| start.line < tab_line)
        {
            return None;
        }
        let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
        let blank = |l: &str| l.trim().is_empty();
        let cannot_start = || {
            Some((
                "found character that cannot start any token".to_owned(),
                Mark::new(tab_line, spaces + 1),
            ))
        };
        // A block scalar above: a line ending in `|` or `>` less indented than everything
        // between it and the tab (its content, indented at least as its first line).
        let mut least = usize::MAX;
        for j in (0..index).rev() {
            let line = lines[j];
            if blank(line) || indent(line) >= least {
                continue;
            }
            if block_header(line) {
                if least == usize::MAX || spaces < least {
                    return Some((
                        "found a tab character where an indentation space is expected".to_owned(),
                        Mark::new(if j > 0 { j + 1 } else { tab_line }, 1),
                    ));
                }
                return None;
            }
            least = indent(line);
            if least == 0 {
                break;
            }
        }
        let Some(above) = (0..index).rev().find(|&j| !blank(lines[j])) else {
            return cannot_start();
        };
        let Some(block_indent) = plain_scalar_line(lines[above]) else {
            return cannot_start();
        };
        if spaces <= block_indent {
            return Some((
                "found a tab character that violates indentation".to_owned(),
                Mark::new(if above > 0 { above + 1 } else { tab_line }, 1),
            ));
        }
        // Further right the tab continues the scalar, which a `:` cannot follow.
        let rest = lines[index].trim_start();
        if rest.contains(": ") || rest.ends_with(':') {
            return Some((
                "mapping values are not allowed in this context".to_owned(),
                Mark::new(tab_line, 1),
            ));
        }
        None
    }

    /// The line where the would-be key that ran on to the line before `line` started:
    /// the top of the run of lines above without a `key:` (which would have ended it),
    /// none more indented than the line below it (a scalar's later lines are indented
    /// past its first).
    fn simple_key_line(&self, line: usize) -> usize {
        let lines: Vec<&str> = self.text.split('\n').collect();
        let indent = |text: &str| text.len() - text.trim_start_matches(' ').len();
        let mut start = line.saturating_sub(1).max(1);
        for l in (1..start.min(lines.len())).rev() {
            let text = lines[l - 1].trim();
            if text.is_empty() {
                continue;
            }
            if text.starts_with('#')
                || text.contains(": ")
                || text.ends_with(':')
                || lines
                    .get(start - 1)
                    .is_some_and(|s| indent(lines[l - 1]) > indent(s))
            {
                break;
            }
            start = l;
        }
        start
    }

    /// The innermost open block collection a token in `column` could continue.
    fn open_block(&self, column: usize) -> Option<Mark> {
        self.stack
            .iter()
            .rev()
            .map(Frame::mark)
            .find(|mark| mark.column < column)
            .or_else(|| self.stack.first().map(Frame::mark))
    }

    /// Where the quoted scalar around `problem` starts, and the line where it ends,
    /// if a quote closes it.
    fn quoted_scalar(&self, problem: Mark) -> Option<(Mark, Option<usize>)> {
        let (mut line, mut column) = (1, 1);
        let mut open: Option<(char, Mark)> = None;
        let mut previous = '\n';
        let mut chars = self.text.chars().peekable();
        while let Some(c) = chars.next() {
            if line > problem.line && open.is_none() {
                return None;
            }
            match open {
                Some((quote, _)) if c == '\\' && quote == '"' => {
                    if chars.next() == Some('\n') {
                        (line, column) = (line + 1, 0);
                    }
                    column += 1;
                }
                Some((quote, at)) if c == quote => {
                    if quote == '\'' && chars.peek() == Some(&'\'') {
                        chars.next();
                        column += 1;
                    } else if line >= problem.line && at.line <= problem.line {
                        return Some((at, Some(line)));
                    } else {
                        open = None;
                    }
                }
                Some(_) => {}
                None if c == '#' && previous.is_whitespace() => {
                    while chars.peek().is_some_and(|&n| n != '\n') {
                        chars.next();
                    }
                }
                None if matches!(c, '"' | '\'')
                    && (previous.is_whitespace() || matches!(previous, '[' | '{' | ',')) =>
                {
                    open = Some((c, Mark::new(line, column)));
                }
                None => {}
            }
            previous = c;
            if c == '\n' {
                (line, column) = (line + 1, 1);
            } else {
                column += 1;
            }
        }
        open.map(|(_, at)| (at, None))
            .filter(|(at, _)| at.line <= problem.line)
    }

    fn alias_name(&self, span: Span) -> String {
        let start = span.start.index().saturating_add(1);
        let end = span.end.index().max(start);
        self.chars.slice(start, end).to_owned()
    }

    /// Hands a complete node to its parent, or makes it the root.
    fn complete(&mut self, built: Built, anchor: usize, root: &mut Option<Node>) {
        if anchor != 0 {
            self.anchors.insert(anchor, built.clone());
        }
        let awaiting_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
        if awaiting_key && built.scalar.is_none() {
            // yaml.v3 decodes struct keys into strings; a collection cannot be one.
            let tag = if matches!(built.node.value, Value::Seq(_)) {
                "!!seq"
            } else {
                "!!map"
            };
            let mark = built.node.mark;
            self.key_error(
                mark,
                format!("line {}: cannot unmarshal {tag} into string", mark.line),
            );
        }
        match self.stack.last_mut() {
            None => {
                if root.is_none() {
                    *root = Some(built.node);
                }
            }
            Some(Frame::Seq { items, size, .. }) => {
                *size += built.size;
                items.push(built.node);
            }
            Some(Frame::Map {
                entries,
                merge,
                key,
                size,
                ..
            }) => {
                *size += built.size;
                match key.take() {
                    Some((key, key_mark, is_merge)) => {
                        entries.push(Entry {
                            key,
                            key_mark,
                            value: built.node,
                        });
                        merge.push(is_merge);
                    }
                    None => {
                        let (text, is_merge) = match built.scalar {
                            Some((text, plain)) => {
                                let is_merge = plain && text == "<<";
                                (text, is_merge)
                            }
                            // Reported above; the entry is kept under an empty key so
                            // that its value still pairs up.
                            None => (String::new(), false),
                        };
                        *key = Some((text, built.node.mark, is_merge));
                    }
                }
            }
        }
    }

    /// Records an unmarshal error of the innermost open map.
    fn key_error(&mut self, at: Mark, line: String) {
        let (serial, map) = self
            .stack
            .iter()
            .rev()
            .find_map(|frame| match frame {
                Frame::Map { serial, mark, .. } => Some((*serial, *mark)),
                Frame::Seq { .. } => None,
            })
            .unwrap_or((0, Mark::new(1, 1)));
        match self.errors.iter_mut().find(|e| e.serial == serial) {
            Some(errors) => errors.keys.push((at, line)),
            None => self.errors.push(MapErrors {
                serial,
                map,
                duplicates: Vec::new(),
                keys: vec![(at, line)],
            }),
        }
    }

    /// Turns a closed frame into a node: checks a map's keys and applies merge keys.
    fn finish(&mut self, frame: Frame) -> Result<(Built, usize), YamlError> {
        match frame {
            Frame::Seq {
                mark,
                anchor,
                items,
                size,
            } => Ok((
                Built {
                    node: Node::new(Value::Seq(items), mark),
                    size,
                    scalar: None,
                },
                anchor,
            )),
            Frame::Map {
                mark,
                anchor,
                serial,
                mut entries,
                merge,
                key,
                mut size,
            } => {
                // A key without a value (cannot come from the parser, but stay total).
                if let Some((key, key_mark, _)) = key {
                    entries.push(Entry {
                        key,
                        key_mark,
                        value: Node::new(Value::Null, key_mark),
                    });
                }
                let duplicates = duplicate_lines(&entries);
                if !duplicates.is_empty() {
                    // yaml.v3 lists duplicates before decoding keys (key-type errors of
                    // this map, found first here, come after them).
                    match self.errors.iter_mut().find(|e| e.serial == serial) {
                        Some(errors) => errors.duplicates = duplicates,
                        None => self.errors.push(MapErrors {
                            serial,
                            map: mark,
                            duplicates,
                            keys: Vec::new(),
                        }),
                    }
                }
                let merged = self.merged_entries(&entries, &merge)?;
                size += merged.iter().map(|(_, s)| s).sum::<usize>();
                entries.extend(merged.into_iter().map(|(entry, _)| entry));
                Ok((
                    Built {
                        node: Node::new(Value::Map(entries), mark),
                        size,
                        scalar: None,
                    },
                    anchor,
                ))
            }
        }
    }

    /// The entries that `<<` keys bring into a map: those of the merged maps whose keys
    /// the map does not have itself; among merged maps the earlier one wins.
    fn merged_entries(
        &mut self,
        entries: &[Entry],
        merge: &[bool],
    ) -> Result<Vec<(Entry, usize)>, YamlError> {
        let mut out: Vec<(Entry, usize)> = Vec::new();
        for (entry, _) in entries.iter().zip(merge).filter(|(_, m)| **m) {
            let sources: Vec<&Node> = match &entry.value.value {
                Value::Map(_) => vec![&entry.value],
                Value::Seq(items) if items.iter().all(|i| matches!(i.value, Value::Map(_))) => {
                    items.iter().collect()
                }
                _ => {
                    return Err(YamlError::Decode(
                        "map merge requires map or sequence of maps as the value".into(),
                    ));
                }
            };
            for source in sources {
                let Value::Map(source_entries) = &source.value else {
                    continue;
                };
                for candidate in source_entries {
                    let known = candidate.key == "<<"
                        || entries.iter().any(|e| e.key == candidate.key)
                        || out.iter().any(|(e, _)| e.key == candidate.key);
                    if known {
                        continue;
                    }
                    let size = node_size(&candidate.value) + 1;
                    self.copied = self.copied.saturating_add(size);
                    if self.copied > MAX_ALIAS_NODES {
                        return Err(YamlError::Decode(
                            "document contains excessive aliasing".into(),
                        ));
                    }
                    out.push((candidate.clone(), size));
                }
            }
        }
        Ok(out)
    }

    /// Fails with the collected unmarshal errors, in yaml.v3's order; errors of the
    /// top-level map alone if it has any (Butane stops after reading that map).
    /// Fails for key errors of the top-level mapping; returns the others in document
    /// order.
    fn report_errors(&mut self) -> Result<Vec<KeyErrors>, YamlError> {
        self.errors.sort_by_key(|e| e.serial);
        let root =
            self.root_map.is_some() && self.errors.first().map(|e| e.serial) == self.root_map;
        if root {
            let errors = self.errors.swap_remove(0);
            let lines = errors
                .duplicates
                .into_iter()
                .chain(errors.keys.into_iter().map(|(_, l)| l))
                .collect();
            return Err(YamlError::Unmarshal { root, lines });
        }
        Ok(std::mem::take(&mut self.errors)
            .into_iter()
            .map(|e| KeyErrors {
                map: e.map,
                duplicates: e.duplicates,
                keys: e.keys,
            })
            .collect())
    }
}

/// yaml.v3's duplicate check: every later key equal to an earlier one, for each earlier
/// key in turn.
fn duplicate_lines(entries: &[Entry]) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, first) in entries.iter().enumerate() {
        for later in &entries[i + 1..] {
            if later.key == first.key {
                lines.push(format!(
                    "line {}: mapping key {} already defined at line {}",
                    later.key_mark.line,
                    go_quote(&later.key),
                    first.key_mark.line
                ));
            }
        }
    }
    lines
}

/// Number of nodes in a tree, keys counted, without recursion.
fn node_size(node: &Node) -> usize {
    let mut count = 0usize;
    let mut todo = vec![node];
    while let Some(node) = todo.pop() {
        count += 1;
        match &node.value {
            Value::Seq(items) => todo.extend(items),
            Value::Map(entries) => {
                count += entries.len();
                todo.extend(entries.iter().map(|e| &e.value));
            }
            _ => {}
        }
    }
    count
}

/// A string quoted like Go's `%#v`/`strconv.Quote`, as yaml.v3 prints keys (and Go
/// messages quote values).
pub fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => match crate::invalid_byte_value(c) {
                Some(byte) => out.push_str(&format!("\\x{byte:02x}")),
                None if go_printable(c) => out.push(c),
                None if (c as u32) < 0x1_0000 => out.push_str(&format!("\\u{:04x}", c as u32)),
                None => out.push_str(&format!("\\U{:08x}", c as u32)),
            },
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII
/// space; `%q` escapes everything else (controls, format characters, other spaces,
/// private use, unassigned code points).
fn go_printable(c: char) -> bool {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    c == ' '
        || !matches!(
            get_general_category(c),
            G::Control
                | G::Format
                | G::Surrogate
                | G::PrivateUse
                | G::Unassigned
                | G::SpaceSeparator
                | G::LineSeparator
                | G::ParagraphSeparator
        )
}

/// Whether a line ends in a block scalar's `|` or `>` (with its indicators).
fn block_header(line: &str) -> bool {
    let code = line.split(" #").next().unwrap_or(line).trim_end();
    let head = code.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
    head.ends_with(" |") || head.ends_with(" >") || matches!(head.trim(), "|" | ">")
}

/// When a line ends in a plain scalar (no comment after it), the 0-based column of the
/// block collection it is in: its key's, or its `-`'s.
fn plain_scalar_line(line: &str) -> Option<usize> {
    if line.contains(" #") || line.contains("\t#") {
        return None;
    }
    let body = line.trim_end();
    let mut column = line.len() - line.trim_start_matches(' ').len();
    let mut rest = &body[column..];
    let mut dash = None;
    while let Some(after) = rest.strip_prefix("- ") {
        dash = Some(column);
        let trimmed = after.trim_start_matches(' ');
        column += rest.len() - trimmed.len();
        rest = trimmed;
    }
    let value = match (rest.find(": "), dash) {
        (Some(colon), _) => rest[colon + 2..].trim_start(),
        (None, Some(dash)) => {
            column = dash;
            rest
        }
        (None, None) => return None,
    };
    let plain = !value.is_empty()
        && !value.ends_with(':')
        && !value.starts_with(['"', '\'', '[', '{', '|', '>', '&', '!', '*', '#']);
    plain.then_some(column)
}

fn to_mark(marker: Marker) -> Mark {
    Mark::new(marker.line(), marker.col() + 1)
}

/// A parser error with libyaml's wording, which is what users of the Go tools know.
fn syntax_error(error: &ScanError) -> YamlError {
    let info = error.info();
    // libyaml reports the problem without saphyr's "while parsing X, " context.
    let problem = match info.strip_prefix("while ") {
        Some(rest) => rest.split_once(", ").map_or(info, |(_, problem)| problem),
        None => info,
    };
    let message = if problem.starts_with("unexpected character") || problem == "found a tab" {
        "found character that cannot start any token".to_owned()
    } else if problem == "simple key expect ':'" {
        "could not find expected ':'".to_owned()
    } else if let Some(rest) = problem.strip_prefix("expected ") {
        format!("did not find expected {rest}")
    } else {
        problem.to_owned()
    };
    YamlError::Syntax {
        mark: to_mark(*error.marker()),
        message,
    }
}

#[cfg(test)]
mod tests;
