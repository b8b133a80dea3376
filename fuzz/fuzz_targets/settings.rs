//! Settings validation never panics: bad input is a ConfigError naming a key.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Err(e) = oidc_bff::config::Config::from_value(value, &Default::default()) {
            assert!(!e.key.is_empty());
            assert!(!e.to_string().contains('\n'));
        }
    }
});
