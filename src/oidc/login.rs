//! Finishing a login at the callback: the OP's answer checked (`error`, `iss` per RFC 9207,
//! the code), the code exchanged, the ID token verified, and what the new session keeps.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::id_token::IdTokenError;
use super::token::{self, TokenResponse};
use super::{OidcError, Provider};
use crate::config::Config;

/// The callback's query string.
#[derive(Deserialize, Default, Debug)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// issue 13: logged (sanitised) with `error`.
    pub error_description: Option<String>,
    pub iss: Option<String>,
}

/// What the login's start kept for its end (from the pending login `state` named).
pub struct Expected<'a> {
    pub nonce: &'a str,
    pub verifier: &'a str,
    pub max_age: Option<u64>,
}

/// Why the OP's answer does not sign the user in.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// The OP's `error` as sent (the `login_error` code is made from it only when it is a
    /// plain code), and the log text: `error` and `error_description` sanitised.
    #[error("the OpenID Provider answered the login with {1}")]
    Provider(String, String),
    #[error("OP metadata not loaded yet")]
    NotReady,
    #[error("iss parameter missing or not our issuer")]
    IssMismatch,
    #[error("no code in the callback")]
    MissingCode,
    #[error("code exchange failed: {0}")]
    TokenExchange(OidcError),
    #[error("no ID token in the token response")]
    MissingIdToken,
    #[error("ID token rejected: {0}")]
    IdToken(IdTokenError),
}

/// What a finished login gives the new session: who signed in, and the tokens. No `Debug`:
/// it holds tokens.
pub struct SignedIn {
    pub sub: String,
    pub sid: Option<String>,
    /// The ID token's claims, without `nonce`.
    pub claims: Map<String, Value>,
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub access_token_expires_at: Option<u64>,
    pub scope: Option<String>,
    /// issue 12: the DPoP key's thumbprint when the access token is DPoP-bound.
    pub dpop_jkt: Option<String>,
}

/// Checks the callback's answer, exchanges the code and verifies the ID token. The caller
/// has already taken the pending login by `state` and recorded that `state` as spent.
pub async fn finish(
    client: &awc::Client,
    provider: &Provider,
    config: &Config,
    query: CallbackQuery,
    expected: Expected<'_>,
    now: u64,
) -> Result<SignedIn, CallbackError> {
    refused(query.error, query.error_description)?;
    let meta = provider.metadata().map_err(|_| CallbackError::NotReady)?;
    check_iss(
        query.iss.as_deref(),
        &config.provider.issuer,
        // issue 12: FAPI 2.0 (§5.3.2.2) requires RFC 9207's `iss` whatever the OP says.
        meta.authorization_response_iss_parameter_supported || config.sender.fapi2(),
    )?;
    let code = code(query.code)?;
    let tokens: TokenResponse = token::exchange_code(
        client,
        &meta,
        config,
        provider.dpop(),
        &code,
        expected.verifier,
    )
    .await
    .map_err(CallbackError::TokenExchange)?;
    let id_token = tokens
        .id_token
        .as_deref()
        .ok_or(CallbackError::MissingIdToken)?;
    let claims = provider
        .verify_id_token(
            client,
            config,
            id_token,
            Some(expected.nonce),
            expected.max_age,
        )
        .await
        .map_err(id_token_error)?;
    let mut login = signed_in(&tokens, id_token, claims, &config.client.scope, now);
    login.dpop_jkt = provider.bound_jkt(tokens.dpop_bound());
    Ok(login)
}

/// An `error` in the answer: the OP refused the login. The log text (issue 13) has the
/// `error` and `error_description`, sanitised and bounded.
pub fn refused(error: Option<String>, description: Option<String>) -> Result<(), CallbackError> {
    let Some(error) = error else { return Ok(()) };
    let mut text = format!("error {:?}", super::http::sanitise(&error));
    if let Some(d) = description {
        text.push_str(&format!(
            " (error_description: {:?})",
            super::http::sanitise(&d)
        ));
    }
    Err(CallbackError::Provider(error, text))
}

/// RFC 9207: an `iss` must be our issuer, and is required when the OP advertises
/// `authorization_response_iss_parameter_supported`.
pub fn check_iss(iss: Option<&str>, issuer: &str, advertised: bool) -> Result<(), CallbackError> {
    match iss {
        Some(iss) if iss != issuer => Err(CallbackError::IssMismatch),
        None if advertised => Err(CallbackError::IssMismatch),
        _ => Ok(()),
    }
}

/// The authorization code: present, not empty, at most 4,096 bytes.
pub fn code(code: Option<String>) -> Result<String, CallbackError> {
    code.filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or(CallbackError::MissingCode)
}

/// A rejected ID token is `IdToken`; failing to check it (keys unreachable) is an exchange
/// failure.
fn id_token_error(e: OidcError) -> CallbackError {
    match e {
        OidcError::IdToken(e) => CallbackError::IdToken(e),
        other => CallbackError::TokenExchange(other),
    }
}

/// What the session keeps from the token answer and the verified ID token's claims;
/// `default_scope` when the OP does not say which scope it granted.
pub fn signed_in(
    tokens: &TokenResponse,
    id_token: &str,
    mut claims: Map<String, Value>,
    default_scope: &str,
    now: u64,
) -> SignedIn {
    // The nonce has done its job; it is not for the browser.
    claims.remove("nonce");
    let sub = claims
        .get("sub")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let sid = claims
        .get("sid")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    SignedIn {
        sub,
        sid,
        claims,
        id_token: id_token.to_string(),
        access_token: tokens.access_token.clone(),
        refresh_token: tokens.refresh_token.clone(),
        access_token_expires_at: tokens.expires_in.map(|e| now + e),
        scope: tokens
            .scope
            .clone()
            .or_else(|| Some(default_scope.to_string())),
        dpop_jkt: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISSUER: &str = "https://op.example";

    #[test]
    fn an_error_answer_is_the_ops_refusal() {
        let e = refused(Some("access_denied".into()), None).unwrap_err();
        assert!(matches!(e, CallbackError::Provider(ref c, _) if c == "access_denied"));
        assert_eq!(
            e.to_string(),
            r#"the OpenID Provider answered the login with error "access_denied""#
        );
        assert!(refused(None, Some("ignored".into())).is_ok());
    }

    #[test]
    fn the_refusal_logs_a_sanitised_bounded_description() {
        let long = format!("user\r\ncancelled \"x\"{}", "y".repeat(400));
        let e = refused(Some("access_denied\n".into()), Some(long)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(
                r#"the OpenID Provider answered the login with error "access_denied " (error_description: "user  cancelled \"x\"yyy"#
            ),
            "{text}"
        );
        assert!(!text.chars().any(char::is_control), "{text}");
        assert!(text.len() < 300, "{text}");
    }

    #[test]
    fn iss_is_required_when_the_op_advertises_it() {
        assert!(matches!(
            check_iss(None, ISSUER, true),
            Err(CallbackError::IssMismatch)
        ));
        assert!(check_iss(None, ISSUER, false).is_ok());
        assert!(check_iss(Some(ISSUER), ISSUER, true).is_ok());
    }

    #[test]
    fn another_iss_is_refused_whether_advertised_or_not() {
        for advertised in [true, false] {
            assert!(matches!(
                check_iss(Some("https://evil.example"), ISSUER, advertised),
                Err(CallbackError::IssMismatch)
            ));
            assert!(matches!(
                check_iss(Some("https://op.example/"), ISSUER, advertised),
                Err(CallbackError::IssMismatch)
            ));
        }
    }

    #[test]
    fn the_code_must_be_present_and_bounded() {
        assert_eq!(code(Some("abc".into())).unwrap(), "abc");
        for bad in [None, Some(String::new()), Some("x".repeat(4097))] {
            assert!(matches!(code(bad), Err(CallbackError::MissingCode)));
        }
        assert!(code(Some("x".repeat(4096))).is_ok());
    }

    #[test]
    fn an_unverifiable_id_token_is_an_exchange_failure_a_bad_one_an_id_token_error() {
        assert!(matches!(
            id_token_error(OidcError::IdToken(IdTokenError::NonceMismatch)),
            CallbackError::IdToken(IdTokenError::NonceMismatch)
        ));
        assert!(matches!(
            id_token_error(OidcError::Timeout),
            CallbackError::TokenExchange(OidcError::Timeout)
        ));
    }

    fn answer(body: Value) -> TokenResponse {
        serde_json::from_value(body).unwrap()
    }

    fn claims(body: Value) -> Map<String, Value> {
        body.as_object().unwrap().clone()
    }

    #[test]
    fn a_finished_login_keeps_the_tokens_and_the_claims_without_the_nonce() {
        let tokens = answer(json!({
            "access_token": "at", "token_type": "Bearer", "expires_in": 300,
            "refresh_token": "rt", "id_token": "idt", "scope": "openid email"
        }));
        let got = signed_in(
            &tokens,
            "idt",
            claims(json!({"sub": "u1", "sid": "s1", "nonce": "n", "email": "a@b"})),
            "openid",
            1000,
        );
        assert_eq!(got.sub, "u1");
        assert_eq!(got.sid.as_deref(), Some("s1"));
        assert_eq!(
            got.claims,
            claims(json!({"sub": "u1", "sid": "s1", "email": "a@b"}))
        );
        assert_eq!(got.id_token, "idt");
        assert_eq!(got.access_token, "at");
        assert_eq!(got.refresh_token.as_deref(), Some("rt"));
        assert_eq!(got.access_token_expires_at, Some(1300));
        assert_eq!(got.scope.as_deref(), Some("openid email"));
    }

    #[test]
    fn a_sparse_token_answer_gets_the_configured_scope_and_no_expiry() {
        let tokens = answer(json!({"access_token": "at"}));
        let got = signed_in(
            &tokens,
            "idt",
            claims(json!({"sub": "u1"})),
            "openid profile",
            5,
        );
        assert_eq!(got.sid, None);
        assert_eq!(got.refresh_token, None);
        assert_eq!(got.access_token_expires_at, None);
        assert_eq!(got.scope.as_deref(), Some("openid profile"));
    }
}
