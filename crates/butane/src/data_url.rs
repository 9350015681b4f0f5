//! Embedding file contents in a config as the shortest `data:` URL.
//!
//! Butane picks, byte for byte, the shortest of three encodings: percent-escaped text,
//! base64, or gzip+base64 (which must win by more than the four bytes the word `gzip`
//! costs in the `compression` field). Users compare our output with Butane's, so the
//! rule is reproduced exactly.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Bytes RFC 2396 leaves unescaped besides letters and digits.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Extra cost of choosing gzip: the `gzip` in `"compression":"gzip"`.
const GZIP_NAME_COST: usize = 4;

/// A `data:` URL and whether its payload is gzip-compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataUrl {
    /// The URL.
    pub url: String,
    /// Whether the payload was compressed, so `compression` must say `gzip`.
    pub gzipped: bool,
}

/// The shortest `data:` URL for `contents`; gzip is considered only if `allow_gzip`.
pub fn encode(contents: &[u8], allow_gzip: bool) -> DataUrl {
    let escaped = percent_escape(contents);
    let base64 = format!(";base64,{}", STANDARD.encode(contents));
    let mut best = if base64.len() < escaped.len() {
        base64
    } else {
        escaped
    };
    let mut gzipped = false;
    if allow_gzip {
        let compressed = format!(";base64,{}", STANDARD.encode(gzip(contents)));
        if compressed.len() + GZIP_NAME_COST < best.len() {
            best = compressed;
            gzipped = true;
        }
    }
    DataUrl {
        url: format!("data:{best}"),
        gzipped,
    }
}

/// The percent-escaped form alone, as Butane's oldest spec (fcos 1.0.0) always writes.
pub fn encode_escaped(contents: &[u8]) -> String {
    format!("data:{}", percent_escape(contents))
}

fn percent_escape(contents: &[u8]) -> String {
    // Escaping works on bytes; non-UTF-8 input is escaped byte by byte too.
    let mut out = String::from(",");
    for chunk in contents.utf8_chunks() {
        out.extend(utf8_percent_encode(chunk.valid(), ESCAPED));
        for byte in chunk.invalid() {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn gzip(contents: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder
        .write_all(contents)
        .and_then(|()| encoder.finish())
        .expect("compressing into memory cannot fail")
}

/// The payload of a `data:` URL (`data:[type][;base64],payload`), or `None` if `url` is
/// not a well-formed data URL.
pub fn decode(url: &str) -> Option<Vec<u8>> {
    let rest = url.strip_prefix("data:")?;
    let (meta, payload) = rest.split_once(',')?;
    if meta.ends_with(";base64") {
        STANDARD.decode(payload).ok()
    } else {
        Some(percent_encoding::percent_decode_str(payload).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_percent_escaped() {
        let url = encode(b"Hello, world!", true);
        assert_eq!(url.url, "data:,Hello%2C%20world!");
        assert!(!url.gzipped);
        assert_eq!(encode(b"", true).url, "data:,");
    }

    #[test]
    fn binary_is_base64_when_shorter() {
        let url = encode(&[0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa], true);
        assert_eq!(url.url, "data:;base64,//79/Pv6");
    }

    #[test]
    fn repetitive_text_is_gzipped_only_when_allowed() {
        let text = "a".repeat(1000);
        let gz = encode(text.as_bytes(), true);
        assert!(gz.gzipped);
        assert!(gz.url.starts_with("data:;base64,H4sI"));
        let plain = encode(text.as_bytes(), false);
        assert!(!plain.gzipped);
        assert_eq!(plain.url, format!("data:,{text}"));
    }

    #[test]
    fn decodes_what_it_encodes() {
        for contents in [&b"Hello, world!"[..], &[0xff, 0xfe, 0], &b"a".repeat(100)] {
            let url = encode(contents, false);
            assert_eq!(decode(&url.url).unwrap(), contents);
        }
        assert_eq!(decode("https://x"), None);
    }

    #[test]
    fn escapes_non_ascii_per_utf8_byte() {
        assert_eq!(encode_escaped("é\n".as_bytes()), "data:,%C3%A9%0A");
        assert_eq!(encode_escaped(&[0x80, b'a']), "data:,%80a");
    }
}
