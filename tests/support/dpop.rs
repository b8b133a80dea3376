//! issue 12: a DPoP proof verifier as a server runs one (RFC 9449 4.3), written apart from
//! the BFF's code: used by the fake OP, the DPoP-checking upstream and property tests.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A proof that verified: the thumbprint of its key and its claims.
#[derive(Clone, Debug)]
pub struct Proof {
    pub jkt: String,
    pub claims: Value,
}

/// What the server expects of a proof.
pub struct Expect<'a> {
    pub htm: &'a str,
    /// The request's URL as the server sees it (query and fragment are ignored).
    pub htu: &'a str,
    pub access_token: Option<&'a str>,
    pub nonce: Option<&'a str>,
}

/// Why a proof failed (`Nonce`: it lacks the server's current nonce).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Invalid(String),
    Nonce,
}

fn strip(url: &str) -> String {
    let mut u = url::Url::parse(url).expect("url");
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

pub fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Verifies `proof` (RFC 9449 4.3 steps 2-11, the `iat` window 60 s).
pub fn verify(proof: &str, e: &Expect<'_>) -> Result<Proof, Refusal> {
    let bad = |m: &str| Refusal::Invalid(m.to_string());
    let header = decode_header(proof).map_err(|_| bad("not a JWT"))?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(bad("typ is not dpop+jwt"));
    }
    if !matches!(
        header.alg,
        Algorithm::ES256 | Algorithm::PS256 | Algorithm::RS256 | Algorithm::EdDSA
    ) {
        return Err(bad("alg is not asymmetric"));
    }
    let jwk: Jwk = header.jwk.ok_or_else(|| bad("no jwk"))?;
    let raw = serde_json::to_value(&jwk).unwrap();
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        if raw.get(private).is_some() {
            return Err(bad("the jwk has a private member"));
        }
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad("unusable jwk"))?;
    let mut v = Validation::new(header.alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    let claims = decode::<Value>(proof, &key, &v)
        .map_err(|_| bad("bad signature"))?
        .claims;
    if claims["jti"].as_str().is_none_or(str::is_empty) {
        return Err(bad("no jti"));
    }
    if claims["htm"].as_str() != Some(e.htm) {
        return Err(bad("htm differs"));
    }
    match claims["htu"].as_str() {
        Some(htu) if htu == strip(e.htu) => {}
        _ => return Err(bad("htu differs")),
    }
    let iat = claims["iat"].as_u64().ok_or_else(|| bad("no iat"))?;
    let now = super::tokens::now() as u64;
    if iat + 60 < now || iat > now + 60 {
        return Err(bad("iat out of window"));
    }
    match (e.access_token, claims["ath"].as_str()) {
        (Some(t), Some(a)) if a == ath(t) => {}
        (Some(_), _) => return Err(bad("ath differs")),
        (None, _) => {}
    }
    if let Some(n) = e.nonce {
        if claims["nonce"].as_str() != Some(n) {
            return Err(Refusal::Nonce);
        }
    }
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| bad("no thumbprint"))?;
    Ok(Proof { jkt, claims })
}
