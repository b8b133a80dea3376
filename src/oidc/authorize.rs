//! The authorization request: PKCE S256, `state` and `nonce`, the optional OIDC request
//! parameters, and the `returnUrl` rule (same-origin paths only).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::OidcError;
use crate::config::{Config, ParamsVia};
use crate::util::random_id;

/// Optional parameters a caller may add to the login (POST body or query).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginOptions {
    pub return_url: Option<String>,
    pub prompt: Option<String>,
    pub acr_values: Option<String>,
    pub ui_locales: Option<String>,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
    pub claims: Option<serde_json::Value>,
}

/// A fresh set of one-time values for one login.
pub struct Secrets {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

impl Secrets {
    /// state and nonce: 256 bits each; verifier: 256 bits (43 characters, RFC 7636 4.1).
    pub fn generate() -> Self {
        Self {
            state: random_id(32),
            nonce: random_id(32),
            verifier: random_id(32),
        }
    }
}

/// `BASE64URL(SHA256(verifier))` (RFC 7636 4.2).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn short_text(name: &'static str, v: &Option<String>) -> Result<(), OidcError> {
    match v {
        Some(s) if s.is_empty() || s.len() > 512 || s.chars().any(char::is_control) => {
            Err(OidcError::InvalidParameter(name))
        }
        _ => Ok(()),
    }
}

impl LoginOptions {
    /// Rejects values that are not what their parameter allows.
    pub fn validate(&self) -> Result<(), OidcError> {
        if let Some(p) = &self.prompt {
            let ok = !p.is_empty()
                && p.split(' ').all(|v| {
                    matches!(
                        v,
                        "none" | "login" | "consent" | "select_account" | "create"
                    )
                });
            if !ok {
                return Err(OidcError::InvalidParameter("prompt"));
            }
        }
        short_text("acrValues", &self.acr_values)?;
        short_text("uiLocales", &self.ui_locales)?;
        short_text("loginHint", &self.login_hint)?;
        if let Some(c) = &self.claims {
            if !c.is_object() || c.to_string().len() > 4096 {
                return Err(OidcError::InvalidParameter("claims"));
            }
        }
        if self.return_url.as_ref().is_some_and(|r| r.len() > 4096) {
            return Err(OidcError::InvalidParameter("returnUrl"));
        }
        Ok(())
    }
}

/// The authorization request's parameters (OIDC Core 3.1.2.1 with PKCE).
pub fn authorization_params(
    config: &Config,
    secrets: &Secrets,
    options: &LoginOptions,
) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("response_type", "code".to_string()),
        ("client_id", config.client.id.clone()),
        ("redirect_uri", config.client.redirect_uri.to_string()),
        ("scope", config.client.scope.clone()),
        ("state", secrets.state.clone()),
        ("nonce", secrets.nonce.clone()),
        ("code_challenge", s256_challenge(&secrets.verifier)),
        ("code_challenge_method", "S256".to_string()),
    ];
    let optional = [
        ("prompt", options.prompt.clone()),
        ("acr_values", options.acr_values.clone()),
        ("ui_locales", options.ui_locales.clone()),
        ("max_age", options.max_age.map(|v| v.to_string())),
        ("login_hint", options.login_hint.clone()),
        ("claims", options.claims.as_ref().map(|v| v.to_string())),
    ];
    p.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    // issue 11: resource indicators (RFC 8707), one pair per value, as written.
    p.extend(
        config
            .client
            .resource
            .iter()
            .map(|r| ("resource", r.clone())),
    );
    p
}

/// issue 13: whether the login asks the OP not to show any page (`prompt=none`, alone or
/// among other values).
pub fn is_silent(options: &LoginOptions) -> bool {
    options
        .prompt
        .as_deref()
        .is_some_and(|p| p.split(' ').any(|v| v == "none"))
}

/// issue 13: `id_token_hint` (OIDC Core 3.1.2.1) for a silent login from a signed-in
/// session: some OPs answer `prompt=none` without it with `login_required`. Only then,
/// and only with a non-empty ID token.
pub fn add_id_token_hint(
    params: &mut Vec<(&'static str, String)>,
    options: &LoginOptions,
    id_token: Option<String>,
) {
    if let Some(t) = id_token.filter(|t| !t.is_empty()) {
        if is_silent(options) {
            params.push(("id_token_hint", t));
        }
    }
}

/// `endpoint?params` (the front-channel request, or its `request`/`request_uri` form).
pub fn url_with(endpoint: &str, params: &[(&str, String)]) -> Result<Url, OidcError> {
    let mut url = Url::parse(endpoint)
        .map_err(|_| OidcError::Discovery("authorization_endpoint is not a URL".into()))?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    Ok(url)
}

/// A signed request object (RFC 9101): every parameter as a claim, plus `iss`, `aud` (the
/// issuer), `iat`, `exp` (5 minutes) and `jti`. HS256 with the client secret unless a
/// client key and its algorithm are configured.
pub fn request_object(
    config: &Config,
    params: &[(&'static str, String)],
) -> Result<String, OidcError> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let now = crate::util::now();
    let mut claims = serde_json::Map::new();
    for (k, v) in params {
        let value = match *k {
            "max_age" => v
                .parse::<u64>()
                .map(serde_json::Value::from)
                .unwrap_or_else(|_| v.clone().into()),
            "claims" => serde_json::from_str(v).unwrap_or_else(|_| v.clone().into()),
            _ => serde_json::Value::String(v.clone()),
        };
        // issue 11: a repeated parameter (`resource`) becomes an array.
        match claims.get_mut(*k) {
            Some(serde_json::Value::Array(list)) => list.push(value),
            Some(first) => *first = serde_json::Value::Array(vec![first.take(), value]),
            None => {
                claims.insert((*k).to_string(), value);
            }
        }
    }
    claims.insert("iss".into(), config.client.id.clone().into());
    claims.insert("aud".into(), config.provider.issuer.clone().into());
    claims.insert("iat".into(), now.into());
    claims.insert("nbf".into(), now.into());
    claims.insert("exp".into(), (now + 300).into());
    claims.insert("jti".into(), random_id(16).into());
    let alg = config.client.request_object_alg.unwrap_or(
        match (&config.client.secret, &config.client.key) {
            (Some(_), _) => Algorithm::HS256,
            (None, Some(k)) => k.alg,
            (None, None) => Algorithm::HS256,
        },
    );
    let mut header = Header::new(alg);
    header.typ = Some("oauth-authz-req+jwt".into());
    let key = if crate::util::is_hmac(alg) {
        EncodingKey::from_secret(
            config
                .client
                .secret
                .as_ref()
                .map_or("", |s| s.expose())
                .as_bytes(),
        )
    } else {
        let k = config.client.key.as_ref().ok_or(OidcError::Unsupported(
            "signed request objects without a key",
        ))?;
        header.kid = k.kid.clone();
        k.key.expose().clone()
    };
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| OidcError::InvalidResponse(format!("cannot sign the request object: {e}")))
}

/// The front-channel parameters that carry a request object: the object plus the ones
/// OIDC Core 6.1 wants repeated outside it.
pub fn request_object_params(config: &Config, object: String) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", config.client.id.clone()),
        ("response_type", "code".to_string()),
        ("scope", config.client.scope.clone()),
        ("request", object),
    ]
}

#[derive(Deserialize)]
struct ParAnswer {
    request_uri: String,
}

/// RFC 9126: pushes the parameters with client authentication; the browser then only
/// carries `client_id` and `request_uri`.
pub async fn push(
    client: &awc::Client,
    meta: &super::Metadata,
    config: &Config,
    dpop: Option<&super::dpop::Dpop>,
    params: &[(&'static str, String)],
) -> Result<Vec<(&'static str, String)>, OidcError> {
    let endpoint = meta
        .pushed_authorization_request_endpoint
        .as_deref()
        .ok_or(OidcError::Unsupported("pushed authorization requests"))?;
    let _timer = crate::metrics::get().op_call("par");
    // issue 12: with a DPoP proof (and its nonce retry), like the token endpoint.
    let answer: ParAnswer = super::token::post_with_proof(
        client,
        endpoint,
        super::Endpoint::Par,
        meta,
        config,
        dpop,
        &params.to_vec(),
        false,
    )
    .await?;
    if answer.request_uri.is_empty() || answer.request_uri.len() > 2048 {
        return Err(OidcError::InvalidResponse(
            "request_uri is empty or too long".into(),
        ));
    }
    Ok(vec![
        ("client_id", config.client.id.clone()),
        ("request_uri", answer.request_uri),
    ])
}

/// How the authorization parameters travel: an OP that requires PAR
/// (`require_pushed_authorization_requests`) gets PAR, whatever the setting says.
pub fn params_via(op_requires_par: bool, configured: ParamsVia) -> ParamsVia {
    if op_requires_par {
        ParamsVia::Par
    } else {
        configured
    }
}

/// The parameters the browser carries to the authorization endpoint, sent `via` the query,
/// a request object, or PAR (then only `client_id` and `request_uri`).
pub async fn front_channel_params(
    client: &awc::Client,
    meta: &super::Metadata,
    config: &Config,
    dpop: Option<&super::dpop::Dpop>,
    params: Vec<(&'static str, String)>,
    via: ParamsVia,
) -> Result<Vec<(&'static str, String)>, OidcError> {
    Ok(match via {
        ParamsVia::Query => params,
        ParamsVia::RequestObject => request_object_params(config, request_object(config, &params)?),
        ParamsVia::Par => push(client, meta, config, dpop, &params).await?,
    })
}

/// A same-origin path to return to after login; anything else becomes `/`.
/// Rejects `//host`, `/\host`, schemes, absolute URLs, control characters and whitespace
/// (browsers strip tabs/newlines, turning `/\t/evil` into `//evil`).
pub fn safe_return_url(input: Option<&str>) -> String {
    let Some(s) = input else { return "/".into() };
    let ok = s.starts_with('/')
        && !s.starts_with("//")
        && s.len() <= 2048
        && !s.contains('\\')
        && !s.chars().any(|c| c.is_control() || c.is_whitespace());
    if !ok {
        return "/".into();
    }
    // A percent-encoded slash or backslash right after the first `/` is suspicious too.
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("/%2f") || lower.starts_with("/%5c") {
        return "/".into();
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn an_op_that_requires_par_gets_par_whatever_the_setting() {
        for configured in [ParamsVia::Query, ParamsVia::RequestObject, ParamsVia::Par] {
            assert_eq!(
                params_via(true, configured),
                ParamsVia::Par,
                "{configured:?}"
            );
        }
    }

    #[test]
    fn otherwise_the_setting_decides() {
        assert_eq!(params_via(false, ParamsVia::Query), ParamsVia::Query);
        assert_eq!(
            params_via(false, ParamsVia::RequestObject),
            ParamsVia::RequestObject
        );
        assert_eq!(params_via(false, ParamsVia::Par), ParamsVia::Par);
    }

    #[test]
    fn secrets_are_long_enough() {
        let s = Secrets::generate();
        assert!(
            s.state.len() >= 22 && s.nonce.len() >= 22,
            "128 bits at least"
        );
        assert!((43..=128).contains(&s.verifier.len()));
    }

    #[test]
    fn return_url_rules() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "evil",
            "/\t/evil.example",
            "/%2F%2Fevil.example",
            "/%5cevil",
            " /x",
            "",
        ] {
            assert_eq!(safe_return_url(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_return_url(None), "/");
        assert_eq!(safe_return_url(Some("/orders?id=3#x")), "/orders?id=3#x");
    }

    #[test]
    fn the_hint_goes_only_with_prompt_none_and_a_session() {
        let opts = |p: Option<&str>| LoginOptions {
            prompt: p.map(str::to_string),
            ..Default::default()
        };
        let hinted = |o: &LoginOptions, t: Option<&str>| {
            let mut p = vec![("scope", "openid".to_string())];
            add_id_token_hint(&mut p, o, t.map(str::to_string));
            p.iter()
                .find(|(k, _)| *k == "id_token_hint")
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            hinted(&opts(Some("none")), Some("idt")).as_deref(),
            Some("idt")
        );
        assert_eq!(
            hinted(&opts(Some("consent none")), Some("idt")).as_deref(),
            Some("idt")
        );
        assert_eq!(hinted(&opts(Some("none")), None), None);
        assert_eq!(hinted(&opts(Some("none")), Some("")), None);
        assert_eq!(hinted(&opts(Some("login")), Some("idt")), None);
        assert_eq!(hinted(&opts(None), Some("idt")), None);
    }

    #[test]
    fn options_validation() {
        let ok = LoginOptions {
            prompt: Some("login consent".into()),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        let bad = LoginOptions {
            prompt: Some("evil".into()),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = LoginOptions {
            claims: Some(serde_json::json!([1])),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = LoginOptions {
            login_hint: Some("a\nb".into()),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
