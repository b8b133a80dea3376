//! What a refresh produced (new tokens, or the session ended) and the refresh-token grant
//! that produces it.

use serde_json::{Map, Value};

use crate::error::BffError;
use crate::oidc::{token, OidcError, Provider};
use crate::session::lifecycle::SessionStore;
use crate::session::Session;
use crate::util::now;

/// What a refresh produced, shared by every request that carried what it replaced.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) enum Outcome {
    Refreshed(Box<Tokens>),
    Ended,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Tokens {
    pub(super) access_token: String,
    pub(super) refresh_token: Option<String>,
    access_token_expires_at: Option<u64>,
    scope: Option<String>,
    id_token: Option<(String, Map<String, Value>)>,
    /// issue 12: the DPoP key the new access token is bound to.
    #[serde(default)]
    dpop_jkt: Option<String>,
}

impl Tokens {
    pub(super) fn apply(&self, session: &mut Session) {
        session.access_token = Some(self.access_token.clone());
        // An answer without a refresh token keeps the old one (RFC 6749 §6).
        if let Some(rt) = &self.refresh_token {
            session.refresh_token = Some(rt.clone());
        }
        session.access_token_expires_at = self.access_token_expires_at;
        session.dpop_jkt = self.dpop_jkt.clone();
        if let Some(scope) = &self.scope {
            session.scope = Some(scope.clone());
        }
        if let Some((raw, claims)) = &self.id_token {
            session.id_token = raw.clone();
            session.claims = std::sync::Arc::new(claims.clone());
        }
    }
}

/// The refresh-token grant itself; an OP refusal is `Outcome::Ended`.
pub(super) async fn grant(
    sessions: &SessionStore,
    provider: &Provider,
    client: &awc::Client,
    session: &Session,
    refresh_token: &str,
) -> Result<Outcome, BffError> {
    let meta = provider.metadata()?;
    let refreshes = &crate::metrics::get().refreshes;
    match token::refresh(
        client,
        &meta,
        &sessions.config,
        provider.dpop(),
        refresh_token,
    )
    .await
    {
        Ok(answer) => {
            let dpop_jkt = provider.bound_jkt(answer.dpop_bound());
            let id_token = match answer.id_token {
                Some(raw) => {
                    let mut claims = provider
                        .verify_id_token(client, &sessions.config, &raw, None, None)
                        .await?;
                    if claims.get("sub").and_then(Value::as_str) != Some(session.sub.as_str()) {
                        return Err(OidcError::InvalidResponse(
                            "refreshed ID token has another sub".into(),
                        )
                        .into());
                    }
                    claims.remove("nonce");
                    Some((raw, claims))
                }
                None => None,
            };
            refreshes.with_label_values(&["success"]).inc();
            crate::telemetry::event("refresh", &[("bff.outcome", "success")]);
            tracing::info!(rotated = answer.refresh_token.is_some(), "tokens refreshed");
            Ok(Outcome::Refreshed(Box::new(Tokens {
                dpop_jkt,
                access_token: answer.access_token,
                refresh_token: answer.refresh_token,
                access_token_expires_at: answer.expires_in.map(|e| now() + e),
                scope: answer.scope,
                id_token,
            })))
        }
        Err(OidcError::Status {
            status,
            error,
            description,
            detail,
            ..
        }) if status == 400 || status == 401 => {
            // issue 13: with the OP's `error_description`, or what it answered instead.
            tracing::info!(
                status,
                error = error.as_deref().unwrap_or(""),
                error_description = description.as_deref().unwrap_or(""),
                answer = detail.as_deref().unwrap_or(""),
                "refresh refused; session ended"
            );
            refreshes.with_label_values(&["refused"]).inc();
            crate::telemetry::event("refresh", &[("bff.outcome", "refused")]);
            Ok(Outcome::Ended)
        }
        Err(e) => {
            refreshes.with_label_values(&["error"]).inc();
            crate::telemetry::event("refresh", &[("bff.outcome", "error")]);
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            id: "s".into(),
            sub: "u".into(),
            sid: None,
            claims: Default::default(),
            id_token: "id1".into(),
            access_token: Some("at1".into()),
            refresh_token: Some("rt1".into()),
            access_token_expires_at: Some(100),
            scope: Some("openid".into()),
            dpop_jkt: None,
            created_at: 0,
            expires_at: 1000,
            last_seen: 0,
        }
    }

    #[test]
    fn an_answer_without_refresh_token_scope_or_id_token_keeps_the_old_ones() {
        let mut s = session();
        Tokens {
            access_token: "at2".into(),
            refresh_token: None,
            access_token_expires_at: None,
            scope: None,
            id_token: None,
            dpop_jkt: None,
        }
        .apply(&mut s);
        assert_eq!(s.access_token.as_deref(), Some("at2"));
        assert_eq!(s.access_token_expires_at, None);
        assert_eq!(s.refresh_token.as_deref(), Some("rt1"));
        assert_eq!(s.scope.as_deref(), Some("openid"));
        assert_eq!(s.id_token, "id1");
    }

    #[test]
    fn a_full_answer_replaces_tokens_scope_and_claims() {
        let mut s = session();
        let claims: Map<String, Value> = [("sub".to_string(), Value::from("u"))]
            .into_iter()
            .collect();
        Tokens {
            access_token: "at2".into(),
            refresh_token: Some("rt2".into()),
            access_token_expires_at: Some(400),
            scope: Some("openid email".into()),
            id_token: Some(("id2".into(), claims.clone())),
            dpop_jkt: Some("jkt-2".into()),
        }
        .apply(&mut s);
        assert_eq!(
            s.dpop_jkt.as_deref(),
            Some("jkt-2"),
            "issue 12: the new binding"
        );
        assert_eq!(s.refresh_token.as_deref(), Some("rt2"));
        assert_eq!(s.access_token_expires_at, Some(400));
        assert_eq!(s.scope.as_deref(), Some("openid email"));
        assert_eq!((s.id_token.as_str(), &*s.claims), ("id2", &claims));
    }
}
