//! The `limits` section: the largest `/bff` body, cookie and header limits, and the
//! deadlines for a request's head and body.

use std::time::Duration;

use super::source::Source;
use super::ConfigError;

#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Largest `/bff` request body, bytes.
    pub max_bff_body: usize,
    /// Most cookies, and largest `Cookie` header, a request may carry.
    pub max_cookies: usize,
    pub max_cookie_header: usize,
    /// Largest total size of a request's header names and values (actix itself refuses
    /// heads over 32 KiB, without a JSON body).
    pub max_header_bytes: usize,
    /// Time allowed to receive a request's head.
    pub request_timeout: Duration,
    // Issue 9 (the proxy edge).
    /// Time allowed for the whole body of a `/bff/` or callback request.
    pub body_timeout: Duration,
    // issue 11: WebSocket
    /// The largest WebSocket message (bytes) the proxy passes on, either way; a larger
    /// one closes the connection with 1009.
    pub websocket_max_message: usize,
}

pub(super) fn validate(src: &Source) -> Result<LimitsConfig, ConfigError> {
    Ok(LimitsConfig {
        // issue 10: values below the floor are refused (they were silently raised).
        max_bff_body: src.bounded("max_bff_body", 16 * 1024, (1024, usize::MAX), "bytes")?,
        max_cookies: src.bounded("max_cookies", 64, (8, usize::MAX), "cookies")?,
        max_cookie_header: src.bounded(
            "max_cookie_header",
            24 * 1024,
            (4096, usize::MAX),
            "bytes",
        )?,
        max_header_bytes: src.bounded(
            "max_header_bytes",
            30 * 1024,
            (4096, usize::MAX),
            "bytes",
        )?,
        request_timeout: src.secs("request_timeout", 10, 1)?,
        body_timeout: src.secs("body_timeout", 10, 1)?,
        // issue 11: from 125 (a control frame's payload) to 64 MiB, default 1 MiB.
        websocket_max_message: src.bounded(
            "websocket_max_message",
            1024 * 1024,
            (125, 64 * 1024 * 1024),
            "bytes",
        )?,
    })
}
