//! The manifest reader on arbitrary bytes: it must refuse what it does not
//! understand without panicking, and what it accepts must write back to
//! JSON that reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replibyte::format::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = Manifest::from_json(data) else {
        return;
    };
    let written = serde_json::to_vec(&manifest).expect("a manifest serializes");
    let again = Manifest::from_json(&written).expect("a manifest replibyte writes reads back");
    assert_eq!(serde_json::to_vec(&again).expect("serializes"), written, "the round trip changed the manifest");
});
