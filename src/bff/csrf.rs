//! Rules every request passes first: cookie limits, and the contract's CSRF rule
//! (state-changing `/bff/` requests and every `/api/` request carry `X-CSRF: 1`, and
//! their `Origin`, when present, is ours). Also logs each request (path only).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error};

use crate::app::AppState;
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

pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let Some(s) = &state {
        cookie_limits(
            req.headers(),
            s.config.max_cookies,
            s.config.max_cookie_header,
        )?;
    }
    if needs_check(&method, &path) {
        let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
        let ok = state.is_some_and(|s| {
            allowed(
                header("x-csrf"),
                header("origin"),
                &s.config.origin,
                &s.config.allowed_origins,
            )
        });
        if !ok {
            tracing::info!(%method, %path, status = 403, "csrf check failed");
            return Err(BffError::Csrf.into());
        }
    }
    let res = next.call(req).await?;
    // The path only: query strings can carry codes and states.
    tracing::info!(%method, %path, status = res.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    Ok(res)
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
