//! The request id: the caller's sane `X-Request-Id` or a new one, kept in the request's
//! extensions for the log span, the upstream request and the answer.

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest};

/// The request id: the caller's `X-Request-Id` when it is sane, else a new one. Carried
/// in every log line of the request (a span), sent upstream, and echoed in the answer.
#[derive(Clone)]
pub struct RequestId(pub String);

pub fn request_id(incoming: &actix_web::http::header::HeaderMap) -> String {
    incoming
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| crate::util::random_id(12))
}

/// Gives the request its id (kept in its extensions) and returns it.
pub fn assign(req: &ServiceRequest) -> String {
    let rid = request_id(req.headers());
    req.extensions_mut().insert(RequestId(rid.clone()));
    rid
}

/// The id of a request that passed [`assign`] (a fresh one otherwise).
pub fn of(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| request_id(req.headers()))
}

/// Echoes the id in the answer's `X-Request-Id`.
pub fn stamp<B>(res: &mut ServiceResponse<B>, rid: &str) {
    if let Ok(v) = HeaderValue::from_str(rid) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
}
