//! OSTree metadata from a hostile repository or server must never panic or hang, and
//! whatever parses is in normal form: serialising it again gives the same bytes. The
//! same for any GVariant decoded by a type string and shown in its text form, and for
//! any text read as a GVariant.
#![no_main]
use ferro_ostree::gvariant::parse::parse;
use ferro_ostree::gvariant::text;
use ferro_ostree::gvariant::typed::{Type, Value};
use ferro_ostree::object::{Commit, DirMeta, DirTree, FileHeader, parse_metadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    match kind % 9 {
        0 => {
            if let Ok(commit) = Commit::parse(bytes) {
                assert_eq!(commit.to_bytes(), bytes);
            }
        }
        1 => {
            if let Ok(tree) = DirTree::parse(bytes) {
                assert_eq!(tree.to_bytes(), bytes);
            }
        }
        2 => {
            if let Ok(meta) = DirMeta::parse(bytes) {
                assert_eq!(meta.to_bytes(), bytes);
            }
        }
        3 => {
            let _ = FileHeader::parse_archive(bytes);
        }
        4 => {
            let _ = parse_metadata(bytes);
        }
        5 => {
            let _ = ferro_ostree::summary::parse_refs(bytes);
        }
        6 => {
            let _ = ferro_ostree::summary::view(bytes);
            let _ = ferro_ostree::summary::raw(bytes);
        }
        7 => {
            // Text that parses is a value whose bytes decode and encode back to them.
            if let Ok(value) = parse(&String::from_utf8_lossy(bytes), None) {
                let encoded = value.encode();
                let decoded = Value::decode(&value.type_of(), &encoded).expect("own encoding");
                assert_eq!(decoded.encode(), encoded);
            }
        }
        _ => {
            // A type string, a NUL, then the value's bytes.
            let Some(nul) = bytes.iter().position(|&b| b == 0) else {
                return;
            };
            let Ok(ty) = Type::parse(&String::from_utf8_lossy(&bytes[..nul])) else {
                return;
            };
            if let Ok(value) = Value::decode(&ty, &bytes[nul + 1..]) {
                let _ = text::print(&value.byteswapped(), true);
            }
        }
    }
});
