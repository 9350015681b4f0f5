//! `data:` URLs (RFC 2397): the one codec behind Ignition's validation and fetching and
//! Butane's embedding of file contents.
//!
//! Every tool of the family must agree on which data URLs exist: a URL that Butane
//! emits, that `ferro ignition validate` passes and that the files stage then refuses
//! (or the other way round) is a config that works in one place and fails at first boot
//! in another. So there is one grammar, Ignition's, and it is used for all three.
//!
//! # What is accepted
//!
//! Exactly what Ignition accepts: its validation and its fetcher both decode with the
//! `dataurl` Go package, whose rules were checked one by one against the reference
//! Butane (which validates with Ignition's code). The parts are
//! `data:[<type>/<subtype>][;<attribute>=<value>]*[;base64],<data>`, where
//!
//! * the prefix is the lower-case `data:` (the fetcher lower-cases a URL's scheme
//!   first, as Go's URL parser does, so only validation sees the difference);
//! * the type, when present, is a token starting with `text`, `image`, `audio`, `video`,
//!   `application`, `message` or `multipart` (compared case-sensitively, as prefixes), or
//!   an `x-` extension token; the subtype is a possibly empty token;
//! * a parameter value is a non-empty token, percent-decoded, or a quoted string with Go
//!   escapes (`"a\"b"`); an empty quoted value sets nothing (and, as in `dataurl`, makes
//!   the next unquoted value literal);
//! * `;base64` is the last parameter, spelt in lower case;
//! * plain data is printable ASCII other than space and ``<>#"{}|\^[]` `` with strict
//!   `%XX` escapes (a `%` without two hex digits is an error, never a literal `%`);
//!   base64 data is the standard alphabet with the padding Go's `StdEncoding` requires
//!   (no white space, no missing `=`), trailing bits ignored.
//!
//! Error messages are the `dataurl` package's, since `ignition-validate` and Butane print
//! them as the reason a config is invalid.
//!
//! Before this module, ferrocore's fetcher also accepted upper-case schemes, any media
//! type, `;base64` anywhere, white space and missing padding in base64, and `%` without
//! hex digits; its validator accepted non-ASCII and space in the data, other media types
//! and bad parameter escapes. Both now follow the grammar above.
//!
//! # What is emitted
//!
//! Butane's choice, byte for byte ([`embed`]): the shorter of percent-escaped text and
//! base64, and gzip+base64 only when it is shorter by more than the four bytes the word
//! `gzip` costs in the resource's `compression` field. Escaping keeps RFC 2396's
//! unreserved characters (letters, digits, `-_.!~*'()`) and writes every other byte as
//! `%XX` with upper-case hex. The gzip bytes are Go's too (`gzip`: a faithful
//! re-implementation of Go's level-9 compressor), so the choice and the output match
//! Butane's exactly.

mod gzip;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Why text is not a `data:` URL; the messages are those of Go's `dataurl` package.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataUrlError {
    /// The text does not start with `data:`.
    #[error("missing data prefix")]
    MissingPrefix,
    /// The text ends before the `,` that starts the data.
    #[error("missing comma before data")]
    MissingComma,
    /// The first character after `data:` starts neither a type, a parameter nor the data.
    #[error("invalid character after data prefix")]
    InvalidAfterPrefix,
    /// The text ends inside the media type, before its `/`.
    #[error("missing media type slash")]
    MissingSlash,
    /// The media type holds a character that is not allowed in a token.
    #[error("invalid character for media type")]
    InvalidTypeCharacter,
    /// The media type is neither a known top-level type nor an `x-` extension.
    #[error("invalid media type")]
    InvalidMediaType,
    /// The text ends inside the media subtype.
    #[error("incomplete media type")]
    IncompleteMediaType,
    /// The media subtype holds a character that is not allowed in a token.
    #[error("invalid character for media subtype")]
    InvalidSubtypeCharacter,
    /// Something other than `;` or `,` follows a subtype or a parameter.
    #[error("expected semicolon or comma")]
    ExpectedSemicolonOrComma,
    /// A parameter has no attribute, or the text ends inside one.
    #[error("unterminated parameter sequence")]
    UnterminatedParameter,
    /// A parameter attribute holds a character that is not allowed in a token.
    #[error("invalid character for parameter attribute")]
    InvalidAttributeCharacter,
    /// The last parameter has no value and is not `base64`.
    #[error("expected base64, got {0}")]
    ExpectedBase64(String),
    /// A parameter value is empty or holds a character not allowed in a token.
    #[error("invalid character for parameter value")]
    InvalidValueCharacter,
    /// A quoted parameter value has no closing quote.
    #[error("unclosed quoted string")]
    UnclosedQuote,
    /// A backslash in a quoted parameter value escapes a non-ASCII character.
    #[error("invalid escaped character")]
    InvalidEscapedCharacter,
    /// A quoted parameter value has an escape Go does not know.
    #[error("invalid syntax")]
    InvalidQuotedString,
    /// The data holds a character that must be escaped (or, for base64, is not base64).
    #[error("invalid data character")]
    InvalidDataCharacter,
    /// A `%` is not followed by two hex digits.
    #[error("rfc2396: invalid char 0x25 in unescape sequence")]
    InvalidEscape,
    /// The text ends within two characters of a `%`.
    #[error("rfc2396: unexpected end of unescape sequence")]
    UnexpectedEndOfEscape,
    /// The base64 data is not padded to whole quanta, or has data after its padding.
    #[error("illegal base64 data at input byte {0}")]
    IllegalBase64(usize),
}

/// How the payload of a URL is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Percent-escaped bytes (`data:,a%20b`): the shorter form for text.
    Percent,
    /// Standard padded base64 (`data:;base64,YSBi`): the shorter form for binary data.
    Base64,
}

/// A decoded `data:` URL: its media type, parameters and payload.
///
/// Parsing ([`DataUrl::parse`]) and checking ([`DataUrl::check`]) accept exactly the URLs
/// Ignition accepts (see the [module documentation](self) for the grammar, and for how
/// that differs from what ferrocore's three former codecs accepted); encoding
/// ([`DataUrl::encode`]) writes URLs that parse back to the same value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataUrl {
    media_type: Option<String>,
    params: Vec<(String, String)>,
    data: Vec<u8>,
}

impl DataUrl {
    /// A URL carrying `data` with no media type (Ignition reads it as
    /// `text/plain;charset=US-ASCII`, and ignores the type anyway).
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        DataUrl {
            data: data.into(),
            ..DataUrl::default()
        }
    }

    /// Decodes `text`, accepting exactly what Ignition accepts.
    pub fn parse(text: &str) -> Result<Self, DataUrlError> {
        let parts = Parts::scan(text)?;
        let data = if parts.base64 {
            base64_decode(parts.data)?
        } else {
            percent_decode(parts.data)
        };
        Ok(DataUrl {
            media_type: parts.media_type.map(str::to_owned),
            params: parts.params,
            data,
        })
    }

    /// Whether `text` is a data URL Ignition accepts, without building its payload:
    /// validation checks every source of a config, and inline contents can be megabytes.
    /// `check(t).is_ok()` is always `parse(t).is_ok()`, with the same error.
    pub fn check(text: &str) -> Result<(), DataUrlError> {
        Parts::scan(text).map(drop)
    }

    /// Sets the media type (`type/subtype`, checked against the grammar), so that
    /// URLs with one can be built and round-tripped.
    pub fn with_media_type(mut self, media_type: &str) -> Result<Self, DataUrlError> {
        let written = format!("data:{media_type},");
        let parts = Parts::scan(&written)?;
        if parts.media_type != Some(media_type) || !parts.params.is_empty() {
            return Err(DataUrlError::InvalidTypeCharacter);
        }
        self.media_type = Some(media_type.to_owned());
        Ok(self)
    }

    /// Sets a parameter (replacing one of the same attribute, as Ignition keeps the
    /// last); the attribute must be a token and the value non-empty, since an empty
    /// value cannot be written so that Ignition reads it back.
    pub fn with_param(mut self, attribute: &str, value: &str) -> Result<Self, DataUrlError> {
        let mut written = format!("data:;{attribute}=");
        escape_into(value.as_bytes(), is_plain_in_value, &mut written);
        written.push(',');
        let parts = Parts::scan(&written)?;
        if parts.params.len() != 1 || parts.params[0].0 != attribute {
            return Err(DataUrlError::InvalidAttributeCharacter);
        }
        set_param(&mut self.params, attribute.to_owned(), value.to_owned());
        Ok(self)
    }

    /// The media type as written (`type/subtype`), if the URL has one.
    pub fn media_type(&self) -> Option<&str> {
        self.media_type.as_deref()
    }

    /// The parameters (other than `base64`), values decoded, in the order first written.
    /// Values are text: bytes that are not UTF-8 are replaced, as nothing reads them.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The payload.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The payload, without copying it.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// The URL with its payload written in `encoding`.
    pub fn encode(&self, encoding: Encoding) -> String {
        let mut out = String::from("data:");
        if let Some(media_type) = &self.media_type {
            out.push_str(media_type);
        }
        for (attribute, value) in &self.params {
            out.push(';');
            out.push_str(attribute);
            out.push('=');
            escape_into(value.as_bytes(), is_plain_in_value, &mut out);
        }
        push_payload(&self.data, encoding, &mut out);
        out
    }

    /// The shorter of the two encodings (percent-escaped on a tie), as Butane chooses.
    pub fn encode_shortest(&self) -> String {
        self.encode(shorter_encoding(&self.data).0)
    }
}

impl std::str::FromStr for DataUrl {
    type Err = DataUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DataUrl::parse(text)
    }
}

/// `data:,<escaped>` or `data:;base64,<base64>` for `contents`, without copying them
/// into a [`DataUrl`] first.
pub fn encode(contents: &[u8], encoding: Encoding) -> String {
    let mut out = String::from("data:");
    push_payload(contents, encoding, &mut out);
    out
}

/// A resource source carrying file contents, as Butane embeds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    /// The `data:` URL.
    pub url: String,
    /// Whether the payload is gzip-compressed, so the resource's `compression` must say
    /// `gzip`.
    pub gzipped: bool,
}

/// Extra cost of choosing gzip: the `gzip` in `"compression":"gzip"`.
const GZIP_NAME_COST: usize = 4;

/// The shortest URL for `contents`, byte for byte as Butane writes it: percent-escaped
/// or base64, whichever is shorter (percent-escaped on a tie), then gzip+base64 if
/// `allow_gzip` and it is shorter still by more than [`GZIP_NAME_COST`] bytes. Users
/// compare our output with Butane's, so the rule and its tie-breaks are reproduced.
pub fn embed(contents: &[u8], allow_gzip: bool) -> Embedded {
    // Sizes decide; only the chosen URL is built (escaping megabytes of text that then
    // lose to gzip was a tenth of a large transpile).
    let (plain, plain_len) = shorter_encoding(contents);
    if allow_gzip {
        let compressed = gzip::gzip(contents);
        if base64_url_len(compressed.len()) + GZIP_NAME_COST < plain_len {
            return Embedded {
                url: encode(&compressed, Encoding::Base64),
                gzipped: true,
            };
        }
    }
    Embedded {
        url: encode(contents, plain),
        gzipped: false,
    }
}

/// Length of `data:;base64,` and the base64 of `n` bytes.
fn base64_url_len(n: usize) -> usize {
    "data:;base64,".len() + n.div_ceil(3) * 4
}

/// Base64 when `;base64,` plus the encoding is shorter than `,` plus the escaped text;
/// also the length of the URL it makes.
fn shorter_encoding(contents: &[u8]) -> (Encoding, usize) {
    let escaped = "data:,".len() + escaped_len(contents);
    let base64 = base64_url_len(contents.len());
    if base64 < escaped {
        (Encoding::Base64, base64)
    } else {
        (Encoding::Percent, escaped)
    }
}

fn push_payload(contents: &[u8], encoding: Encoding, out: &mut String) {
    match encoding {
        Encoding::Percent => {
            out.push(',');
            out.reserve(escaped_len(contents));
            escape_into(contents, is_unreserved, out);
        }
        Encoding::Base64 => {
            out.push_str(";base64,");
            STANDARD.encode_string(contents, out);
        }
    }
}

/// RFC 2396's unreserved characters, the only bytes written as they are.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// What a parameter value keeps unescaped: unreserved characters that are also token
/// characters (`(` and `)` are not, and `dataurl` refuses them there).
fn is_plain_in_value(byte: u8) -> bool {
    is_unreserved(byte) && is_token(byte)
}

fn escaped_len(contents: &[u8]) -> usize {
    // A table and a sum, without branches: every content is measured before it is
    // encoded, and text mixes escaped and plain bytes unpredictably.
    static EXTRA: [u8; 256] = {
        let mut table = [0u8; 256];
        let mut b = 0;
        while b < 256 {
            let byte = b as u8;
            let unreserved = byte.is_ascii_alphanumeric()
                || matches!(
                    byte,
                    b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
                );
            table[b] = if unreserved { 0 } else { 2 };
            b += 1;
        }
        table
    };
    contents.len()
        + contents
            .iter()
            .map(|&b| usize::from(EXTRA[usize::from(b)]))
            .sum::<usize>()
}

/// Appends `contents` with every byte but the `plain` ones written as `%XX`.
fn escape_into(contents: &[u8], plain: fn(u8) -> bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(contents.len());
    let mut rest = contents;
    while !rest.is_empty() {
        let plain = rest.iter().position(|&b| !plain(b)).unwrap_or(rest.len());
        let (run, tail) = rest.split_at(plain);
        out.push_str(std::str::from_utf8(run).expect("unreserved bytes are ASCII"));
        rest = match tail.split_first() {
            Some((&byte, tail)) => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 15)]));
                tail
            }
            None => tail,
        };
    }
}

/// The header of a URL, parameters decoded, and its data, checked but not decoded.
struct Parts<'a> {
    media_type: Option<&'a str>,
    params: Vec<(String, String)>,
    base64: bool,
    data: &'a [u8],
}

/// A MIME token character (RFC 2045): printable ASCII but the `tspecials`.
fn is_token(byte: u8) -> bool {
    byte.is_ascii_graphic()
        && !matches!(
            byte,
            b'(' | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b';'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'='
        )
}

/// A character RFC 2396 allows unescaped in a URL (`%` included: escapes are checked
/// apart).
fn is_url_char(byte: u8) -> bool {
    byte.is_ascii_graphic()
        && !matches!(
            byte,
            b'<' | b'>' | b'#' | b'"' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'[' | b']' | b'`'
        )
}

fn is_base64_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')
}

/// Whether `class` holds for every byte; a branch-free fold the compiler vectorises,
/// since the data of a URL can be megabytes.
fn all(bytes: &[u8], class: impl Fn(u8) -> bool) -> bool {
    bytes.iter().fold(true, |ok, &b| ok & class(b))
}

/// The top-level media types `dataurl` knows, matched as prefixes of the type.
fn is_known_type(name: &[u8]) -> bool {
    [
        &b"text"[..],
        b"image",
        b"audio",
        b"video",
        b"application",
        b"message",
        b"multipart",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
}

impl<'a> Parts<'a> {
    /// Reads `text` left to right as `dataurl`'s lexer does, so that of several faults
    /// the first one in the text is reported, with its message.
    fn scan(text: &'a str) -> Result<Self, DataUrlError> {
        let bytes = text.as_bytes();
        let rest = bytes
            .strip_prefix(b"data:")
            .ok_or(DataUrlError::MissingPrefix)?;
        let mut at = 5;
        let mut parts = Parts {
            media_type: None,
            params: Vec::new(),
            base64: false,
            data: &[],
        };
        match rest.first().copied() {
            None => return Err(DataUrlError::MissingComma),
            Some(b';' | b',') => {}
            Some(first) if is_token(first) => {
                at = media_type_end(text, at)?;
                parts.media_type = Some(&text[5..at]);
            }
            Some(_) => return Err(DataUrlError::InvalidAfterPrefix),
        }
        // `at` is now on the `;` or `,` after the media type.
        let mut unquote_next = false;
        while bytes[at] == b';' {
            at += 1;
            let start = at;
            match bytes.get(at).copied() {
                Some(b) if is_token(b) => {}
                None | Some(b'=' | b',') => return Err(DataUrlError::UnterminatedParameter),
                Some(_) => return Err(DataUrlError::InvalidAttributeCharacter),
            }
            while bytes.get(at).copied().is_some_and(is_token) {
                at += 1;
            }
            let attribute = &text[start..at];
            match bytes.get(at).copied() {
                Some(b'=') => {}
                Some(b',') if attribute == "base64" => {
                    parts.base64 = true;
                    break;
                }
                Some(b',') => return Err(DataUrlError::ExpectedBase64(attribute.to_owned())),
                None => return Err(DataUrlError::UnterminatedParameter),
                Some(_) => return Err(DataUrlError::InvalidAttributeCharacter),
            }
            at += 1;
            let value = match bytes.get(at).copied() {
                Some(b'"') => {
                    let (raw, end) = quoted_value(bytes, at + 1)?;
                    at = end;
                    if raw.is_empty() {
                        // `dataurl` sets nothing for `""`, and its parser is left
                        // expecting a quoted value: the next one is not unescaped.
                        unquote_next = true;
                        None
                    } else {
                        unquote_next = false;
                        Some(unquote(raw)?)
                    }
                }
                Some(b) if is_token(b) => {
                    let start = at;
                    while bytes.get(at).copied().is_some_and(is_token) {
                        at += 1;
                    }
                    match bytes.get(at).copied() {
                        Some(b';' | b',') => {}
                        None => return Err(DataUrlError::MissingComma),
                        Some(_) => return Err(DataUrlError::InvalidValueCharacter),
                    }
                    let raw = &bytes[start..at];
                    if std::mem::take(&mut unquote_next) {
                        Some(raw.to_vec())
                    } else {
                        check_escapes(raw)?;
                        Some(percent_decode(raw))
                    }
                }
                None => return Err(DataUrlError::MissingComma),
                Some(_) => return Err(DataUrlError::InvalidValueCharacter),
            };
            if let Some(value) = value {
                let value = String::from_utf8_lossy(&value).into_owned();
                set_param(&mut parts.params, attribute.to_owned(), value);
            }
            match bytes.get(at).copied() {
                Some(b';' | b',') => {}
                None => return Err(DataUrlError::MissingComma),
                Some(_) => return Err(DataUrlError::ExpectedSemicolonOrComma),
            }
        }
        // `at` is on the `,` before the data.
        let data = &bytes[at + 1..];
        if parts.base64 {
            if !all(data, is_base64_char) {
                return Err(DataUrlError::InvalidDataCharacter);
            }
            if let Some(at) = base64_error(data) {
                return Err(DataUrlError::IllegalBase64(at));
            }
        } else {
            if !all(data, is_url_char) {
                return Err(DataUrlError::InvalidDataCharacter);
            }
            check_escapes(data)?;
        }
        parts.data = data;
        Ok(parts)
    }
}

/// The end of the media type starting at `start` (the index of the `;` or `,` after it).
fn media_type_end(text: &str, start: usize) -> Result<usize, DataUrlError> {
    let bytes = text.as_bytes();
    let extension = matches!(bytes[start], b'x' | b'X') && bytes.get(start + 1) == Some(&b'-');
    let mut at = start + 1;
    if matches!(bytes[start], b'x' | b'X') {
        // `dataurl` reads the character after an `x` before it looks at the rest,
        // whatever that character is (an `x` type other than `x-` is invalid anyway).
        at += text[at..].chars().next().map_or(0, char::len_utf8);
    }
    loop {
        match bytes.get(at).copied() {
            Some(b'/') => break,
            None => return Err(DataUrlError::MissingSlash),
            Some(b) if is_token(b) => at += 1,
            Some(_) => return Err(DataUrlError::InvalidTypeCharacter),
        }
    }
    if !extension && !is_known_type(&bytes[start..at]) {
        return Err(DataUrlError::InvalidMediaType);
    }
    at += 1;
    loop {
        match bytes.get(at).copied() {
            Some(b';' | b',') => return Ok(at),
            None => return Err(DataUrlError::IncompleteMediaType),
            Some(b) if is_token(b) => at += 1,
            Some(_) => return Err(DataUrlError::InvalidSubtypeCharacter),
        }
    }
}

/// A quoted parameter value starting after its opening quote: the raw text between
/// the quotes and the index after the closing one.
fn quoted_value(bytes: &[u8], start: usize) -> Result<(&[u8], usize), DataUrlError> {
    let mut at = start;
    loop {
        match bytes.get(at).copied() {
            None => return Err(DataUrlError::UnclosedQuote),
            Some(b'"') => return Ok((&bytes[start..at], at + 1)),
            Some(b'\\') => match bytes.get(at + 1).copied() {
                None => return Err(DataUrlError::UnclosedQuote),
                Some(b) if b.is_ascii() => at += 2,
                Some(_) => return Err(DataUrlError::InvalidEscapedCharacter),
            },
            Some(b) if b.is_ascii() => at += 1,
            Some(_) => return Err(DataUrlError::InvalidValueCharacter),
        }
    }
}

/// A quoted value's bytes with Go's string escapes undone (`strconv.Unquote`).
fn unquote(raw: &[u8]) -> Result<Vec<u8>, DataUrlError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((&first, tail)) = rest.split_first() {
        rest = tail;
        match first {
            b'\n' => return Err(DataUrlError::InvalidQuotedString),
            b'\\' => {}
            other => {
                out.push(other);
                continue;
            }
        }
        let (&kind, tail) = rest
            .split_first()
            .ok_or(DataUrlError::InvalidQuotedString)?;
        rest = tail;
        let simple = match kind {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' | b'"' => Some(kind),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            continue;
        }
        let (digits, radix) = match kind {
            b'x' => (2, 16),
            b'u' => (4, 16),
            b'U' => (8, 16),
            b'0'..=b'7' => (2, 8),
            _ => return Err(DataUrlError::InvalidQuotedString),
        };
        let number = rest
            .get(..digits)
            .ok_or(DataUrlError::InvalidQuotedString)?;
        rest = &rest[digits..];
        let mut value = if radix == 8 {
            u32::from(kind - b'0')
        } else {
            0
        };
        for &digit in number {
            let digit = char::from(digit)
                .to_digit(radix)
                .ok_or(DataUrlError::InvalidQuotedString)?;
            value = value * radix + digit;
        }
        match kind {
            b'u' | b'U' => {
                let c = char::from_u32(value).ok_or(DataUrlError::InvalidQuotedString)?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            }
            _ => out.push(u8::try_from(value).map_err(|_| DataUrlError::InvalidQuotedString)?),
        }
    }
    Ok(out)
}

fn set_param(params: &mut Vec<(String, String)>, attribute: String, value: String) {
    match params.iter_mut().find(|(k, _)| *k == attribute) {
        Some(param) => param.1 = value,
        None => params.push((attribute, value)),
    }
}

/// Every `%` must start a `%XX` escape.
fn check_escapes(text: &[u8]) -> Result<(), DataUrlError> {
    for at in memchr::memchr_iter(b'%', text) {
        let high = text
            .get(at + 1)
            .ok_or(DataUrlError::UnexpectedEndOfEscape)?;
        if !high.is_ascii_hexdigit() {
            return Err(DataUrlError::InvalidEscape);
        }
        let low = text
            .get(at + 2)
            .ok_or(DataUrlError::UnexpectedEndOfEscape)?;
        if !low.is_ascii_hexdigit() {
            return Err(DataUrlError::InvalidEscape);
        }
    }
    Ok(())
}

/// Undoes `%XX` escapes already checked by [`check_escapes`]. Copies the runs between
/// escapes in bulk: a byte-at-a-time loop made decoding inline file contents the files
/// stage's largest cost.
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16).unwrap_or(0) as u8;
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = memchr::memchr(b'%', rest) {
        out.extend_from_slice(&rest[..at]);
        match rest.get(at + 1..at + 3) {
            Some(&[high, low]) => {
                out.push(hex(high) << 4 | hex(low));
                rest = &rest[at + 3..];
            }
            _ => {
                out.push(b'%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.extend_from_slice(rest);
    out
}

/// Where Go's `base64.StdEncoding` fails on `data` (standard alphabet and `=` only),
/// or `None` if it decodes: whole four-character quanta, `=` only as the padding of the
/// last one, nothing after it.
fn base64_error(data: &[u8]) -> Option<usize> {
    let Some(pad) = memchr::memchr(b'=', data) else {
        let partial = data.len() % 4;
        return (partial != 0).then_some(data.len() - partial);
    };
    match pad % 4 {
        0 | 1 => Some(pad),
        2 => match data.get(pad + 1) {
            None => Some(data.len()),
            Some(b'=') if data.len() > pad + 2 => Some(pad + 2),
            Some(b'=') => None,
            Some(_) => Some(pad),
        },
        _ => (data.len() > pad + 1).then_some(pad + 1),
    }
}

/// Decodes base64 that [`base64_error`] accepted; like Go, ignores trailing bits.
fn base64_decode(data: &[u8]) -> Result<Vec<u8>, DataUrlError> {
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    GO_STD
        .decode(data)
        .map_err(|_| DataUrlError::IllegalBase64(base64_error(data).unwrap_or(0)))
}

#[cfg(test)]
mod tests;
