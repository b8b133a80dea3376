//! JWT and JWKS parsing and ID-token verification never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use oidc_bff::oidc::id_token::{verify, Expectations};
use oidc_bff::oidc::jwks::parse_jwks;

const JWKS: &str = r#"{"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}]}"#;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = parse_jwks(&doc);
    }
    let keys = parse_jwks(&serde_json::from_str(JWKS).unwrap()).unwrap();
    let algs = [jsonwebtoken::Algorithm::RS256, jsonwebtoken::Algorithm::ES256, jsonwebtoken::Algorithm::HS256];
    let exp = Expectations {
        issuer: "https://op.example",
        client_id: "c",
        nonce: Some("n"),
        now: 1_700_000_000,
        skew: 60,
        algs: &algs,
        client_secret: Some("secret"),
        max_age: Some(60),
        max_iat_age: 600,
    };
    // Garbage never verifies.
    assert!(verify(&text, &keys, &exp).is_err());
});
