//! The authorization request: PKCE S256, `state` and `nonce`, the optional OIDC request
//! parameters, and the `returnUrl` rule (same-origin paths only).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::OidcError;
use crate::config::Config;
use crate::session::random_id;

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

/// The authorization URL for the front channel (`send_parameters_via: query`).
pub fn authorization_url(
    endpoint: &str,
    config: &Config,
    secrets: &Secrets,
    options: &LoginOptions,
) -> Result<Url, OidcError> {
    let mut url = Url::parse(endpoint)
        .map_err(|_| OidcError::Discovery("authorization_endpoint is not a URL".into()))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &config.client_id)
            .append_pair("redirect_uri", config.redirect_uri.as_str())
            .append_pair("scope", &config.scope)
            .append_pair("state", &secrets.state)
            .append_pair("nonce", &secrets.nonce)
            .append_pair("code_challenge", &s256_challenge(&secrets.verifier))
            .append_pair("code_challenge_method", "S256");
        if let Some(v) = &options.prompt {
            q.append_pair("prompt", v);
        }
        if let Some(v) = &options.acr_values {
            q.append_pair("acr_values", v);
        }
        if let Some(v) = &options.ui_locales {
            q.append_pair("ui_locales", v);
        }
        if let Some(v) = options.max_age {
            q.append_pair("max_age", &v.to_string());
        }
        if let Some(v) = &options.login_hint {
            q.append_pair("login_hint", v);
        }
        if let Some(v) = &options.claims {
            q.append_pair("claims", &v.to_string());
        }
    }
    Ok(url)
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
