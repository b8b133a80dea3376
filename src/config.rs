//! Settings: `settings.json` (the tutorial's keys plus ours), `BFF_<KEY>` overrides,
//! and the validation that turns them into a `Config` or one line naming the bad key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

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

/// How a key's environment override is parsed.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Num,
    List,
    Json,
}

/// Every key we know, with how `BFF_<KEY>` is parsed.
const KEYS: &[(&str, Kind)] = &[
    ("issuer", Kind::Str),
    ("client_id", Kind::Str),
    ("client_secret", Kind::Str),
    ("scope", Kind::Str),
    ("api_endpoint", Kind::Str),
    ("verify_ssl_server", Kind::Bool),
    ("debug", Kind::Bool),
    ("send_parameters_via", Kind::Str),
    ("redirect_uri", Kind::Str),
    ("base_url", Kind::Str),
    ("post_logout_redirect_uri", Kind::Str),
    ("subscription_key", Kind::Str),
    ("listen", Kind::Str),
    ("tls_cert", Kind::Str),
    ("tls_key", Kind::Str),
    ("ca_file", Kind::Str),
    ("cookie_keys", Kind::List),
    ("routes", Kind::Json),
    ("session_store", Kind::Str),
    ("allowed_origins", Kind::List),
    ("insecure_http", Kind::Bool),
    ("cookie_same_site", Kind::Str),
    ("session_lifetime", Kind::Num),
    ("session_idle_timeout", Kind::Num),
    ("login_timeout", Kind::Num),
    ("refresh_skew", Kind::Num),
    ("clock_skew", Kind::Num),
    ("http_timeout", Kind::Num),
    ("token_endpoint_auth_method", Kind::Str),
    ("client_private_key", Kind::Str),
    ("client_private_jwk", Kind::Json),
    ("client_key_id", Kind::Str),
    ("client_signing_alg", Kind::Str),
    ("request_object_signing_alg", Kind::Str),
    ("id_token_signing_algs", Kind::List),
    ("jwks_min_refetch_interval", Kind::Num),
    ("max_cookie_chunks", Kind::Num),
    ("spa_dir", Kind::Str),
    ("workers", Kind::Num),
    ("log_format", Kind::Str),
    ("proxy_connect_timeout", Kind::Num),
    ("silent_login", Kind::Bool),
    ("access_log", Kind::Bool),
    ("shared_store", Kind::Str),
    ("store_timeout_ms", Kind::Num),
    ("shutdown_grace", Kind::Num),
    ("client_registration_file", Kind::Str),
    ("registration_initial_access_token", Kind::Str),
    ("max_bff_body", Kind::Num),
    ("max_cookies", Kind::Num),
    ("max_cookie_header", Kind::Num),
    ("max_header_bytes", Kind::Num),
    ("request_timeout", Kind::Num),
    ("proxy_timeout", Kind::Num),
    // Issue 9 (the proxy edge): forwarded headers and body deadlines.
    ("trusted_proxies", Kind::List),
    ("body_timeout", Kind::Num),
    // issue 17: the `aud` of client assertions.
    ("client_assertion_audience", Kind::Str),
    // issue 9 (i9b): logout by POST form, the admin listener.
    ("end_session_method", Kind::Str),
    ("admin_listen", Kind::Str),
];

/// The file as written (every key optional here; `Config::validate` decides).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Raw {
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    api_endpoint: Option<String>,
    verify_ssl_server: Option<bool>,
    debug: Option<bool>,
    send_parameters_via: Option<String>,
    redirect_uri: Option<String>,
    base_url: Option<String>,
    post_logout_redirect_uri: Option<String>,
    subscription_key: Option<String>,
    listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    cookie_keys: Option<Vec<String>>,
    routes: Option<Value>,
    session_store: Option<String>,
    allowed_origins: Option<Vec<String>>,
    insecure_http: Option<bool>,
    cookie_same_site: Option<String>,
    session_lifetime: Option<u64>,
    session_idle_timeout: Option<u64>,
    login_timeout: Option<u64>,
    refresh_skew: Option<u64>,
    clock_skew: Option<u64>,
    http_timeout: Option<u64>,
    token_endpoint_auth_method: Option<String>,
    client_private_key: Option<PathBuf>,
    client_private_jwk: Option<Value>,
    client_key_id: Option<String>,
    client_signing_alg: Option<String>,
    request_object_signing_alg: Option<String>,
    id_token_signing_algs: Option<Vec<String>>,
    jwks_min_refetch_interval: Option<u64>,
    max_cookie_chunks: Option<usize>,
    spa_dir: Option<PathBuf>,
    workers: Option<usize>,
    log_format: Option<String>,
    proxy_connect_timeout: Option<u64>,
    silent_login: Option<bool>,
    access_log: Option<bool>,
    shared_store: Option<String>,
    store_timeout_ms: Option<u64>,
    shutdown_grace: Option<u64>,
    client_registration_file: Option<PathBuf>,
    registration_initial_access_token: Option<String>,
    max_bff_body: Option<usize>,
    max_cookies: Option<usize>,
    max_cookie_header: Option<usize>,
    max_header_bytes: Option<usize>,
    request_timeout: Option<u64>,
    proxy_timeout: Option<u64>,
    // Issue 9 (the proxy edge).
    trusted_proxies: Option<Vec<String>>,
    body_timeout: Option<u64>,
    // issue 17: the `aud` of client assertions.
    client_assertion_audience: Option<String>,
    // issue 9 (i9b)
    end_session_method: Option<String>,
    admin_listen: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamsVia {
    Query,
    RequestObject,
    Par,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Post,
    SecretJwt,
    PrivateKeyJwt,
}

impl ClientAuth {
    const ALL: [ClientAuth; 4] = [
        ClientAuth::Basic,
        ClientAuth::Post,
        ClientAuth::SecretJwt,
        ClientAuth::PrivateKeyJwt,
    ];

    /// The method's registered name (RFC 7591 §2, OIDC Core §9).
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
            ClientAuth::SecretJwt => "client_secret_jwt",
            ClientAuth::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn from_name(name: &str) -> Option<ClientAuth> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// issue 17: the `aud` of client assertions (`client_secret_jwt`, `private_key_jwt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAudience {
    /// The token endpoint, at every endpoint (OIDC Core §9; the default).
    TokenEndpoint,
    /// The issuer identifier (draft-ietf-oauth-rfc7523bis; FAPI 2.0).
    Issuer,
    /// The URL being called: token, PAR, introspection or revocation endpoint.
    Endpoint,
}

impl AssertionAudience {
    /// `client_assertion_audience` as written; `fapi2` is whether `profile: "fapi2"` is
    /// in force, which always means `issuer` (an explicit other value is refused).
    pub fn parse(value: Option<&str>, fapi2: bool) -> Result<Self, ConfigError> {
        const KEY: &str = "client_assertion_audience";
        let aud = match value {
            None => None,
            Some("token_endpoint") => Some(Self::TokenEndpoint),
            Some("issuer") => Some(Self::Issuer),
            Some("endpoint") => Some(Self::Endpoint),
            Some(other) => {
                return Err(ConfigError::new(
                    KEY,
                    format!("`{other}` is not token_endpoint, issuer or endpoint"),
                ))
            }
        };
        match (aud, fapi2) {
            (None | Some(Self::Issuer), true) => Ok(Self::Issuer),
            (Some(_), true) => Err(ConfigError::new(
                KEY,
                "must be issuer (or unset) under profile fapi2",
            )),
            (aud, false) => Ok(aud.unwrap_or(Self::TokenEndpoint)),
        }
    }
}

/// The client's own signing key (private_key_jwt, signed request objects).
#[derive(Clone)]
pub struct ClientKey {
    pub key: jsonwebtoken::EncodingKey,
    pub alg: jsonwebtoken::Algorithm,
    pub kid: Option<String>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// The public half as a JWK (with `kid`, `alg`, `use: sig`), for registering the key.
    pub fn public_jwk(&self) -> Option<Value> {
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&self.key, self.alg).ok()?;
        let mut v = serde_json::to_value(jwk).ok()?;
        let m = v.as_object_mut()?;
        m.retain(|k, _| matches!(k.as_str(), "kty" | "n" | "e" | "crv" | "x" | "y"));
        m.insert("use".into(), Value::from("sig"));
        m.insert("alg".into(), serde_json::to_value(self.alg).ok()?);
        if let Some(kid) = &self.kid {
            m.insert("kid".into(), Value::from(kid.as_str()));
        }
        Some(v)
    }

    /// A private JWK: RSA (`n`, `e`, `d`, `p`, `q`) or EC P-256 (`d`). Its `kid` is used
    /// unless `client_key_id` is set.
    pub fn from_jwk(
        jwk: &Value,
        kid: Option<String>,
        alg: Option<&str>,
    ) -> Result<ClientKey, ConfigError> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use jsonwebtoken::{Algorithm, EncodingKey};
        const KEY: &str = "client_private_jwk";
        let jwk: Value = match jwk {
            Value::String(text) => serde_json::from_str(text)
                .map_err(|e| ConfigError::new(KEY, format!("not JSON: {e}")))?,
            other => other.clone(),
        };
        let field = |name: &str| -> Result<Vec<u8>, ConfigError> {
            let text = jwk
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| ConfigError::new(KEY, format!("`{name}` is missing")))?;
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| ConfigError::new(KEY, format!("`{name}` is not base64url")))
        };
        let (key, default_alg) = match jwk.get("kty").and_then(Value::as_str) {
            Some("RSA") => {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                use rsa::BigUint;
                let n = BigUint::from_bytes_be(&field("n")?);
                let e = BigUint::from_bytes_be(&field("e")?);
                let d = BigUint::from_bytes_be(&field("d")?);
                let primes = vec![
                    BigUint::from_bytes_be(&field("p")?),
                    BigUint::from_bytes_be(&field("q")?),
                ];
                let private = rsa::RsaPrivateKey::from_components(n, e, d, primes)
                    .map_err(|e| ConfigError::new(KEY, format!("not a valid RSA key: {e}")))?;
                let der = private
                    .to_pkcs1_der()
                    .map_err(|e| ConfigError::new(KEY, e.to_string()))?;
                (EncodingKey::from_rsa_der(der.as_bytes()), Algorithm::RS256)
            }
            Some("EC") if jwk.get("crv").and_then(Value::as_str) == Some("P-256") => {
                use p256::pkcs8::EncodePrivateKey;
                let secret = p256::SecretKey::from_slice(&field("d")?)
                    .map_err(|_| ConfigError::new(KEY, "not a valid P-256 key"))?;
                let der = secret
                    .to_pkcs8_der()
                    .map_err(|e| ConfigError::new(KEY, e.to_string()))?;
                (EncodingKey::from_ec_der(der.as_bytes()), Algorithm::ES256)
            }
            _ => {
                return Err(ConfigError::new(
                    KEY,
                    "kty must be RSA, or EC with crv P-256",
                ))
            }
        };
        let alg = match alg {
            Some(a) => a.parse().map_err(|_| {
                ConfigError::new(
                    "client_signing_alg",
                    format!("`{a}` is not a supported algorithm"),
                )
            })?,
            None => default_alg,
        };
        if alg.family() != key.family() {
            return Err(ConfigError::new(
                "client_signing_alg",
                "does not match the key type",
            ));
        }
        let kid = kid.or_else(|| jwk.get("kid").and_then(Value::as_str).map(str::to_string));
        Ok(ClientKey { key, alg, kid })
    }

    /// Loads a PEM private key (RSA or EC P-256/P-384, PKCS#8 or PKCS#1/SEC1).
    pub fn load(
        path: &Path,
        kid: Option<String>,
        alg: Option<&str>,
    ) -> Result<ClientKey, ConfigError> {
        use jsonwebtoken::{Algorithm, EncodingKey};
        const KEY: &str = "client_private_key";
        let pem = std::fs::read(path)
            .map_err(|e| ConfigError::new(KEY, format!("cannot read {}: {e}", path.display())))?;
        let wanted: Option<Algorithm> = alg
            .map(|a| {
                a.parse().map_err(|_| {
                    ConfigError::new(
                        "client_signing_alg",
                        format!("`{a}` is not a supported algorithm"),
                    )
                })
            })
            .transpose()?;
        let (key, default_alg) = if let Ok(k) = EncodingKey::from_rsa_pem(&pem) {
            (k, Algorithm::RS256)
        } else if let Ok(k) = EncodingKey::from_ec_pem(&pem) {
            // P-256 is the common case; a P-384 key needs client_signing_alg: ES384.
            (k, Algorithm::ES256)
        } else {
            return Err(ConfigError::new(
                KEY,
                "is not an RSA or EC private key in PEM",
            ));
        };
        let alg = wanted.unwrap_or(default_alg);
        if alg.family() != key.family() {
            return Err(ConfigError::new(
                "client_signing_alg",
                "does not match the key type",
            ));
        }
        Ok(ClientKey { key, alg, kid })
    }
}

/// `end_session_method` (issue 9): `post` (a form the BFF's logout page submits, so the
/// ID token stays out of every URL) or `get` (a redirect, for OPs that take only GET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSessionMethod {
    Post,
    Get,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
}

/// Whether a route needs, may use, or never sends the access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenMode {
    Required,
    Optional,
    None,
}

/// One `/api` route: requests under `prefix` go to `upstream`.
#[derive(Debug, Clone)]
pub struct Route {
    pub prefix: String,
    pub upstream: Url,
    pub token: TokenMode,
    pub strip_prefix: bool,
    pub headers: Vec<(
        actix_web::http::header::HeaderName,
        actix_web::http::header::HeaderValue,
    )>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    prefix: String,
    upstream: String,
    #[serde(default = "default_token_mode")]
    token: TokenMode,
    #[serde(default = "default_true")]
    strip_prefix: bool,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

fn default_token_mode() -> TokenMode {
    TokenMode::Required
}

fn default_true() -> bool {
    true
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scope: String,
    pub verify_ssl_server: bool,
    pub debug: bool,
    pub send_parameters_via: ParamsVia,
    pub redirect_uri: Url,
    /// Path of `redirect_uri`: where the callback is served.
    pub callback_path: String,
    pub base_url: Url,
    /// `scheme://host[:port]` of `base_url`, as browsers send it in `Origin`.
    pub origin: String,
    pub allowed_origins: Vec<String>,
    pub post_logout_redirect_uri: Url,
    pub listen: String,
    pub tls: Option<TlsFiles>,
    pub ca_file: Option<PathBuf>,
    pub cookie_keys: Vec<[u8; 32]>,
    /// True when no key was configured and one was generated for this process.
    pub ephemeral_cookie_key: bool,
    pub https: bool,
    pub secure_cookies: bool,
    pub same_site: SameSite,
    pub session_lifetime: Duration,
    pub session_idle_timeout: Duration,
    pub login_timeout: Duration,
    pub refresh_skew: Duration,
    pub clock_skew: Duration,
    pub http_timeout: Duration,
    pub token_endpoint_auth_method: Option<ClientAuth>,
    pub client_key: Option<ClientKey>,
    /// Algorithm for signed request objects (default: HS256 with the secret, else the key's).
    pub request_object_signing_alg: Option<jsonwebtoken::Algorithm>,
    pub id_token_signing_algs: Vec<jsonwebtoken::Algorithm>,
    pub jwks_min_refetch_interval: Duration,
    pub max_cookie_chunks: usize,
    /// The SPA's folder; `None`: a sidecar without static files (`spa_dir` unset and no
    /// `./spa` folder).
    pub spa_dir: Option<PathBuf>,
    pub workers: usize,
    pub json_logs: bool,
    /// `/api` routes, longest prefix first.
    pub routes: Vec<Route>,
    pub proxy_connect_timeout: Duration,
    /// Dynamic client registration, when `client_id` is not configured.
    pub registration: Option<Registration>,
    /// `session_store: redis://…`: sessions live in Redis; the cookie holds only an id.
    pub redis_sessions: bool,
    /// Redis URL for the shared state (revocations, single-use values, refresh locks);
    /// `None`: in memory, per process.
    pub shared_store: Option<String>,
    /// Bound on every shared-store call.
    pub store_timeout: Duration,
    /// Log every request at info level (else at debug; server errors always).
    pub access_log: bool,
    /// How long SIGTERM/SIGINT waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Offer `/bff/silent-login` (prompt=none in a hidden iframe) to the SPA.
    pub silent_login: bool,
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
    pub proxy_timeout: Duration,
    // Issue 9 (the proxy edge).
    /// Peers whose `X-Forwarded-*`/`Forwarded`/client-IP headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Time allowed for the whole body of a `/bff/` or callback request.
    pub body_timeout: Duration,
    /// issue 17: the `aud` of client assertions.
    pub client_assertion_audience: AssertionAudience,
    // issue 9 (i9b)
    /// How the RP-initiated logout reaches the OP's end-session endpoint.
    pub end_session_method: EndSessionMethod,
    /// `address:port` of the admin listener (`/metrics`); `None`: `/metrics` is served on
    /// the public listener.
    pub admin_listen: Option<String>,
    /// Keys present in the file that we do not know (warned about, not fatal).
    pub unknown_keys: Vec<String>,
}

/// Where dynamically registered credentials are kept, and the optional initial access
/// token for the OP's registration endpoint (RFC 7591).
#[derive(Clone)]
pub struct Registration {
    pub file: PathBuf,
    pub initial_access_token: Option<String>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

const DEFAULT_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

impl Config {
    /// Whether sessions are kept server-side (Redis mode).
    pub fn server_sessions(&self) -> bool {
        self.redis_sessions
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
        let Value::Object(mut map) = value else {
            return Err(ConfigError::new(
                "--config",
                "the settings must be a JSON object",
            ));
        };
        apply_env(&mut map, env)?;
        let unknown_keys: Vec<String> = map
            .keys()
            .filter(|k| !KEYS.iter().any(|(known, _)| known == k))
            .cloned()
            .collect();
        // Type errors name their key: deserialize key by key.
        let mut known = Map::new();
        for (key, _) in KEYS {
            if let Some(v) = map.remove(*key) {
                if !v.is_null() {
                    let mut one = Map::new();
                    one.insert((*key).to_string(), v);
                    serde_json::from_value::<Raw>(Value::Object(one.clone()))
                        .map_err(|e| ConfigError::new(key, type_message(&e.to_string())))?;
                    known.extend(one);
                }
            }
        }
        let raw: Raw = serde_json::from_value(Value::Object(known))
            .map_err(|e| ConfigError::new("--config", e.to_string()))?;
        validate(raw, unknown_keys)
    }
}

fn type_message(serde_msg: &str) -> String {
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
    for (key, kind) in KEYS {
        let var = format!("BFF_{}", key.to_ascii_uppercase());
        let Some(text) = env.get(&var) else { continue };
        let value = match kind {
            Kind::Str => Value::String(text.clone()),
            Kind::Bool => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Value::Bool(true),
                "false" | "0" | "no" => Value::Bool(false),
                _ => {
                    return Err(ConfigError::new(
                        key,
                        format!("{var} must be true or false"),
                    ))
                }
            },
            Kind::Num => Value::Number(
                text.trim()
                    .parse::<u64>()
                    .map_err(|_| ConfigError::new(key, format!("{var} must be a whole number")))?
                    .into(),
            ),
            Kind::List => Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ),
            Kind::Json => serde_json::from_str(text)
                .map_err(|e| ConfigError::new(key, format!("{var} is not valid JSON: {e}")))?,
        };
        map.insert((*key).to_string(), value);
    }
    Ok(())
}

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

fn required(key: &str, value: Option<String>) -> Result<String, ConfigError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::new(key, "is required")),
    }
}

fn secs(key: &str, value: Option<u64>, default: u64, min: u64) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    if v < min {
        return Err(ConfigError::new(
            key,
            format!("must be at least {min} seconds"),
        ));
    }
    Ok(Duration::from_secs(v))
}

fn validate(raw: Raw, unknown_keys: Vec<String>) -> Result<Config, ConfigError> {
    let issuer_text = required("issuer", raw.issuer)?;
    let issuer_url = parse_url("issuer", &issuer_text)?;
    if issuer_url.query().is_some() {
        return Err(ConfigError::new("issuer", "must not have a query"));
    }
    if issuer_url.scheme() == "http" && !is_loopback_host(issuer_url.host_str().unwrap_or("")) {
        return Err(ConfigError::new(
            "issuer",
            "must be https (http only on loopback)",
        ));
    }
    let registration = raw
        .client_registration_file
        .clone()
        .map(|file| Registration {
            file,
            initial_access_token: raw
                .registration_initial_access_token
                .clone()
                .filter(|t| !t.is_empty()),
        });
    let client_id = match (
        raw.client_id.filter(|c| !c.trim().is_empty()),
        &registration,
    ) {
        (Some(id), _) => id,
        // Registered at start-up (or read back from the registration file).
        (None, Some(_)) => String::new(),
        (None, None) => {
            return Err(ConfigError::new(
                "client_id",
                "is required (or set client_registration_file for dynamic client registration)",
            ))
        }
    };
    let client_secret = raw.client_secret.filter(|s| !s.is_empty());

    let scope = raw.scope.unwrap_or_else(|| "openid".to_string());
    if !scope.split_whitespace().any(|s| s == "openid") {
        return Err(ConfigError::new("scope", "must include `openid`"));
    }

    let base_url = parse_url(
        "base_url",
        raw.base_url.as_deref().unwrap_or("https://localhost:5443"),
    )?;
    if base_url.path() != "/" || base_url.query().is_some() {
        return Err(ConfigError::new(
            "base_url",
            "must be an origin only (scheme, host, port; no path or query)",
        ));
    }
    let https = base_url.scheme() == "https";
    let base_host = base_url.host_str().unwrap_or("").to_string();
    let insecure_http = raw.insecure_http.unwrap_or(false);
    if !https && !is_loopback_host(&base_host) && !insecure_http {
        return Err(ConfigError::new(
            "base_url",
            "plain http on a non-localhost host: use https, or set insecure_http: true behind a TLS-terminating proxy",
        ));
    }
    let secure_cookies = https || is_loopback_host(&base_host);
    let origin = origin_of(&base_url);

    let redirect_uri = match raw.redirect_uri {
        Some(text) => parse_url("redirect_uri", &text)?,
        None => base_url
            .join("/callback")
            .map_err(|e| ConfigError::new("redirect_uri", e.to_string()))?,
    };
    if origin_of(&redirect_uri) != origin {
        return Err(ConfigError::new(
            "redirect_uri",
            "must be on base_url's origin",
        ));
    }
    let callback_path = redirect_uri.path().to_string();
    if callback_path.starts_with("/bff/")
        || callback_path.starts_with("/api/")
        || callback_path == "/"
    {
        return Err(ConfigError::new(
            "redirect_uri",
            "its path must not be /, or under /bff/ or /api/",
        ));
    }

    let post_logout_redirect_uri = match raw.post_logout_redirect_uri {
        Some(text) => parse_url("post_logout_redirect_uri", &text)?,
        None => base_url.clone(),
    };

    let api_endpoint = raw
        .api_endpoint
        .map(|t| parse_url("api_endpoint", &t))
        .transpose()?;

    let send_parameters_via = match raw.send_parameters_via.as_deref().unwrap_or("query") {
        "query" => ParamsVia::Query,
        "request_object" => ParamsVia::RequestObject,
        "par" => ParamsVia::Par,
        other => {
            return Err(ConfigError::new(
                "send_parameters_via",
                format!("`{other}` is not one of query, request_object, par"),
            ))
        }
    };

    let tls = match (raw.tls_cert, raw.tls_key) {
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
    if let Some(ca) = &raw.ca_file {
        if !ca.is_file() {
            return Err(ConfigError::new(
                "ca_file",
                format!("file {} does not exist", ca.display()),
            ));
        }
    }

    let (cookie_keys, ephemeral_cookie_key) = match raw.cookie_keys {
        Some(list) if !list.is_empty() => {
            let mut keys = Vec::with_capacity(list.len());
            for (i, text) in list.iter().enumerate() {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|_| {
                        ConfigError::new("cookie_keys", format!("entry {i} is not standard base64"))
                    })?;
                let key: [u8; 32] = bytes.try_into().map_err(|_| {
                    ConfigError::new(
                        "cookie_keys",
                        format!("entry {i} must decode to exactly 32 bytes"),
                    )
                })?;
                keys.push(key);
            }
            (keys, false)
        }
        Some(_) => return Err(ConfigError::new("cookie_keys", "must not be an empty list")),
        None => (vec![rand::random::<[u8; 32]>()], true),
    };

    let routes = parse_routes(
        raw.routes,
        api_endpoint.as_ref(),
        raw.subscription_key.as_deref(),
    )?;
    let is_redis = |u: &str| u.starts_with("redis://") || u.starts_with("rediss://");
    let session_store_redis = match raw.session_store.as_deref() {
        None | Some("cookie") => None,
        Some(u) if is_redis(u) => Some(u.to_string()),
        Some(other) => {
            return Err(ConfigError::new(
                "session_store",
                format!("`{other}` is not `cookie` or a redis:// URL"),
            ))
        }
    };
    let shared_store = match raw.shared_store.as_deref() {
        None | Some("memory") => session_store_redis.clone(),
        Some(u) if is_redis(u) => Some(u.to_string()),
        Some(other) => {
            return Err(ConfigError::new(
                "shared_store",
                format!("`{other}` is not `memory` or a redis:// URL"),
            ))
        }
    };
    for (key, url) in [
        ("session_store", &session_store_redis),
        ("shared_store", &shared_store),
    ] {
        if let Some(u) = url {
            redis::Client::open(u.as_str())
                .map_err(|e| ConfigError::new(key, format!("not a usable Redis URL: {e}")))?;
        }
    }

    let mut allowed_origins = Vec::new();
    for o in raw.allowed_origins.unwrap_or_default() {
        let url = parse_url("allowed_origins", &o)?;
        allowed_origins.push(origin_of(&url));
    }

    let same_site = match raw
        .cookie_same_site
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("strict") => SameSite::Strict,
        Some("lax") => SameSite::Lax,
        Some(other) => {
            return Err(ConfigError::new(
                "cookie_same_site",
                format!("`{other}` is not strict or lax"),
            ))
        }
    };

    let token_endpoint_auth_method = match raw.token_endpoint_auth_method.as_deref() {
        None => None,
        Some(name) => Some(ClientAuth::from_name(name).ok_or_else(|| {
            ConfigError::new(
                "token_endpoint_auth_method",
                format!("`{name}` is not client_secret_basic, client_secret_post, client_secret_jwt or private_key_jwt"),
            )
        })?),
    };
    let client_key = match (&raw.client_private_key, &raw.client_private_jwk) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "client_private_jwk",
                "set client_private_key or client_private_jwk, not both",
            ))
        }
        (Some(path), None) => Some(ClientKey::load(
            path,
            raw.client_key_id.clone(),
            raw.client_signing_alg.as_deref(),
        )?),
        (None, Some(jwk)) => Some(ClientKey::from_jwk(
            jwk,
            raw.client_key_id.clone(),
            raw.client_signing_alg.as_deref(),
        )?),
        (None, None) => None,
    };
    if token_endpoint_auth_method == Some(ClientAuth::PrivateKeyJwt) && client_key.is_none() {
        return Err(ConfigError::new(
            "client_private_key",
            "is required for private_key_jwt",
        ));
    }
    if client_secret.is_none() && client_key.is_none() && !client_id.is_empty() {
        return Err(ConfigError::new("client_secret", "is required"));
    }
    let request_object_signing_alg = match raw.request_object_signing_alg.as_deref() {
        None => None,
        Some(name) => {
            let alg: jsonwebtoken::Algorithm = name.parse().map_err(|_| {
                ConfigError::new(
                    "request_object_signing_alg",
                    format!("`{name}` is not a supported algorithm"),
                )
            })?;
            let hmac = crate::util::is_hmac(alg);
            if hmac && client_secret.is_none() {
                return Err(ConfigError::new(
                    "request_object_signing_alg",
                    "HS* needs client_secret",
                ));
            }
            if !hmac && client_key.as_ref().is_none_or(|k| k.alg != alg) {
                return Err(ConfigError::new(
                    "request_object_signing_alg",
                    "must be HS256 (client_secret) or the algorithm of client_private_key",
                ));
            }
            Some(alg)
        }
    };

    let mut id_token_signing_algs = Vec::new();
    let alg_names: Vec<String> = raw
        .id_token_signing_algs
        .unwrap_or_else(|| DEFAULT_ALGS.iter().map(|s| s.to_string()).collect());
    for name in alg_names {
        let alg: jsonwebtoken::Algorithm = name.parse().map_err(|_| {
            ConfigError::new(
                "id_token_signing_algs",
                format!("`{name}` is not a supported algorithm"),
            )
        })?;
        id_token_signing_algs.push(alg);
    }
    if id_token_signing_algs.is_empty() {
        return Err(ConfigError::new(
            "id_token_signing_algs",
            "must not be empty",
        ));
    }

    let session_lifetime = secs("session_lifetime", raw.session_lifetime, 8 * 3600, 60)?;
    let session_idle_timeout = secs("session_idle_timeout", raw.session_idle_timeout, 3600, 60)?;
    let login_timeout = secs("login_timeout", raw.login_timeout, 600, 30)?;
    let refresh_skew = secs("refresh_skew", raw.refresh_skew, 30, 0)?;
    let clock_skew = secs("clock_skew", raw.clock_skew, 60, 0)?;
    let http_timeout = secs("http_timeout", raw.http_timeout, 10, 1)?;
    let jwks_min_refetch_interval = secs(
        "jwks_min_refetch_interval",
        raw.jwks_min_refetch_interval,
        30,
        0,
    )?;

    let max_cookie_chunks = raw.max_cookie_chunks.unwrap_or(8);
    if !(1..=32).contains(&max_cookie_chunks) {
        return Err(ConfigError::new(
            "max_cookie_chunks",
            "must be between 1 and 32",
        ));
    }

    let listen = match raw.listen {
        Some(l) => {
            l.parse::<std::net::SocketAddr>()
                .map_err(|_| ConfigError::new("listen", format!("`{l}` is not address:port")))?;
            l
        }
        None => {
            let port = base_url.port_or_known_default().unwrap_or(443);
            if is_loopback_host(&base_host) {
                format!("127.0.0.1:{port}")
            } else {
                format!("0.0.0.0:{port}")
            }
        }
    };

    let workers = raw.workers.unwrap_or(0);
    let json_logs = match raw.log_format.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            return Err(ConfigError::new(
                "log_format",
                format!("`{other}` is not text or json"),
            ))
        }
    };

    // issue 9 (i9b): sidecar without an SPA, logout method, admin listener.
    let spa_dir = match raw.spa_dir {
        Some(dir) if dir.is_dir() => Some(dir),
        Some(dir) => {
            return Err(ConfigError::new(
                "spa_dir",
                format!("{} is not a directory", dir.display()),
            ))
        }
        None => Some(PathBuf::from("spa")).filter(|d| d.is_dir()),
    };
    let end_session_method = match raw.end_session_method.as_deref() {
        None | Some("post") => EndSessionMethod::Post,
        Some("get") => EndSessionMethod::Get,
        Some(other) => {
            return Err(ConfigError::new(
                "end_session_method",
                format!("`{other}` is not post or get"),
            ))
        }
    };
    let admin_listen = match raw.admin_listen.filter(|a| !a.trim().is_empty()) {
        Some(a) => {
            let addr = a.parse::<std::net::SocketAddr>().map_err(|_| {
                ConfigError::new("admin_listen", format!("`{a}` is not address:port"))
            })?;
            if listen.parse::<std::net::SocketAddr>().ok() == Some(addr) && addr.port() != 0 {
                return Err(ConfigError::new(
                    "admin_listen",
                    "must not be the same address as listen",
                ));
            }
            Some(a)
        }
        None => None,
    };

    Ok(Config {
        issuer: issuer_text,
        client_id,
        client_secret,
        scope,
        verify_ssl_server: raw.verify_ssl_server.unwrap_or(true),
        debug: raw.debug.unwrap_or(false),
        send_parameters_via,
        redirect_uri,
        callback_path,
        base_url,
        origin,
        allowed_origins,
        post_logout_redirect_uri,
        listen,
        tls,
        ca_file: raw.ca_file,
        cookie_keys,
        ephemeral_cookie_key,
        https,
        secure_cookies,
        same_site,
        session_lifetime,
        session_idle_timeout,
        login_timeout,
        refresh_skew,
        clock_skew,
        http_timeout,
        token_endpoint_auth_method,
        client_key,
        request_object_signing_alg,
        id_token_signing_algs,
        jwks_min_refetch_interval,
        max_cookie_chunks,
        spa_dir,
        workers,
        json_logs,
        routes,
        silent_login: raw.silent_login.unwrap_or(false),
        access_log: raw.access_log.unwrap_or(false),
        redis_sessions: session_store_redis.is_some(),
        shared_store,
        store_timeout: Duration::from_millis(raw.store_timeout_ms.unwrap_or(500).clamp(50, 10_000)),
        shutdown_grace: secs("shutdown_grace", raw.shutdown_grace, 30, 0)?,
        registration,
        max_bff_body: raw.max_bff_body.unwrap_or(16 * 1024).max(1024),
        max_cookies: raw.max_cookies.unwrap_or(64).max(8),
        max_cookie_header: raw.max_cookie_header.unwrap_or(24 * 1024).max(4096),
        max_header_bytes: raw.max_header_bytes.unwrap_or(30 * 1024).max(4096),
        request_timeout: secs("request_timeout", raw.request_timeout, 10, 1)?,
        proxy_connect_timeout: secs("proxy_connect_timeout", raw.proxy_connect_timeout, 5, 1)?,
        proxy_timeout: secs("proxy_timeout", raw.proxy_timeout, 30, 1)?,
        // Issue 9 (the proxy edge).
        trusted_proxies: parse_trusted_proxies(raw.trusted_proxies.unwrap_or_default())?,
        body_timeout: secs("body_timeout", raw.body_timeout, 10, 1)?,
        // issue 17. Hook for issue 12: pass `true` when `profile` is `fapi2`.
        client_assertion_audience: AssertionAudience::parse(
            raw.client_assertion_audience.as_deref(),
            false,
        )?,
        end_session_method,
        admin_listen,
        unknown_keys,
    })
}

/// Issue 9: `trusted_proxies` entries are IP addresses or CIDRs (IPv4 or IPv6).
fn parse_trusted_proxies(list: Vec<String>) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.iter()
        .map(|entry| {
            let text = entry.trim();
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|net| ipv4_if_mapped(net).trunc())
                .map_err(|_| {
                    ConfigError::new(
                        "trusted_proxies",
                        format!("`{text}` is not an IP address or CIDR"),
                    )
                })
        })
        .collect()
}

/// An IPv4-mapped IPv6 entry (`::ffff:10.0.0.1`, `::ffff:10.0.0.0/104`) as the IPv4
/// address or network it names: peers are compared in canonical form, so a mapped
/// entry would never match. Wider IPv6 networks stay IPv6.
fn ipv4_if_mapped(net: ipnet::IpNet) -> ipnet::IpNet {
    match net {
        ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(ipnet::IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        other => other,
    }
}

fn parse_routes(
    raw: Option<Value>,
    api_endpoint: Option<&Url>,
    subscription_key: Option<&str>,
) -> Result<Vec<Route>, ConfigError> {
    use actix_web::http::header::{HeaderName, HeaderValue};
    let list: Vec<RawRoute> = match raw {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| ConfigError::new("routes", type_message(&e.to_string())))?,
        None => match api_endpoint {
            Some(api) => {
                let mut headers = BTreeMap::new();
                if let Some(key) = subscription_key {
                    // The tutorial's API-gateway key.
                    headers.insert("Ocp-Apim-Subscription-Key".to_string(), key.to_string());
                }
                vec![RawRoute {
                    prefix: "/api".into(),
                    upstream: api.to_string(),
                    token: TokenMode::Required,
                    strip_prefix: true,
                    headers,
                }]
            }
            None => Vec::new(),
        },
    };
    let mut routes = Vec::with_capacity(list.len());
    for (i, r) in list.into_iter().enumerate() {
        let prefix = r.prefix.trim_end_matches('/').to_string();
        if !(prefix == "/api" || prefix.starts_with("/api/"))
            || prefix.contains("..")
            || prefix.contains('%')
        {
            return Err(ConfigError::new(
                "routes",
                format!("route {i}: prefix must be /api or start with /api/"),
            ));
        }
        let upstream = parse_url("routes", &r.upstream)?;
        if upstream.query().is_some() {
            return Err(ConfigError::new(
                "routes",
                format!("route {i}: upstream must not have a query"),
            ));
        }
        let mut headers = Vec::new();
        for (name, value) in r.headers {
            let n = HeaderName::try_from(name.as_str()).map_err(|_| {
                ConfigError::new(
                    "routes",
                    format!("route {i}: `{name}` is not a header name"),
                )
            })?;
            let v = HeaderValue::try_from(value.as_str()).map_err(|_| {
                ConfigError::new(
                    "routes",
                    format!("route {i}: header `{name}` has an invalid value"),
                )
            })?;
            headers.push((n, v));
        }
        if routes.iter().any(|x: &Route| x.prefix == prefix) {
            return Err(ConfigError::new(
                "routes",
                format!("route {i}: prefix {prefix} appears twice"),
            ));
        }
        routes.push(Route {
            prefix,
            upstream,
            token: r.token,
            strip_prefix: r.strip_prefix,
            headers,
        });
    }
    routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "issuer": "https://op.example",
            "client_id": "c",
            "client_secret": "s",
            "base_url": "https://localhost:5443"
        })
    }

    fn err(mut v: Value, patch: Value, env: &[(&str, &str)]) -> ConfigError {
        if let (Value::Object(m), Value::Object(p)) = (&mut v, patch) {
            m.extend(p);
        }
        let env = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        Config::from_value(v, &env).expect_err("should fail")
    }

    #[test]
    fn defaults_are_sane() {
        let c = Config::from_value(base(), &BTreeMap::new()).unwrap();
        assert_eq!(c.redirect_uri.as_str(), "https://localhost:5443/callback");
        assert_eq!(c.callback_path, "/callback");
        assert_eq!(c.listen, "127.0.0.1:5443");
        assert!(c.secure_cookies && c.https && c.verify_ssl_server);
        assert!(c.ephemeral_cookie_key);
        assert_eq!(c.origin, "https://localhost:5443");
    }

    #[test]
    fn each_bad_key_is_named() {
        assert_eq!(err(json!({}), json!({}), &[]).key, "issuer");
        assert_eq!(
            err(base(), json!({"issuer": "not a url"}), &[]).key,
            "issuer"
        );
        assert_eq!(
            err(base(), json!({"issuer": "http://op.example"}), &[]).key,
            "issuer"
        );
        assert_eq!(err(base(), json!({"scope": "profile"}), &[]).key, "scope");
        assert_eq!(
            err(base(), json!({"verify_ssl_server": "yes"}), &[]).key,
            "verify_ssl_server"
        );
        assert_eq!(
            err(
                base(),
                json!({"send_parameters_via": "carrier pigeon"}),
                &[]
            )
            .key,
            "send_parameters_via"
        );
        assert_eq!(
            err(base(), json!({"cookie_keys": ["short"]}), &[]).key,
            "cookie_keys"
        );
        assert_eq!(
            err(base(), json!({"cookie_keys": ["AAAA"]}), &[]).key,
            "cookie_keys"
        );
        assert_eq!(
            err(base(), json!({"base_url": "http://bff.example"}), &[]).key,
            "base_url"
        );
        assert_eq!(
            err(
                base(),
                json!({"redirect_uri": "https://evil.example/cb"}),
                &[]
            )
            .key,
            "redirect_uri"
        );
        assert_eq!(
            err(base(), json!({"tls_cert": "/nonexistent.pem"}), &[]).key,
            "tls_key"
        );
        assert_eq!(
            err(base(), json!({"ca_file": "/nonexistent.pem"}), &[]).key,
            "ca_file"
        );
        assert_eq!(err(base(), json!({"listen": "nowhere"}), &[]).key, "listen");
        assert_eq!(
            err(base(), json!({"session_store": "memcached://x"}), &[]).key,
            "session_store"
        );
        assert_eq!(
            err(base(), json!({"client_secret": null}), &[]).key,
            "client_secret"
        );
        assert_eq!(
            err(base(), json!({"id_token_signing_algs": ["none"]}), &[]).key,
            "id_token_signing_algs"
        );
        assert_eq!(
            err(base(), json!({}), &[("BFF_DEBUG", "maybe")]).key,
            "debug"
        );
        assert_eq!(
            err(base(), json!({}), &[("BFF_SESSION_LIFETIME", "-1")]).key,
            "session_lifetime"
        );
    }

    #[test]
    fn message_is_one_line_naming_the_key() {
        let e = err(base(), json!({"cookie_keys": ["AAAA"]}), &[]);
        let line = e.to_string();
        assert!(
            line.contains("`cookie_keys`") && !line.contains('\n'),
            "{line}"
        );
    }

    #[test]
    fn environment_overrides_file() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let key2 = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let env: BTreeMap<String, String> = [
            ("BFF_CLIENT_SECRET", "from-env"),
            ("BFF_COOKIE_KEYS", &format!("{key},{key2}")),
            ("BFF_DEBUG", "true"),
            ("BFF_SESSION_IDLE_TIMEOUT", "120"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let c = Config::from_value(base(), &env).unwrap();
        assert_eq!(c.client_secret.as_deref(), Some("from-env"));
        assert_eq!(c.cookie_keys, vec![[7u8; 32], [9u8; 32]]);
        assert!(c.debug && !c.ephemeral_cookie_key);
        assert_eq!(c.session_idle_timeout, Duration::from_secs(120));
    }

    #[test]
    fn routes_default_and_explicit() {
        let mut v = base();
        v["api_endpoint"] = json!("https://api.example/v1");
        v["subscription_key"] = json!("k");
        let c = Config::from_value(v.clone(), &BTreeMap::new()).unwrap();
        assert_eq!(c.routes.len(), 1);
        assert_eq!(c.routes[0].prefix, "/api");
        assert_eq!(
            c.routes[0].headers[0].0.as_str(),
            "ocp-apim-subscription-key"
        );
        v["routes"] = json!([
            {"prefix": "/api", "upstream": "https://a.example"},
            {"prefix": "/api/orders/", "upstream": "https://orders.example", "token": "optional", "strip_prefix": false}
        ]);
        let c = Config::from_value(v, &BTreeMap::new()).unwrap();
        assert_eq!(c.routes[0].prefix, "/api/orders", "longest prefix first");
        assert_eq!(c.routes[0].token, TokenMode::Optional);
        assert!(!c.routes[0].strip_prefix);
    }

    #[test]
    fn plain_http_rules() {
        let mut v = base();
        v["base_url"] = json!("http://localhost:8080");
        let c = Config::from_value(v.clone(), &BTreeMap::new()).unwrap();
        assert!(!c.https && c.secure_cookies);
        v["base_url"] = json!("http://bff.internal");
        v["insecure_http"] = json!(true);
        let c = Config::from_value(v, &BTreeMap::new()).unwrap();
        assert!(!c.secure_cookies);
    }

    #[test]
    fn unknown_keys_are_reported_not_fatal() {
        let mut v = base();
        v["client_sercet"] = json!("typo");
        let c = Config::from_value(v, &BTreeMap::new()).unwrap();
        assert_eq!(c.unknown_keys, vec!["client_sercet".to_string()]);
    }

    // Issue 9 review: peers are compared as IPv4 when IPv4-mapped, so mapped entries are
    // taken as the IPv4 address or network they name.
    #[test]
    fn ipv4_mapped_trusted_proxies_are_ipv4() {
        let mut v = base();
        v["trusted_proxies"] = json!(["::ffff:10.1.2.3", "::ffff:192.168.0.0/112", "::/0"]);
        let c = Config::from_value(v, &BTreeMap::new()).unwrap();
        let got: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(got, ["10.1.2.3/32", "192.168.0.0/16", "::/0"]);
        let peer = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
        let trusted = |p| crate::proxy::headers::Hop::is_trusted(&c.trusted_proxies, p);
        assert!(trusted(peer("10.1.2.3")));
        assert!(trusted(peer("::ffff:10.1.2.3")));
        assert!(trusted(peer("192.168.7.7")));
        assert!(!trusted(peer("10.1.2.4")));
    }

    // Issue 9 (the proxy edge).
    #[test]
    fn trusted_proxies_and_body_timeout() {
        let c = Config::from_value(base(), &BTreeMap::new()).unwrap();
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(c.body_timeout, Duration::from_secs(10));
        let mut v = base();
        v["trusted_proxies"] = json!(["127.0.0.1", "10.1.2.3/8", "::1", "fd00::/8"]);
        v["body_timeout"] = json!(3);
        let c = Config::from_value(v, &BTreeMap::new()).unwrap();
        let got: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(got, ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"]);
        assert_eq!(c.body_timeout, Duration::from_secs(3));
        let env = [("BFF_TRUSTED_PROXIES", "192.168.0.0/16, 2001:db8::1")];
        let env = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let c = Config::from_value(base(), &env).unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        for bad in [
            json!(["10.0.0.0/33"]),
            json!(["proxy.example"]),
            json!("10.0.0.1"),
        ] {
            let e = err(base(), json!({ "trusted_proxies": bad }), &[]);
            assert_eq!(e.key, "trusted_proxies");
        }
        assert_eq!(
            err(base(), json!({"body_timeout": 0}), &[]).key,
            "body_timeout"
        );
    }

    // issue 17
    #[test]
    fn client_assertion_audience_values_and_the_fapi2_hook() {
        use AssertionAudience::*;
        let get = |patch: Value, env: &[(&str, &str)]| {
            let mut v = base();
            if let (Value::Object(m), Value::Object(p)) = (&mut v, patch) {
                m.extend(p);
            }
            let env = env
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            Config::from_value(v, &env).map(|c| c.client_assertion_audience)
        };
        assert_eq!(get(json!({}), &[]), Ok(TokenEndpoint));
        for (text, want) in [
            ("token_endpoint", TokenEndpoint),
            ("issuer", Issuer),
            ("endpoint", Endpoint),
        ] {
            assert_eq!(
                get(json!({"client_assertion_audience": text}), &[]),
                Ok(want)
            );
            assert_eq!(
                get(json!({}), &[("BFF_CLIENT_ASSERTION_AUDIENCE", text)]),
                Ok(want)
            );
        }
        let e = err(base(), json!({"client_assertion_audience": "Issuer"}), &[]);
        assert_eq!(e.key, "client_assertion_audience");
        // profile fapi2 (issue 12) forces the issuer.
        assert_eq!(AssertionAudience::parse(None, true), Ok(Issuer));
        assert_eq!(AssertionAudience::parse(Some("issuer"), true), Ok(Issuer));
        assert_eq!(
            AssertionAudience::parse(Some("endpoint"), true)
                .unwrap_err()
                .key,
            "client_assertion_audience"
        );
    }
}
