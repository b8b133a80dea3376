//! The request id: the caller's sane `X-Request-Id` or a new one, kept in the request's
//! extensions for the log span, the upstream request and the answer.

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest};

/// The request id: the caller's `X-Request-Id` when it is sane, else a new one. Carried
/// in every log line of the request (a span), sent upstream, and echoed in the answer.
/// Kept as the header value itself: the caller's is shared, not copied.
#[derive(Clone)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    /// The id as text (always visible ASCII: checked or made so).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

fn sane(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
}

/// A new id: 12 random bytes, base64url (16 characters), made without a `String`.
fn fresh() -> HeaderValue {
    use base64::Engine;
    let raw: [u8; 12] = rand::random();
    let mut text = [0u8; 16];
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode_slice(raw, &mut text)
        .unwrap_or_default();
    HeaderValue::from_bytes(&text[..n]).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

pub fn request_id(incoming: &HeaderMap) -> RequestId {
    RequestId(
        incoming
            .get("x-request-id")
            .filter(|v| sane(v))
            .cloned()
            .unwrap_or_else(fresh),
    )
}

/// Gives the request its id (kept in its extensions) and returns it.
pub fn assign(req: &ServiceRequest) -> RequestId {
    let rid = request_id(req.headers());
    req.extensions_mut().insert(rid.clone());
    rid
}

/// The id of a request that passed [`assign`] (a fresh one otherwise).
pub fn of(req: &HttpRequest) -> RequestId {
    req.extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(|| request_id(req.headers()))
}

/// Echoes the id in the answer's `X-Request-Id`.
pub fn stamp<B>(res: &mut ServiceResponse<B>, rid: &RequestId) {
    res.headers_mut()
        .insert(HeaderName::from_static("x-request-id"), rid.0.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static("x-request-id"),
            HeaderValue::from_static(v),
        );
        h
    }

    #[test]
    fn a_sane_id_is_kept_and_any_other_replaced_by_a_fresh_one() {
        assert_eq!(request_id(&with("abc-1_2.3")).as_str(), "abc-1_2.3");
        for bad in ["", "a b", "a\"b", "x/y"] {
            let id = request_id(&with(bad));
            assert_ne!(id.as_str(), bad);
            assert_eq!(id.as_str().len(), 16);
        }
        let long: &'static str = Box::leak("a".repeat(129).into_boxed_str());
        assert_eq!(request_id(&with(long)).as_str().len(), 16);
        let (a, b) = (request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
        assert_ne!(a.as_str(), b.as_str());
        assert!(a
            .as_str()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
