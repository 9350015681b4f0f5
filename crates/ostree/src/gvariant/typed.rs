//! Any GVariant value, decoded by its type string: what the text form
//! ([`super::text`]) prints, for metadata whose types the repository does not fix —
//! `a{sv}` values written by other tools, `ostree summary -m`, and so on.
//!
//! Decoding is defensive like the rest of the reader: type strings and values are
//! nested at most `MAX_DEPTH` deep, every slice is bounds-checked, and bytes that
//! do not fit their type give an [`Error`].

use super::{Error, Shape, err, read_array, read_string, read_struct, read_variant};

/// How deep types may nest (GLib allows 128; OSTree's own types nest 4 deep).
const MAX_DEPTH: usize = 64;

/// A complete GVariant type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// `b`
    Bool,
    /// `y`
    Byte,
    /// `n`
    I16,
    /// `q`
    U16,
    /// `i`
    I32,
    /// `u`
    U32,
    /// `x`
    I64,
    /// `t`
    U64,
    /// `h`
    Handle,
    /// `d`
    Double,
    /// `s`
    Str,
    /// `o`
    ObjectPath,
    /// `g`
    Signature,
    /// `v`
    Variant,
    /// `mT`
    Maybe(Box<Type>),
    /// `aT`
    Array(Box<Type>),
    /// `(T…)`
    Tuple(Vec<Type>),
    /// `{KV}`
    Entry(Box<Type>, Box<Type>),
}

impl Type {
    /// Parses one complete type that spans all of `text`.
    pub fn parse(text: &str) -> Result<Type, Error> {
        let (ty, rest) = Self::parse_prefix(text.as_bytes(), 0)?;
        if !rest.is_empty() {
            return Err(err("type", format!("'{text}' is more than one type")));
        }
        Ok(ty)
    }

    /// Parses the one complete type `text` starts with; returns it and the bytes it
    /// took (for `@TYPE value` in the text form).
    pub fn parse_leading(text: &str) -> Result<(Type, usize), Error> {
        let (ty, rest) = Self::parse_prefix(text.as_bytes(), 0)?;
        Ok((ty, text.len() - rest.len()))
    }

    fn parse_prefix(text: &[u8], depth: usize) -> Result<(Type, &[u8]), Error> {
        if depth > MAX_DEPTH {
            return Err(err("type", "nested too deeply"));
        }
        let (&first, rest) = text
            .split_first()
            .ok_or_else(|| err("type", "type string ends early"))?;
        let basic = match first {
            b'b' => Type::Bool,
            b'y' => Type::Byte,
            b'n' => Type::I16,
            b'q' => Type::U16,
            b'i' => Type::I32,
            b'u' => Type::U32,
            b'x' => Type::I64,
            b't' => Type::U64,
            b'h' => Type::Handle,
            b'd' => Type::Double,
            b's' => Type::Str,
            b'o' => Type::ObjectPath,
            b'g' => Type::Signature,
            b'v' => Type::Variant,
            b'm' => {
                let (inner, rest) = Self::parse_prefix(rest, depth + 1)?;
                return Ok((Type::Maybe(Box::new(inner)), rest));
            }
            b'a' => {
                let (inner, rest) = Self::parse_prefix(rest, depth + 1)?;
                return Ok((Type::Array(Box::new(inner)), rest));
            }
            b'(' => {
                let mut members = Vec::new();
                let mut rest = rest;
                while rest.first() != Some(&b')') {
                    let (member, after) = Self::parse_prefix(rest, depth + 1)?;
                    members.push(member);
                    rest = after;
                }
                return Ok((Type::Tuple(members), &rest[1..]));
            }
            b'{' => {
                let (key, rest) = Self::parse_prefix(rest, depth + 1)?;
                if !key.is_basic() {
                    return Err(err("type", "dictionary key is not a basic type"));
                }
                let (value, rest) = Self::parse_prefix(rest, depth + 1)?;
                let rest = rest
                    .strip_prefix(b"}")
                    .ok_or_else(|| err("type", "dictionary entry is not closed"))?;
                return Ok((Type::Entry(Box::new(key), Box::new(value)), rest));
            }
            other => {
                return Err(err(
                    "type",
                    format!("'{}' is not a type", char::from(other).escape_default()),
                ));
            }
        };
        Ok((basic, rest))
    }

    fn is_basic(&self) -> bool {
        !matches!(
            self,
            Type::Variant | Type::Maybe(_) | Type::Array(_) | Type::Tuple(_) | Type::Entry(..)
        )
    }

    /// The type string.
    pub fn to_type_string(&self) -> String {
        let mut out = String::new();
        self.write_type_string(&mut out);
        out
    }

    fn write_type_string(&self, out: &mut String) {
        let code = match self {
            Type::Bool => 'b',
            Type::Byte => 'y',
            Type::I16 => 'n',
            Type::U16 => 'q',
            Type::I32 => 'i',
            Type::U32 => 'u',
            Type::I64 => 'x',
            Type::U64 => 't',
            Type::Handle => 'h',
            Type::Double => 'd',
            Type::Str => 's',
            Type::ObjectPath => 'o',
            Type::Signature => 'g',
            Type::Variant => 'v',
            Type::Maybe(inner) | Type::Array(inner) => {
                out.push(if matches!(self, Type::Maybe(_)) {
                    'm'
                } else {
                    'a'
                });
                inner.write_type_string(out);
                return;
            }
            Type::Tuple(members) => {
                out.push('(');
                members.iter().for_each(|m| m.write_type_string(out));
                out.push(')');
                return;
            }
            Type::Entry(key, value) => {
                out.push('{');
                key.write_type_string(out);
                value.write_type_string(out);
                out.push('}');
                return;
            }
        };
        out.push(code);
    }

    /// The alignment of the type's values.
    fn alignment(&self) -> usize {
        match self {
            Type::Bool | Type::Byte | Type::Str | Type::ObjectPath | Type::Signature => 1,
            Type::I16 | Type::U16 => 2,
            Type::I32 | Type::U32 | Type::Handle => 4,
            Type::I64 | Type::U64 | Type::Double | Type::Variant => 8,
            Type::Maybe(inner) | Type::Array(inner) => inner.alignment(),
            Type::Tuple(members) => members.iter().map(Type::alignment).max().unwrap_or(1),
            Type::Entry(key, value) => key.alignment().max(value.alignment()),
        }
    }

    /// The size of every value of the type, when it is fixed.
    fn fixed_size(&self) -> Option<usize> {
        match self {
            Type::Bool | Type::Byte => Some(1),
            Type::I16 | Type::U16 => Some(2),
            Type::I32 | Type::U32 | Type::Handle => Some(4),
            Type::I64 | Type::U64 | Type::Double => Some(8),
            Type::Tuple(members) => fixed_tuple_size(members),
            Type::Entry(key, value) => fixed_tuple_size([&**key, &**value]),
            _ => None,
        }
    }

    /// How a member of this type is framed inside a tuple.
    fn shape(&self) -> Shape {
        match self.fixed_size() {
            Some(size) => Shape::Fixed(size, self.alignment()),
            None => Shape::Var(self.alignment()),
        }
    }
}

/// The fixed size of a tuple whose members all have one: laid out with padding, then
/// rounded up to the tuple's alignment; the unit tuple takes one byte.
fn fixed_tuple_size<'a>(members: impl IntoIterator<Item = &'a Type>) -> Option<usize> {
    let mut end = 0usize;
    let mut align = 1;
    let mut any = false;
    for member in members {
        let a = member.alignment();
        align = align.max(a);
        end = end.div_ceil(a) * a + member.fixed_size()?;
        any = true;
    }
    Some(if any { end.div_ceil(align) * align } else { 1 })
}

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `b`
    Bool(bool),
    /// `y`
    Byte(u8),
    /// `n`
    I16(i16),
    /// `q`
    U16(u16),
    /// `i`
    I32(i32),
    /// `u`
    U32(u32),
    /// `x`
    I64(i64),
    /// `t`
    U64(u64),
    /// `h`
    Handle(i32),
    /// `d`
    Double(f64),
    /// `s`
    Str(String),
    /// `o`
    ObjectPath(String),
    /// `g`
    Signature(String),
    /// `v`: the child's type and value.
    Variant(Type, Box<Value>),
    /// `mT`: the element type, and the value if there is one.
    Maybe(Type, Option<Box<Value>>),
    /// `aT`: the element type and the elements.
    Array(Type, Vec<Value>),
    /// `(T…)`
    Tuple(Vec<Value>),
    /// `{KV}`
    Entry(Box<Value>, Box<Value>),
}

impl Value {
    /// Decodes `data` as a value of type `ty`.
    pub fn decode(ty: &Type, data: &[u8]) -> Result<Value, Error> {
        decode(ty, data, 0)
    }

    /// The value's type.
    pub fn type_of(&self) -> Type {
        match self {
            Value::Bool(_) => Type::Bool,
            Value::Byte(_) => Type::Byte,
            Value::I16(_) => Type::I16,
            Value::U16(_) => Type::U16,
            Value::I32(_) => Type::I32,
            Value::U32(_) => Type::U32,
            Value::I64(_) => Type::I64,
            Value::U64(_) => Type::U64,
            Value::Handle(_) => Type::Handle,
            Value::Double(_) => Type::Double,
            Value::Str(_) => Type::Str,
            Value::ObjectPath(_) => Type::ObjectPath,
            Value::Signature(_) => Type::Signature,
            Value::Variant(..) => Type::Variant,
            Value::Maybe(inner, _) => Type::Maybe(Box::new(inner.clone())),
            Value::Array(inner, _) => Type::Array(Box::new(inner.clone())),
            Value::Tuple(items) => Type::Tuple(items.iter().map(Value::type_of).collect()),
            Value::Entry(key, value) => {
                Type::Entry(Box::new(key.type_of()), Box::new(value.type_of()))
            }
        }
    }

    /// The value's bytes in GVariant normal form (little-endian).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Value::Bool(b) => vec![u8::from(*b)],
            Value::Byte(b) => vec![*b],
            Value::I16(v) => v.to_le_bytes().to_vec(),
            Value::U16(v) => v.to_le_bytes().to_vec(),
            Value::I32(v) | Value::Handle(v) => v.to_le_bytes().to_vec(),
            Value::U32(v) => v.to_le_bytes().to_vec(),
            Value::I64(v) => v.to_le_bytes().to_vec(),
            Value::U64(v) => v.to_le_bytes().to_vec(),
            Value::Double(v) => v.to_le_bytes().to_vec(),
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => super::string(s),
            Value::Variant(ty, child) => super::variant(&ty.to_type_string(), &child.encode()),
            Value::Maybe(_, None) => Vec::new(),
            Value::Maybe(inner, Some(child)) => {
                let mut bytes = child.encode();
                if inner.fixed_size().is_none() {
                    bytes.push(0);
                }
                bytes
            }
            Value::Array(inner, items) => match inner.fixed_size() {
                Some(_) => items.iter().flat_map(Value::encode).collect(),
                None => super::array(items.iter().map(Value::encode), inner.alignment()),
            },
            Value::Tuple(items) => encode_members(items),
            Value::Entry(key, value) => encode_members([&**key, &**value]),
        }
    }

    /// The same value with every integer's bytes reversed (`g_variant_byteswap`):
    /// OSTree stores some integers big-endian, and shows raw metadata swapped.
    pub fn byteswapped(&self) -> Value {
        match self {
            Value::I16(v) => Value::I16(v.swap_bytes()),
            Value::U16(v) => Value::U16(v.swap_bytes()),
            Value::I32(v) => Value::I32(v.swap_bytes()),
            Value::U32(v) => Value::U32(v.swap_bytes()),
            Value::I64(v) => Value::I64(v.swap_bytes()),
            Value::U64(v) => Value::U64(v.swap_bytes()),
            Value::Handle(v) => Value::Handle(v.swap_bytes()),
            Value::Double(v) => Value::Double(f64::from_bits(v.to_bits().swap_bytes())),
            Value::Variant(ty, child) => Value::Variant(ty.clone(), Box::new(child.byteswapped())),
            Value::Maybe(ty, child) => Value::Maybe(
                ty.clone(),
                child.as_ref().map(|c| Box::new(c.byteswapped())),
            ),
            Value::Array(ty, items) => {
                Value::Array(ty.clone(), items.iter().map(Value::byteswapped).collect())
            }
            Value::Tuple(items) => Value::Tuple(items.iter().map(Value::byteswapped).collect()),
            Value::Entry(key, value) => {
                Value::Entry(Box::new(key.byteswapped()), Box::new(value.byteswapped()))
            }
            other => other.clone(),
        }
    }
}

/// A tuple's bytes: members framed as [`super::structure`] frames them, and a tuple of
/// fixed size padded to it (the unit tuple is one 0 byte).
fn encode_members<'a>(items: impl IntoIterator<Item = &'a Value>) -> Vec<u8> {
    let items: Vec<&Value> = items.into_iter().collect();
    let types: Vec<Type> = items.iter().map(|item| item.type_of()).collect();
    let mut bytes = super::structure(
        items
            .iter()
            .zip(&types)
            .map(|(item, ty)| {
                super::Member::new(item.encode(), ty.alignment(), ty.fixed_size().is_some())
            })
            .collect(),
    );
    if let Some(size) = fixed_tuple_size(&types) {
        bytes.resize(size, 0);
    }
    bytes
}

fn fixed<const N: usize>(what: &'static str, data: &[u8]) -> Result<[u8; N], Error> {
    data.try_into()
        .map_err(|_| err(what, format!("{} bytes where {N} belong", data.len())))
}

fn decode(ty: &Type, data: &[u8], depth: usize) -> Result<Value, Error> {
    if depth > MAX_DEPTH {
        return Err(err("value", "nested too deeply"));
    }
    Ok(match ty {
        Type::Bool => match fixed::<1>("boolean", data)? {
            [0] => Value::Bool(false),
            [1] => Value::Bool(true),
            [other] => return Err(err("boolean", format!("byte {other} is not 0 or 1"))),
        },
        Type::Byte => Value::Byte(fixed::<1>("byte", data)?[0]),
        Type::I16 => Value::I16(i16::from_le_bytes(fixed("int16", data)?)),
        Type::U16 => Value::U16(u16::from_le_bytes(fixed("uint16", data)?)),
        Type::I32 => Value::I32(i32::from_le_bytes(fixed("int32", data)?)),
        Type::U32 => Value::U32(u32::from_le_bytes(fixed("uint32", data)?)),
        Type::I64 => Value::I64(i64::from_le_bytes(fixed("int64", data)?)),
        Type::U64 => Value::U64(u64::from_le_bytes(fixed("uint64", data)?)),
        Type::Handle => Value::Handle(i32::from_le_bytes(fixed("handle", data)?)),
        Type::Double => Value::Double(f64::from_le_bytes(fixed("double", data)?)),
        Type::Str => Value::Str(read_string("string", data)?),
        Type::ObjectPath => Value::ObjectPath(read_string("object path", data)?),
        Type::Signature => Value::Signature(read_string("signature", data)?),
        Type::Variant => {
            let (type_str, child) = read_variant("variant", data)?;
            let child_type = Type::parse(type_str)?;
            let value = decode(&child_type, child, depth + 1)?;
            Value::Variant(child_type, Box::new(value))
        }
        Type::Maybe(inner) => {
            let child = match (data.len(), inner.fixed_size()) {
                (0, _) => None,
                (_, Some(_)) => Some(data),
                (len, None) => match data.split_last() {
                    Some((0, body)) => Some(body),
                    _ => return Err(err("maybe", format!("{len} bytes without the final 0"))),
                },
            };
            let child = child
                .map(|c| decode(inner, c, depth + 1).map(Box::new))
                .transpose()?;
            Value::Maybe((**inner).clone(), child)
        }
        Type::Array(inner) => {
            let pieces = match inner.fixed_size() {
                Some(size) if data.len().is_multiple_of(size) => data.chunks(size).collect(),
                Some(size) => {
                    return Err(err(
                        "array",
                        format!(
                            "{} bytes are not a whole number of {size}-byte elements",
                            data.len()
                        ),
                    ));
                }
                None => read_array("array", data, inner.alignment())?,
            };
            let items = pieces
                .into_iter()
                .map(|piece| decode(inner, piece, depth + 1))
                .collect::<Result<_, _>>()?;
            Value::Array((**inner).clone(), items)
        }
        Type::Tuple(members) => Value::Tuple(decode_members(
            &members.iter().collect::<Vec<_>>(),
            data,
            depth,
        )?),
        Type::Entry(key, value) => {
            let mut decoded = decode_members(&[&**key, &**value], data, depth)?.into_iter();
            match (decoded.next(), decoded.next()) {
                (Some(k), Some(v)) => Value::Entry(Box::new(k), Box::new(v)),
                _ => return Err(err("dictionary entry", "not two members")),
            }
        }
    })
}

fn decode_members(members: &[&Type], data: &[u8], depth: usize) -> Result<Vec<Value>, Error> {
    if members.is_empty() {
        return match data {
            [0] => Ok(Vec::new()),
            _ => Err(err("unit", "the empty tuple is one 0 byte")),
        };
    }
    let shapes: Vec<Shape> = members.iter().map(|member| member.shape()).collect();
    read_struct("tuple", data, &shapes)?
        .into_iter()
        .zip(members.iter().copied())
        .map(|(piece, member)| decode(member, piece, depth + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_strings_round_trip_and_bad_ones_are_errors() {
        for text in ["a{sv}", "(taya{sv})", "mmi", "a(sa{sv})", "()", "v", "aay"] {
            assert_eq!(Type::parse(text).unwrap().to_type_string(), text);
        }
        for bad in ["", "a", "(i", "{vs}", "{ss", "ii", "z", &"a".repeat(100)] {
            assert!(Type::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fixed_sizes_follow_the_layout_rules() {
        let size = |t: &str| Type::parse(t).unwrap().fixed_size();
        assert_eq!(size("(yi)"), Some(8));
        assert_eq!(size("(iy)"), Some(8));
        assert_eq!(size("(ty)"), Some(16));
        assert_eq!(size("()"), Some(1));
        assert_eq!(size("(sy)"), None);
    }

    #[test]
    fn decodes_what_the_writer_builds() {
        use crate::gvariant::{Member, array, structure, variant};
        let entry = structure(vec![
            Member::string("k"),
            Member::var(variant("s", b"v\0"), 8),
        ]);
        let bytes = array([entry], 8);
        let ty = Type::parse("a{sv}").unwrap();
        let value = Value::decode(&ty, &bytes).unwrap();
        let Value::Array(_, items) = value else {
            panic!("not an array")
        };
        assert_eq!(
            items,
            [Value::Entry(
                Box::new(Value::Str("k".into())),
                Box::new(Value::Variant(Type::Str, Box::new(Value::Str("v".into()))))
            )]
        );
    }

    #[test]
    fn encoding_round_trips_through_decoding() {
        let texts = [
            "(uint32 1, byte 2, 'x', [int16 3, 4], <(true, 2.5)>)",
            "{'a': <[byte 0x01]>, 'b': <@as []>}",
            "(@mi nothing, just 'j', just 7, (byte 1, 2))",
            "[(byte 1, 2), (byte 3, 4)]",
            "()",
        ];
        for text in texts {
            let value = crate::gvariant::parse::parse(text, None).unwrap();
            let bytes = value.encode();
            assert_eq!(
                Value::decode(&value.type_of(), &bytes).unwrap(),
                value,
                "{text}"
            );
        }
    }

    #[test]
    fn hostile_bytes_are_errors_not_panics() {
        let ty = Type::parse("a{sv}").unwrap();
        for len in 0..64u8 {
            let junk: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
            let _ = Value::decode(&ty, &junk);
        }
        // A variant whose child claims ever deeper variants.
        let mut nested = b"x\0\0s".to_vec();
        for _ in 0..200 {
            nested = [nested, b"\0v".to_vec()].concat();
        }
        assert!(Value::decode(&Type::Variant, &nested).is_err());
    }
}
