//! Which raw `/api` paths may be forwarded at all: no dot segments (also behind path
//! parameters), no encoded separators, nothing that decodes to a backslash or control.

use percent_encoding::percent_decode_str;

use crate::error::ProxyError;

/// Accepts a raw (still percent-encoded) request path only when no segment is `.` or
/// `..` (encoded or not, and also when path parameters follow: `..;x=1`, `%2e%2e;`,
/// `..%3b` — Tomcat, Jetty and Spring drop what follows `;` and resolve the rest), no
/// separator is percent-encoded (`%2f`, `%5c`), and nothing decodes to a backslash or a
/// control character. Other `;` parameters are forwarded unchanged.
pub fn check_path(raw: &str) -> Result<(), ProxyError> {
    if !raw.starts_with('/') {
        return Err(ProxyError::BadPath);
    }
    if raw.split('/').all(|segment| segment_ok(segment, true)) {
        Ok(())
    } else {
        Err(ProxyError::BadPath)
    }
}

/// One raw segment. With `again`, a segment that still holds `%` once decoded is checked
/// decoded too: an upstream (or a framework behind it) that decodes twice must not find
/// `..` or a separator in `%252e%252e` or `%252f`.
fn segment_ok(segment: &str, again: bool) -> bool {
    let decoded = percent_decode_str(segment).collect::<Vec<u8>>();
    let lower = segment.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%00") {
        return false;
    }
    // The part before the first `;` (plain or `%3b`) of the decoded segment.
    let name = decoded.split(|b| *b == b';').next().unwrap_or(&[]);
    if name == b"." || name == b".." {
        return false;
    }
    if decoded.iter().any(|b| *b == b'\\' || b.is_ascii_control()) {
        return false;
    }
    match std::str::from_utf8(&decoded) {
        Ok(once) if again && once.contains('%') => segment_ok(once, false),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_forms_are_rejected() {
        for bad in [
            "/api/../etc",
            "/api/%2e%2e/x",
            "/api/%2E%2E/x",
            "/api/.%2e/x",
            "/api/a%2fb",
            "/api/a%2F..%2Fb",
            "/api/a%5c..",
            "/api/a\\b",
            "/api/./x",
            "/api/%00",
            "/api/a%0ab",
            "relative",
            // Encoded twice, for upstreams that decode twice.
            "/api/%252e%252e/x",
            "/api/%252E%252E;/x",
            "/api/a%252fb",
            "/api/a%255c..",
            "/api/%2500",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        for ok in [
            "/api",
            "/api/",
            "/api/data",
            "/api/a.b/..c/c..",
            "/api/%20x",
            "/api/%e2%9c%93",
            "/api/100%25",
            "/api/%2520x",
            "/api/%25%25",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn dot_segments_hidden_by_path_parameters_are_rejected() {
        for bad in [
            "/api/b/..;/a/echo",
            "/api/..;x=1/a",
            "/api/%2e%2e;/a",
            "/api/..%3b/a",
            "/api/..%3B/a",
            "/api/.;/a",
            "/api/%2E;/a",
            "/api/.%3bjsessionid=1",
            "/api/..;",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        for ok in [
            "/api/a;v=1/b",
            "/api/items;color=red;size=m",
            "/api/..x;y",
            "/api/;/x",
            "/api/a.;b",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
    }
}
