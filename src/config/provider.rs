//! The `provider` section: the OP (issuer, TLS trust towards it, timeouts) and how the
//! login and logout requests travel to it.

use std::path::PathBuf;
use std::time::Duration;

use super::server::is_loopback_host;
use super::source::Source;
use super::{one_of, parse_url, ConfigError};

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The issuer as written: discovery's `issuer` must equal it exactly.
    pub issuer: String,
    /// `verify_ssl_server`: TLS verification towards the OP and upstreams.
    pub verify_ssl: bool,
    /// Extra trusted CA (PEM) for the OP and upstreams.
    pub ca_file: Option<PathBuf>,
    /// `send_parameters_via`: how the authorization request travels.
    pub params_via: ParamsVia,
    /// Timeout of calls to the OP.
    pub http_timeout: Duration,
    /// Offer `/bff/silent-login` (prompt=none in a hidden iframe) to the SPA.
    pub silent_login: bool,
    // issue 9 (i9b)
    /// How the RP-initiated logout reaches the OP's end-session endpoint.
    pub end_session_method: EndSessionMethod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamsVia {
    Query,
    RequestObject,
    Par,
}

/// `end_session_method` (issue 9): `post` (a form the BFF's logout page submits, so the
/// ID token stays out of every URL) or `get` (a redirect, for OPs that take only GET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSessionMethod {
    Post,
    Get,
}

pub(super) fn validate(src: &Source) -> Result<ProviderConfig, ConfigError> {
    let issuer = match src.str("issuer") {
        Some(v) if !v.trim().is_empty() => v,
        _ => return Err(ConfigError::new("issuer", "is required")),
    };
    let url = parse_url("issuer", &issuer)?;
    if url.query().is_some() {
        return Err(ConfigError::new("issuer", "must not have a query"));
    }
    if url.scheme() == "http" && !is_loopback_host(url.host_str().unwrap_or("")) {
        return Err(ConfigError::new(
            "issuer",
            "must be https (http only on loopback)",
        ));
    }
    let ca_file = src.path("ca_file");
    if let Some(ca) = &ca_file {
        if !ca.is_file() {
            return Err(ConfigError::new(
                "ca_file",
                format!("file {} does not exist", ca.display()),
            ));
        }
    }
    Ok(ProviderConfig {
        issuer,
        verify_ssl: src.flag("verify_ssl_server").unwrap_or(true),
        ca_file,
        params_via: one_of(
            "send_parameters_via",
            src.str("send_parameters_via").as_deref(),
            &[
                ("query", ParamsVia::Query),
                ("request_object", ParamsVia::RequestObject),
                ("par", ParamsVia::Par),
            ],
        )?,
        http_timeout: src.secs("http_timeout", 10, 1)?,
        silent_login: src.flag("silent_login").unwrap_or(false),
        end_session_method: one_of(
            "end_session_method",
            src.str("end_session_method").as_deref(),
            &[
                ("post", EndSessionMethod::Post),
                ("get", EndSessionMethod::Get),
            ],
        )?,
    })
}
