//! Logout-token validation per OIDC Back-Channel Logout 1.0 §2.6: signature by the OP's
//! keys, `iss`, `aud`, `iat` window, `jti`, the back-channel event, `sid`/`sub`, no `nonce`.

use jsonwebtoken::jwk::Jwk;
use serde_json::Value;

use super::id_token::{verify_jws, Expectations, IdTokenError};

pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How old a logout token's `iat` may be.
pub const LOGOUT_TOKEN_WINDOW: u64 = 300;

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

/// Whether `iat` is at most `window` (plus `skew`) old and not (beyond `skew`) ahead.
fn iat_fresh(iat: u64, now: u64, window: u64, skew: u64) -> bool {
    iat <= now + skew && iat + window + skew >= now
}

/// Until when a logout token's `jti` is remembered as spent (replays refused): longer than
/// [`verify`] would accept a token of that `iat` (`LOGOUT_TOKEN_WINDOW`), on either side's
/// clock skew.
pub fn replay_until(iat: u64, skew: u64) -> u64 {
    iat + LOGOUT_TOKEN_WINDOW + 2 * skew
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
    if !iat_fresh(iat, exp.now, window, exp.skew) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_remembered_as_long_as_its_token_would_be_accepted() {
        let (iat, skew) = (10_000, 5);
        let until = replay_until(iat, skew);
        assert_eq!(until, iat + LOGOUT_TOKEN_WINDOW + 10);
        let accepted: Vec<u64> = (iat - 20..iat + LOGOUT_TOKEN_WINDOW + 20)
            .filter(|&now| iat_fresh(iat, now, LOGOUT_TOKEN_WINDOW, skew))
            .collect();
        assert_eq!(accepted.first(), Some(&(iat - skew)));
        assert_eq!(accepted.last(), Some(&(iat + LOGOUT_TOKEN_WINDOW + skew)));
        assert!(accepted.iter().all(|&now| now < until));
        assert_eq!(replay_until(iat, 0), iat + LOGOUT_TOKEN_WINDOW);
    }
}
