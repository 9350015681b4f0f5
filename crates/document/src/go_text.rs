//! Text read from files as Go holds it: Go strings may carry bytes that are not
//! UTF-8, which Rust strings cannot; each such byte is kept as a stand-in character.

/// The character that stands for one byte of invalid UTF-8 (0x80–0xFF) in text read
/// from a file: one of the last 128 code points (private use, which no config uses), so
/// the byte is kept. Go keeps such bytes in its strings: `encoding/json` writes each as
/// `\ufffd` (ferro_spec's `to_go_json` does the same) and `%q` as `\xNN` ([`invalid_byte_value`]).
pub fn invalid_byte(byte: u8) -> char {
    char::from_u32(0x10_FF00 + u32::from(byte)).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// The byte an [`invalid_byte`] character stands for.
pub fn invalid_byte_value(c: char) -> Option<u8> {
    (c as u32)
        .checked_sub(0x10_FF80)
        .and_then(|offset| u8::try_from(offset + 0x80).ok())
}

/// `bytes` as text the way Go holds them: every byte that is not part of valid UTF-8
/// becomes its [`invalid_byte`].
pub fn go_text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let bytes = error.into_bytes();
            let mut text = String::with_capacity(bytes.len() + 16);
            for chunk in bytes.utf8_chunks() {
                text.push_str(chunk.valid());
                text.extend(chunk.invalid().iter().map(|&b| invalid_byte(b)));
            }
            text
        }
    }
}
