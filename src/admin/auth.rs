//! issue 13: who may use `/admin/…`: `Authorization: Bearer <admin_token>`, compared in
//! constant time over SHA-256 digests of both sides, so neither content nor length leaks.

use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Secret;

/// The credentials of an `Authorization: Bearer <token>` header (scheme case-insensitive,
/// RFC 6750 §2.1); `None` when absent, another scheme, or empty.
pub fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let mut values = headers.get_all(AUTHORIZATION);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let bytes = value.as_bytes();
    let (scheme, rest) = bytes.split_at(bytes.iter().position(|b| *b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Whether `presented` is the admin token. Both sides are hashed first and the digests
/// compared with `subtle`: the time taken depends on neither the token nor its length.
pub fn token_matches(expected: &Secret<String>, presented: &[u8]) -> bool {
    let want = Sha256::digest(expected.expose().as_bytes());
    let got = Sha256::digest(presented);
    want.as_slice().ct_eq(got.as_slice()).into()
}

/// Whether these request headers carry the admin token.
pub fn authorized(expected: &Secret<String>, headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|t| token_matches(expected, t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_the_exact_token_matches() {
        let t = Secret::new(TOKEN.to_string());
        assert!(token_matches(&t, TOKEN.as_bytes()));
        for wrong in [
            "",
            "0123456789abcdef0123456789abcdee",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef0123456789abcde",
            "0123456789ABCDEF0123456789ABCDEF",
            "x",
        ] {
            assert!(!token_matches(&t, wrong.as_bytes()), "{wrong}");
        }
    }

    #[test]
    fn the_bearer_header_is_parsed_strictly() {
        let t = Secret::new(TOKEN.to_string());
        for ok in [
            format!("Bearer {TOKEN}"),
            format!("bearer {TOKEN}"),
            format!("BEARER  {TOKEN} "),
        ] {
            assert!(authorized(&t, &headers(&[&ok])), "{ok}");
        }
        for bad in [
            TOKEN.to_string(),
            format!("Basic {TOKEN}"),
            format!("Bearer{TOKEN}"),
            "Bearer ".to_string(),
            format!("Bearer {TOKEN}x"),
        ] {
            assert!(!authorized(&t, &headers(&[&bad])), "{bad}");
        }
        assert!(!authorized(&t, &headers(&[])), "no header");
        let twice = format!("Bearer {TOKEN}");
        assert!(
            !authorized(&t, &headers(&[&twice, &twice])),
            "two Authorization headers are refused"
        );
    }
}
