//! Keeping a session's access token fresh: refresh within `refresh_skew` of expiry,
//! single-flight per session across workers, rotated refresh tokens stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::BffError;
use crate::oidc::{token, OidcError};
use crate::session::{now, Session};

/// How long a finished refresh is shared with requests that still carry the old
/// refresh token (concurrent requests whose cookies predate the refresh).
const SHARE_WINDOW: Duration = Duration::from_secs(30);

/// What a refresh produced, shared by every request that spent the same refresh token.
#[derive(Clone)]
enum Outcome {
    Refreshed(Box<Tokens>),
    Ended,
}

#[derive(Clone)]
struct Tokens {
    access_token: String,
    refresh_token: Option<String>,
    access_token_expires_at: Option<u64>,
    scope: Option<String>,
    id_token: Option<(String, Map<String, Value>)>,
}

#[derive(Default)]
struct Flight {
    /// `(hash of the refresh token spent, outcome, when)`.
    last: tokio::sync::Mutex<Option<(String, Outcome, Instant)>>,
}

/// Per-process single-flight refresh.
#[derive(Default)]
pub struct Refresher {
    flights: Mutex<HashMap<String, Arc<Flight>>>,
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// True when the access token is missing or expires within `skew` seconds.
pub fn needs_refresh(session: &Session, now: u64, skew: u64) -> bool {
    match (&session.access_token, session.access_token_expires_at) {
        (None, _) => true,
        (Some(_), Some(exp)) => now + skew >= exp,
        (Some(_), None) => false,
    }
}

impl Tokens {
    fn apply(&self, session: &mut Session) {
        session.access_token = Some(self.access_token.clone());
        if let Some(rt) = &self.refresh_token {
            session.refresh_token = Some(rt.clone());
        }
        session.access_token_expires_at = self.access_token_expires_at;
        if let Some(scope) = &self.scope {
            session.scope = Some(scope.clone());
        }
        if let Some((raw, claims)) = &self.id_token {
            session.id_token = raw.clone();
            session.claims = claims.clone();
        }
    }
}

impl Refresher {
    fn flight(&self, session_id: &str) -> Arc<Flight> {
        let mut flights = match self.flights.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if flights.len() > 4096 {
            // Drop flights nobody is waiting on; their shared outcome has served its purpose.
            flights.retain(|_, f| Arc::strong_count(f) > 1);
        }
        flights.entry(session_id.to_string()).or_default().clone()
    }

    /// Refreshes `session` in place when its access token is due (or always, with
    /// `force`). Returns whether the session changed. `SessionExpired` means the session
    /// has ended (and is recorded as ended).
    pub async fn ensure_fresh(
        &self,
        state: &AppState,
        client: &awc::Client,
        session: &mut Session,
        force: bool,
    ) -> Result<bool, BffError> {
        let skew = state.config.refresh_skew.as_secs();
        if !force && !needs_refresh(session, now(), skew) {
            return Ok(false);
        }
        let Some(refresh_token) = session.refresh_token.clone() else {
            // Asked explicitly: say so. Due, with nothing to refresh with: the session
            // cannot call APIs any more, so it ends.
            return Err(if force {
                BffError::NoRefreshToken
            } else {
                self.end(state, session)
            });
        };
        let spent = digest(&refresh_token);
        let flight = self.flight(&session.id);
        let mut last = flight.last.lock().await;
        if let Some((hash, outcome, at)) = last.as_ref() {
            if *hash == spent && at.elapsed() < SHARE_WINDOW {
                return match outcome {
                    Outcome::Refreshed(tokens) => {
                        tokens.apply(session);
                        Ok(true)
                    }
                    Outcome::Ended => Err(BffError::SessionExpired),
                };
            }
        }
        let meta = state.provider.metadata()?;
        match token::refresh(client, &meta, &state.config, &refresh_token).await {
            Ok(answer) => {
                let id_token = match answer.id_token {
                    Some(raw) => {
                        let mut claims = state
                            .provider
                            .verify_id_token(client, &state.config, &raw, None, None)
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
                let tokens = Tokens {
                    access_token: answer.access_token,
                    refresh_token: answer.refresh_token,
                    access_token_expires_at: answer.expires_in.map(|e| now() + e),
                    scope: answer.scope,
                    id_token,
                };
                tokens.apply(session);
                *last = Some((spent, Outcome::Refreshed(Box::new(tokens)), Instant::now()));
                crate::metrics::get()
                    .refreshes
                    .with_label_values(&["success"])
                    .inc();
                tracing::info!(
                    rotated = session.refresh_token.as_deref() != Some(refresh_token.as_str()),
                    "tokens refreshed"
                );
                Ok(true)
            }
            Err(OidcError::Status { status, error }) if status == 400 || status == 401 => {
                tracing::info!(
                    status,
                    error = error.as_deref().unwrap_or(""),
                    "refresh refused; session ended"
                );
                *last = Some((spent, Outcome::Ended, Instant::now()));
                crate::metrics::get()
                    .refreshes
                    .with_label_values(&["refused"])
                    .inc();
                Err(self.end(state, session))
            }
            Err(e) => {
                crate::metrics::get()
                    .refreshes
                    .with_label_values(&["error"])
                    .inc();
                Err(e.into())
            }
        }
    }

    /// Records the session as ended everywhere in this process.
    fn end(&self, state: &AppState, session: &Session) -> BffError {
        state
            .revocations
            .end_session(&session.id, session.expires_at, now());
        BffError::SessionExpired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(at: Option<&str>, exp: Option<u64>) -> Session {
        Session {
            id: "s".into(),
            sub: "u".into(),
            sid: None,
            claims: Map::new(),
            id_token: "x".into(),
            access_token: at.map(str::to_string),
            refresh_token: None,
            access_token_expires_at: exp,
            scope: None,
            created_at: 0,
            expires_at: 1000,
            last_seen: 0,
        }
    }

    #[test]
    fn refresh_is_due_within_the_skew() {
        assert!(needs_refresh(&session(None, None), 100, 30));
        assert!(!needs_refresh(&session(Some("a"), Some(200)), 100, 30));
        assert!(needs_refresh(&session(Some("a"), Some(130)), 100, 30));
        assert!(needs_refresh(&session(Some("a"), Some(50)), 100, 30));
        assert!(!needs_refresh(&session(Some("a"), None), 100, 30));
    }
}
