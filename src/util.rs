//! Small primitives every layer uses: the clock, random ids, constant-time equality,
//! hex SHA-256, a URL's base. Depends on nothing else in the crate.

use sha2::{Digest, Sha256};

/// Equality whose timing does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A new random identifier of `bytes` bytes, URL-safe base64.
pub fn random_id(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    for chunk in buf.chunks_mut(32) {
        let r: [u8; 32] = rand::random();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Lower-case hex of the SHA-256 of `s` (keys for spent states and refresh flights).
pub fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// True for the HMAC algorithms (keyed with the client secret, not a JWK).
pub fn is_hmac(alg: jsonwebtoken::Algorithm) -> bool {
    use jsonwebtoken::Algorithm;
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// `url`'s `scheme://host[:port]` and path without a trailing `/`: the base an upstream
/// path is appended to (no user info, query or fragment; a default port is not written).
pub fn url_base(url: &url::Url) -> String {
    let path = url.path().trim_end_matches('/');
    let mut base = String::with_capacity(url.as_str().len());
    base.push_str(url.scheme());
    base.push_str("://");
    base.push_str(url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        base.push(':');
        base.push_str(&port.to_string());
    }
    base.push_str(path);
    base
}

#[cfg(test)]
mod tests {
    use super::url_base;

    #[test]
    fn a_url_base_is_scheme_authority_and_path_without_trailing_slash() {
        let base = |u: &str| url_base(&url::Url::parse(u).unwrap());
        assert_eq!(base("https://api.example"), "https://api.example");
        assert_eq!(
            base("https://api.example:443/v2/"),
            "https://api.example/v2"
        );
        assert_eq!(
            base("http://api.example:8080/a/b//"),
            "http://api.example:8080/a/b"
        );
        assert_eq!(base("http://u:p@[::1]:9000/x#f"), "http://[::1]:9000/x");
    }
}
