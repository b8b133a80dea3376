//! The `server` section: the BFF's public origin, listeners, TLS files, the SPA folder,
//! workers and shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::secret::Secret;
use super::source::Source;
use super::{parse_url, ConfigError};

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `base_url`: the public origin (no path).
    pub base_url: Url,
    /// `scheme://host[:port]` of `base_url`, as browsers send it in `Origin`.
    pub origin: String,
    pub https: bool,
    /// Cookies carry `Secure` (https, or plain http on loopback).
    pub secure_cookies: bool,
    /// Extra origins accepted in `Origin` for the CSRF rule.
    pub allowed_origins: Vec<String>,
    pub listen: String,
    pub tls: Option<TlsFiles>,
    /// `address:port` of the admin listener (`/metrics`); `None`: `/metrics` is served on
    /// the public listener.
    pub admin_listen: Option<String>,
    /// issue 13: the bearer token of the admin API (`/admin/…` on the admin listener);
    /// `None`: the admin listener serves `/metrics` only.
    pub admin_token: Option<Secret<String>>,
    /// The SPA's folder; `None`: a sidecar without static files (`spa_dir` unset and no
    /// `./spa` folder).
    pub spa_dir: Option<PathBuf>,
    pub workers: usize,
    /// How long SIGTERM/SIGINT waits for in-flight requests.
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Loopback names for which plain http and `Secure` cookies still go together.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

pub(super) fn validate(src: &Source) -> Result<ServerConfig, ConfigError> {
    let base_url = parse_url(
        "base_url",
        src.str("base_url")
            .as_deref()
            .unwrap_or("https://localhost:5443"),
    )?;
    if base_url.path() != "/" || base_url.query().is_some() {
        return Err(ConfigError::new(
            "base_url",
            "must be an origin only (scheme, host, port; no path or query)",
        ));
    }
    let https = base_url.scheme() == "https";
    let loopback = is_loopback_host(base_url.host_str().unwrap_or(""));
    if !https && !loopback && !src.flag("insecure_http").unwrap_or(false) {
        return Err(ConfigError::new(
            "base_url",
            "plain http on a non-localhost host: use https, or set insecure_http: true behind a TLS-terminating proxy",
        ));
    }
    let mut allowed_origins = Vec::new();
    for o in src.list("allowed_origins").unwrap_or_default() {
        allowed_origins.push(origin_of(&parse_url("allowed_origins", &o)?));
    }
    let listen = listen(src, &base_url, loopback)?;
    let admin_listen = admin_listen(src, &listen)?;
    let admin_token = admin_token(src, admin_listen.is_some())?;
    Ok(ServerConfig {
        origin: origin_of(&base_url),
        https,
        secure_cookies: https || loopback,
        allowed_origins,
        admin_listen,
        admin_token,
        listen,
        tls: tls(src, https)?,
        spa_dir: spa_dir(src)?,
        workers: src.size("workers").unwrap_or(0),
        shutdown_grace: src.secs("shutdown_grace", 30, 0)?,
        base_url,
    })
}

fn listen(src: &Source, base_url: &Url, loopback: bool) -> Result<String, ConfigError> {
    match src.str("listen") {
        Some(l) => {
            l.parse::<SocketAddr>()
                .map_err(|_| ConfigError::new("listen", format!("`{l}` is not address:port")))?;
            Ok(l)
        }
        None => {
            let port = base_url.port_or_known_default().unwrap_or(443);
            let host = if loopback { "127.0.0.1" } else { "0.0.0.0" };
            Ok(format!("{host}:{port}"))
        }
    }
}

fn tls(src: &Source, https: bool) -> Result<Option<TlsFiles>, ConfigError> {
    let tls = match (src.path("tls_cert"), src.path("tls_key")) {
        (Some(cert), Some(key)) => {
            for (k, p) in [("tls_cert", &cert), ("tls_key", &key)] {
                if !p.is_file() {
                    return Err(ConfigError::new(
                        k,
                        format!("file {} does not exist", p.display()),
                    ));
                }
            }
            Some(TlsFiles { cert, key })
        }
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::new(
                "tls_key",
                "is required when tls_cert is set",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "tls_cert",
                "is required when tls_key is set",
            ))
        }
    };
    if tls.is_some() && !https {
        return Err(ConfigError::new("tls_cert", "is set but base_url is http"));
    }
    Ok(tls)
}

// issue 9 (i9b): sidecar without an SPA, the admin listener.
fn spa_dir(src: &Source) -> Result<Option<PathBuf>, ConfigError> {
    match src.path("spa_dir") {
        Some(dir) if dir.is_dir() => Ok(Some(dir)),
        Some(dir) => Err(ConfigError::new(
            "spa_dir",
            format!("{} is not a directory", dir.display()),
        )),
        None => Ok(Some(PathBuf::from("spa")).filter(|d| d.is_dir())),
    }
}

fn admin_listen(src: &Source, listen: &str) -> Result<Option<String>, ConfigError> {
    let Some(a) = src.str("admin_listen").filter(|a| !a.trim().is_empty()) else {
        return Ok(None);
    };
    let addr = a
        .parse::<SocketAddr>()
        .map_err(|_| ConfigError::new("admin_listen", format!("`{a}` is not address:port")))?;
    if listen.parse::<SocketAddr>().ok() == Some(addr) && addr.port() != 0 {
        return Err(ConfigError::new(
            "admin_listen",
            "must not be the same address as listen",
        ));
    }
    Ok(Some(a))
}

// issue 13: the admin API.
/// The shortest `admin_token` accepted: 32 characters (e.g. `openssl rand -hex 16`, 128
/// bits), so that a guessable word is refused.
pub const ADMIN_TOKEN_MIN: usize = 32;
/// The longest `admin_token` accepted (it travels in one header).
pub const ADMIN_TOKEN_MAX: usize = 512;

fn admin_token(src: &Source, has_listener: bool) -> Result<Option<Secret<String>>, ConfigError> {
    const KEY: &str = "admin_token";
    let Some(token) = src.str("admin_token").filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if !has_listener {
        return Err(ConfigError::new(
            KEY,
            "needs admin_listen: the admin API is served only on the admin listener",
        ));
    }
    let n = token.chars().count();
    if !(ADMIN_TOKEN_MIN..=ADMIN_TOKEN_MAX).contains(&n) {
        return Err(ConfigError::new(
            KEY,
            format!("must be {ADMIN_TOKEN_MIN} to {ADMIN_TOKEN_MAX} characters long (it has {n})"),
        ));
    }
    // What a bearer token may hold (RFC 6750 §2.1 b64token, plus the other visible ASCII
    // characters): a space or control character could not be sent in the header.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::new(
            KEY,
            "must be visible ASCII characters only (no spaces or control characters)",
        ));
    }
    Ok(Some(Secret::new(token)))
}
