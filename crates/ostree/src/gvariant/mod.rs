//! GVariant normal-form framing for the handful of fixed types OSTree stores.
//!
//! The writer builds each container in its own buffer, so padding is relative to the
//! container start as the format requires; offsets use the smallest word size that fits.
//! The reader only slices: every offset is bounds-checked and every container is split
//! into members without recursion beyond the fixed type shapes, so hostile bytes give an
//! [`Error`], never a panic or a hang. Normal form is enforced by the object parsers,
//! which re-serialise what they read and compare.
//!
//! Values of any other type — metadata that other tools write, or that users give as
//! text — go through [`typed`] (decode and encode by type string), [`text`] (GLib's
//! text form, as `ostree` prints it) and [`parse`] (that text form read back).

pub mod parse;
pub mod text;
pub mod typed;

/// Why bytes are not the GVariant value they claim to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid GVariant {what}: {detail}")]
pub struct Error {
    /// The type or member being read.
    pub what: &'static str,
    /// What is wrong with it.
    pub detail: String,
}

pub(crate) fn err(what: &'static str, detail: impl Into<String>) -> Error {
    Error {
        what,
        detail: detail.into(),
    }
}

/// One member of a container being written.
pub(crate) struct Member {
    bytes: Vec<u8>,
    align: usize,
    fixed: bool,
}

impl Member {
    /// A member of any type: its bytes, alignment, and whether its type has a fixed size
    /// (such members need no framing offset).
    pub(crate) fn new(bytes: Vec<u8>, align: usize, fixed: bool) -> Self {
        Member {
            bytes,
            align,
            fixed,
        }
    }

    /// A variable-size member (string, array, struct with variable parts, variant).
    pub(crate) fn var(bytes: Vec<u8>, align: usize) -> Self {
        Member {
            bytes,
            align,
            fixed: false,
        }
    }
    /// A big-endian `u`, as OSTree stores integers.
    pub(crate) fn u32_be(value: u32) -> Self {
        Member {
            bytes: value.to_be_bytes().to_vec(),
            align: 4,
            fixed: true,
        }
    }
    /// A big-endian `t`.
    pub(crate) fn u64_be(value: u64) -> Self {
        Member {
            bytes: value.to_be_bytes().to_vec(),
            align: 8,
            fixed: true,
        }
    }
    /// A little-endian `t` (summary sizes are written in host order, little-endian here).
    pub(crate) fn u64_le(value: u64) -> Self {
        Member {
            bytes: value.to_le_bytes().to_vec(),
            align: 8,
            fixed: true,
        }
    }
    /// An `s`.
    pub(crate) fn string(value: &str) -> Self {
        Self::var(string(value), 1)
    }
    /// An `ay`.
    pub(crate) fn bytes(value: &[u8]) -> Self {
        Self::var(value.to_vec(), 1)
    }
}

/// The bytes of an `s`.
pub(crate) fn string(value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 1);
    out.extend_from_slice(value.as_bytes());
    out.push(0);
    out
}

fn pad(buf: &mut Vec<u8>, align: usize) {
    // Alignments are powers of two.
    while buf.len() & (align - 1) != 0 {
        buf.push(0);
    }
}

/// Appends `offsets` (in the given order) with the smallest word size that fits.
fn append_offsets(mut body: Vec<u8>, offsets: &[usize]) -> Vec<u8> {
    if offsets.is_empty() {
        return body;
    }
    let n = offsets.len();
    let width = [1usize, 2, 4, 8]
        .into_iter()
        .find(|&w| w == 8 || ((body.len() + n * w) as u128) < (1u128 << (8 * w)))
        .unwrap_or(8);
    for &offset in offsets {
        body.extend_from_slice(&(offset as u64).to_le_bytes()[..width]);
    }
    body
}

/// A struct (or dict entry) of variable size.
pub(crate) fn structure(members: Vec<Member>) -> Vec<u8> {
    let last = members.len().saturating_sub(1);
    let mut body = Vec::new();
    let mut offsets = Vec::new();
    for (i, member) in members.into_iter().enumerate() {
        pad(&mut body, member.align);
        body.extend_from_slice(&member.bytes);
        if !member.fixed && i != last {
            offsets.push(body.len());
        }
    }
    offsets.reverse();
    append_offsets(body, &offsets)
}

/// An array of variable-size elements, each aligned to `align`.
pub(crate) fn array(elements: impl IntoIterator<Item = Vec<u8>>, align: usize) -> Vec<u8> {
    let mut body = Vec::new();
    let mut offsets = Vec::new();
    for element in elements {
        pad(&mut body, align);
        body.extend_from_slice(&element);
        offsets.push(body.len());
    }
    append_offsets(body, &offsets)
}

/// A `v`: child bytes, a NUL, then the child's type string.
pub(crate) fn variant(type_str: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1 + type_str.len());
    out.extend_from_slice(data);
    out.push(0);
    out.extend_from_slice(type_str.as_bytes());
    out
}

/// The offset word size GVariant derives from a container's total size.
fn offset_size(len: usize) -> usize {
    match len as u64 {
        0 => 0,
        1..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    }
}

fn read_offset(data: &[u8], at: usize, width: usize) -> usize {
    let mut word = [0u8; 8];
    word[..width].copy_from_slice(&data[at..at + width]);
    usize::try_from(u64::from_le_bytes(word)).unwrap_or(usize::MAX)
}

fn align_up(pos: usize, align: usize) -> usize {
    pos.div_ceil(align) * align
}

/// The shape of one struct member for reading.
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    /// Fixed size (bytes) and alignment.
    Fixed(usize, usize),
    /// Variable size with this alignment.
    Var(usize),
}

/// Splits a struct into its members' byte ranges.
pub(crate) fn read_struct<'a>(
    what: &'static str,
    data: &'a [u8],
    shapes: &[Shape],
) -> Result<Vec<&'a [u8]>, Error> {
    let width = offset_size(data.len());
    let last = shapes.len().saturating_sub(1);
    let n_offsets = shapes
        .iter()
        .enumerate()
        .filter(|(i, s)| matches!(s, Shape::Var(_)) && *i != last)
        .count();
    let table = n_offsets
        .checked_mul(width)
        .filter(|&t| t <= data.len())
        .ok_or_else(|| err(what, "offset table larger than the value"))?;
    let frame_end = data.len() - table;
    let mut pos = 0usize;
    let mut used = 0usize;
    let mut out = Vec::with_capacity(shapes.len());
    for (i, shape) in shapes.iter().enumerate() {
        let (start, end) = match *shape {
            Shape::Fixed(size, align) => {
                let start = align_up(pos, align);
                (start, start.saturating_add(size))
            }
            Shape::Var(align) => {
                let start = align_up(pos, align);
                let end = if i == last {
                    frame_end
                } else {
                    used += 1;
                    read_offset(data, data.len() - used * width, width)
                };
                (start, end)
            }
        };
        if start > end || end > frame_end {
            return Err(err(
                what,
                format!("member {i} spans {start}..{end} outside 0..{frame_end}"),
            ));
        }
        out.push(&data[start..end]);
        pos = end;
    }
    Ok(out)
}

/// Splits an array of variable-size elements.
pub(crate) fn read_array<'a>(
    what: &'static str,
    data: &'a [u8],
    align: usize,
) -> Result<Vec<&'a [u8]>, Error> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let width = offset_size(data.len());
    let table_start = read_offset(data, data.len() - width, width);
    if table_start > data.len() - width || (data.len() - table_start) & (width - 1) != 0 {
        return Err(err(
            what,
            format!("array offset table at {table_start} is invalid"),
        ));
    }
    let count = (data.len() - table_start) / width;
    let mut out = Vec::with_capacity(count);
    let mut pos = 0usize;
    for i in 0..count {
        let start = align_up(pos, align);
        let end = read_offset(data, table_start + i * width, width);
        if start > end || end > table_start {
            return Err(err(
                what,
                format!("element {i} spans {start}..{end} outside 0..{table_start}"),
            ));
        }
        out.push(&data[start..end]);
        pos = end;
    }
    Ok(out)
}

/// Reads an `s`: UTF-8 with one terminating NUL.
pub(crate) fn read_string(what: &'static str, data: &[u8]) -> Result<String, Error> {
    match data.split_last() {
        Some((0, body)) if !body.contains(&0) => std::str::from_utf8(body)
            .map(str::to_owned)
            .map_err(|_| err(what, "string is not UTF-8")),
        _ => Err(err(what, "string is not NUL-terminated")),
    }
}

/// Reads a big-endian `u` (OSTree swaps integers before storing them).
pub(crate) fn read_u32_be(what: &'static str, data: &[u8]) -> Result<u32, Error> {
    let bytes: [u8; 4] = data
        .try_into()
        .map_err(|_| err(what, "u32 is not 4 bytes"))?;
    Ok(u32::from_be_bytes(bytes))
}

/// Reads a big-endian `t`.
pub(crate) fn read_u64_be(what: &'static str, data: &[u8]) -> Result<u64, Error> {
    let bytes: [u8; 8] = data
        .try_into()
        .map_err(|_| err(what, "u64 is not 8 bytes"))?;
    Ok(u64::from_be_bytes(bytes))
}

/// Splits a `v` into its type string and child bytes.
pub(crate) fn read_variant<'a>(
    what: &'static str,
    data: &'a [u8],
) -> Result<(&'a str, &'a [u8]), Error> {
    let nul = data
        .iter()
        .rposition(|&b| b == 0)
        .ok_or_else(|| err(what, "variant has no type"))?;
    let type_str = std::str::from_utf8(&data[nul + 1..])
        .ok()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| err(what, "variant type is invalid"))?;
    Ok((type_str, &data[..nul]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_use_smallest_width() {
        let small = array([vec![1u8; 10]], 1);
        assert_eq!(small.len(), 11);
        let big = array([vec![1u8; 300]], 1);
        assert_eq!(big.len(), 302);
        assert_eq!(read_array("t", &big, 1).unwrap(), vec![&[1u8; 300][..]]);
    }

    #[test]
    fn struct_round_trip() {
        let bytes = structure(vec![
            Member::u32_be(7),
            Member::string("ab"),
            Member::bytes(b"xyz"),
        ]);
        // u32, "ab\0", "xyz", one offset (7).
        assert_eq!(bytes, [0, 0, 0, 7, b'a', b'b', 0, b'x', b'y', b'z', 7]);
        let parts = read_struct(
            "t",
            &bytes,
            &[Shape::Fixed(4, 4), Shape::Var(1), Shape::Var(1)],
        )
        .unwrap();
        assert_eq!(read_u32_be("u", parts[0]).unwrap(), 7);
        assert_eq!(read_string("s", parts[1]).unwrap(), "ab");
        assert_eq!(parts[2], b"xyz");
    }

    #[test]
    fn hostile_offsets_are_errors() {
        for data in [&[0xffu8][..], &[5, 0xfe], &[0, 0, 0, 0, 200], &[]] {
            let _ = read_array("t", data, 8);
            let _ = read_struct(
                "t",
                data,
                &[Shape::Var(1), Shape::Var(8), Shape::Fixed(8, 8)],
            );
        }
        assert!(read_array("t", &[0xff], 1).is_err());
        assert!(read_struct("t", &[1, 2, 9], &[Shape::Var(1), Shape::Var(1)]).is_err());
        assert!(read_string("s", b"ab").is_err());
        assert!(read_string("s", b"a\0b\0").is_err());
    }
}
