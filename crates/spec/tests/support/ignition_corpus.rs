//! The Ignition conformance corpus (`../shared/conformance/ignition`, upstream blackbox
//! tests extracted to JSON) as the tests of `ferro-spec` and `ferro-ignition` both read
//! it: found from the crate's directory upwards, cases listed in name order, fixtures
//! (`_*.json`) left out.

use std::path::{Path, PathBuf};

/// The corpus directory and its case files in name order, or `None` (said on stderr, so
/// the test shows why it checked nothing) when the corpus is absent.
pub fn case_files(manifest_dir: &Path) -> Option<(PathBuf, Vec<PathBuf>)> {
    let Some(dir) = manifest_dir
        .ancestors()
        .map(|dir| dir.join("shared/conformance/ignition"))
        .find(|dir| dir.is_dir())
    else {
        eprintln!("skipping Ignition conformance: ../shared/conformance/ignition is absent");
        return None;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        })
        .collect();
    files.sort();
    Some((dir, files))
}
