//! The `log` section: debug logging, the line format, the access log, and (issue 13)
//! where traces are exported.

use super::source::Source;
use super::{one_of, parse_url, ConfigError};

#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Debug logging (`RUST_LOG` overrides).
    pub debug: bool,
    /// `log_format: json`.
    pub json: bool,
    /// Log every request at info level (else at debug; server errors always).
    pub access_log: bool,
    /// issue 13: the OTLP/HTTP base URL spans are exported to (`<base>/v1/traces`).
    pub otlp_endpoint: Option<url::Url>,
    /// issue 13: the `service.name` of exported spans.
    pub service_name: String,
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
        otlp_endpoint: otlp_endpoint(src.str("otlp_endpoint").as_deref())?,
        service_name: service_name(src.str("otel_service_name").as_deref())?,
    })
}

/// An absolute http(s) URL without query or fragment (the path `/v1/traces` is added).
fn otlp_endpoint(text: Option<&str>) -> Result<Option<url::Url>, ConfigError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let url = parse_url("otlp_endpoint", text)?;
    if url.query().is_some() {
        return Err(ConfigError::new("otlp_endpoint", "must not have a query"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(
            "otlp_endpoint",
            "must not carry credentials in the URL",
        ));
    }
    Ok(Some(url))
}

/// A non-empty printable name of at most 128 characters; `oidc-bff` by default.
fn service_name(text: Option<&str>) -> Result<String, ConfigError> {
    match text {
        None => Ok("oidc-bff".into()),
        Some(t) if !t.trim().is_empty() && t.len() <= 128 && !t.chars().any(char::is_control) => {
            Ok(t.to_string())
        }
        Some(_) => Err(ConfigError::new(
            "otel_service_name",
            "must be a non-empty name of at most 128 characters without control characters",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_endpoint_must_be_an_absolute_http_url() {
        assert_eq!(otlp_endpoint(None).unwrap(), None);
        let ok = otlp_endpoint(Some("http://collector:4318"))
            .unwrap()
            .unwrap();
        assert_eq!(ok.as_str(), "http://collector:4318/");
        for bad in [
            "collector:4318",
            "/v1",
            "ftp://collector",
            "http://collector/?a=1",
            "https://u:p@collector",
        ] {
            let e = otlp_endpoint(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("otlp_endpoint"), "{bad}: {e}");
        }
    }

    #[test]
    fn service_name_defaults_and_is_checked() {
        assert_eq!(service_name(None).unwrap(), "oidc-bff");
        assert_eq!(service_name(Some("edge-bff")).unwrap(), "edge-bff");
        for bad in ["", "  ", "a\nb"] {
            let e = service_name(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("otel_service_name"), "{bad:?}: {e}");
        }
        assert!(service_name(Some(&"x".repeat(129))).is_err());
    }
}
