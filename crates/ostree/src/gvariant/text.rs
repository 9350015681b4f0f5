//! The GVariant text form, as GLib's `g_variant_print` writes it: what `ostree summary
//! --view` and `--raw` show, so that scripts reading either tool's output see the same.
//!
//! With `annotate`, a value whose type the text alone would not tell carries it
//! (`uint64 7`, `@as []`); inside a variant the child is always annotated, and in an
//! array or dictionary only the first element is, as GLib does.

use std::fmt::Write;

use super::Error;
use super::typed::{Type, Value};

/// The annotated text form of `data` read as a `type_str` value, its integers
/// byte-swapped first when `byteswap`: `ostree` shows raw metadata so on little-endian
/// hosts (unless `-B`), because OSTree stores many integers big-endian.
pub fn print_serialized(type_str: &str, data: &[u8], byteswap: bool) -> Result<String, Error> {
    let value = Value::decode(&Type::parse(type_str)?, data)?;
    let value = if byteswap { value.byteswapped() } else { value };
    Ok(print(&value, true))
}

/// The text form of `value`.
pub fn print(value: &Value, annotate: bool) -> String {
    let mut out = String::new();
    write_value(&mut out, value, annotate);
    out
}

fn write_value(out: &mut String, value: &Value, annotate: bool) {
    match value {
        Value::Variant(_, child) => {
            out.push('<');
            write_value(out, child, true);
            out.push('>');
        }
        Value::Maybe(inner, child) => {
            if annotate {
                let _ = write!(out, "@m{} ", inner.to_type_string());
            }
            match child {
                None => out.push_str("nothing"),
                Some(child) => {
                    if matches!(inner, Type::Maybe(_)) {
                        out.push_str("just ");
                    }
                    write_value(out, child, false);
                }
            }
        }
        Value::Array(inner, items) => write_array(out, inner, items, annotate),
        Value::Tuple(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item, annotate);
            }
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Value::Entry(key, value) => {
            out.push('{');
            write_value(out, key, annotate);
            out.push_str(", ");
            write_value(out, value, annotate);
            out.push('}');
        }
        basic => {
            let (type_name, text) = basic_text(basic);
            if let (true, Some(name)) = (annotate, type_name) {
                out.push_str(name);
                out.push(' ');
            }
            out.push_str(&text);
        }
    }
}

/// The text of a value of a basic type and, when that text would read as another
/// type, the name of its own.
fn basic_text(value: &Value) -> (Option<&'static str>, String) {
    match value {
        Value::Bool(b) => (None, b.to_string()),
        Value::Byte(b) => (Some("byte"), format!("0x{b:02x}")),
        Value::I16(v) => (Some("int16"), v.to_string()),
        Value::U16(v) => (Some("uint16"), v.to_string()),
        Value::I32(v) => (None, v.to_string()),
        Value::U32(v) => (Some("uint32"), v.to_string()),
        Value::I64(v) => (Some("int64"), v.to_string()),
        Value::U64(v) => (Some("uint64"), v.to_string()),
        Value::Handle(v) => (Some("handle"), v.to_string()),
        Value::Double(v) => (None, double(*v)),
        Value::Str(s) => (None, quoted(s)),
        Value::ObjectPath(s) => (Some("objectpath"), quoted(s)),
        Value::Signature(s) => (Some("signature"), quoted(s)),
        container => (None, print(container, false)),
    }
}

fn write_array(out: &mut String, inner: &Type, items: &[Value], annotate: bool) {
    let byte = |b: &Value| match b {
        Value::Byte(b) => Some(*b),
        _ => None,
    };
    if *inner == Type::Byte
        && let Some(bytes) = items.iter().map(byte).collect::<Option<Vec<u8>>>()
        && let Some((0, body)) = bytes.split_last()
        && !body.contains(&0)
    {
        write_bytestring(out, body);
        return;
    }
    let dictionary = matches!(inner, Type::Entry(..));
    if items.is_empty() {
        if annotate {
            let _ = write!(out, "@a{} ", inner.to_type_string());
        }
        out.push_str(if dictionary { "{}" } else { "[]" });
        return;
    }
    out.push(if dictionary { '{' } else { '[' });
    let mut annotate = annotate;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match item {
            Value::Entry(key, value) if dictionary => {
                write_value(out, key, annotate);
                out.push_str(": ");
                write_value(out, value, annotate);
            }
            other => write_value(out, other, annotate),
        }
        annotate = false;
    }
    out.push(if dictionary { '}' } else { ']' });
}

/// A string in single quotes, or in double quotes when it holds a single quote;
/// the quote in use and backslashes escaped, unprintable characters as C or `\uXXXX`
/// escapes.
fn quoted(s: &str) -> String {
    let mut out = String::new();
    let quote = if s.contains('\'') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c.is_control() => {
                let code = u32::from(c);
                let _ = if code > 0xffff {
                    write!(out, "\\U{code:08x}")
                } else {
                    write!(out, "\\u{code:04x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A NUL-terminated byte string (without its NUL) as `b'…'`, escaped like
/// `g_strescape`: C escapes, other bytes outside printable ASCII in octal.
fn write_bytestring(out: &mut String, bytes: &[u8]) {
    let quote = if bytes.contains(&b'\'') { '"' } else { '\'' };
    out.push('b');
    out.push(quote);
    for &b in bytes {
        match b {
            b'\x08' => out.push_str("\\b"),
            b'\x0c' => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\x0b' => out.push_str("\\v"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(char::from(b)),
            other => {
                let _ = write!(out, "\\{other:03o}");
            }
        }
    }
    out.push(quote);
}

/// A double as C's `%.17g`, with `.0` added when that reads as an integer.
fn double(v: f64) -> String {
    if !v.is_finite() {
        return match (v.is_nan(), v > 0.0) {
            (true, _) => "nan".into(),
            (false, true) => "inf".into(),
            (false, false) => "-inf".into(),
        };
    }
    let scientific = format!("{v:.16e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let text = if !(-4..17).contains(&exponent) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        let decimals = usize::try_from(16 - exponent).unwrap_or(0);
        trim_fraction(&format!("{v:.decimals$}")).to_owned()
    };
    if text.contains(['.', 'e', 'n', 'i']) {
        text
    } else {
        text + ".0"
    }
}

fn trim_fraction(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(data: &[u8]) -> Value {
        Value::Array(Type::Byte, data.iter().map(|&b| Value::Byte(b)).collect())
    }

    fn strings(items: &[&str]) -> Value {
        Value::Array(
            Type::Str,
            items.iter().map(|s| Value::Str((*s).into())).collect(),
        )
    }

    /// Expected texts as GLib 2.74's `g_variant_print` writes them (FALSE | TRUE).
    #[test]
    fn prints_as_glib_does() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (bytes(b"abc\0"), "b'abc'", "b'abc'"),
            (
                bytes(b"ab\0c\0"),
                "[0x61, 0x62, 0x00, 0x63, 0x00]",
                "[byte 0x61, 0x62, 0x00, 0x63, 0x00]",
            ),
            (bytes(b"it's\0"), "b\"it's\"", "b\"it's\""),
            (bytes(b""), "[]", "@ay []"),
            (bytes(b"\0"), "b''", "b''"),
            (bytes(b"a\nb\x01\0"), "b'a\\nb\\001'", "b'a\\nb\\001'"),
            (strings(&[]), "[]", "@as []"),
            (strings(&["a", "b"]), "['a', 'b']", "['a', 'b']"),
            (Value::Str("it's".into()), "\"it's\"", "\"it's\""),
            (
                Value::Str("say \"hi\"".into()),
                "'say \"hi\"'",
                "'say \"hi\"'",
            ),
            (
                Value::Str("both ' and \"".into()),
                "\"both ' and \\\"\"",
                "\"both ' and \\\"\"",
            ),
            (
                Value::Str("tab\tnl\n\\ uni é \u{1}".into()),
                "'tab\\tnl\\n\\\\ uni é \\u0001'",
                "'tab\\tnl\\n\\\\ uni é \\u0001'",
            ),
            (
                Value::Array(Type::U64, vec![Value::U64(1), Value::U64(2)]),
                "[1, 2]",
                "[uint64 1, 2]",
            ),
            (Value::Double(1e20), "1e+20", "1e+20"),
            (
                Value::Double(0.1),
                "0.10000000000000001",
                "0.10000000000000001",
            ),
            (Value::Double(3.0), "3.0", "3.0"),
            (Value::Tuple(vec![Value::I32(1)]), "(1,)", "(1,)"),
            (Value::Tuple(vec![]), "()", "()"),
            (
                Value::Tuple(vec![Value::U32(1), Value::Byte(2)]),
                "(1, 0x02)",
                "(uint32 1, byte 0x02)",
            ),
            (Value::Maybe(Type::I32, None), "nothing", "@mi nothing"),
            (
                Value::Maybe(Type::I32, Some(Box::new(Value::I32(5)))),
                "5",
                "@mi 5",
            ),
            (
                Value::Variant(Type::Array(Box::new(Type::Str)), Box::new(strings(&[]))),
                "<@as []>",
                "<@as []>",
            ),
            (
                Value::ObjectPath("/a/b".into()),
                "'/a/b'",
                "objectpath '/a/b'",
            ),
            (Value::Signature("as".into()), "'as'", "signature 'as'"),
            (Value::I16(-3), "-3", "int16 -3"),
            (Value::U16(3), "3", "uint16 3"),
            (Value::I64(-5), "-5", "int64 -5"),
            (Value::Handle(1), "1", "handle 1"),
            (Value::Byte(255), "0xff", "byte 0xff"),
        ];
        for (value, plain, annotated) in cases {
            assert_eq!(print(&value, false), plain, "{value:?}");
            assert_eq!(print(&value, true), annotated, "{value:?}");
        }
    }

    #[test]
    fn dictionaries_annotate_their_first_entry_only() {
        let entry = |k: &str, v: Value| {
            Value::Entry(
                Box::new(Value::Str(k.into())),
                Box::new(Value::Variant(Type::U64, Box::new(v))),
            )
        };
        let dict_type = Type::Entry(Box::new(Type::Str), Box::new(Type::Variant));
        let dict = Value::Array(
            dict_type.clone(),
            vec![entry("a", Value::U64(1)), entry("b", Value::U64(2))],
        );
        assert_eq!(print(&dict, false), "{'a': <uint64 1>, 'b': <uint64 2>}");
        assert_eq!(print(&Value::Array(dict_type, vec![]), true), "@a{sv} {}");
    }
}
