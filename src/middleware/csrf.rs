//! The contract's CSRF rule: state-changing `/bff/` requests and every `/api/` request
//! carry `X-CSRF: 1`, and their `Origin`, when present, is ours (or an allowed one).

use actix_web::dev::ServiceRequest;
use actix_web::http::Method;

use crate::config::Config;
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

// issue 11: WebSocket
/// True when the request asks for a WebSocket (`Upgrade` names `websocket`).
pub fn wants_websocket(headers: &actix_web::http::header::HeaderMap) -> bool {
    headers
        .get_all(actix_web::http::header::UPGRADE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
}

/// issue 11: the rule for a WebSocket upgrade. Browsers cannot add `X-CSRF` to one, so
/// `Origin` is required instead, and must be ours or an allowed one.
pub fn upgrade_allowed(origin: Option<&str>, ours: &str, extra: &[String]) -> bool {
    origin.is_some_and(|o| o == ours || extra.iter().any(|e| e == o))
}

/// `Csrf` (403) when the request needs the rule and breaks it.
pub fn check(req: &ServiceRequest, config: &Config) -> Result<(), BffError> {
    if needs_check(req.method(), req.path()) {
        let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
        // issue 11: WebSocket
        if wants_websocket(req.headers()) && !req.path().starts_with("/bff/") {
            if !upgrade_allowed(
                header("origin"),
                &config.server.origin,
                &config.server.allowed_origins,
            ) {
                return Err(BffError::Csrf);
            }
            return Ok(());
        }
        if !allowed(
            header("x-csrf"),
            header("origin"),
            &config.server.origin,
            &config.server.allowed_origins,
        ) {
            return Err(BffError::Csrf);
        }
    }
    Ok(())
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

    // issue 11: WebSocket
    #[test]
    fn upgrade_rule() {
        use actix_web::http::header::{HeaderMap, HeaderValue, UPGRADE};
        let ours = "https://app.example";
        assert!(upgrade_allowed(Some(ours), ours, &[]));
        assert!(!upgrade_allowed(None, ours, &[]));
        assert!(!upgrade_allowed(Some("null"), ours, &[]));
        assert!(!upgrade_allowed(Some("https://evil.example"), ours, &[]));
        assert!(upgrade_allowed(
            Some("https://other.example"),
            ours,
            &["https://other.example".into()]
        ));
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(UPGRADE, HeaderValue::from_static(v));
            h
        };
        assert!(wants_websocket(&with("websocket")));
        assert!(wants_websocket(&with("WebSocket")));
        assert!(!wants_websocket(&with("h2c")));
        assert!(!wants_websocket(&with("websocketx")));
        assert!(!wants_websocket(&HeaderMap::new()));
    }
}
