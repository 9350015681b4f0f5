//! The summary as `ostree summary --view` and `--raw` show it, line for line, so that
//! scripts written against either tool read the other's output.
//!
//! Known keys get OSTree's labels and are shown decoded (its timestamps are stored
//! big-endian); any other key is shown in the GVariant text form. Times are shown in
//! UTC, where `ostree` uses the local time zone: the same text when `TZ` is UTC.

use ferro_sys::size::format_size;

use crate::browse::format_iso_timestamp;
use crate::checksum::Checksum;
use crate::gvariant::typed::{Type, Value};
use crate::gvariant::{self as gv, text};

/// The summary's GVariant type.
const SUMMARY_TYPE: &str = "(a(s(taya{sv}))a{sv})";

fn decode(bytes: &[u8]) -> Result<Value, gv::Error> {
    let ty = Type::parse(SUMMARY_TYPE).expect("the summary type string is valid");
    Value::decode(&ty, bytes)
}

/// `ostree summary --raw`: the whole summary in the annotated text form, its integers
/// byte-swapped on little-endian hosts as `ostree` shows them.
pub fn raw(bytes: &[u8]) -> Result<String, gv::Error> {
    let byteswap = cfg!(target_endian = "little");
    Ok(text::print_serialized(SUMMARY_TYPE, bytes, byteswap)? + "\n")
}

/// `ostree summary --view`: each ref with its commit's size, id and metadata, then the
/// repository metadata.
pub fn view(bytes: &[u8]) -> Result<String, gv::Error> {
    let bad = |detail: &str| gv::err("summary", detail);
    let Value::Tuple(top) = decode(bytes)? else {
        return Err(bad("not a tuple"));
    };
    let [Value::Array(_, refs), Value::Array(_, metadata)] = &top[..] else {
        return Err(bad("not a list of refs and a dictionary"));
    };
    let collection = metadata.iter().find_map(|entry| match entry_parts(entry) {
        Some(("ostree.summary.collection-id", Value::Str(id))) => Some(id.as_str()),
        _ => None,
    });
    let mut out = String::new();
    dump_refs(collection, refs, &mut out)?;
    // Other collections' refs (`ostree.summary.collection-map`), as `ostree` lists
    // them after the repository's own.
    for entry in metadata {
        if let Some(("ostree.summary.collection-map", Value::Array(_, map))) = entry_parts(entry) {
            for item in map {
                let Value::Entry(key, value) = item else {
                    return Err(bad("a collection-map entry is not a dictionary entry"));
                };
                let (Value::Str(id), Value::Array(_, refs)) = (&**key, &**value) else {
                    return Err(bad("a collection-map entry is not (id, refs)"));
                };
                dump_refs(Some(id), refs, &mut out)?;
            }
        }
    }
    for entry in metadata {
        out.push_str(&metadata_line(entry)?);
    }
    Ok(out)
}

/// Each ref with its commit's size, id and metadata (`* (COLLECTION, REF)` when the
/// refs are of a collection).
fn dump_refs(collection: Option<&str>, refs: &[Value], out: &mut String) -> Result<(), gv::Error> {
    let bad = |detail: &str| gv::err("summary", detail);
    for entry in refs {
        let Value::Tuple(parts) = entry else {
            return Err(bad("a ref entry is not a tuple"));
        };
        let [Value::Str(name), Value::Tuple(commit)] = &parts[..] else {
            return Err(bad("a ref entry is not (name, commit)"));
        };
        let [
            Value::U64(size),
            Value::Array(_, id),
            Value::Array(_, ref_metadata),
        ] = &commit[..]
        else {
            return Err(bad("a ref's commit is not (size, checksum, metadata)"));
        };
        match collection {
            Some(collection) => out.push_str(&format!("* ({collection}, {name})\n")),
            None => out.push_str(&format!("* {name}\n")),
        }
        out.push_str(&format!("    Latest Commit ({}):\n", format_size(*size)));
        out.push_str(&format!("      {}\n", checksum_hex(id)?));
        for entry in ref_metadata {
            out.push_str("    ");
            out.push_str(&metadata_line(entry)?);
        }
        out.push('\n');
    }
    Ok(())
}

/// The key and the unwrapped value of an `a{sv}` entry.
fn entry_parts(entry: &Value) -> Option<(&str, &Value)> {
    match entry {
        Value::Entry(key, value) => match (&**key, &**value) {
            (Value::Str(key), Value::Variant(_, value)) => Some((key, value)),
            _ => None,
        },
        _ => None,
    }
}

/// One metadata entry as `ostree` shows it: `Label (key): value` for the keys it knows.
fn metadata_line(entry: &Value) -> Result<String, gv::Error> {
    let (key, value) =
        entry_parts(entry).ok_or_else(|| gv::err("summary", "bad metadata entry"))?;
    let label = match (key, value) {
        ("ostree.commit.timestamp", Value::U64(t)) => Some(("Timestamp", timestamp(*t))),
        ("ostree.commit.version", Value::Str(v)) => Some(("Version", v.clone())),
        ("ostree.summary.mode", Value::Str(mode)) => Some(("Repository Mode", mode.clone())),
        ("ostree.summary.last-modified", Value::U64(t)) => Some(("Last-Modified", timestamp(*t))),
        ("ostree.summary.expires", Value::U64(t)) => Some(("Expires", timestamp(*t))),
        ("ostree.summary.tombstone-commits", Value::Bool(b)) => Some((
            "Has Tombstone Commits",
            if *b { "Yes" } else { "No" }.to_owned(),
        )),
        ("ostree.summary.collection-id", Value::Str(id)) => Some(("Collection ID", id.clone())),
        ("ostree.summary.collection-map", _) => {
            Some(("Collection Map", "(printed above)".to_owned()))
        }
        ("ostree.static-deltas", deltas) => Some(("Static Deltas", text::print(deltas, false))),
        _ => None,
    };
    Ok(match label {
        Some((label, shown)) => format!("{label} ({key}): {shown}\n"),
        None => format!("{key}: {}\n", text::print(value, false)),
    })
}

/// A big-endian timestamp as `ostree` shows it, or `invalid` past year 9999.
fn timestamp(stored: u64) -> String {
    format_iso_timestamp(u64::from_be(stored)).unwrap_or_else(|| "invalid".into())
}

fn checksum_hex(bytes: &[Value]) -> Result<String, gv::Error> {
    let raw: Vec<u8> = bytes
        .iter()
        .filter_map(|b| match b {
            Value::Byte(b) => Some(*b),
            _ => None,
        })
        .collect();
    Checksum::from_bytes(&raw)
        .map(|id| id.to_hex())
        .ok_or_else(|| gv::err("summary ref entry", "checksum is not 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_a_summary_are_errors() {
        // Empty bytes are GVariant's default value: no refs, no metadata.
        assert_eq!(view(b"").unwrap(), "");
        assert!(view(b"\x01\x02\x03").is_err());
        assert!(raw(&[0xff; 40]).is_err());
    }
}
