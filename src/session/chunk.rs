//! Splitting a sealed value across `name.0`, `name.1`, … cookies and joining it back,
//! so large sessions fit the browsers' ~4 KB per-cookie limit.

use super::SessionError;

/// Largest value put in one cookie (name and attributes stay under 4,096 bytes).
pub const CHUNK_SIZE: usize = 3800;

/// The cookie name of chunk `i`.
pub fn chunk_name(base: &str, i: usize) -> String {
    format!("{base}.{i}")
}

/// Splits `value` into pieces of at most `size` bytes (the value is ASCII base64).
pub fn split(value: &str, size: usize) -> Vec<&str> {
    if value.len() <= size {
        return vec![value];
    }
    value
        .as_bytes()
        .chunks(size)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect()
}

/// Reassembles the value of cookie `base` from the request's cookies (looked up by
/// `get`): the plain cookie, or the run `base.0`, `base.1`, … Returns `None` when absent.
pub fn join<'a>(
    base: &str,
    get: impl Fn(&str) -> Option<&'a str>,
    max_chunks: usize,
) -> Result<Option<String>, SessionError> {
    if let Some(v) = get(base) {
        return Ok(Some(v.to_string()));
    }
    let mut out = String::new();
    let mut i = 0;
    while let Some(part) = get(&chunk_name(base, i)) {
        if i >= max_chunks {
            return Err(SessionError::TooLarge);
        }
        if part.len() > CHUNK_SIZE {
            return Err(SessionError::Malformed);
        }
        out.push_str(part);
        i += 1;
    }
    Ok((i > 0).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn jar(pairs: &[(String, String)]) -> HashMap<String, String> {
        pairs.iter().cloned().collect()
    }

    #[test]
    fn small_values_stay_whole() {
        assert_eq!(split("abc", 10), vec!["abc"]);
    }

    #[test]
    fn split_and_join_round_trip() {
        let value: String = "x".repeat(CHUNK_SIZE * 2 + 17);
        let parts = split(&value, CHUNK_SIZE);
        assert_eq!(parts.len(), 3);
        let pairs: Vec<(String, String)> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| (chunk_name("s", i), p.to_string()))
            .collect();
        let j = jar(&pairs);
        let joined = join("s", |n| j.get(n).map(String::as_str), 8).unwrap();
        assert_eq!(joined.as_deref(), Some(value.as_str()));
    }

    #[test]
    fn too_many_chunks_or_oversized_chunk() {
        let pairs: Vec<(String, String)> =
            (0..5).map(|i| (chunk_name("s", i), "a".into())).collect();
        let j = jar(&pairs);
        assert_eq!(
            join("s", |n| j.get(n).map(String::as_str), 4),
            Err(SessionError::TooLarge)
        );
        let j = jar(&[(chunk_name("s", 0), "a".repeat(CHUNK_SIZE + 1))]);
        assert_eq!(
            join("s", |n| j.get(n).map(String::as_str), 4),
            Err(SessionError::Malformed)
        );
        let j = jar(&[]);
        assert_eq!(join("s", |n| j.get(n).map(String::as_str), 4), Ok(None));
    }
}
