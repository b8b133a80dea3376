//! Where settings come from: the JSON file and `BFF_<KEY>` overrides, read through the
//! ONE key table below. The table gives every key's kind (how `BFF_<KEY>` is parsed and
//! which JSON type the file must hold) and the section that reads it; the unknown-key
//! warning and README's settings table (checked by a test) follow it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::ConfigError;

/// How a key is written: in the file, the JSON type; in `BFF_<KEY>`, how it is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A string (`BFF_<KEY>` taken as is).
    Str,
    /// A file or folder path, written as a string.
    Path,
    /// `true`/`false` (`BFF_<KEY>`: also `1`/`0`, `yes`/`no`).
    Bool,
    /// A whole number ≥ 0.
    Num,
    /// A list of strings (`BFF_<KEY>` comma-separated).
    List,
    /// Any JSON (`BFF_<KEY>` is JSON text).
    Json,
    /// issue 11: a string or a list of strings (`BFF_<KEY>` comma-separated).
    StrOrList,
}

/// The section (file in `src/config/`) that reads and validates a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Section {
    Server,
    Client,
    Provider,
    IdToken,
    Session,
    Store,
    Limits,
    Log,
    Proxy,
    /// issue 12: DPoP, mutual TLS, the FAPI 2.0 profile.
    Sender,
}

pub(super) struct Key {
    pub name: &'static str,
    pub kind: Kind,
    /// Documents (and a test checks) which file reads the key.
    #[cfg_attr(not(test), allow(dead_code))]
    pub section: Section,
    /// issue 13: the value is or holds a secret (a credential, key material, a password
    /// in a URL, header values that may be API keys): `GET /admin/config` never shows
    /// it (`view.rs`).
    pub secret: bool,
}

const fn key(name: &'static str, kind: Kind, section: Section) -> Key {
    Key {
        name,
        kind,
        section,
        secret: false,
    }
}

/// issue 13: a row whose value is or holds a secret (see [`Key::secret`]).
const fn secret(k: Key) -> Key {
    Key { secret: true, ..k }
}

use Kind::*;
use Section::*;

/// Every key we know. A new key: a row here (in a block naming its issue), its read and
/// check in its section's `validate`, a row in README's settings table.
pub(super) const KEYS: &[Key] = &[
    key("issuer", Str, Provider),
    key("client_id", Str, Client),
    secret(key("client_secret", Str, Client)),
    key("scope", Str, Client),
    secret(key("api_endpoint", Str, Proxy)),
    key("verify_ssl_server", Bool, Provider),
    key("debug", Bool, Log),
    key("send_parameters_via", Str, Provider),
    key("redirect_uri", Str, Client),
    key("base_url", Str, Server),
    key("post_logout_redirect_uri", Str, Client),
    secret(key("subscription_key", Str, Proxy)),
    key("listen", Str, Server),
    key("tls_cert", Path, Server),
    key("tls_key", Path, Server),
    key("ca_file", Path, Provider),
    secret(key("cookie_keys", List, Session)),
    secret(key("routes", Json, Proxy)),
    secret(key("session_store", Str, Session)),
    key("allowed_origins", List, Server),
    key("insecure_http", Bool, Server),
    key("cookie_same_site", Str, Session),
    key("session_lifetime", Num, Session),
    key("session_idle_timeout", Num, Session),
    key("login_timeout", Num, Session),
    key("refresh_skew", Num, Session),
    key("clock_skew", Num, IdToken),
    key("http_timeout", Num, Provider),
    key("token_endpoint_auth_method", Str, Client),
    key("client_private_key", Path, Client),
    secret(key("client_private_jwk", Json, Client)),
    key("client_key_id", Str, Client),
    key("client_signing_alg", Str, Client),
    key("request_object_signing_alg", Str, Client),
    key("id_token_signing_algs", List, IdToken),
    key("jwks_min_refetch_interval", Num, IdToken),
    key("max_cookie_chunks", Num, Session),
    key("spa_dir", Path, Server),
    key("workers", Num, Server),
    key("log_format", Str, Log),
    key("proxy_connect_timeout", Num, Proxy),
    key("silent_login", Bool, Provider),
    key("access_log", Bool, Log),
    secret(key("shared_store", Str, Store)),
    key("store_timeout_ms", Num, Store),
    key("shutdown_grace", Num, Server),
    key("client_registration_file", Path, Client),
    secret(key("registration_initial_access_token", Str, Client)),
    key("max_bff_body", Num, Limits),
    key("max_cookies", Num, Limits),
    key("max_cookie_header", Num, Limits),
    key("max_header_bytes", Num, Limits),
    key("request_timeout", Num, Limits),
    key("proxy_timeout", Num, Proxy),
    // Issue 9 (the proxy edge): forwarded headers and body deadlines.
    key("trusted_proxies", List, Proxy),
    key("body_timeout", Num, Limits),
    // issue 17: the `aud` of client assertions.
    key("client_assertion_audience", Str, Client),
    // issue 9 (i9b): logout by POST form, the admin listener.
    key("end_session_method", Str, Provider),
    key("admin_listen", Str, Server),
    // issue 11: WebSocket
    key("websocket_max_message", Num, Limits),
    // issue 11: route tokens, resource indicators
    key("resource", StrOrList, Client),
    // issue 12: sender-constrained tokens, FAPI 2.0
    key("profile", Str, Sender),
    key("dpop", Bool, Sender),
    secret(key("dpop_private_jwk", Json, Sender)),
    key("dpop_private_key", Path, Sender),
    key("client_tls_cert", Path, Sender),
    key("client_tls_key", Path, Sender),
    // issue 13: interop aids
    key("client_secret_basic_encoding", Str, Client),
    // issue 13: tracing (OTLP/HTTP export)
    key("otlp_endpoint", Str, Log),
    key("otel_service_name", Str, Log),
    // issue 13: the admin API's bearer token.
    secret(key("admin_token", Str, Server)),
];

pub(super) fn lookup(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// The settings after `BFF_<KEY>` overrides, each known key type-checked: what the
/// sections' `validate` functions read.
pub(super) struct Source {
    known: Map<String, Value>,
    /// Keys present in the file that we do not know (warned about, not fatal).
    pub unknown_keys: Vec<String>,
}

impl Source {
    /// Applies the environment to the file's object and checks every known key's type
    /// (so a type error names its key); `null` counts as unset.
    pub fn new(
        mut map: Map<String, Value>,
        env: &BTreeMap<String, String>,
    ) -> Result<Source, ConfigError> {
        apply_env(&mut map, env)?;
        let unknown_keys = map
            .keys()
            .filter(|k| lookup(k).is_none())
            .cloned()
            .collect();
        let mut known = Map::new();
        for key in KEYS {
            match map.remove(key.name) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    check_type(key, &v)?;
                    known.insert(key.name.to_string(), v);
                }
            }
        }
        Ok(Source {
            known,
            unknown_keys,
        })
    }

    /// issue 13: the known keys' values as given (file, then `BFF_<KEY>`), for the
    /// redacted view of the settings.
    pub fn given(&self) -> &Map<String, Value> {
        &self.known
    }

    fn get<T: DeserializeOwned>(&self, name: &str, kind: Kind) -> Option<T> {
        debug_assert!(
            lookup(name).is_some_and(|k| k.kind == kind),
            "`{name}` is read as {kind:?} but the key table says otherwise"
        );
        // The type was checked in `new`.
        self.known
            .get(name)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    pub fn str(&self, name: &str) -> Option<String> {
        self.get(name, Str)
    }

    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.get(name, Path)
    }

    pub fn flag(&self, name: &str) -> Option<bool> {
        self.get(name, Bool)
    }

    pub fn num(&self, name: &str) -> Option<u64> {
        self.get(name, Num)
    }

    /// A count or size in bytes.
    pub fn size(&self, name: &str) -> Option<usize> {
        self.get(name, Num)
    }

    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.get(name, List)
    }

    pub fn json(&self, name: &str) -> Option<Value> {
        self.get(name, Json)
    }

    /// issue 11: a string or a list of strings, as a list.
    pub fn strings(&self, name: &str) -> Option<Vec<String>> {
        let v: Value = self.get(name, StrOrList)?;
        match v {
            Value::String(s) => Some(vec![s]),
            other => serde_json::from_value(other).ok(),
        }
    }

    /// A duration in seconds: `default` when unset, refused below `min`.
    pub fn secs(&self, name: &str, default: u64, min: u64) -> Result<Duration, ConfigError> {
        let v = self.num(name).unwrap_or(default);
        if v < min {
            return Err(ConfigError::new(
                name,
                format!("must be at least {min} seconds"),
            ));
        }
        Ok(Duration::from_secs(v))
    }

    /// A whole number: `default` when unset, refused outside `min..=max` (`unit` names
    /// what it counts, for the message).
    pub fn bounded(
        &self,
        name: &str,
        default: usize,
        (min, max): (usize, usize),
        unit: &str,
    ) -> Result<usize, ConfigError> {
        let v = self.size(name).unwrap_or(default);
        if v < min || v > max {
            let range = if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            };
            return Err(ConfigError::new(name, format!("must be {range} {unit}")));
        }
        Ok(v)
    }
}

fn check_type(key: &Key, v: &Value) -> Result<(), ConfigError> {
    fn is<T: DeserializeOwned>(v: &Value) -> Result<(), serde_json::Error> {
        serde_json::from_value::<T>(v.clone()).map(|_| ())
    }
    let checked = match key.kind {
        Str | Path => is::<String>(v),
        Bool => is::<bool>(v),
        Num => is::<u64>(v),
        List => is::<Vec<String>>(v),
        Json => Ok(()),
        StrOrList => is::<String>(v).or_else(|_| is::<Vec<String>>(v)),
    };
    checked.map_err(|e| ConfigError::new(key.name, type_message(&e.to_string())))
}

pub(super) fn type_message(serde_msg: &str) -> String {
    // serde says e.g. "invalid type: string \"x\", expected a boolean"; keep the gist.
    serde_msg
        .split(" at line")
        .next()
        .unwrap_or(serde_msg)
        .to_string()
}

fn apply_env(
    map: &mut Map<String, Value>,
    env: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for key in KEYS {
        let var = format!("BFF_{}", key.name.to_ascii_uppercase());
        let Some(text) = env.get(&var) else { continue };
        let value = match key.kind {
            Str | Path => Value::String(text.clone()),
            Bool => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Value::Bool(true),
                "false" | "0" | "no" => Value::Bool(false),
                _ => {
                    return Err(ConfigError::new(
                        key.name,
                        format!("{var} must be true or false"),
                    ))
                }
            },
            Num => Value::Number(
                text.trim()
                    .parse::<u64>()
                    .map_err(|_| {
                        ConfigError::new(key.name, format!("{var} must be a whole number"))
                    })?
                    .into(),
            ),
            List | StrOrList => Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ),
            Json => serde_json::from_str(text)
                .map_err(|e| ConfigError::new(key.name, format!("{var} is not valid JSON: {e}")))?,
        };
        map.insert(key.name.to_string(), value);
    }
    Ok(())
}
