//! The token client: every request to the OP's token, PAR, introspection, revocation and
//! userinfo endpoints, with the client authentication and (issue 12) the DPoP proofs.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

use super::dpop::{op_wants_nonce, Dpop};
use super::{http, Endpoint, Metadata, OidcError};
use crate::config::{AssertionAudience, BasicEncoding, ClientAuth, Config};

/// The token endpoint's answer. `Debug` never shows the tokens.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl TokenResponse {
    /// issue 12: `token_type: DPoP` (case-insensitive, RFC 9449 7.1): the access token
    /// is bound to the DPoP key and sent as `Authorization: DPoP` with a proof.
    pub fn dpop_bound(&self) -> bool {
        self.token_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("dpop"))
    }
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("has_id_token", &self.id_token.is_some())
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The client authentication to use: the setting, else what the OP supports
/// (client_secret_basic is the default when the OP says nothing).
pub fn auth_method(config: &Config, meta: &Metadata) -> ClientAuth {
    if let Some(m) = config.client.auth_method {
        return m;
    }
    match &meta.token_endpoint_auth_methods_supported {
        Some(methods)
            if !methods.iter().any(|m| m == ClientAuth::Basic.name())
                && methods.iter().any(|m| m == ClientAuth::Post.name()) =>
        {
            ClientAuth::Post
        }
        _ => ClientAuth::Basic,
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 2.3.1).
pub fn basic_auth_header(client_id: &str, secret: &str) -> String {
    basic_auth_header_with(client_id, secret, BasicEncoding::Form)
}

/// issue 13: `client_secret_basic_encoding`: `Form` is RFC 6749 2.3.1, `Raw` is
/// `Basic base64(id:secret)` for OPs that do not form-decode the credentials.
pub fn basic_auth_header_with(client_id: &str, secret: &str, encoding: BasicEncoding) -> String {
    let credentials = match encoding {
        BasicEncoding::Form => {
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            format!("{}:{}", enc(client_id), enc(secret))
        }
        BasicEncoding::Raw => format!("{client_id}:{secret}"),
    };
    format!("Basic {}", STANDARD.encode(credentials))
}

/// issue 13: after an OP refused a call with client authentication: when the cause may
/// be how `client_secret_basic` encoded the credentials (the OP says `invalid_client` or
/// 401, and form-encoding changes the client id or secret), one log line naming the
/// setting that fixes it. Gives the error back.
pub fn explain_refusal(config: &Config, meta: &Metadata, e: OidcError) -> OidcError {
    if let OidcError::Status { status, error, .. } = &e {
        let refused_client = *status == 401 || error.as_deref() == Some("invalid_client");
        if refused_client && auth_method(config, meta) == ClientAuth::Basic {
            let secret = config.client.secret.as_ref().map_or("", |s| s.expose());
            if let Some(hint) =
                basic_encoding_hint(&config.client.id, secret, config.client.basic_encoding)
            {
                tracing::warn!("{hint}");
            }
        }
    }
    e
}

/// The hint of [`explain_refusal`], when form-encoding changes the credentials.
fn basic_encoding_hint(id: &str, secret: &str, encoding: BasicEncoding) -> Option<&'static str> {
    let changes =
        |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>() != s;
    if !changes(id) && !changes(secret) {
        return None;
    }
    Some(match encoding {
        BasicEncoding::Form => {
            "the OpenID Provider refused the client credentials (client_secret_basic): the client id or secret holds characters that form-encoding (RFC 6749 2.3.1) changes; if the OP does not form-decode Basic credentials, set client_secret_basic_encoding: \"raw\" (or use token_endpoint_auth_method: \"client_secret_post\")"
        }
        BasicEncoding::Raw => {
            "the OpenID Provider refused the client credentials (client_secret_basic): client_secret_basic_encoding is \"raw\", but the client id or secret holds characters an OP that follows RFC 6749 2.3.1 decodes; try client_secret_basic_encoding: \"form\""
        }
    })
}

/// Form fields of a request to the OP.
pub type Form = Vec<(&'static str, String)>;

/// The `aud` of a client assertion sent to `url` (`client_assertion_audience`).
pub fn assertion_audience<'a>(config: &'a Config, meta: &'a Metadata, url: &'a str) -> &'a str {
    match config.client.assertion_audience {
        AssertionAudience::TokenEndpoint => &meta.token_endpoint,
        AssertionAudience::Issuer => &config.provider.issuer,
        AssertionAudience::Endpoint => url,
    }
}

/// The client authentication of RFC 7523 (`client_secret_jwt`, `private_key_jwt`): a
/// short-lived JWT with `iss` = `sub` = client_id and `aud` as `client_assertion_audience`
/// says for a request to `url`.
pub fn client_assertion(
    config: &Config,
    meta: &Metadata,
    method: ClientAuth,
    url: &str,
) -> Result<String, OidcError> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let now = crate::util::now();
    let claims = serde_json::json!({
        "iss": config.client.id,
        "sub": config.client.id,
        "aud": assertion_audience(config, meta, url),
        "jti": crate::util::random_id(16),
        "iat": now,
        "exp": now + 60,
    });
    let (header, key) = match method {
        ClientAuth::PrivateKeyJwt => {
            let k = config
                .client
                .key
                .as_ref()
                .ok_or(OidcError::Unsupported("private_key_jwt without a key"))?;
            let mut h = Header::new(k.alg);
            h.kid = k.kid.clone();
            (h, k.key.expose().clone())
        }
        _ => {
            let secret = config.client.secret.as_ref().map_or("", |s| s.expose());
            (
                Header::new(Algorithm::HS256),
                EncodingKey::from_secret(secret.as_bytes()),
            )
        }
    };
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| OidcError::InvalidResponse(format!("cannot sign the client assertion: {e}")))
}

/// A POST to an OP endpoint with client authentication applied; returns the request and
/// the form fields the method needs.
pub fn authenticated(
    client: &awc::Client,
    url: &str,
    config: &Config,
    meta: &Metadata,
) -> Result<(awc::ClientRequest, Form), OidcError> {
    let secret = config.client.secret.as_ref().map_or("", |s| s.expose());
    let req = client.post(url);
    let method = auth_method(config, meta);
    Ok(match method {
        ClientAuth::Basic => (
            req.insert_header((
                "Authorization",
                basic_auth_header_with(&config.client.id, secret, config.client.basic_encoding),
            )),
            Vec::new(),
        ),
        ClientAuth::Post => (
            req,
            vec![
                ("client_id", config.client.id.clone()),
                ("client_secret", secret.to_string()),
            ],
        ),
        // issue 12: the TLS client certificate authenticates (RFC 8705 2).
        ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth => {
            (req, vec![("client_id", config.client.id.clone())])
        }
        ClientAuth::SecretJwt | ClientAuth::PrivateKeyJwt => (
            req,
            vec![
                ("client_id", config.client.id.clone()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
                ),
                (
                    "client_assertion",
                    client_assertion(config, meta, method, url)?,
                ),
            ],
        ),
    })
}

pub fn as_refs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A grant at the token endpoint (issue 11: every grant goes through here): the client
/// authentication of `authenticated`, then the grant's own fields; the answer as JSON.
pub(super) async fn token_grant<T: serde::de::DeserializeOwned>(
    client: &awc::Client,
    meta: &Metadata,
    config: &Config,
    dpop: Option<&Dpop>,
    grant: Form,
) -> Result<T, OidcError> {
    let _timer = crate::metrics::get().op_call("token");
    post_with_proof(
        client,
        &meta.token_endpoint,
        Endpoint::Token,
        meta,
        config,
        dpop,
        &grant,
        true,
    )
    .await
}

/// issue 12: a POST to the token or PAR endpoint `url`: client authentication (made
/// afresh for each attempt: an assertion's `jti` is single-use), `fields`, and with DPoP a
/// proof carrying the nonce the OP last gave. Every `DPoP-Nonce` answered is remembered;
/// `use_dpop_nonce` with a new nonce is retried once, a second one is
/// `OidcError::DpopNonce`. `keep_client_id: false` leaves the form's `client_id` out.
/// A refusal names `endpoint` and hides every value we sent (issue 13).
#[allow(clippy::too_many_arguments)]
pub(super) async fn post_with_proof<T: serde::de::DeserializeOwned>(
    client: &awc::Client,
    url: &str,
    endpoint: Endpoint,
    meta: &Metadata,
    config: &Config,
    dpop: Option<&Dpop>,
    fields: &Form,
    keep_client_id: bool,
) -> Result<T, OidcError> {
    let mut retried = false;
    loop {
        let (mut req, mut form) = authenticated(client, url, config, meta)?;
        if !keep_client_id {
            form.retain(|(k, _)| *k != "client_id");
        }
        form.extend(fields.iter().cloned());
        let refs = as_refs(&form);
        if let Some(d) = dpop {
            let proof = d.proof(d.signer(), "POST", url, None)?;
            req = req.insert_header(("DPoP", proof));
        }
        let hidden = http::hidden_values(&req, &refs);
        let res = req
            .insert_header(("Accept", "application/json"))
            .send_form(&refs)
            .await
            .map_err(http::send_error)?;
        let fresh_nonce = dpop.is_some_and(|d| d.note(url, res.headers()));
        match http::read_json_hiding(res, &hidden).await {
            Err(OidcError::Status { status, error, .. })
                if dpop.is_some() && op_wants_nonce(status, error.as_deref()) && fresh_nonce =>
            {
                if retried {
                    return Err(OidcError::DpopNonce("the OpenID Provider"));
                }
                tracing::debug!("dpop: the OpenID Provider asked for a nonce; retrying once");
                retried = true;
            }
            other => return other.map_err(|e| explain_refusal(config, meta, e.at(endpoint))),
        }
    }
}

/// `resource` (RFC 8707) pairs of the login's token requests.
fn login_resources(config: &Config) -> impl Iterator<Item = (&'static str, String)> + '_ {
    config
        .client
        .resource
        .iter()
        .map(|r| ("resource", r.clone()))
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens.
pub async fn exchange_code(
    client: &awc::Client,
    meta: &Metadata,
    config: &Config,
    dpop: Option<&Dpop>,
    code: &str,
    verifier: &str,
) -> Result<TokenResponse, OidcError> {
    let mut grant = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code.to_string()),
        ("code_verifier", verifier.to_string()),
        ("redirect_uri", config.client.redirect_uri.to_string()),
    ];
    grant.extend(login_resources(config));
    let tokens: TokenResponse = token_grant(client, meta, config, dpop, grant).await?;
    check_token_type(&tokens, config, dpop.is_some())?;
    Ok(tokens)
}

/// `token_type` must be Bearer, or DPoP when we sent a proof (case-insensitive, RFC 6749
/// 5.1, RFC 9449 5). Under `profile: "fapi2"` with DPoP and no mutual TLS, a Bearer token
/// would not be sender-constrained, and is refused.
pub(super) fn check_token_type(
    tokens: &TokenResponse,
    config: &Config,
    dpop: bool,
) -> Result<(), OidcError> {
    let must_bind = must_bind(config, dpop);
    match tokens.token_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("bearer") && !must_bind => Ok(()),
        Some(t) if t.eq_ignore_ascii_case("bearer") => Err(OidcError::InvalidResponse(
            "token_type is Bearer, but profile fapi2 needs a DPoP-bound token".into(),
        )),
        Some(_) if dpop && tokens.dpop_bound() => Ok(()),
        Some(_) => Err(OidcError::InvalidResponse(if dpop {
            "token_type is not Bearer or DPoP".into()
        } else {
            "token_type is not Bearer".into()
        })),
        None => Err(OidcError::InvalidResponse("token_type is missing".into())),
    }
}

/// Under `profile: "fapi2"` with DPoP and no mutual TLS, only a DPoP-bound access token
/// is sender-constrained: a Bearer answer is refused (FAPI 2.0 5.3.2.1).
pub(super) fn must_bind(config: &Config, dpop: bool) -> bool {
    dpop && config.sender.fapi2() && config.sender.tls_client.is_none()
}

/// The refresh-token grant (RFC 6749 6). The login's `resource` is sent again: a refresh
/// without it may silently change the token's audience.
pub async fn refresh(
    client: &awc::Client,
    meta: &Metadata,
    config: &Config,
    dpop: Option<&Dpop>,
    refresh_token: &str,
) -> Result<TokenResponse, OidcError> {
    let mut grant = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", refresh_token.to_string()),
    ];
    grant.extend(login_resources(config));
    let tokens: TokenResponse = token_grant(client, meta, config, dpop, grant).await?;
    check_token_type(&tokens, config, dpop.is_some())?;
    Ok(tokens)
}

/// RFC 7662 introspection of the access token; returns the OP's JSON object.
pub async fn introspect(
    client: &awc::Client,
    meta: &Metadata,
    config: &Config,
    token: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, OidcError> {
    let endpoint = meta
        .introspection_endpoint
        .as_deref()
        .ok_or(OidcError::Unsupported("token introspection"))?;
    let _timer = crate::metrics::get().op_call("introspection");
    let (req, mut form) = authenticated(client, endpoint, config, meta)?;
    form.extend([
        ("token", token.to_string()),
        ("token_type_hint", "access_token".to_string()),
    ]);
    let mut answer: serde_json::Map<String, serde_json::Value> =
        http::send_form(req, &as_refs(&form))
            .await
            .map_err(|e| explain_refusal(config, meta, e.at(Endpoint::Introspection)))?;
    if !answer
        .get("active")
        .is_some_and(serde_json::Value::is_boolean)
    {
        return Err(OidcError::InvalidResponse(
            "introspection answer has no boolean `active`".into(),
        ));
    }
    // Whatever the OP echoes, the browser never gets a token back.
    for k in ["token", "access_token", "refresh_token", "id_token"] {
        answer.remove(k);
    }
    Ok(answer)
}

/// How an access token is presented: as a bearer token, or (issue 12) bound to a DPoP
/// key: `Authorization: DPoP` with a proof by that key.
#[derive(Clone, Copy)]
pub enum Presented<'a> {
    Bearer(&'a str),
    Dpop {
        token: &'a str,
        dpop: &'a Dpop,
        /// The `cnf.jkt` the token is bound to (as the session noted it).
        jkt: Option<&'a str>,
    },
}

impl<'a> Presented<'a> {
    /// The access token itself.
    pub fn token(&self) -> &'a str {
        match *self {
            Presented::Bearer(t) | Presented::Dpop { token: t, .. } => t,
        }
    }

    /// `token` as its session holds it: DPoP-bound when `jkt` is noted and DPoP is on.
    pub fn new(token: &'a str, dpop: Option<&'a Dpop>, bound: bool, jkt: Option<&'a str>) -> Self {
        match dpop {
            Some(dpop) if bound => Presented::Dpop { token, dpop, jkt },
            _ => Presented::Bearer(token),
        }
    }

    /// The `Authorization` value and, for DPoP, the proof for `htm url`.
    pub fn headers(&self, htm: &str, url: &str) -> Result<(String, Option<String>), OidcError> {
        Ok(match *self {
            Presented::Bearer(t) => (format!("Bearer {t}"), None),
            Presented::Dpop { token, dpop, jkt } => (
                format!("DPoP {token}"),
                Some(dpop.proof(dpop.key_for(jkt), htm, url, Some(token))?),
            ),
        })
    }
}

/// The userinfo endpoint (OIDC Core 5.3) with the access token (bearer or DPoP; a
/// `use_dpop_nonce` challenge with a new nonce is retried once).
pub async fn userinfo(
    client: &awc::Client,
    meta: &Metadata,
    token: Presented<'_>,
) -> Result<serde_json::Map<String, serde_json::Value>, OidcError> {
    let endpoint = meta
        .userinfo_endpoint
        .as_deref()
        .ok_or(OidcError::Unsupported("userinfo"))?;
    let _timer = crate::metrics::get().op_call("userinfo");
    let mut retried = false;
    loop {
        let (authorization, proof) = token.headers("GET", endpoint)?;
        let mut req = client
            .get(endpoint)
            .insert_header(("Authorization", authorization))
            .insert_header(("Accept", "application/json"));
        if let Some(p) = proof {
            req = req.insert_header(("DPoP", p));
        }
        let res = req.send().await.map_err(http::send_error)?;
        if let Presented::Dpop { dpop, .. } = token {
            let fresh = dpop.note(endpoint, res.headers());
            let challenge = res
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if fresh && super::dpop::api_wants_nonce(res.status().as_u16(), challenge) {
                if retried {
                    return Err(OidcError::DpopNonce("the userinfo endpoint"));
                }
                retried = true;
                continue;
            }
        }
        return http::read_json_hiding(res, &[token.token().to_string()])
            .await
            .map_err(|e| e.at(Endpoint::Userinfo));
    }
}

/// RFC 7009 revocation of one token.
pub async fn revoke(
    client: &awc::Client,
    meta: &Metadata,
    config: &Config,
    token: &str,
    hint: &'static str,
) -> Result<(), OidcError> {
    let endpoint = meta
        .revocation_endpoint
        .as_deref()
        .ok_or(OidcError::Unsupported("token revocation"))?;
    let _timer = crate::metrics::get().op_call("revocation");
    let (req, mut form) = authenticated(client, endpoint, config, meta)?;
    form.extend([
        ("token", token.to_string()),
        ("token_type_hint", hint.to_string()),
    ]);
    http::send_form_no_content(req, &as_refs(&form))
        .await
        .map_err(|e| explain_refusal(config, meta, e.at(Endpoint::Revocation)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded() {
        // RFC 6749 2.3.1: encode with application/x-www-form-urlencoded before Base64.
        let h = basic_auth_header("my client", "p@ss:w/rd");
        let decoded =
            String::from_utf8(STANDARD.decode(h.trim_start_matches("Basic ")).unwrap()).unwrap();
        assert_eq!(decoded, "my+client:p%40ss%3Aw%2Frd");
    }

    #[test]
    fn the_encoding_hint_comes_only_when_encoding_changes_the_credentials() {
        assert_eq!(
            basic_encoding_hint("client", "plain-Secret_0.9*", BasicEncoding::Form),
            None
        );
        let form = basic_encoding_hint("client", "a+b", BasicEncoding::Form).unwrap();
        assert!(
            form.contains("client_secret_basic_encoding: \"raw\""),
            "{form}"
        );
        let raw = basic_encoding_hint("my client", "s", BasicEncoding::Raw).unwrap();
        assert!(
            raw.contains("client_secret_basic_encoding: \"form\""),
            "{raw}"
        );
    }

    #[test]
    fn raw_basic_credentials_are_as_they_are() {
        let secret = "a+b/c=d&e%f:g h";
        let decode = |h: String| {
            String::from_utf8(STANDARD.decode(h.trim_start_matches("Basic ")).unwrap()).unwrap()
        };
        assert_eq!(
            decode(basic_auth_header_with("client", secret, BasicEncoding::Raw)),
            "client:a+b/c=d&e%f:g h"
        );
        assert_eq!(
            decode(basic_auth_header_with(
                "client",
                secret,
                BasicEncoding::Form
            )),
            "client:a%2Bb%2Fc%3Dd%26e%25f%3Ag+h"
        );
    }
}
