//! Small primitives every layer uses: the clock, random ids, constant-time equality and
//! hex SHA-256. Depends on nothing else in the crate.

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
