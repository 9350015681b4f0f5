//! JSON output byte-compatible with Go's `encoding/json`, which Ignition and Butane use.
//!
//! Go escapes `<`, `>` and `&` (HTML safety), U+2028 and U+2029, and writes control
//! characters other than `\n`, `\r`, `\t` as `\u00XX`. Users diff our output against
//! Butane's, so we write the same bytes.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};

/// Serializes `value` the way Go's `json.Marshal` (compact) or
/// `json.MarshalIndent(v, "", "  ")` (pretty) would, without a trailing newline.
pub fn to_go_json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> String {
    let mut out = Vec::new();
    write_go_json(value, pretty, &mut out)
        .expect("serializing config types into memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// [`to_go_json`] written to `out` as it is produced: a config embedding large
/// contents need not be held twice.
pub fn write_go_json<T: Serialize + ?Sized>(
    value: &T,
    pretty: bool,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let result = if pretty {
        let mut ser = serde_json::Serializer::with_formatter(
            &mut *out,
            GoFormatter(PrettyFormatter::with_indent(b"  ")),
        );
        value.serialize(&mut ser)
    } else {
        let mut ser =
            serde_json::Serializer::with_formatter(&mut *out, GoFormatter(CompactFormatter));
        value.serialize(&mut ser)
    };
    result.map_err(io::Error::from)
}

/// Go's escape for the HTML-sensitive bytes `<`, `>` and `&`.
fn html_escape(byte: u8) -> &'static str {
    match byte {
        b'<' => "\\u003c",
        b'>' => "\\u003e",
        _ => "\\u0026",
    }
}

/// Wraps a serde_json formatter, changing only string escaping.
struct GoFormatter<F>(F);

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        let mut escape_at = |index: usize, escape: &str, len: usize| {
            writer.write_all(&bytes[start..index])?;
            writer.write_all(escape.as_bytes())?;
            start = index + len;
            io::Result::Ok(())
        };
        // Vectorised searches, not a walk over characters: fragments can be megabytes of
        // inline data. U+2028 and U+2029 are the only escaped characters starting 0xE2,
        // an [`invalid_byte`] starts 0xF4 0x8F 0xBE or 0xF4 0x8F 0xBF.
        if memchr::memchr2(0xE2, 0xF4, bytes).is_none() {
            for index in memchr::memchr3_iter(b'<', b'>', b'&', bytes) {
                escape_at(index, html_escape(bytes[index]), 1)?;
            }
        } else {
            for (index, &byte) in bytes.iter().enumerate() {
                match (byte, bytes.get(index + 1..index + 3)) {
                    (b'<' | b'>' | b'&', _) => escape_at(index, html_escape(byte), 1)?,
                    (0xE2, Some([0x80, 0xA8])) => escape_at(index, "\\u2028", 3)?,
                    (0xE2, Some([0x80, 0xA9])) => escape_at(index, "\\u2029", 3)?,
                    (0xF4, Some([0x8F, 0xBE | 0xBF])) => escape_at(index, "\\ufffd", 4)?,
                    _ => {}
                }
            }
        }
        writer.write_all(&bytes[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let text: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\u0008",
            CharEscape::FormFeed => b"\\u000c",
            CharEscape::AsciiControl(byte) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let bytes = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(byte >> 4) as usize],
                    HEX[(byte & 0xf) as usize],
                ];
                return writer.write_all(&bytes);
            }
        };
        writer.write_all(text)
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferro_document::{go_text, invalid_byte_value};

    #[test]
    fn escapes_like_go() {
        let text = "<a & b>\u{2028}\u{1}\u{8}\n\"é€\u{2029}";
        assert_eq!(
            to_go_json(text, false),
            r#""\u003ca \u0026 b\u003e\u2028\u0001\u0008\n\"é€\u2029""#
        );
        // Without a 0xE2 byte, the vectorised path.
        assert_eq!(
            to_go_json("<a & b>é", false),
            r#""\u003ca \u0026 b\u003eé""#
        );
    }

    // Cases 1128, 2626 of the differential test: a key file with invalid UTF-8.
    #[test]
    fn invalid_bytes_are_written_as_go_does() {
        let text = go_text(b"a\xffb\xf0\x9f\x98 \xef\xbf\xbd".to_vec());
        assert_eq!(
            to_go_json(&text, false),
            "\"a\\ufffdb\\ufffd\\ufffd\\ufffd \u{fffd}\""
        );
        let bytes: Vec<u8> = text.chars().filter_map(invalid_byte_value).collect();
        assert_eq!(bytes, [0xff, 0xf0, 0x9f, 0x98]);
    }

    #[test]
    fn indents_with_two_spaces() {
        let value = serde_json::json!({"a": [1, 2], "b": {}});
        assert_eq!(
            to_go_json(&value, true),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}"
        );
    }
}
