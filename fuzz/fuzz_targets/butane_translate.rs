//! The whole Butane translation (no files dir) must never panic, and a success must
//! produce JSON that parses back as a valid Ignition config.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(translation) = ferro_butane::translate(text, &ferro_butane::Options::default()) {
        if !translation.output.starts_with('#') {
            let reparsed = ferro_spec::parse::parse(translation.output.as_bytes());
            assert!(reparsed.is_ok(), "translated output does not parse: {}", translation.output);
        }
    }
});
