//! Settings: `settings.json` (the tutorial's keys plus ours), `BFF_<KEY>` overrides, and
//! the validation that turns them into a `Config` of typed sections, or one line naming
//! the bad key.
//!
//! `source.rs` holds the one key table and reads the file and environment; each section
//! has its file with its defaults and its `validate`.

mod client;
mod client_key;
// issue 11: route tokens, resource indicators
mod grant;
mod id_token;
mod limits;
mod log;
mod provider;
mod routes;
mod secret;
mod sender;
mod server;
mod session;
mod source;
mod store;
#[cfg(test)]
mod tests;
// issue 13: the redacted view of the settings (`GET /admin/config`).
mod view;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use url::Url;

pub use client::{AssertionAudience, BasicEncoding, ClientAuth, ClientConfig, Registration};
pub use client_key::ClientKey;
pub use id_token::IdTokenConfig;
pub use limits::LimitsConfig;
pub use log::LogConfig;
pub use provider::{EndSessionMethod, ParamsVia, ProviderConfig};
pub use routes::{GrantParams, ProxyConfig, Route, TokenMode};
pub use secret::Secret;
pub use sender::{ClientTls, Profile, SenderConfig, FAPI2_ALGS};
pub use server::{is_loopback_host, origin_of, ServerConfig, TlsFiles};
pub use session::{SameSite, SessionConfig};
pub use store::StoreConfig;
pub use view::{redact_url, redacted as redacted_view, REDACTED};

use source::Source;

/// A configuration problem: always names the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error: `{key}`: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    /// Control characters (from hostile values quoted in the message) become spaces, so
    /// the error stays one line.
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        let clean = |s: &str| {
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
        };
        Self {
            key: clean(key),
            message: clean(&message.into()),
        }
    }
}

/// Validated configuration, by section. Every secret-bearing setting is a `Secret`, so
/// `Debug` prints none of them.
#[derive(Debug, Clone)]
pub struct Config {
    /// The OP and how we talk to it.
    pub provider: ProviderConfig,
    /// Where and how the BFF itself serves.
    pub server: ServerConfig,
    /// The BFF's client at the OP: credentials, keys, redirect URIs, scope.
    pub client: ClientConfig,
    pub id_token: IdTokenConfig,
    /// Cookies, lifetimes, where sessions live.
    pub session: SessionConfig,
    /// The shared state (revocations, single-use values, refresh locks).
    pub store: StoreConfig,
    /// Request limits and deadlines.
    pub limits: LimitsConfig,
    pub log: LogConfig,
    /// `/api` routes and the upstream deadlines.
    pub proxy: ProxyConfig,
    /// issue 12: DPoP, mutual TLS, `profile`.
    pub sender: SenderConfig,
    /// Keys present in the file that we do not know (warned about, not fatal).
    pub unknown_keys: Vec<String>,
    /// issue 13: the known keys' values as given, for the redacted view only
    /// (`redacted_view`); sections read their typed fields, never this.
    pub given: Secret<serde_json::Map<String, Value>>,
}

impl Config {
    /// Whether sessions are kept server-side (Redis mode).
    pub fn server_sessions(&self) -> bool {
        self.session.server_side
    }

    /// Reads the file (missing file is an error naming `--config`), applies the
    /// environment, validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new("--config", format!("cannot read {}: {e}", path.display()))
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            ConfigError::new(
                "--config",
                format!("{} is not valid JSON: {e}", path.display()),
            )
        })?;
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::from_value(value, &env)
    }

    /// Builds from an already-parsed JSON object and an environment.
    pub fn from_value(value: Value, env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let Value::Object(map) = value else {
            return Err(ConfigError::new(
                "--config",
                "the settings must be a JSON object",
            ));
        };
        let src = Source::new(map, env)?;
        let provider = provider::validate(&src)?;
        let server = server::validate(&src)?;
        let sender = sender::validate(&src)?;
        let mut client = client::validate(&src, &server, sender.fapi2())?;
        // issue 12: a client key or certificate chooses the client authentication the
        // profile needs when none is named.
        if sender.fapi2() && client.auth_method.is_none() {
            client.auth_method = match (&client.key, &sender.tls_client) {
                (Some(_), _) => Some(ClientAuth::PrivateKeyJwt),
                (None, Some(_)) => Some(ClientAuth::TlsClientAuth),
                (None, None) => None,
            };
        }
        // An RSA client key signs PS256 under the profile unless `client_signing_alg`
        // says otherwise (and then `check_fapi2` judges it).
        if let Some(k) = client.key.as_mut().filter(|_| sender.fapi2()) {
            if k.alg == jsonwebtoken::Algorithm::RS256 && src.str("client_signing_alg").is_none() {
                k.alg = jsonwebtoken::Algorithm::PS256;
            }
        }
        let proxy = routes::validate(&src)?;
        // issue 11: route tokens. A client token needs the client's own authentication
        // (issue 12's mTLS-only clients: their certificate counts).
        if client.secret.is_none()
            && client.key.is_none()
            && client.registration.is_none()
            && sender.tls_client.is_none()
        {
            if let Some(i) = proxy.routes.iter().position(|r| r.client.is_some()) {
                return Err(ConfigError::new(
                    "routes",
                    format!("route {i}: token client needs client authentication (client_secret or client_private_key)"),
                ));
            }
        }
        let (session, session_redis) = session::validate(&src)?;
        let store = store::validate(&src, session_redis.as_deref())?;
        let id_token = id_token::validate(&src, sender.fapi2())?;
        let log = log::validate(&src)?;
        let limits = limits::validate(&src)?;
        let config = Config {
            provider,
            server,
            client,
            id_token,
            session,
            store,
            limits,
            log,
            proxy,
            sender,
            given: Secret::new(src.given().clone()),
            unknown_keys: src.unknown_keys,
        };
        sender::check_fapi2(&config)?;
        sender::check_sender(&config)?;
        Ok(config)
    }
}

/// An http(s) URL with a host and no fragment.
fn parse_url(key: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| ConfigError::new(key, format!("not a URL ({e})")))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(ConfigError::new(key, "must be an http or https URL"));
    }
    if url.host_str().is_none() {
        return Err(ConfigError::new(key, "must have a host"));
    }
    if url.fragment().is_some() {
        return Err(ConfigError::new(key, "must not have a fragment"));
    }
    Ok(url)
}

/// A `text` that must be one of `choices` (`None`: the first), as `(name, value)` pairs.
fn one_of<T: Copy>(key: &str, text: Option<&str>, choices: &[(&str, T)]) -> Result<T, ConfigError> {
    let Some(text) = text else {
        return Ok(choices[0].1);
    };
    choices
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            ConfigError::new(key, format!("`{text}` is not {}", or_list(&names)))
        })
}

/// `a, b or c`.
fn or_list(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
