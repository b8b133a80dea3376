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

/// `Csrf` (403) when the request needs the rule and breaks it.
pub fn check(req: &ServiceRequest, config: &Config) -> Result<(), BffError> {
    if needs_check(req.method(), req.path()) {
        let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
        if !allowed(
            header("x-csrf"),
            header("origin"),
            &config.origin,
            &config.allowed_origins,
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
}
