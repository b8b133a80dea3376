//! The `client` section: the BFF's client at the OP (id, secret, authentication method,
//! signing key, assertion audience, dynamic registration), its redirect URIs and scope.

use std::path::PathBuf;

use url::Url;

use super::client_key::ClientKey;
use super::secret::Secret;
use super::server::{origin_of, ServerConfig};
use super::source::Source;
use super::{parse_url, ConfigError};

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `client_id`; empty until dynamic registration fills it in.
    pub id: String,
    pub secret: Option<Secret<String>>,
    /// `token_endpoint_auth_method`; `None`: chosen from the OP's metadata.
    pub auth_method: Option<ClientAuth>,
    /// The client's own signing key (`client_private_key` / `client_private_jwk`).
    pub key: Option<ClientKey>,
    /// Algorithm for signed request objects (default: HS256 with the secret, else the key's).
    pub request_object_alg: Option<jsonwebtoken::Algorithm>,
    /// issue 17: the `aud` of client assertions.
    pub assertion_audience: AssertionAudience,
    /// issue 13: how `client_secret_basic` encodes the credentials.
    pub basic_encoding: BasicEncoding,
    /// Dynamic client registration, when `client_id` is not configured.
    pub registration: Option<Registration>,
    pub scope: String,
    pub redirect_uri: Url,
    /// Path of `redirect_uri`: where the callback is served.
    pub callback_path: String,
    pub post_logout_redirect_uri: Url,
    // issue 11: route tokens, resource indicators
    /// `resource` (RFC 8707): sent as written in the authorization request and the code
    /// and refresh token requests.
    pub resource: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Post,
    SecretJwt,
    PrivateKeyJwt,
    /// issue 12: mutual TLS (RFC 8705 §2.1, §2.2): the certificate authenticates.
    TlsClientAuth,
    SelfSignedTlsClientAuth,
}

impl ClientAuth {
    const ALL: [ClientAuth; 6] = [
        ClientAuth::Basic,
        ClientAuth::Post,
        ClientAuth::SecretJwt,
        ClientAuth::PrivateKeyJwt,
        ClientAuth::TlsClientAuth,
        ClientAuth::SelfSignedTlsClientAuth,
    ];

    /// The method's registered name (RFC 7591 §2, OIDC Core §9).
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
            ClientAuth::SecretJwt => "client_secret_jwt",
            ClientAuth::PrivateKeyJwt => "private_key_jwt",
            ClientAuth::TlsClientAuth => "tls_client_auth",
            ClientAuth::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Whether the TLS client certificate is the authentication (RFC 8705).
    pub fn is_mtls(self) -> bool {
        matches!(
            self,
            ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth
        )
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
            Some(text) => Some(super::one_of(
                KEY,
                Some(text),
                &[
                    ("token_endpoint", Self::TokenEndpoint),
                    ("issuer", Self::Issuer),
                    ("endpoint", Self::Endpoint),
                ],
            )?),
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

/// issue 13: `client_secret_basic_encoding`: how the client id and secret are written in
/// the Basic `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasicEncoding {
    /// RFC 6749 §2.3.1: each form-urlencoded before Base64 (the default).
    Form,
    /// As they are (for OPs that do not form-decode Basic credentials).
    Raw,
}

impl BasicEncoding {
    pub(super) fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        super::one_of(
            "client_secret_basic_encoding",
            value,
            &[("form", Self::Form), ("raw", Self::Raw)],
        )
    }
}

/// Where dynamically registered credentials are kept, and the optional initial access
/// token for the OP's registration endpoint (RFC 7591).
#[derive(Debug, Clone)]
pub struct Registration {
    pub file: PathBuf,
    pub initial_access_token: Option<Secret<String>>,
}

/// `fapi2`: `profile: "fapi2"` is in force (its cross-section rules are checked in
/// `sender::check_fapi2`).
pub(super) fn validate(
    src: &Source,
    server: &ServerConfig,
    fapi2: bool,
) -> Result<ClientConfig, ConfigError> {
    let registration = src
        .path("client_registration_file")
        .map(|file| Registration {
            file,
            initial_access_token: src
                .str("registration_initial_access_token")
                .filter(|t| !t.is_empty())
                .map(Secret::new),
        });
    let id = match (
        src.str("client_id").filter(|c| !c.trim().is_empty()),
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
    let scope = src.str("scope").unwrap_or_else(|| "openid".to_string());
    if !scope.split_whitespace().any(|s| s == "openid") {
        return Err(ConfigError::new("scope", "must include `openid`"));
    }
    let (redirect_uri, callback_path, post_logout_redirect_uri) = redirect_uris(src, server)?;
    let secret = src
        .str("client_secret")
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    let (auth_method, key) = auth_method_and_key(src)?;
    // issue 12: a certificate (mutual TLS) authenticates on its own; under the profile a
    // missing authentication is named by its own rule.
    let mtls =
        auth_method.is_some_and(ClientAuth::is_mtls) || src.path("client_tls_cert").is_some();
    if secret.is_none() && key.is_none() && !id.is_empty() && !mtls && !fapi2 {
        return Err(ConfigError::new("client_secret", "is required"));
    }
    // issue 11: route tokens, resource indicators
    let resource = match src.strings("resource") {
        None => Vec::new(),
        Some(list) => {
            super::grant::check_resources(&list).map_err(|m| ConfigError::new("resource", m))?;
            list
        }
    };
    Ok(ClientConfig {
        resource,
        request_object_alg: request_object_alg(src, secret.is_some(), key.as_ref())?,
        // issue 17. Hook for issue 12: pass `true` when `profile` is `fapi2`.
        assertion_audience: AssertionAudience::parse(
            src.str("client_assertion_audience").as_deref(),
            fapi2,
        )?,
        basic_encoding: BasicEncoding::parse(src.str("client_secret_basic_encoding").as_deref())?,
        id,
        secret,
        auth_method,
        key,
        registration,
        scope,
        redirect_uri,
        callback_path,
        post_logout_redirect_uri,
    })
}

/// `redirect_uri` (on `base_url`'s origin; its path is the callback's),
/// `post_logout_redirect_uri`.
fn redirect_uris(src: &Source, server: &ServerConfig) -> Result<(Url, String, Url), ConfigError> {
    let redirect_uri = match src.str("redirect_uri") {
        Some(text) => parse_url("redirect_uri", &text)?,
        None => server
            .base_url
            .join("/callback")
            .map_err(|e| ConfigError::new("redirect_uri", e.to_string()))?,
    };
    if origin_of(&redirect_uri) != server.origin {
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
    let post_logout_redirect_uri = match src.str("post_logout_redirect_uri") {
        Some(text) => parse_url("post_logout_redirect_uri", &text)?,
        None => server.base_url.clone(),
    };
    Ok((redirect_uri, callback_path, post_logout_redirect_uri))
}

fn auth_method_and_key(
    src: &Source,
) -> Result<(Option<ClientAuth>, Option<ClientKey>), ConfigError> {
    let auth_method = match src.str("token_endpoint_auth_method") {
        None => None,
        Some(name) => Some(ClientAuth::from_name(&name).ok_or_else(|| {
            ConfigError::new(
                "token_endpoint_auth_method",
                format!("`{name}` is not client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, tls_client_auth or self_signed_tls_client_auth"),
            )
        })?),
    };
    let kid = src.str("client_key_id");
    let alg = src.str("client_signing_alg");
    let key = match (
        src.path("client_private_key"),
        src.json("client_private_jwk"),
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "client_private_jwk",
                "set client_private_key or client_private_jwk, not both",
            ))
        }
        (Some(path), None) => Some(ClientKey::load(&path, kid, alg.as_deref())?),
        (None, Some(jwk)) => Some(ClientKey::from_jwk(&jwk, kid, alg.as_deref())?),
        (None, None) => None,
    };
    if auth_method == Some(ClientAuth::PrivateKeyJwt) && key.is_none() {
        return Err(ConfigError::new(
            "client_private_key",
            "is required for private_key_jwt",
        ));
    }
    Ok((auth_method, key))
}

fn request_object_alg(
    src: &Source,
    has_secret: bool,
    key: Option<&ClientKey>,
) -> Result<Option<jsonwebtoken::Algorithm>, ConfigError> {
    const KEY: &str = "request_object_signing_alg";
    let Some(name) = src.str(KEY) else {
        return Ok(None);
    };
    let alg: jsonwebtoken::Algorithm = name
        .parse()
        .map_err(|_| ConfigError::new(KEY, format!("`{name}` is not a supported algorithm")))?;
    let hmac = crate::util::is_hmac(alg);
    if hmac && !has_secret {
        return Err(ConfigError::new(KEY, "HS* needs client_secret"));
    }
    if !hmac && key.is_none_or(|k| k.alg != alg) {
        return Err(ConfigError::new(
            KEY,
            "must be HS256 (client_secret) or the algorithm of client_private_key",
        ));
    }
    Ok(Some(alg))
}
