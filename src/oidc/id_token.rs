//! ID-token validation per OIDC Core 3.1.3.7: allow-listed algorithm (never `none`),
//! signature by the OP's JWKS, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `sub`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::util::constant_time_eq;

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum IdTokenError {
    #[error("not a well-formed JWT")]
    Malformed,
    #[error("algorithm `{0}` is not allowed")]
    AlgNotAllowed(String),
    #[error("no key in the OP's JWKS matches the token")]
    UnknownKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("audience does not contain our client_id")]
    WrongAudience,
    #[error("azp is missing or is not our client_id")]
    BadAzp,
    #[error("token has expired")]
    Expired,
    #[error("iat is missing, in the future, or too old")]
    BadIat,
    #[error("nonce does not match")]
    NonceMismatch,
    #[error("required claim `{0}` is missing")]
    MissingClaim(String),
    #[error("auth_time is older than max_age")]
    AuthTooOld,
}

/// What the token must match.
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The login's nonce; `None` for ID tokens from a refresh (OIDC Core 12.2).
    pub nonce: Option<&'a str>,
    pub now: u64,
    pub skew: u64,
    pub algs: &'a [Algorithm],
    /// For HS* ID tokens (key = client secret), only if an HS alg is allowed.
    pub client_secret: Option<&'a str>,
    /// `max_age` sent in the request: then `auth_time` is required and checked.
    pub max_age: Option<u64>,
    /// Reject tokens issued longer ago than this.
    pub max_iat_age: u64,
}

/// The alg and kid of a token, with `alg` checked against the allow-list.
pub fn header(
    token: &str,
    algs: &[Algorithm],
) -> Result<(Algorithm, Option<String>), IdTokenError> {
    let raw_alg = || -> Option<String> {
        let first = token.split('.').next()?;
        let bytes = URL_SAFE_NO_PAD.decode(first).ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        v.get("alg")?.as_str().map(str::to_string)
    };
    match jsonwebtoken::decode_header(token) {
        Ok(h) if algs.contains(&h.alg) => Ok((h.alg, h.kid)),
        Ok(h) => Err(IdTokenError::AlgNotAllowed(format!("{:?}", h.alg))),
        Err(_) => match raw_alg() {
            Some(alg) => Err(IdTokenError::AlgNotAllowed(alg)),
            None => Err(IdTokenError::Malformed),
        },
    }
}

fn key_fits(jwk: &Jwk, alg: Algorithm, kid: Option<&str>) -> bool {
    if let Some(kid) = kid {
        if jwk.common.key_id.as_deref() != Some(kid) {
            return false;
        }
    }
    if let Some(key_alg) = jwk.common.key_algorithm {
        if format!("{key_alg:?}") != format!("{alg:?}") {
            return false;
        }
    }
    true
}

fn map_jwt_error(e: &jsonwebtoken::errors::Error) -> IdTokenError {
    match e.kind() {
        ErrorKind::InvalidSignature => IdTokenError::BadSignature,
        ErrorKind::ExpiredSignature => IdTokenError::Expired,
        ErrorKind::InvalidIssuer => IdTokenError::WrongIssuer,
        ErrorKind::InvalidAudience => IdTokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) => IdTokenError::MissingClaim(c.clone()),
        ErrorKind::InvalidAlgorithm => IdTokenError::AlgNotAllowed("mismatch".into()),
        _ => IdTokenError::Malformed,
    }
}

/// Verifies signature and standard claims; returns the claims.
pub fn verify(
    token: &str,
    keys: &[Jwk],
    exp: &Expectations<'_>,
) -> Result<Map<String, Value>, IdTokenError> {
    let claims = verify_jws(token, keys, exp, &["exp", "iss", "aud", "sub"], true)?;
    check_claims(&claims, exp)?;
    Ok(claims)
}

/// Verifies a JWT's signature with an allow-listed algorithm and a key from `keys` (or
/// the client secret for HS*), plus `iss`, `aud` and, when `validate_exp`, `exp`.
pub fn verify_jws(
    token: &str,
    keys: &[Jwk],
    exp: &Expectations<'_>,
    required: &[&str],
    validate_exp: bool,
) -> Result<Map<String, Value>, IdTokenError> {
    if token.len() > 64 * 1024 {
        return Err(IdTokenError::Malformed);
    }
    let (alg, kid) = header(token, exp.algs)?;
    let mut validation = Validation::new(alg);
    validation.leeway = exp.skew;
    validation.validate_exp = validate_exp;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(required);
    validation.set_issuer(&[exp.issuer]);
    validation.set_audience(&[exp.client_id]);

    let decoding_keys: Vec<DecodingKey> = if crate::util::is_hmac(alg) {
        exp.client_secret
            .map(|s| vec![DecodingKey::from_secret(s.as_bytes())])
            .unwrap_or_default()
    } else {
        keys.iter()
            .filter(|k| key_fits(k, alg, kid.as_deref()))
            .filter_map(|k| DecodingKey::from_jwk(k).ok())
            .filter(|k| alg.family() == k.family())
            .collect()
    };
    if decoding_keys.is_empty() {
        return Err(IdTokenError::UnknownKey);
    }
    let mut last = IdTokenError::UnknownKey;
    for key in &decoding_keys {
        match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) => {
                last = map_jwt_error(&e);
                if last != IdTokenError::BadSignature {
                    return Err(last);
                }
            }
        }
    }
    Err(last)
}

/// The claim checks jsonwebtoken does not do for us.
pub fn check_claims(
    claims: &Map<String, Value>,
    exp: &Expectations<'_>,
) -> Result<(), IdTokenError> {
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == exp.issuer => {}
        _ => return Err(IdTokenError::WrongIssuer),
    }
    match claims.get("sub").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() && sub.len() <= 255 => {}
        _ => return Err(IdTokenError::MissingClaim("sub".into())),
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => return Err(IdTokenError::WrongAudience),
    };
    if !audiences.contains(&exp.client_id) {
        return Err(IdTokenError::WrongAudience);
    }
    let azp = claims.get("azp").and_then(Value::as_str);
    if audiences.len() > 1 && azp.is_none() {
        return Err(IdTokenError::BadAzp);
    }
    if azp.is_some_and(|a| a != exp.client_id) {
        return Err(IdTokenError::BadAzp);
    }
    match claims.get("exp").and_then(Value::as_u64) {
        Some(e) if e + exp.skew > exp.now => {}
        Some(_) => return Err(IdTokenError::Expired),
        None => return Err(IdTokenError::MissingClaim("exp".into())),
    }
    match claims.get("iat").and_then(Value::as_u64) {
        Some(iat) if iat <= exp.now + exp.skew && iat + exp.max_iat_age + exp.skew >= exp.now => {}
        _ => return Err(IdTokenError::BadIat),
    }
    if let Some(expected) = exp.nonce {
        match claims.get("nonce").and_then(Value::as_str) {
            Some(n) if constant_time_eq(n.as_bytes(), expected.as_bytes()) => {}
            _ => return Err(IdTokenError::NonceMismatch),
        }
    }
    if let Some(max_age) = exp.max_age {
        match claims.get("auth_time").and_then(Value::as_u64) {
            Some(t) if t + max_age + exp.skew >= exp.now => {}
            Some(_) => return Err(IdTokenError::AuthTooOld),
            None => return Err(IdTokenError::MissingClaim("auth_time".into())),
        }
    }
    Ok(())
}
