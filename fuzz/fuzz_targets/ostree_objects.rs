//! OSTree metadata from a hostile repository or server must never panic or hang, and
//! whatever parses is in normal form: serialising it again gives the same bytes.
#![no_main]
use ferro_ostree::object::{Commit, DirMeta, DirTree, FileHeader, parse_metadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    match kind % 6 {
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
        _ => {
            let _ = ferro_ostree::summary::parse_refs(bytes);
        }
    }
});
