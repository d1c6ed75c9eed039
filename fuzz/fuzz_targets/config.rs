//! The config loader on arbitrary text: YAML, `$VAR` expansion, connection
//! URIs (with their TLS settings), the bridge and its encryption, then the
//! checks commands make before they start. Errors are fine, panics are not.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use replibyte::bridge::S3Settings;
use replibyte::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse(text, Path::new("fuzz.yaml")) else {
        return;
    };
    let _ = config.time_zone();
    let _ = config.source();
    let _ = config.destination();
    let _ = S3Settings::try_from(&config.bridge);
    let _ = format!("{config:?}");
});
