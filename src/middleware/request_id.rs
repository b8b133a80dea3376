//! The request id: the caller's sane `X-Request-Id` or a new one, kept in the request's
//! extensions for the log span, the upstream request and the answer.

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
