//! issue 11: OAuth 2.0 Token Exchange (RFC 8693) for `token_exchange` routes: the
//! session's access token as `subject_token`, the route's parameters, and the answer's
//! rules (RFC 8693 2.2.1).

use serde::Deserialize;

use super::token::{token_grant, Form};
use super::{Metadata, OidcError};
use crate::config::{Config, GrantParams};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The exchange's answer. `Debug` never shows the token.
#[derive(Deserialize)]
pub struct Exchanged {
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub issued_token_type: Option<String>,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for Exchanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchanged")
            .field("issued_token_type", &self.issued_token_type)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The grant's fields (after client authentication).
pub fn form(subject: &str, params: &GrantParams) -> Form {
    let mut form: Form = vec![
        ("grant_type", GRANT_TYPE.to_string()),
        ("subject_token", subject.to_string()),
        ("subject_token_type", ACCESS_TOKEN_TYPE.to_string()),
    ];
    if let Some(t) = &params.requested_token_type {
        form.push(("requested_token_type", t.clone()));
    }
    if let Some(a) = &params.audience {
        form.push(("audience", a.clone()));
    }
    form.extend(params.resource.iter().map(|r| ("resource", r.clone())));
    if let Some(s) = &params.scope {
        form.push(("scope", s.clone()));
    }
    form
}

/// The answer's rules: `access_token` required; `issued_token_type` tolerated when
/// absent, else what was asked (an access token unless `requested_token_type` says
/// otherwise); `token_type` Bearer, or `N_A` only for a non-access-token type. Returns
/// the token and its `expires_in`.
/// issue 12: with `dpop`, `token_type: DPoP` is taken too; the third value says the token
/// is DPoP-bound. With `must_bind` (fapi2, DPoP, no mutual TLS) a Bearer access token is
/// refused, as for the other grants.
pub fn check(
    answer: Exchanged,
    params: &GrantParams,
    dpop: bool,
    must_bind: bool,
) -> Result<(String, Option<u64>, bool), OidcError> {
    let bad = |m: &str| Err(OidcError::InvalidResponse(m.to_string()));
    let Some(token) = answer.access_token.filter(|t| !t.is_empty()) else {
        return bad("the exchange answer has no access_token");
    };
    let wanted = params
        .requested_token_type
        .as_deref()
        .unwrap_or(ACCESS_TOKEN_TYPE);
    if let Some(issued) = answer.issued_token_type.as_deref() {
        if issued != wanted {
            return bad("issued_token_type is not the requested type");
        }
    }
    let bound = match answer.token_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("bearer") && must_bind => {
            return bad("token_type is Bearer, but profile fapi2 needs a DPoP-bound token")
        }
        Some(t) if t.eq_ignore_ascii_case("bearer") => false,
        Some(t) if dpop && t.eq_ignore_ascii_case("dpop") => true,
        Some("N_A") if wanted != ACCESS_TOKEN_TYPE => false,
        Some(_) => return bad("token_type is not Bearer"),
        None => return bad("token_type is missing"),
    };
    Ok((token, answer.expires_in, bound))
}

/// Exchanges `subject` (the session's access token) for a token of the route's.
pub async fn exchange(
    client: &awc::Client,
    meta: &Metadata,
    config: &Config,
    dpop: Option<&super::dpop::Dpop>,
    subject: &str,
    params: &GrantParams,
) -> Result<(String, Option<u64>, bool), OidcError> {
    let answer: Exchanged = token_grant(client, meta, config, dpop, form(subject, params)).await?;
    check(
        answer,
        params,
        dpop.is_some(),
        super::token::must_bind(config, dpop.is_some()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(at: Option<&str>, itt: Option<&str>, tt: Option<&str>) -> Exchanged {
        Exchanged {
            access_token: at.map(str::to_string),
            issued_token_type: itt.map(str::to_string),
            token_type: tt.map(str::to_string),
            expires_in: Some(60),
        }
    }

    #[test]
    fn form_sends_subject_types_and_params() {
        let p = GrantParams::new(
            Some("s".into()),
            vec!["urn:r".into()],
            Some("a".into()),
            None,
        );
        let f = form("AT", &p);
        assert!(f.contains(&("grant_type", GRANT_TYPE.into())));
        assert!(f.contains(&("subject_token", "AT".into())));
        assert!(f.contains(&("subject_token_type", ACCESS_TOKEN_TYPE.into())));
        assert!(f.contains(&("resource", "urn:r".into())));
        assert!(f.contains(&("audience", "a".into())));
        assert!(f.contains(&("scope", "s".into())));
        assert!(!f.iter().any(|(k, _)| *k == "requested_token_type"));
        let p = GrantParams::new(None, vec![], None, Some("urn:x:jwt".into()));
        assert!(form("AT", &p).contains(&("requested_token_type", "urn:x:jwt".into())));
    }

    #[test]
    fn answer_rules() {
        let p = GrantParams::default();
        assert!(check(
            answer(Some("t"), Some(ACCESS_TOKEN_TYPE), Some("Bearer")),
            &p,
            false,
            false
        )
        .is_ok());
        assert!(check(answer(Some("t"), None, Some("bearer")), &p, false, false).is_ok());
        assert!(check(answer(None, None, Some("Bearer")), &p, false, false).is_err());
        assert!(check(answer(Some("t"), None, Some("N_A")), &p, false, false).is_err());
        assert!(check(
            answer(Some("t"), Some("urn:other"), Some("Bearer")),
            &p,
            false,
            false
        )
        .is_err());
        assert!(check(answer(Some("t"), None, None), &p, false, false).is_err());
        let jwt = GrantParams::new(None, vec![], None, Some("urn:x:jwt".into()));
        assert!(check(
            answer(Some("t"), Some("urn:x:jwt"), Some("N_A")),
            &jwt,
            false,
            false
        )
        .is_ok());
        // issue 12: DPoP only when we sent a proof; case-insensitive.
        let dpop = check(answer(Some("t"), None, Some("dpop")), &p, true, false).unwrap();
        assert!(dpop.2);
        assert!(check(answer(Some("t"), None, Some("DPoP")), &p, false, false).is_err());
        assert!(
            !check(answer(Some("t"), None, Some("Bearer")), &p, true, false)
                .unwrap()
                .2
        );
        // Under fapi2 with DPoP and no mutual TLS: Bearer is refused, DPoP taken, and a
        // non-access-token type's N_A still passes.
        assert!(check(answer(Some("t"), None, Some("Bearer")), &p, true, true).is_err());
        assert!(check(answer(Some("t"), None, Some("DPoP")), &p, true, true).is_ok_and(|c| c.2));
        assert!(check(
            answer(Some("t"), Some("urn:x:jwt"), Some("N_A")),
            &jwt,
            true,
            true
        )
        .is_ok());
        let dbg = format!("{:?}", answer(Some("secret-token"), None, None));
        assert!(!dbg.contains("secret-token"));
    }
}
