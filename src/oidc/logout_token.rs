//! Logout-token validation per OIDC Back-Channel Logout 1.0 §2.6: signature by the OP's
//! keys, `iss`, `aud`, `iat` window, `jti`, the back-channel event, `sid`/`sub`, no `nonce`.

use jsonwebtoken::jwk::Jwk;
use serde_json::Value;

use super::id_token::{verify_jws, Expectations, IdTokenError};

pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The logout token's answer: which sessions end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    pub sid: Option<String>,
    pub sub: Option<String>,
    pub jti: String,
    pub iat: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogoutTokenError {
    #[error(transparent)]
    Jwt(#[from] IdTokenError),
    #[error("typ must be logout+jwt or JWT")]
    BadTyp,
    #[error("iat is missing or outside the accepted window")]
    BadIat,
    #[error("jti is missing")]
    MissingJti,
    #[error("jti was seen before")]
    Replayed,
    #[error("events does not hold the back-channel logout event")]
    MissingEvent,
    #[error("a logout token must not contain a nonce")]
    NoncePresent,
    #[error("neither sid nor sub is present")]
    NoSidOrSub,
}

fn typ_ok(token: &str) -> bool {
    match jsonwebtoken::decode_header(token).ok().and_then(|h| h.typ) {
        None => true,
        Some(t) => {
            let t = t.to_ascii_lowercase();
            t == "jwt" || t == "logout+jwt" || t == "application/logout+jwt"
        }
    }
}

/// Checks everything but `jti` freshness (the caller records it in its store).
/// `window`: how old `iat` may be, in seconds.
pub fn verify(
    token: &str,
    keys: &[Jwk],
    exp: &Expectations<'_>,
    window: u64,
) -> Result<Logout, LogoutTokenError> {
    let claims = verify_jws(token, keys, exp, &["iss", "aud"], true)?;
    if !typ_ok(token) {
        return Err(LogoutTokenError::BadTyp);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or(LogoutTokenError::BadIat)?;
    if iat > exp.now + exp.skew || iat + window + exp.skew < exp.now {
        return Err(LogoutTokenError::BadIat);
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or(LogoutTokenError::MissingJti)?
        .to_string();
    let has_event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|e| e.get(BACKCHANNEL_EVENT))
        .is_some_and(Value::is_object);
    if !has_event {
        return Err(LogoutTokenError::MissingEvent);
    }
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::NoncePresent);
    }
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (sid, sub) = (text("sid"), text("sub"));
    if sid.is_none() && sub.is_none() {
        return Err(LogoutTokenError::NoSidOrSub);
    }
    Ok(Logout { sid, sub, jti, iat })
}
