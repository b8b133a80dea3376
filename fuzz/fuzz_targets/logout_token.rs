//! Logout-token validation never panics and never accepts an unsigned token.
#![no_main]
use libfuzzer_sys::fuzz_target;
use oidc_bff::oidc::id_token::Expectations;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let algs = [jsonwebtoken::Algorithm::RS256, jsonwebtoken::Algorithm::HS256];
    let exp = Expectations {
        issuer: "https://op.example",
        client_id: "c",
        nonce: None,
        now: 1_700_000_000,
        skew: 60,
        algs: &algs,
        client_secret: Some("secret"),
        max_age: None,
        max_iat_age: 600,
    };
    assert!(oidc_bff::oidc::logout_token::verify(&text, &[], &exp, 300).is_err());
});
