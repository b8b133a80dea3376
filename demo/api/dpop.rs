//! issue 12: the demo API as a DPoP resource server (RFC 9449 7): a `DPoP` token needs a
//! proof for this request (typ, asymmetric alg, signature by its `jwk`, `htm`, `htu`,
//! `iat`, a `jti` not seen before, `ath`), and the OP's introspection must bind the token
//! to that key (`cnf.jkt`). A DPoP-bound token sent as `Bearer` is refused.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `jti`s seen in the last minute (a replayed proof is refused).
#[derive(Default)]
pub struct Seen(Mutex<HashMap<String, u64>>);

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Checks `proof` for `htm url` and `token`; the key's thumbprint, or why not.
pub fn verify(
    proof: &str,
    htm: &str,
    url: &str,
    token: &str,
    seen: &Seen,
) -> Result<String, &'static str> {
    let header = decode_header(proof).map_err(|_| "the DPoP proof is not a JWT")?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err("the DPoP proof's typ is not dpop+jwt");
    }
    if !matches!(
        header.alg,
        Algorithm::ES256 | Algorithm::PS256 | Algorithm::EdDSA
    ) {
        return Err("the DPoP proof's alg is not allowed");
    }
    let jwk: Jwk = header.jwk.ok_or("the DPoP proof has no jwk")?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| "the DPoP proof's jwk is unusable")?;
    let mut v = Validation::new(header.alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    let claims = decode::<Value>(proof, &key, &v)
        .map_err(|_| "the DPoP proof's signature is wrong")?
        .claims;
    if claims["htm"].as_str() != Some(htm) {
        return Err("the DPoP proof's htm is not this request's method");
    }
    if claims["htu"].as_str() != Some(url) {
        return Err("the DPoP proof's htu is not this URL");
    }
    let iat = claims["iat"].as_u64().ok_or("the DPoP proof has no iat")?;
    let t = now();
    if iat.saturating_add(60) < t || iat > t.saturating_add(60) {
        return Err("the DPoP proof is too old or from the future");
    }
    let want = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
    if claims["ath"].as_str() != Some(want.as_str()) {
        return Err("the DPoP proof's ath is not this token's");
    }
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty())
        .ok_or("the DPoP proof has no jti")?;
    {
        let mut seen = seen.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, at| *at + 120 > t);
        if seen.insert(jti.to_string(), t).is_some() {
            return Err("the DPoP proof was used before");
        }
    }
    jwk.thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| "the DPoP proof's jwk has no thumbprint")
}

/// The introspected token's DPoP binding (`cnf.jkt`).
pub fn bound_jkt(info: &Value) -> Option<&str> {
    info.get("cnf")?.get("jkt")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};

    fn proof(iat: u64, jti: &str) -> String {
        let pem = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/keys/ec1.pem"
        ))
        .unwrap();
        let key = EncodingKey::from_ec_pem(&pem).unwrap();
        let mut h = Header::new(Algorithm::ES256);
        h.typ = Some("dpop+jwt".into());
        h.jwk = Some(Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap());
        let claims = serde_json::json!({
            "jti": jti, "htm": "GET", "htu": "https://api/x", "iat": iat,
            "ath": URL_SAFE_NO_PAD.encode(Sha256::digest(b"tok")),
        });
        encode(&h, &claims, &key).unwrap()
    }

    #[test]
    fn a_proof_is_checked_and_an_absurd_iat_is_refused_not_a_panic() {
        oidc_bff::install_crypto_provider();
        let seen = Seen::default();
        assert!(verify(&proof(now(), "a"), "GET", "https://api/x", "tok", &seen).is_ok());
        assert_eq!(
            verify(&proof(now(), "a"), "GET", "https://api/x", "tok", &seen),
            Err("the DPoP proof was used before")
        );
        assert_eq!(
            verify(&proof(u64::MAX, "b"), "GET", "https://api/x", "tok", &seen),
            Err("the DPoP proof is too old or from the future")
        );
        assert_eq!(
            verify(&proof(now(), "c"), "GET", "https://api/x", "other", &seen),
            Err("the DPoP proof's ath is not this token's")
        );
    }
}
