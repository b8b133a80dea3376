//! The callback's query string parser never panics; returnUrl sanitising stays same-origin.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = oidc_bff::bff::callback::parse_query(&text);
    let safe = oidc_bff::oidc::authorize::safe_return_url(Some(&text));
    assert!(safe.starts_with('/') && !safe.starts_with("//") && !safe.contains('\\'));
    let _ = oidc_bff::proxy::path::check_path(&text);
});
