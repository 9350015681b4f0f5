//! `--from-ignition` round trip: every Ignition config the reference Butane produced in
//! the conformance corpus, written back as Butane and translated again, must give an
//! equivalent config (same content; data URLs may be encoded differently).

use std::fs;
use std::io::Read;
use std::path::Path;

use ferro_spec::DataUrl;
use serde_json::Value;

/// Replaces every resource's `source`/`compression` by its decoded payload, so that
/// equivalent encodings compare equal.
fn decode_resources(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let payload = map
                .get("source")
                .and_then(Value::as_str)
                .and_then(|source| DataUrl::parse(source).ok())
                .map(DataUrl::into_data);
            if let Some(mut bytes) = payload {
                if map.get("compression").and_then(Value::as_str) == Some("gzip") {
                    let mut plain = Vec::new();
                    flate2::read::GzDecoder::new(bytes.as_slice())
                        .read_to_end(&mut plain)
                        .expect("valid gzip");
                    bytes = plain;
                }
                map.shift_remove("compression");
                map.insert(
                    "source".into(),
                    Value::String(String::from_utf8_lossy(&bytes).into()),
                );
            }
            map.values_mut().for_each(decode_resources);
        }
        Value::Array(items) => items.iter_mut().for_each(decode_resources),
        _ => {}
    }
}

#[test]
fn reference_outputs_survive_a_round_trip() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/butane");
    let Ok(entries) = fs::read_dir(&dir) else {
        eprintln!("skipping: ../shared/conformance/butane is not present");
        return;
    };
    let mut checked = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".expected.json") {
            continue;
        }
        let original = fs::read(entry.path()).unwrap();
        let yaml = ferro_butane::from_ignition(&original, "fcos", None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let translation = ferro_butane::translate(&yaml, &ferro_butane::Options::default())
            .unwrap_or_else(|f| panic!("{name}: {}\n{}\n{yaml}", f.error, f.report));
        let mut expected: Value = serde_json::from_slice(&original).unwrap();
        let mut actual: Value = serde_json::from_str(&translation.output()).unwrap();
        decode_resources(&mut expected);
        decode_resources(&mut actual);
        assert_eq!(
            actual, expected,
            "{name} changed in the round trip:\n{yaml}"
        );
        checked += 1;
    }
    assert!(checked > 0, "no reference outputs found");
    eprintln!("{checked} reference outputs survive the round trip");
}
