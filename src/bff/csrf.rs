//! Rules every request passes first: cookie limits, and the contract's CSRF rule
//! (state-changing `/bff/` requests and every `/api/` request carry `X-CSRF: 1`, and
//! their `Origin`, when present, is ours). Also logs each request (path only).

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::Payload;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, ConnectionType, Method};
use actix_web::middleware::Next;
use actix_web::{web, Error};

use crate::app::AppState;
use crate::deadline::{BodyWatch, Holding};
use crate::error::BffError;

/// Paths the OP calls directly; exempt from the rule.
const EXEMPT: &[&str] = &["/bff/backchannel-logout", "/bff/frontchannel-logout"];

pub fn needs_check(method: &Method, path: &str) -> bool {
    let state_changing = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let bff = path.starts_with("/bff/") && state_changing && !EXEMPT.contains(&path);
    let api = path == "/api" || path.starts_with("/api/");
    bff || api
}

/// True when the request satisfies the rule.
pub fn allowed(x_csrf: Option<&str>, origin: Option<&str>, ours: &str, extra: &[String]) -> bool {
    if x_csrf != Some("1") {
        return false;
    }
    match origin {
        None => true,
        Some(o) => o == ours || extra.iter().any(|e| e == o),
    }
}

/// Too many cookies, or too large a `Cookie` header: 400/431 JSON before any parsing.
pub fn cookie_limits(
    headers: &actix_web::http::header::HeaderMap,
    max_count: usize,
    max_bytes: usize,
) -> Result<(), BffError> {
    let mut bytes = 0;
    let mut count = 0;
    for value in headers.get_all(actix_web::http::header::COOKIE) {
        bytes += value.len();
        count += value.as_bytes().split(|b| *b == b';').count();
    }
    if bytes > max_bytes {
        return Err(BffError::TooLarge("the Cookie header is too large"));
    }
    if count > max_count {
        return Err(BffError::BadRequest(format!(
            "too many cookies (at most {max_count})"
        )));
    }
    Ok(())
}

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
        .unwrap_or_else(|| crate::session::random_id(12))
}

fn check(req: &ServiceRequest, state: Option<&web::Data<AppState>>) -> Result<(), BffError> {
    let Some(s) = state else { return Ok(()) };
    let total: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if total > s.config.max_header_bytes {
        return Err(BffError::TooLarge("the request headers are too large"));
    }
    cookie_limits(
        req.headers(),
        s.config.max_cookies,
        s.config.max_cookie_header,
    )?;
    // Issue 9: TRACE, TRACK and CONNECT never reach an upstream (an echoing upstream
    // would hand the bearer token to the page), with or without X-CSRF; nothing else
    // here serves them either.
    if crate::proxy::refused_method(req.method())
        || crate::proxy::overrides_to_refused_method(req.headers())
    {
        return Err(BffError::MethodNotAllowed);
    }
    if needs_check(req.method(), req.path()) {
        let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
        if !allowed(
            header("x-csrf"),
            header("origin"),
            &s.config.origin,
            &s.config.allowed_origins,
        ) {
            return Err(BffError::Csrf);
        }
    }
    Ok(())
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// True when the request announces a body.
fn has_body(req: &ServiceRequest) -> bool {
    has_body_headers(req.headers())
}

/// True when these request headers announce a body (HTTP/1: `Transfer-Encoding`, or a
/// `Content-Length` other than 0).
pub fn has_body_headers(h: &header::HeaderMap) -> bool {
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// True when the request may carry a body: announced over HTTP/1, or over HTTP/2 (which
/// needs no `Content-Length`) any method but GET and HEAD.
fn announces_body(req: &ServiceRequest) -> bool {
    has_body(req)
        || (req.version() == actix_web::http::Version::HTTP_2
            && !matches!(*req.method(), Method::GET | Method::HEAD))
}

/// What became of a request's body before the handler ran.
enum Held {
    /// No body, or one read whole.
    Done,
    /// An `/api` upload, streaming.
    Streaming(BodyWatch),
    /// Refused (too slow, too large, malformed); the unread rest is kept alive until
    /// the answer is sent, so that the connection closes.
    Refused(BffError, Payload),
}

/// Issue 9: holds the body to its deadline. An `/api` upload streams, and may not
/// stall longer than `proxy_timeout` between chunks; any other body (`/bff/`, the
/// callback) is read here, whole, within `body_timeout` and `max_bff_body`, so that no
/// handler waits on a slow client.
async fn hold_body_to_deadline(req: &mut ServiceRequest, state: &AppState) -> Held {
    use actix_web::HttpMessage;
    // HTTP/2 bodies need no Content-Length: any method but GET and HEAD may carry one,
    // read here (`/bff/`) or streamed (`/api`) all the same.
    if !announces_body(req) {
        return Held::Done;
    }
    let mut payload = std::mem::replace(req.parts_mut().1, Payload::None);
    if is_api(req.path()) {
        let (payload, watch) = crate::deadline::idle(payload, state.config.proxy_timeout);
        req.set_payload(payload);
        req.extensions_mut().insert(watch.clone());
        return Held::Streaming(watch);
    }
    let read = crate::deadline::read_whole(
        &mut payload,
        state.config.max_bff_body,
        state.config.body_timeout,
    )
    .await;
    match read {
        Ok(body) => {
            req.set_payload(Payload::from(body));
            Held::Done
        }
        Err(e) => Held::Refused(e, payload),
    }
}

/// The answer to send instead of `res`, if any: our JSON for a body that failed (the
/// connection is then closed), and for error answers that actix or a library made
/// itself (plain text or empty; upstream answers under `/api` pass unchanged).
fn replacement<B>(
    res: &ServiceResponse<B>,
    path: &str,
    watch: Option<&BodyWatch>,
) -> Option<(actix_web::HttpResponse, bool)> {
    let status = res.status();
    if let Some(fault) = watch.and_then(BodyWatch::fault) {
        if status.is_client_error() || status.is_server_error() {
            let e = fault.error();
            return Some((actix_web::ResponseError::error_response(&e), true));
        }
        return None;
    }
    if status.as_u16() < 400 {
        return None;
    }
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json || (is_api(path) && res.response().error().is_none()) {
        return None;
    }
    if let Some(e) = res.response().error() {
        tracing::debug!(status = status.as_u16(), error = %e, "error answer replaced by JSON");
    }
    Some((crate::error::for_status(status), false))
}

fn close<B>(res: &mut ServiceResponse<B>) {
    res.response_mut()
        .head_mut()
        .set_connection_type(ConnectionType::Close);
}

fn area_and_route(path: &str, pattern: Option<String>) -> (&'static str, String) {
    if path == "/api" || path.starts_with("/api/") {
        ("api", "/api".to_string())
    } else if path.starts_with("/bff/") {
        ("bff", pattern.unwrap_or_else(|| "/bff/unknown".into()))
    } else {
        ("other", pattern.unwrap_or_else(|| "static".into()))
    }
}

pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    use actix_web::HttpMessage;
    use tracing::Instrument;
    let started = Instant::now();
    let rid = request_id(req.headers());
    req.extensions_mut().insert(RequestId(rid.clone()));
    let span = tracing::info_span!("request", request_id = %rid);
    async move {
        let method = req.method().clone();
        let path = req.path().to_string();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let mut watch = None;
        let mut res = match check(&req, state.as_ref()) {
            Err(e) => {
                tracing::info!(%method, %path, error = %e, "request refused before routing");
                // A body announced and not read: keep its reader alive until the answer
                // is sent, and close, or actix drains it for as long as the client sends.
                if announces_body(&req) {
                    let mut req = req;
                    let unread = std::mem::replace(req.parts_mut().1, Payload::None);
                    let mut res = req.error_response(e);
                    close(&mut res);
                    res.map_body(|_, b| BoxBody::new(Holding::new(b, unread)))
                        .map_into_right_body()
                } else {
                    req.error_response(e).map_into_right_body()
                }
            }
            Ok(()) => {
                let mut req = req;
                let held = match state.as_ref() {
                    Some(s) => hold_body_to_deadline(&mut req, s).await,
                    None => Held::Done,
                };
                match held {
                    Held::Done => next.call(req).await?.map_into_left_body(),
                    Held::Streaming(w) => {
                        let res = next.call(req).await?;
                        watch = Some(w);
                        res.map_into_left_body()
                    }
                    Held::Refused(e, unread) => {
                        tracing::info!(%method, %path, error = %e, "request body refused");
                        let mut res = req.error_response(e);
                        close(&mut res);
                        res.map_body(|_, b| BoxBody::new(Holding::new(b, unread)))
                            .map_into_right_body()
                    }
                }
            }
        };
        if let Some((answer, must_close)) = replacement(&res, &path, watch.as_ref()) {
            res = res.into_response(answer).map_into_right_body();
            if must_close {
                close(&mut res);
            }
        }
        // An `/api` answer given before the upload was read whole: keep the upload's
        // reader alive until the answer is sent, so the connection closes.
        if let Some(w) = watch.filter(|w| w.finished_at().is_none()) {
            close(&mut res);
            res = res
                .map_into_boxed_body()
                .map_body(|_, b| BoxBody::new(Holding::new(b, w)))
                .map_into_right_body();
        }
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&rid) {
            res.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static("x-request-id"),
                v,
            );
        }
        let status = res.status().as_u16();
        let elapsed = started.elapsed();
        let (area, route) = area_and_route(&path, res.request().match_pattern());
        let m = crate::metrics::get();
        m.requests
            .with_label_values(&[route.as_str(), &status.to_string()])
            .inc();
        m.latency
            .with_label_values(&[area])
            .observe(elapsed.as_secs_f64());
        // The path only: query strings can carry codes and states. Every request at
        // `access_log: true` (or debug level); server errors always (readiness probes
        // answering 503 while not ready are not errors).
        let ms = elapsed.as_millis() as u64;
        if status >= 500 && !path.starts_with("/healthz") {
            tracing::warn!(%method, %path, status, ms, "request");
        } else if state.as_ref().is_some_and(|s| s.config.access_log) {
            tracing::info!(%method, %path, status, ms, "request");
        } else {
            tracing::debug!(%method, %path, status, ms, "request");
        }
        Ok(res)
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_requests_are_checked() {
        assert!(needs_check(&Method::POST, "/bff/logout"));
        assert!(!needs_check(&Method::GET, "/bff/user"));
        assert!(needs_check(&Method::GET, "/api/data"));
        assert!(needs_check(&Method::GET, "/api"));
        assert!(!needs_check(&Method::GET, "/apix"));
        assert!(!needs_check(&Method::POST, "/bff/backchannel-logout"));
        assert!(!needs_check(&Method::GET, "/callback"));
    }

    #[test]
    fn rule() {
        let ours = "https://app.example";
        assert!(allowed(Some("1"), None, ours, &[]));
        assert!(allowed(Some("1"), Some(ours), ours, &[]));
        assert!(!allowed(None, Some(ours), ours, &[]));
        assert!(!allowed(Some("yes"), None, ours, &[]));
        assert!(!allowed(Some("1"), Some("https://evil.example"), ours, &[]));
        assert!(allowed(
            Some("1"),
            Some("https://other.example"),
            ours,
            &["https://other.example".into()]
        ));
        assert!(!allowed(Some("1"), Some("null"), ours, &[]));
    }
}
