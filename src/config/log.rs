//! The `log` section: debug logging, the line format, the access log.

use super::source::Source;
use super::{one_of, ConfigError};

#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Debug logging (`RUST_LOG` overrides).
    pub debug: bool,
    /// `log_format: json`.
    pub json: bool,
    /// Log every request at info level (else at debug; server errors always).
    pub access_log: bool,
}

pub(super) fn validate(src: &Source) -> Result<LogConfig, ConfigError> {
    Ok(LogConfig {
        debug: src.flag("debug").unwrap_or(false),
        json: one_of(
            "log_format",
            src.str("log_format").as_deref(),
            &[("text", false), ("json", true)],
        )?,
        access_log: src.flag("access_log").unwrap_or(false),
    })
}
