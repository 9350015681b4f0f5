//! A JSON parser that keeps the line and column of every value and key.
//!
//! Ignition reads configs with Go's `encoding/json`, so this parser follows it where users
//! can tell: the same syntax errors with the same wording at the place Go's scanner stops,
//! duplicate keys kept (the decoder lets the later one win), numbers kept as written, and
//! invalid UTF-8 in strings replaced by U+FFFD instead of rejected.

use std::fmt;

use crate::{Entry, Mark, Node, Value};

/// The deepest nesting of arrays and objects Go's scanner accepts.
pub const MAX_DEPTH: usize = 10_000;

/// A syntax error, worded like Go's `encoding/json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// What is wrong, e.g. `invalid character '}' after object key`.
    pub message: String,
    /// The byte Go's scanner stopped at: the offending character, or the last character of
    /// a truncated text.
    pub mark: Mark,
}

/// Parses `text` into a positioned tree.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    parse_bytes(text.as_bytes())
}

/// Parses raw bytes, which need not be valid UTF-8: like Go, invalid bytes inside strings
/// become U+FFFD, and outside strings they are syntax errors.
pub fn parse_bytes(bytes: &[u8]) -> Result<Node, SyntaxError> {
    Parser::new(bytes).document()
}

/// A container being filled while the parser walks down.
enum Frame {
    Array(Mark, Vec<Node>),
    Object(Mark, Vec<Entry>, String, Mark),
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    column: usize,
    /// Mark of the last character consumed, where Go reports a truncated text.
    last: Mark,
}

impl<'a> Parser<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            line: 1,
            column: 1,
            last: Mark::new(1, 1),
        }
    }

    fn mark(&self) -> Mark {
        Mark::new(self.line, self.column)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn bump(&mut self) {
        if let Some(byte) = self.peek() {
            if byte & 0xC0 != 0x80 {
                self.last = self.mark();
            }
            self.pos += 1;
            if byte == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if self.peek().is_none_or(|next| next & 0xC0 != 0x80) {
                self.column += 1;
            }
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.bump();
        }
    }

    fn eof(&self) -> SyntaxError {
        SyntaxError {
            message: "unexpected end of JSON input".to_owned(),
            mark: self.last,
        }
    }

    /// Go's `invalid character 'c' <context>` about the byte at the current position.
    fn invalid(&self, context: &str) -> SyntaxError {
        match self.peek() {
            None => self.eof(),
            Some(byte) => SyntaxError {
                message: format!("invalid character {} {context}", quote_char(byte)),
                mark: self.mark(),
            },
        }
    }

    fn document(mut self) -> Result<Node, SyntaxError> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            // A value starts here.
            self.skip_ws();
            let mark = self.mark();
            let mut done = match self.peek() {
                None => return Err(self.eof()),
                Some(b'{') => {
                    self.check_depth(stack.len())?;
                    self.bump();
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.bump();
                        Node::new(Value::Map(Vec::new()), mark)
                    } else {
                        let (key, key_mark) = self.key()?;
                        stack.push(Frame::Object(mark, Vec::new(), key, key_mark));
                        continue;
                    }
                }
                Some(b'[') => {
                    self.check_depth(stack.len())?;
                    self.bump();
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.bump();
                        Node::new(Value::Seq(Vec::new()), mark)
                    } else {
                        stack.push(Frame::Array(mark, Vec::new()));
                        continue;
                    }
                }
                Some(b'"') => Node::new(Value::Str(self.string()?), mark),
                Some(b't') => self.literal("true", Value::Bool(true), mark)?,
                Some(b'f') => self.literal("false", Value::Bool(false), mark)?,
                Some(b'n') => self.literal("null", Value::Null, mark)?,
                Some(b'-' | b'0'..=b'9') => Node::new(Value::Number(self.number()?), mark),
                Some(_) => return Err(self.invalid("looking for beginning of value")),
            };
            // A value is complete: hand it to its container, closing containers as we go.
            loop {
                self.skip_ws();
                match stack.last_mut() {
                    None => {
                        return match self.peek() {
                            None => Ok(done),
                            Some(_) => Err(self.invalid("after top-level value")),
                        };
                    }
                    Some(Frame::Array(_, items)) => {
                        items.push(done);
                        match self.peek() {
                            Some(b',') => {
                                self.bump();
                                break;
                            }
                            Some(b']') => {
                                self.bump();
                                let Some(Frame::Array(mark, items)) = stack.pop() else {
                                    unreachable!("the top frame is an array");
                                };
                                done = Node::new(Value::Seq(items), mark);
                            }
                            _ => return Err(self.invalid("after array element")),
                        }
                    }
                    Some(Frame::Object(_, entries, key, key_mark)) => {
                        entries.push(Entry {
                            key: std::mem::take(key),
                            key_mark: *key_mark,
                            value: done,
                        });
                        match self.peek() {
                            Some(b',') => {
                                self.bump();
                                self.skip_ws();
                                let (next, next_mark) = self.key()?;
                                *key = next;
                                *key_mark = next_mark;
                                break;
                            }
                            Some(b'}') => {
                                self.bump();
                                let Some(Frame::Object(mark, entries, ..)) = stack.pop() else {
                                    unreachable!("the top frame is an object");
                                };
                                done = Node::new(Value::Map(entries), mark);
                            }
                            _ => return Err(self.invalid("after object key:value pair")),
                        }
                    }
                }
            }
        }
    }

    fn check_depth(&self, open: usize) -> Result<(), SyntaxError> {
        if open >= MAX_DEPTH {
            Err(self.invalid("exceeded max depth"))
        } else {
            Ok(())
        }
    }

    /// An object key and its colon; the parser is at the key's quote (after whitespace).
    fn key(&mut self) -> Result<(String, Mark), SyntaxError> {
        if self.peek() != Some(b'"') {
            return Err(self.invalid("looking for beginning of object key string"));
        }
        let mark = self.mark();
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.invalid("after object key"));
        }
        self.bump();
        Ok((key, mark))
    }

    fn literal(&mut self, word: &str, value: Value, mark: Mark) -> Result<Node, SyntaxError> {
        self.bump();
        for expected in word.bytes().skip(1) {
            if self.peek() != Some(expected) {
                return Err(self.invalid(&format!(
                    "in literal {word} (expecting {})",
                    quote_char(expected)
                )));
            }
            self.bump();
        }
        Ok(Node::new(value, mark))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.bump();
        }
    }

    fn number(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.bump();
        }
        match self.peek() {
            Some(b'0') => self.bump(),
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.invalid("in numeric literal")),
        }
        if self.peek() == Some(b'.') {
            self.bump();
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.invalid("after decimal point in numeric literal"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.invalid("in exponent of numeric literal"));
            }
            self.digits();
        }
        // Only ASCII was consumed.
        Ok(String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned())
    }

    /// A string literal; the parser is at the opening quote.
    fn string(&mut self) -> Result<String, SyntaxError> {
        self.bump();
        let mut out = String::new();
        let mut pending_high: Option<u16> = None;
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.eof());
            };
            match byte {
                b'"' => {
                    if pending_high.take().is_some() {
                        out.push(char::REPLACEMENT_CHARACTER);
                    }
                    self.bump();
                    return Ok(out);
                }
                b'\\' => {
                    self.bump();
                    let escaped = match self.peek() {
                        None => return Err(self.eof()),
                        Some(b'"') => Some('"'),
                        Some(b'\\') => Some('\\'),
                        Some(b'/') => Some('/'),
                        Some(b'b') => Some('\u{8}'),
                        Some(b'f') => Some('\u{c}'),
                        Some(b'n') => Some('\n'),
                        Some(b'r') => Some('\r'),
                        Some(b't') => Some('\t'),
                        Some(b'u') => None,
                        Some(_) => return Err(self.invalid("in string escape code")),
                    };
                    self.bump();
                    let unit = match escaped {
                        Some(c) => {
                            if pending_high.take().is_some() {
                                out.push(char::REPLACEMENT_CHARACTER);
                            }
                            out.push(c);
                            continue;
                        }
                        None => self.hex4()?,
                    };
                    match (pending_high.take(), unit) {
                        (Some(high), 0xDC00..=0xDFFF) => {
                            let code = 0x10000
                                + ((u32::from(high) - 0xD800) << 10)
                                + (u32::from(unit) - 0xDC00);
                            out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                        }
                        (high, _) => {
                            if high.is_some() {
                                out.push(char::REPLACEMENT_CHARACTER);
                            }
                            match unit {
                                0xD800..=0xDBFF => pending_high = Some(unit),
                                _ => out.push(
                                    char::from_u32(u32::from(unit))
                                        .unwrap_or(char::REPLACEMENT_CHARACTER),
                                ),
                            }
                        }
                    }
                }
                0x00..=0x1F => return Err(self.invalid("in string literal")),
                _ => {
                    if pending_high.take().is_some() {
                        out.push(char::REPLACEMENT_CHARACTER);
                    }
                    self.text_run(&mut out);
                }
            }
        }
    }

    /// Copies plain string bytes up to the next quote, backslash or control byte, replacing
    /// each invalid UTF-8 byte by U+FFFD as Go does.
    fn text_run(&mut self, out: &mut String) {
        let start = self.pos;
        let tail = &self.bytes[start..];
        let quote_or_escape = memchr::memchr2(b'"', b'\\', tail).unwrap_or(tail.len());
        let end = start + first_control_byte(&tail[..quote_or_escape]).unwrap_or(quote_or_escape);
        let mut rest = &self.bytes[start..end];
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    out.push_str(text);
                    rest = &[];
                }
                Err(error) => {
                    let valid = error.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&rest[..valid]));
                    out.push(char::REPLACEMENT_CHARACTER);
                    rest = &rest[valid + 1..];
                }
            }
        }
        self.skip_within_line(end);
    }

    /// Consumes the bytes up to `end`, which hold no newline, keeping the line, column and
    /// last-character mark exactly as [`Parser::bump`] would one byte at a time — in bulk,
    /// because strings in configs can be megabytes of inline `data:` URLs.
    fn skip_within_line(&mut self, end: usize) {
        let start = self.pos;
        if end == start {
            return;
        }
        let starts_char = |b: &u8| *b & 0xC0 != 0x80;
        // Columns counted by `bump`ing `start..n`: one per byte whose successor starts a
        // character, the end of the text included.
        let columns = |n: usize| {
            let successors = &self.bytes[start + 1..(n + 1).min(self.bytes.len())];
            successors.iter().filter(|b| starts_char(b)).count()
                + usize::from(n == self.bytes.len())
        };
        if let Some(offset) = self.bytes[start..end].iter().rposition(starts_char) {
            self.last = Mark::new(self.line, self.column + columns(start + offset));
        }
        self.column += columns(end);
        self.pos = end;
    }

    fn hex4(&mut self) -> Result<u16, SyntaxError> {
        let mut unit: u16 = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                None => return Err(self.eof()),
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                Some(_) => return Err(self.invalid("in \\u hexadecimal character escape")),
            };
            unit = unit * 16 + u16::from(digit);
            self.bump();
        }
        Ok(unit)
    }
}

/// Go's `quoteChar`: the byte as a rune between single quotes, escaped like `strconv.Quote`.
fn quote_char(byte: u8) -> String {
    match byte {
        b'\'' => "'\\''".to_owned(),
        b'"' => "'\"'".to_owned(),
        _ => format!("'{}'", GoQuoted(char::from(byte))),
    }
}

/// One rune escaped the way Go's `strconv.Quote` does.
struct GoQuoted(char);

impl fmt::Display for GoQuoted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        match c {
            '\u{7}' => f.write_str("\\a"),
            '\u{8}' => f.write_str("\\b"),
            '\u{c}' => f.write_str("\\f"),
            '\n' => f.write_str("\\n"),
            '\r' => f.write_str("\\r"),
            '\t' => f.write_str("\\t"),
            '\u{b}' => f.write_str("\\v"),
            '\\' => f.write_str("\\\\"),
            '\u{0}'..='\u{1f}' | '\u{7f}' => write!(f, "\\x{:02x}", u32::from(c)),
            '\u{80}'..='\u{a0}' | '\u{ad}' => write!(f, "\\u{:04x}", u32::from(c)),
            _ => write!(f, "{c}"),
        }
    }
}

/// The index of the first byte below 0x20, which JSON strings must escape. The common
/// answer is "none", found by a branch-free pass the compiler vectorises.
fn first_control_byte(bytes: &[u8]) -> Option<usize> {
    let any = bytes.iter().fold(false, |found, &b| found | (b < 0x20));
    if any {
        bytes.iter().position(|&b| b < 0x20)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> (String, usize, usize) {
        let e = parse_bytes(text.as_bytes()).expect_err("must fail");
        (e.message, e.mark.line, e.mark.column)
    }

    #[test]
    fn keeps_marks_of_keys_and_values() {
        let node = parse("{\n  \"a\": [1, \"x\"],\n  \"b\": {\"c\": null}\n}").unwrap();
        let Value::Map(entries) = &node.value else {
            panic!("map")
        };
        assert_eq!(entries[0].key, "a");
        assert_eq!(entries[0].key_mark, Mark::new(2, 3));
        assert_eq!(entries[0].value.mark, Mark::new(2, 8));
        let Value::Seq(items) = &entries[0].value.value else {
            panic!("seq")
        };
        assert_eq!(items[0].value, Value::Number("1".into()));
        assert_eq!(items[1].mark, Mark::new(2, 12));
        assert_eq!(entries[1].value.get("c").unwrap().value, Value::Null);
        assert_eq!(node.mark, Mark::new(1, 1));
    }

    #[test]
    fn keeps_duplicate_keys_in_order() {
        let node = parse(r#"{"a": 1, "a": 2}"#).unwrap();
        let Value::Map(entries) = &node.value else {
            panic!("map")
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(node.get("a").unwrap().value, Value::Number("2".into()));
    }

    #[test]
    fn keeps_numbers_as_written() {
        let node = parse("[-0.5e+3, 420, 1E2]").unwrap();
        let Value::Seq(items) = node.value else {
            panic!("seq")
        };
        let texts: Vec<_> = items.into_iter().map(|n| n.value).collect();
        assert_eq!(
            texts,
            vec![
                Value::Number("-0.5e+3".into()),
                Value::Number("420".into()),
                Value::Number("1E2".into())
            ]
        );
    }

    #[test]
    fn decodes_escapes_and_surrogates() {
        let node = parse(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x""#).unwrap();
        assert_eq!(
            node.value,
            Value::Str("a\"\\/\u{8}\u{c}\n\r\té😀\u{fffd}x".into())
        );
        let node = parse(r#""\udc00\ud800\u0041""#).unwrap();
        assert_eq!(node.value, Value::Str("\u{fffd}\u{fffd}A".into()));
    }

    #[test]
    fn replaces_invalid_utf8_per_byte() {
        let node = parse_bytes(b"\"a\xff\xfeb\xc3\xa9\"").unwrap();
        assert_eq!(node.value, Value::Str("a\u{fffd}\u{fffd}bé".into()));
    }

    #[test]
    fn counts_columns_in_characters_across_long_strings() {
        let second = |bytes: &[u8]| {
            let Value::Seq(items) = parse_bytes(bytes).unwrap().value else {
                panic!("seq")
            };
            items[1].mark
        };
        assert_eq!(second("[\"aé€😀b\", 1]".as_bytes()), Mark::new(1, 11));
        // An invalid lead byte is a column of its own; a stray continuation byte is not.
        assert_eq!(second(b"[\"a\xff\x80b\", 1]"), Mark::new(1, 9));
        let long = format!("[\"{}\",\n 1]", "é".repeat(100_000));
        assert_eq!(second(long.as_bytes()), Mark::new(2, 2));
        // A truncated string is reported at its last character.
        assert_eq!(
            error("\"aé€"),
            ("unexpected end of JSON input".into(), 1, 4)
        );
    }

    #[test]
    fn words_errors_like_go() {
        assert_eq!(error(""), ("unexpected end of JSON input".into(), 1, 1));
        assert_eq!(
            error("{\"a\":"),
            ("unexpected end of JSON input".into(), 1, 5)
        );
        assert_eq!(
            error("{\n  \"a\" }"),
            ("invalid character '}' after object key".into(), 2, 7)
        );
        assert_eq!(
            error("x"),
            (
                "invalid character 'x' looking for beginning of value".into(),
                1,
                1
            )
        );
        assert_eq!(
            error("{\"a\":1,}"),
            (
                "invalid character '}' looking for beginning of object key string".into(),
                1,
                8
            )
        );
        assert_eq!(
            error("{\"a\":1 \"b\"}"),
            (
                "invalid character '\"' after object key:value pair".into(),
                1,
                8
            )
        );
        assert_eq!(
            error("[1,]"),
            (
                "invalid character ']' looking for beginning of value".into(),
                1,
                4
            )
        );
        assert_eq!(
            error("[1 2]"),
            ("invalid character '2' after array element".into(), 1, 4)
        );
        assert_eq!(
            error("{} {}"),
            ("invalid character '{' after top-level value".into(), 1, 4)
        );
        assert_eq!(
            error("01"),
            ("invalid character '1' after top-level value".into(), 1, 2)
        );
        assert_eq!(
            error("tru "),
            (
                "invalid character ' ' in literal true (expecting 'e')".into(),
                1,
                4
            )
        );
        assert_eq!(
            error("-x"),
            ("invalid character 'x' in numeric literal".into(), 1, 2)
        );
        assert_eq!(
            error("1.e"),
            (
                "invalid character 'e' after decimal point in numeric literal".into(),
                1,
                3
            )
        );
        assert_eq!(error("1e+"), ("unexpected end of JSON input".into(), 1, 3));
        assert_eq!(
            error("\"a\nb\""),
            ("invalid character '\\n' in string literal".into(), 1, 3)
        );
        assert_eq!(
            error(r#""\x""#),
            ("invalid character 'x' in string escape code".into(), 1, 3)
        );
        assert_eq!(
            error(r#""\u12g4""#),
            (
                "invalid character 'g' in \\u hexadecimal character escape".into(),
                1,
                6
            )
        );
        assert_eq!(
            error("\u{feff}{}"),
            (
                "invalid character 'ï' looking for beginning of value".into(),
                1,
                1
            )
        );
        assert_eq!(
            error("[\"é\", \u{1}]"),
            (
                "invalid character '\\x01' looking for beginning of value".into(),
                1,
                7
            )
        );
    }

    #[test]
    fn limits_nesting_depth_without_recursion() {
        let deep_ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&deep_ok).is_ok());
        let too_deep = "[".repeat(MAX_DEPTH + 1);
        let (message, _, column) = error(&too_deep);
        assert_eq!(message, "invalid character '[' exceeded max depth");
        assert_eq!(column, MAX_DEPTH + 1);
        let huge = "[{\"a\":".repeat(200_000);
        assert!(parse(&huge).is_err());
    }
}
