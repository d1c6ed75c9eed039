//! Connection strings, in both forms: splitting out the TLS settings must
//! never panic, and is idempotent (what it leaves holds no TLS setting and
//! splits to itself), so nothing reaches tokio-postgres twice or not at all.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replibyte::config::ConnectionUri;
use replibyte::pg::tls::TlsSettings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((rest, _)) = TlsSettings::extract(text) {
        let (again, settings) = TlsSettings::extract(&rest).expect("what extract leaves parses");
        assert_eq!(again, rest, "extract is not idempotent");
        assert_eq!(settings, TlsSettings::default(), "a TLS setting was left behind");
    }
    let _ = ConnectionUri::parse(text);
});
