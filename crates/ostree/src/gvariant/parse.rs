//! Reading the GVariant text form, as GLib's `g_variant_parse` does for `ostree commit
//! --add-metadata KEY=VALUE` and `ostree summary -m KEY=VALUE`: `'text'`, `uint64 5`,
//! `[1, 2]`, `{'k': <true>}`, `@as []`, `b'bytes'` and the rest.
//!
//! The text is read into a tree first and typed second, so that the type of a
//! container comes from whichever element says it (`[1, uint64 2]` is an `at`), and a
//! bare number is an `int32`, or a `double` when written with a point or exponent.
//! Nesting is bounded as in the decoder, so hostile text gives an [`Error`].

use super::typed::{Type, Value};
use super::{Error, err};

/// How deep values may nest.
const MAX_DEPTH: usize = 64;

/// Parses `text` as one value, of type `expected` when given.
pub fn parse(text: &str, expected: Option<&Type>) -> Result<Value, Error> {
    let mut reader = Reader { text, pos: 0 };
    let tree = reader.value(0)?;
    reader.skip_space();
    if reader.pos != text.len() {
        return Err(reader.error("text after the value"));
    }
    infer(&tree, expected)
}

/// A value as written, before it is typed.
enum Tree {
    Bool(bool),
    /// The number as written, sign included.
    Number(String),
    Str(String),
    /// A `b'…'` byte string, without the NUL the value ends with.
    Bytes(Vec<u8>),
    Array(Vec<Tree>),
    Dict(Vec<(Tree, Tree)>),
    Entry(Box<Tree>, Box<Tree>),
    Tuple(Vec<Tree>),
    Variant(Box<Tree>),
    Nothing,
    Just(Box<Tree>),
    Typed(Type, Box<Tree>),
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, detail: &str) -> Error {
        err(
            "text",
            format!("{detail} at character {} of '{}'", self.pos + 1, self.text),
        )
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    /// Consumes `c` (after white space) if it comes next.
    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), Error> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Tree, Error> {
        if depth > MAX_DEPTH {
            return Err(self.error("values nested too deeply"));
        }
        self.skip_space();
        let Some(c) = self.peek() else {
            return Err(self.error("expected a value"));
        };
        match c {
            '[' => {
                self.pos += 1;
                Ok(Tree::Array(self.items(']', depth)?))
            }
            '(' => {
                self.pos += 1;
                Ok(Tree::Tuple(self.items(')', depth)?))
            }
            '{' => self.braces(depth),
            '<' => {
                self.pos += 1;
                let inner = self.value(depth + 1)?;
                self.expect('>')?;
                Ok(Tree::Variant(Box::new(inner)))
            }
            '\'' | '"' => Ok(Tree::Str(self.string()?)),
            '@' => {
                self.pos += 1;
                let (ty, used) = Type::parse_leading(self.rest())
                    .map_err(|e| self.error(&format!("bad type after '@' ({})", e.detail)))?;
                self.pos += used;
                let inner = self.value(depth + 1)?;
                Ok(Tree::Typed(ty, Box::new(inner)))
            }
            'b' if self.rest()[1..].starts_with(['\'', '"']) => {
                self.pos += 1;
                Ok(Tree::Bytes(self.quoted(true)?))
            }
            c if c.is_ascii_digit() || matches!(c, '-' | '+' | '.') => {
                Ok(Tree::Number(self.number()))
            }
            c if c.is_ascii_alphabetic() => self.keyword(depth),
            other => Err(self.error(&format!("'{other}' does not start a value"))),
        }
    }

    /// Comma-separated values up to `close`; a comma may end the list.
    fn items(&mut self, close: char, depth: usize) -> Result<Vec<Tree>, Error> {
        let mut items = Vec::new();
        while !self.eat(close) {
            items.push(self.value(depth + 1)?);
            if !self.eat(',') {
                self.expect(close)?;
                break;
            }
        }
        Ok(items)
    }

    /// `{k: v, …}` (a dictionary) or `{k, v}` (one entry).
    fn braces(&mut self, depth: usize) -> Result<Tree, Error> {
        self.pos += 1;
        if self.eat('}') {
            return Ok(Tree::Dict(Vec::new()));
        }
        let key = self.value(depth + 1)?;
        if self.eat(',') {
            let value = self.value(depth + 1)?;
            self.expect('}')?;
            return Ok(Tree::Entry(Box::new(key), Box::new(value)));
        }
        self.expect(':')?;
        let mut entries = vec![(key, self.value(depth + 1)?)];
        while self.eat(',') {
            if self.eat('}') {
                return Ok(Tree::Dict(entries));
            }
            let key = self.value(depth + 1)?;
            self.expect(':')?;
            entries.push((key, self.value(depth + 1)?));
        }
        self.expect('}')?;
        Ok(Tree::Dict(entries))
    }

    fn number(&mut self) -> String {
        let rest = self.rest();
        let mut end = 0;
        let mut previous = ' ';
        for (i, c) in rest.char_indices() {
            let sign_ok = i == 0 || matches!(previous, 'e' | 'E') && !rest.starts_with("0x");
            if !(c.is_ascii_alphanumeric() || c == '.' || (matches!(c, '+' | '-') && sign_ok)) {
                break;
            }
            end = i + c.len_utf8();
            previous = c;
        }
        self.pos += end;
        rest[..end].to_owned()
    }

    /// A quoted string, escapes resolved.
    fn string(&mut self) -> Result<String, Error> {
        let bytes = self.quoted(false)?;
        if bytes.contains(&0) {
            // A GVariant string ends at its one NUL.
            return Err(self.error("a string cannot hold the character NUL (\\0)"));
        }
        String::from_utf8(bytes).map_err(|_| self.error("string is not UTF-8"))
    }

    /// The bytes of a quoted text; octal escapes are bytes in a byte string (`b'\377'`)
    /// and characters in a string.
    fn quoted(&mut self, byte_string: bool) -> Result<Vec<u8>, Error> {
        let quote = self.peek().unwrap_or('\'');
        self.pos += 1;
        let mut out = Vec::new();
        let push = |out: &mut Vec<u8>, c: char| {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        };
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    match e {
                        'a' => out.push(0x07),
                        'b' => out.push(0x08),
                        'f' => out.push(0x0c),
                        'n' => out.push(b'\n'),
                        'r' => out.push(b'\r'),
                        't' => out.push(b'\t'),
                        'v' => out.push(0x0b),
                        'u' | 'U' => {
                            let digits = if e == 'u' { 4 } else { 8 };
                            let hex: String = chars.by_ref().take(digits).map(|(_, c)| c).collect();
                            let ch = u32::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == digits)
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.error(&format!("bad escape '\\{e}{hex}'")))?;
                            push(&mut out, ch);
                        }
                        '0'..='7' => {
                            // Up to three octal digits, as C and GLib read them.
                            let mut code = e.to_digit(8).unwrap_or(0);
                            for _ in 0..2 {
                                match chars.clone().next() {
                                    Some((_, d)) if d.is_digit(8) => {
                                        code = code * 8 + d.to_digit(8).unwrap_or(0);
                                        chars.next();
                                    }
                                    _ => break,
                                }
                            }
                            match (byte_string, u8::try_from(code)) {
                                (true, Ok(byte)) => out.push(byte),
                                _ => push(&mut out, char::from_u32(code).unwrap_or('\u{fffd}')),
                            }
                        }
                        other => push(&mut out, other),
                    }
                }
                c => push(&mut out, c),
            }
        }
        Err(self.error("unterminated string"))
    }

    /// `true`, `false`, `nothing`, `just V`, `inf`, `nan`, or a type keyword before a
    /// value (`uint64 5`).
    fn keyword(&mut self, depth: usize) -> Result<Tree, Error> {
        let word: String = self
            .rest()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        self.pos += word.len();
        let ty = match word.as_str() {
            "true" => return Ok(Tree::Bool(true)),
            "false" => return Ok(Tree::Bool(false)),
            "nothing" => return Ok(Tree::Nothing),
            "inf" | "nan" => return Ok(Tree::Number(word)),
            "just" => return Ok(Tree::Just(Box::new(self.value(depth + 1)?))),
            "boolean" => Type::Bool,
            "byte" => Type::Byte,
            "int16" => Type::I16,
            "uint16" => Type::U16,
            "int32" => Type::I32,
            "uint32" => Type::U32,
            "int64" => Type::I64,
            "uint64" => Type::U64,
            "handle" => Type::Handle,
            "double" => Type::Double,
            "string" => Type::Str,
            "objectpath" => Type::ObjectPath,
            "signature" => Type::Signature,
            _ => return Err(self.error(&format!("unknown word '{word}'"))),
        };
        Ok(Tree::Typed(ty, Box::new(self.value(depth + 1)?)))
    }
}

fn mismatch(tree: &Tree, ty: &Type) -> Error {
    let what = match tree {
        Tree::Bool(_) => "a boolean",
        Tree::Number(_) => "a number",
        Tree::Str(_) => "a string",
        Tree::Bytes(_) => "a byte string",
        Tree::Array(_) => "an array",
        Tree::Dict(_) => "a dictionary",
        Tree::Entry(..) => "a dictionary entry",
        Tree::Tuple(_) => "a tuple",
        Tree::Variant(_) => "a variant",
        Tree::Nothing | Tree::Just(_) => "a maybe value",
        Tree::Typed(..) => "a value of another type",
    };
    err(
        "text",
        format!("{what} cannot be a value of type '{}'", ty.to_type_string()),
    )
}

fn is_float(text: &str) -> bool {
    !text.starts_with("0x") && !text.starts_with("-0x") && text.contains(['.', 'e', 'E', 'n', 'i'])
}

/// The type `tree` has whatever its context: `None` for bare numbers and for
/// containers that hold only such.
fn certain_type(tree: &Tree) -> Option<Type> {
    match tree {
        Tree::Typed(ty, _) => Some(ty.clone()),
        Tree::Bool(_) => Some(Type::Bool),
        Tree::Str(_) => Some(Type::Str),
        Tree::Bytes(_) => Some(Type::Array(Box::new(Type::Byte))),
        Tree::Variant(_) => Some(Type::Variant),
        Tree::Number(_) | Tree::Nothing => None,
        Tree::Just(inner) => certain_type(inner).map(|t| Type::Maybe(Box::new(t))),
        Tree::Array(items) => items
            .iter()
            .find_map(certain_type)
            .map(|t| Type::Array(Box::new(t))),
        Tree::Dict(entries) => {
            let key = entries.iter().find_map(|(k, _)| certain_type(k))?;
            let value = entries.iter().find_map(|(_, v)| certain_type(v))?;
            Some(Type::Array(Box::new(Type::Entry(
                Box::new(key),
                Box::new(value),
            ))))
        }
        Tree::Entry(key, value) => Some(Type::Entry(
            Box::new(certain_type(key)?),
            Box::new(certain_type(value)?),
        )),
        Tree::Tuple(items) => items
            .iter()
            .map(certain_type)
            .collect::<Option<Vec<_>>>()
            .map(Type::Tuple),
    }
}

/// The one type for all of `trees`: the first certain one, else `double` if any is
/// written as one, else whatever the first is on its own.
fn common_type<'a>(trees: impl Iterator<Item = &'a Tree> + Clone) -> Result<Option<Type>, Error> {
    if let Some(ty) = trees.clone().find_map(certain_type) {
        return Ok(Some(ty));
    }
    if trees
        .clone()
        .any(|t| matches!(t, Tree::Number(n) if is_float(n)))
    {
        return Ok(Some(Type::Double));
    }
    trees
        .clone()
        .next()
        .map(|first| infer(first, None).map(|v| v.type_of()))
        .transpose()
}

fn integer<T: TryFrom<i128>>(text: &str, ty: &Type) -> Result<T, Error> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
        i128::from_str_radix(hex, 16)
    } else if digits.len() > 1 && digits.starts_with('0') {
        i128::from_str_radix(&digits[1..], 8)
    } else {
        digits.parse()
    };
    let value = magnitude
        .map(|m| if negative { -m } else { m })
        .map_err(|_| err("text", format!("'{text}' is not a number")))?;
    T::try_from(value).map_err(|_| {
        err(
            "text",
            format!("{text} is out of range for type '{}'", ty.to_type_string()),
        )
    })
}

fn infer(tree: &Tree, expected: Option<&Type>) -> Result<Value, Error> {
    let wrong = |ty: &Type| mismatch(tree, ty);
    Ok(match (tree, expected) {
        (Tree::Typed(ty, inner), Some(want)) if ty != want => return Err(mismatch(inner, want)),
        (Tree::Typed(ty, inner), _) => infer(inner, Some(ty))?,
        (Tree::Bool(b), None | Some(Type::Bool)) => Value::Bool(*b),
        (Tree::Number(n), None) if is_float(n) => infer(tree, Some(&Type::Double))?,
        (Tree::Number(_), None) => infer(tree, Some(&Type::I32))?,
        (Tree::Number(n), Some(ty)) => match ty {
            Type::Byte => Value::Byte(integer(n, ty)?),
            Type::I16 => Value::I16(integer(n, ty)?),
            Type::U16 => Value::U16(integer(n, ty)?),
            Type::I32 => Value::I32(integer(n, ty)?),
            Type::U32 => Value::U32(integer(n, ty)?),
            Type::I64 => Value::I64(integer(n, ty)?),
            Type::U64 => Value::U64(integer(n, ty)?),
            Type::Handle => Value::Handle(integer(n, ty)?),
            Type::Double => Value::Double(
                n.parse()
                    .map_err(|_| err("text", format!("'{n}' is not a number")))?,
            ),
            other => return Err(wrong(other)),
        },
        (Tree::Str(s), None | Some(Type::Str)) => Value::Str(s.clone()),
        (Tree::Str(s), Some(Type::ObjectPath)) => Value::ObjectPath(s.clone()),
        (Tree::Str(s), Some(Type::Signature)) => Value::Signature(s.clone()),
        (Tree::Bytes(_), None) => infer(tree, Some(&Type::Array(Box::new(Type::Byte))))?,
        (Tree::Bytes(bytes), Some(Type::Array(inner))) if **inner == Type::Byte => Value::Array(
            Type::Byte,
            bytes
                .iter()
                .chain(std::iter::once(&0))
                .map(|&b| Value::Byte(b))
                .collect(),
        ),
        (Tree::Array(items), Some(Type::Array(inner))) => Value::Array(
            (**inner).clone(),
            items
                .iter()
                .map(|item| infer(item, Some(inner)))
                .collect::<Result<_, _>>()?,
        ),
        (Tree::Array(items), None) => {
            let inner = common_type(items.iter())?.ok_or_else(|| {
                err(
                    "text",
                    "the type of an empty array is unknown: write it as '@as []'",
                )
            })?;
            infer(tree, Some(&Type::Array(Box::new(inner))))?
        }
        (Tree::Dict(entries), Some(Type::Array(inner))) => {
            let Type::Entry(key_type, value_type) = &**inner else {
                return Err(wrong(inner));
            };
            let entries = entries
                .iter()
                .map(|(k, v)| {
                    Ok(Value::Entry(
                        Box::new(infer(k, Some(key_type))?),
                        Box::new(infer(v, Some(value_type))?),
                    ))
                })
                .collect::<Result<_, Error>>()?;
            Value::Array((**inner).clone(), entries)
        }
        (Tree::Dict(entries), None) => {
            let unknown = || {
                err(
                    "text",
                    "the type of an empty dictionary is unknown: write it as '@a{sv} {}'",
                )
            };
            let key = common_type(entries.iter().map(|(k, _)| k))?.ok_or_else(unknown)?;
            let value = common_type(entries.iter().map(|(_, v)| v))?.ok_or_else(unknown)?;
            let entry = Type::Entry(Box::new(key), Box::new(value));
            infer(tree, Some(&Type::Array(Box::new(entry))))?
        }
        (Tree::Entry(key, value), expected) => {
            let (key_type, value_type) = match expected {
                Some(Type::Entry(k, v)) => (Some(&**k), Some(&**v)),
                None => (None, None),
                Some(other) => return Err(wrong(other)),
            };
            Value::Entry(
                Box::new(infer(key, key_type)?),
                Box::new(infer(value, value_type)?),
            )
        }
        (Tree::Tuple(items), None) => Value::Tuple(
            items
                .iter()
                .map(|item| infer(item, None))
                .collect::<Result<_, _>>()?,
        ),
        (Tree::Tuple(items), Some(Type::Tuple(members))) if items.len() == members.len() => {
            Value::Tuple(
                items
                    .iter()
                    .zip(members)
                    .map(|(item, member)| infer(item, Some(member)))
                    .collect::<Result<_, _>>()?,
            )
        }
        (Tree::Variant(inner), None | Some(Type::Variant)) => {
            let value = infer(inner, None)?;
            Value::Variant(value.type_of(), Box::new(value))
        }
        (Tree::Nothing, Some(Type::Maybe(inner))) => Value::Maybe((**inner).clone(), None),
        (Tree::Just(inner), Some(Type::Maybe(element))) => Value::Maybe(
            (**element).clone(),
            Some(Box::new(infer(inner, Some(element))?)),
        ),
        (Tree::Just(inner), None) => {
            let value = infer(inner, None)?;
            Value::Maybe(value.type_of(), Some(Box::new(value)))
        }
        (Tree::Nothing, None) => {
            return Err(err(
                "text",
                "the type of 'nothing' is unknown: write it as '@mi nothing'",
            ));
        }
        (_, Some(ty)) => return Err(wrong(ty)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gvariant::text::print;

    /// Texts as `g_variant_parse` reads them, shown back annotated.
    #[test]
    fn reads_what_glib_reads() {
        let cases = [
            ("'it''", None),
            ("'text'", Some("'text'")),
            ("\"it's\"", Some("\"it's\"")),
            ("uint64 5", Some("uint64 5")),
            ("5", Some("5")),
            ("-5", Some("-5")),
            ("2.5", Some("2.5")),
            ("1e3", Some("1000.0")),
            ("0x1f", Some("31")),
            ("true", Some("true")),
            ("[1, uint64 2]", Some("[uint64 1, 2]")),
            ("[1, 2.5]", Some("[1.0, 2.5]")),
            ("['a', 'b']", Some("['a', 'b']")),
            ("@as []", Some("@as []")),
            ("[]", None),
            ("{'a': <1>, 'b': <'x'>}", Some("{'a': <1>, 'b': <'x'>}")),
            ("@a{sv} {}", Some("@a{sv} {}")),
            ("{1, 'x'}", Some("{1, 'x'}")),
            ("(1, 'x', <true>)", Some("(1, 'x', <true>)")),
            ("(1,)", Some("(1,)")),
            ("()", Some("()")),
            ("b'abc'", Some("b'abc'")),
            ("b'\\001\\377x'", Some("b'\\001\\377x'")),
            ("[byte 0x01, 0x02]", Some("[byte 0x01, 0x02]")),
            ("@mi nothing", Some("@mi nothing")),
            ("just 5", Some("@mi 5")),
            ("nothing", None),
            ("objectpath '/a'", Some("objectpath '/a'")),
            ("'tab\\tq\\'\\u00e9'", Some("\"tab\\tq'é\"")),
            ("<<['a', 'b']>>", Some("<<['a', 'b']>>")),
            ("byte 300", None),
            ("[1, 'a']", None),
            ("(1, 2", None),
            ("'unterminated", None),
            ("'nul\\u0000inside'", None),
            ("'nul\\0'", None),
            ("'nul\u{0}raw'", None),
            ("5 6", None),
        ];
        for (text, shown) in cases {
            let parsed = parse(text, None);
            match shown {
                Some(shown) => assert_eq!(print(&parsed.unwrap(), true), shown, "{text}"),
                None => assert!(parsed.is_err(), "{text} parsed as {parsed:?}"),
            }
        }
    }

    #[test]
    fn an_expected_type_types_bare_values() {
        let ty = Type::parse("at").unwrap();
        let value = parse("[1, 2]", Some(&ty)).unwrap();
        assert_eq!(print(&value, true), "[uint64 1, 2]");
        assert!(parse("['a']", Some(&ty)).is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(10_000);
        assert!(parse(&deep, None).is_err());
    }
}
