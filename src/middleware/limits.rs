//! Limits checked before routing: total header size (431), the `Cookie` header's size
//! (431) and cookie count (400), and methods never served (TRACE, TRACK, CONNECT: 405).

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderMap, COOKIE};
use actix_web::http::Method;

use crate::config::Config;
use crate::error::BffError;

/// Methods never proxied (issue 9): TRACE and TRACK echo the request, `Authorization`
/// included, back to the page; CONNECT opens a tunnel. Compared case-insensitively, as
/// some upstream servers do.
pub fn refused_method(method: &Method) -> bool {
    ["TRACE", "TRACK", "CONNECT"]
        .iter()
        .any(|m| method.as_str().eq_ignore_ascii_case(m))
}

/// Headers some frameworks take as the real method (issue 9 review): forwarded
/// unchanged, except that one naming a refused method is refused itself (405), or it
/// would tunnel TRACE past [`refused_method`].
const METHOD_OVERRIDES: &[&str] = &[
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// True when a method-override header names TRACE, TRACK or CONNECT (any case, any
/// element of a comma-separated value, spaces around it ignored).
pub fn overrides_to_refused_method(headers: &HeaderMap) -> bool {
    METHOD_OVERRIDES.iter().any(|name| {
        headers.get_all(*name).any(|v| {
            v.as_bytes().split(|b| *b == b',').any(|m| {
                let m = m.trim_ascii();
                ["TRACE", "TRACK", "CONNECT"]
                    .iter()
                    .any(|r| m.eq_ignore_ascii_case(r.as_bytes()))
            })
        })
    })
}

/// Too many cookies, or too large a `Cookie` header: 400/431 JSON before any parsing.
pub fn cookie_limits(
    headers: &HeaderMap,
    max_count: usize,
    max_bytes: usize,
) -> Result<(), BffError> {
    let mut bytes = 0;
    let mut count = 0;
    for value in headers.get_all(COOKIE) {
        bytes += value.len();
        // As many pieces as `;`s plus one, counted by memchr (issue 14, lever 6).
        count += memchr::memchr_iter(b';', value.as_bytes()).count() + 1;
    }
    if bytes > max_bytes {
        return Err(BffError::HeadersTooLarge("the Cookie header is too large"));
    }
    if count > max_count {
        return Err(BffError::BadRequest(format!(
            "too many cookies (at most {max_count})"
        )));
    }
    Ok(())
}

/// The limits, in order: all headers, the cookies, the method.
pub fn check(req: &ServiceRequest, config: &Config) -> Result<(), BffError> {
    let total: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if total > config.limits.max_header_bytes {
        return Err(BffError::HeadersTooLarge(
            "the request headers are too large",
        ));
    }
    cookie_limits(
        req.headers(),
        config.limits.max_cookies,
        config.limits.max_cookie_header,
    )?;
    // Issue 9: TRACE, TRACK and CONNECT never reach an upstream (an echoing upstream
    // would hand the bearer token to the page), with or without X-CSRF; nothing else
    // here serves them either.
    if refused_method(req.method()) || overrides_to_refused_method(req.headers()) {
        return Err(BffError::MethodNotAllowed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_methods() {
        for m in ["TRACE", "TRACK", "CONNECT", "trace", "Track"] {
            assert!(
                refused_method(&Method::from_bytes(m.as_bytes()).unwrap()),
                "{m}"
            );
        }
        for m in [
            "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PROPFIND",
        ] {
            assert!(
                !refused_method(&Method::from_bytes(m.as_bytes()).unwrap()),
                "{m}"
            );
        }
    }

    #[test]
    fn method_overrides_naming_refused_methods() {
        let with = |n: &'static str, v: &'static str| {
            let mut h = HeaderMap::new();
            h.append(
                actix_web::http::header::HeaderName::from_static(n),
                actix_web::http::header::HeaderValue::from_static(v),
            );
            h
        };
        for (n, v) in [
            ("x-http-method-override", "TRACE"),
            ("x-http-method", "track"),
            ("x-method-override", " Connect "),
            ("x-http-method-override", "PATCH, trace"),
        ] {
            assert!(overrides_to_refused_method(&with(n, v)), "{n}: {v}");
        }
        for (n, v) in [
            ("x-http-method-override", "PATCH"),
            ("x-http-method", "DELETE"),
            ("x-method-override", "TRACEX"),
            ("x-other", "TRACE"),
        ] {
            assert!(!overrides_to_refused_method(&with(n, v)), "{n}: {v}");
        }
    }
}
