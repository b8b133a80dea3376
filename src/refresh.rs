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
#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum Outcome {
    Refreshed(Box<Tokens>),
    Ended,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
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
            if force {
                return Err(BffError::NoRefreshToken);
            }
            return Err(self.end(state, session).await);
        };
        let spent = digest(&refresh_token);
        // In-process single flight first: one request per session goes on.
        let flight = self.flight(&session.id);
        let mut last = flight.last.lock().await;
        if let Some((hash, outcome, at)) = last.as_ref() {
            if *hash == spent && at.elapsed() < SHARE_WINDOW {
                return Self::apply(outcome.clone(), session);
            }
        }
        // Across instances: a short lock per session, then look for a result another
        // instance already got for this same refresh token.
        let lock_key = format!("refresh:{}", session.id);
        let outcome_key = format!("refreshed:{}:{spent}", session.id);
        let token = self.lock(state, &lock_key).await?;
        let result = async {
            if let Some(shared) = self.shared_outcome(state, &outcome_key).await? {
                return Ok(shared);
            }
            let outcome = self.grant(state, client, session, &refresh_token).await?;
            if state.store.is_shared() {
                let sealed = state
                    .sealer
                    .seal(OUTCOME, &outcome, now() + SHARE_WINDOW.as_secs());
                state
                    .store
                    .put(&outcome_key, sealed.into_bytes(), SHARE_WINDOW)
                    .await?;
            }
            Ok::<Outcome, BffError>(outcome)
        }
        .await;
        if let Err(e) = state.store.unlock(&lock_key, &token).await {
            tracing::warn!(error = %e, "could not release the refresh lock (it expires by itself)");
        }
        let outcome = result?;
        *last = Some((spent, outcome.clone(), Instant::now()));
        if matches!(outcome, Outcome::Ended) {
            self.end(state, session).await;
        }
        Self::apply(outcome, session)
    }

    fn apply(outcome: Outcome, session: &mut Session) -> Result<bool, BffError> {
        match outcome {
            Outcome::Refreshed(tokens) => {
                tokens.apply(session);
                Ok(true)
            }
            Outcome::Ended => Err(BffError::SessionExpired),
        }
    }

    /// Takes the per-session lock, waiting (bounded) while another instance holds it.
    async fn lock(&self, state: &AppState, key: &str) -> Result<String, BffError> {
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            if let Some(token) = state.store.try_lock(key, LOCK_TTL).await? {
                return Ok(token);
            }
            if Instant::now() >= deadline {
                return Err(crate::store::StoreError("refresh lock wait timed out".into()).into());
            }
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn shared_outcome(
        &self,
        state: &AppState,
        key: &str,
    ) -> Result<Option<Outcome>, BffError> {
        let Some(bytes) = state.store.get(key).await? else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes).unwrap_or_default();
        Ok(state
            .sealer
            .open::<Outcome>(OUTCOME, &text, now())
            .ok()
            .map(|(o, _)| o))
    }

    /// The refresh-token grant itself; an OP refusal is `Outcome::Ended`.
    async fn grant(
        &self,
        state: &AppState,
        client: &awc::Client,
        session: &Session,
        refresh_token: &str,
    ) -> Result<Outcome, BffError> {
        let meta = state.provider.metadata()?;
        let refreshes = &crate::metrics::get().refreshes;
        match token::refresh(client, &meta, &state.config, refresh_token).await {
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
                refreshes.with_label_values(&["success"]).inc();
                tracing::info!(rotated = answer.refresh_token.is_some(), "tokens refreshed");
                Ok(Outcome::Refreshed(Box::new(Tokens {
                    access_token: answer.access_token,
                    refresh_token: answer.refresh_token,
                    access_token_expires_at: answer.expires_in.map(|e| now() + e),
                    scope: answer.scope,
                    id_token,
                })))
            }
            Err(OidcError::Status { status, error }) if status == 400 || status == 401 => {
                tracing::info!(
                    status,
                    error = error.as_deref().unwrap_or(""),
                    "refresh refused; session ended"
                );
                refreshes.with_label_values(&["refused"]).inc();
                Ok(Outcome::Ended)
            }
            Err(e) => {
                refreshes.with_label_values(&["error"]).inc();
                Err(e.into())
            }
        }
    }

    /// Records the session as ended everywhere.
    async fn end(&self, state: &AppState, session: &Session) -> BffError {
        if let Err(e) = crate::bff::end(state, session).await {
            tracing::warn!(error = %e, "could not record the ended session");
        }
        BffError::SessionExpired
    }
}

/// Sealing name of shared refresh outcomes.
const OUTCOME: &str = "bff-refresh-outcome";
/// How long a refresh lock lives if its holder dies.
const LOCK_TTL: Duration = Duration::from_secs(10);
/// How long a request waits for another instance's refresh.
const LOCK_WAIT: Duration = Duration::from_secs(5);

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
