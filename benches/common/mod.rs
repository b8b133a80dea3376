//! Shared fixtures for the criterion benches: a realistic session (ID token signed with
//! the test RSA key, a JWT-sized access token, an opaque refresh token) and a config.
#![allow(dead_code)]

use std::collections::BTreeMap;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oidc_bff::config::Config;
use oidc_bff::session::Session;
use serde_json::{json, Map, Value};

pub const ISSUER: &str = "https://op.example";
pub const CLIENT_ID: &str = "oidc-bff-bench";
pub const NOW: u64 = 1_800_000_000;

pub fn rsa_key() -> EncodingKey {
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/keys/rsa1.pem"
    ))
    .expect("tests/support/keys/rsa1.pem");
    EncodingKey::from_rsa_pem(&pem).expect("RSA key")
}

/// The public JWK of `rsa1.pem`, as the OP's JWKS would carry it.
pub fn rsa_jwk(kid: &str) -> Jwk {
    let mut v = serde_json::to_value(Jwk::from_encoding_key(&rsa_key(), Algorithm::RS256).unwrap())
        .unwrap();
    v["kid"] = json!(kid);
    v["use"] = json!("sig");
    serde_json::from_value(v).unwrap()
}

/// ID-token claims like the demo OP's (profile, email, address, phone), plus `groups`
/// of `groups` GUID-like entries (how real sessions grow: Entra ID, Keycloak roles).
pub fn id_claims(now: u64, nonce: &str, groups: usize) -> Map<String, Value> {
    let mut c = json!({
        "iss": ISSUER, "sub": "demo-user-1", "aud": CLIENT_ID, "exp": now + 3600, "iat": now,
        "auth_time": now, "nonce": nonce, "sid": "Jq3Lr7hG0a2kXcVbN9mPqRsTuVwXyZ01", "at_hash": "x4Gd0Kc8yGQw9fB2sY7nIg",
        "name": "Dana Demo", "given_name": "Dana", "family_name": "Demo", "preferred_username": "demo",
        "email": "demo@example.com", "email_verified": true, "locale": "en-US", "zoneinfo": "Europe/Berlin",
        "phone_number": "+1 555 0100", "phone_number_verified": false, "updated_at": now - 86400,
        "address": {"street_address": "1 Demo Way", "locality": "Springfield", "postal_code": "12345", "country": "US"},
    });
    if groups > 0 {
        c["groups"] = Value::Array(
            (0..groups)
                .map(|i| {
                    json!(format!(
                        "{:08x}-7d2c-4f1e-9a3b-{:012x}",
                        i * 2_654_435_761u64 as usize,
                        i
                    ))
                })
                .collect(),
        );
    }
    c.as_object().unwrap().clone()
}

pub fn sign(claims: &Map<String, Value>, kid: &str) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, claims, &rsa_key()).unwrap()
}

/// A session with three tokens: RS256 ID token, an RS256 JWT access token (~700 bytes),
/// an opaque refresh token: ~2.6 KB of JSON, sealed ~3.6 KB (one cookie). `groups` pads
/// the ID token and the claims alike (~125 sealed bytes per group).
pub fn session(groups: usize) -> Session {
    let claims = id_claims(NOW, "n-0S6_WzA2Mj", groups);
    let id_token = sign(&claims, "key-1");
    let at_claims = json!({
        "iss": ISSUER, "sub": "demo-user-1", "aud": "https://api.example", "client_id": CLIENT_ID,
        "exp": NOW + 300, "iat": NOW,
        "scope": "openid profile api.read",
    });
    let access_token = sign(at_claims.as_object().unwrap(), "key-1");
    let mut claims = claims;
    claims.remove("nonce");
    Session {
        id: "kq0G7s3dQxW1bH8vY2nR5A".into(),
        sub: "demo-user-1".into(),
        sid: Some("Jq3Lr7hG0a2kXcVbN9mPqRsTuVwXyZ01".into()),
        claims: claims.into(),
        id_token,
        access_token: Some(access_token),
        refresh_token: Some("rt_Zx8Kq2Lm4Np6Rs8Tv0Wx2Yz4Ab6Cd8Ef0Gh2Ij4Kl6Mn8Op".into()),
        access_token_expires_at: Some(NOW + 300),
        scope: Some("openid profile email address phone offline_access".into()),
        dpop_jkt: None,
        created_at: NOW,
        expires_at: NOW + 28_800,
        last_seen: NOW,
    }
}

/// A valid config on plain-http localhost (cookie names without `__Host-`).
pub fn config(extra: Value) -> Config {
    let mut v = json!({
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "client_secret": "bench-secret",
        "base_url": "http://localhost:18080",
        "api_endpoint": "http://127.0.0.1:18081",
        "cookie_keys": ["AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="],
    });
    for (k, x) in extra.as_object().cloned().unwrap_or_default() {
        v[k] = x;
    }
    Config::from_value(v, &BTreeMap::new()).expect("bench config")
}
