//! Ignition parsing and validation must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ferro_spec::parse::parse(data);
});
