//! Keeping a session's access token fresh: refresh within `refresh_skew` of expiry,
//! single-flight per session across workers and instances, rotated refresh tokens stored.
//!
//! All refreshes of one session take one lock (in-process, and `refresh:{sid}` in the
//! shared store), so they run one after another. Under it, the session's last finished
//! refreshes are looked at before any grant; one is handed to the request when either
//! - the request's refresh token is one that refresh rotated away (the OP answered with
//!   another): that token can never succeed at the OP again, so sharing is never stale and
//!   spending it again would only end the session; or
//! - the request still carries what the refresh replaced (its key: the access token, or
//!   for a session that holds none, the refresh token) and either that was certainly
//!   replaced or the refresh finished while the request was waiting (it was not finished
//!   when the request arrived; no clocks compared).
//!
//! Every other refresh that is asked for reaches the OP, also when the OP does not rotate
//! refresh tokens: a request whose session already holds the new tokens has another key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod flight;
mod outcome;

use actix_web::{HttpRequest, HttpResponse};

use super::cookies::CookieSet;
use super::lifecycle::SessionStore;
use super::Session;
use crate::error::BffError;
use crate::oidc::Provider;
use crate::util::{hex_sha256 as digest, now};
use flight::{flight_key, pick, remember, Ask, Finished, Flight, SHARE_WINDOW};
use outcome::{grant, Outcome};

/// A session after [`Refresher::keep_fresh`]: the cookies to set (if any), or the
/// finished "session ended" answer that clears them.
pub enum Fresh {
    Current(Option<CookieSet>),
    Ended(HttpResponse),
}

/// Per-process single-flight refresh.
#[derive(Default)]
pub struct Refresher {
    flights: Mutex<HashMap<String, Arc<Flight>>>,
}

/// True when the access token is missing or expires within `skew` seconds.
pub fn needs_refresh(session: &Session, now: u64, skew: u64) -> bool {
    match (&session.access_token, session.access_token_expires_at) {
        (None, _) => true,
        (Some(_), Some(exp)) => now + skew >= exp,
        (Some(_), None) => false,
    }
}

impl Refresher {
    /// Load-refresh-save: refreshes `session`'s tokens when due (always, with `force`),
    /// then answers the cookies that keep it (re-sealed, or slid), or the "session
    /// ended" answer when the OP refused the refresh.
    pub async fn keep_fresh(
        &self,
        sessions: &SessionStore,
        provider: &Provider,
        req: &HttpRequest,
        client: &awc::Client,
        session: &mut Session,
        force: bool,
    ) -> Result<Fresh, BffError> {
        match self
            .ensure_fresh(sessions, provider, client, session, force)
            .await
        {
            Ok(true) => Ok(Fresh::Current(Some(sessions.save(req, session).await?))),
            Ok(false) => Ok(Fresh::Current(sessions.slide(req, session).await?)),
            Err(BffError::SessionExpired) => Ok(Fresh::Ended(sessions.ended(req))),
            Err(e) => Err(e),
        }
    }

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
    async fn ensure_fresh(
        &self,
        sessions: &SessionStore,
        provider: &Provider,
        client: &awc::Client,
        session: &mut Session,
        force: bool,
    ) -> Result<bool, BffError> {
        let skew = sessions.config.session.refresh_skew.as_secs();
        if !force && !needs_refresh(session, now(), skew) {
            return Ok(false);
        }
        let Some(refresh_token) = session.refresh_token.clone() else {
            // Asked explicitly: say so. Due, with nothing to refresh with: the session
            // cannot call APIs any more, so it ends.
            if force {
                return Err(BffError::NoRefreshToken);
            }
            return Err(self.end(sessions, session).await);
        };
        let flight = self.flight(&session.id);
        let ask = self.ask(sessions, &flight, session, &refresh_token).await?;
        // In-process single flight first: one request per session goes on.
        let _queued = flight.queue.lock().await;
        let local = pick(&flight.last(), &ask).map(|d| d.outcome.clone());
        if let Some(outcome) = local {
            return Self::apply(outcome, session);
        }
        let done = self
            .across_instances(sessions, provider, client, session, &refresh_token, &ask)
            .await?;
        remember(&mut flight.last(), done.clone());
        if matches!(done.outcome, Outcome::Ended) {
            self.end(sessions, session).await;
        }
        Self::apply(done.outcome, session)
    }

    /// What this request carries, and which refreshes had finished when it arrived, here
    /// and on other instances.
    async fn ask(
        &self,
        sessions: &SessionStore,
        flight: &Flight,
        session: &Session,
        refresh_token: &str,
    ) -> Result<Ask, BffError> {
        let mut seen: Vec<u64> = flight.last().iter().map(|d| d.id).collect();
        if sessions.store.is_shared() {
            let record = self
                .shared_record(sessions, &record_key(&session.id))
                .await?;
            seen.extend(record.iter().map(|d| d.id));
        }
        Ok(Ask {
            key: flight_key(session, refresh_token),
            spent: digest(refresh_token),
            seen,
        })
    }

    /// Across instances: the session's lock, then the results other instances got, or a
    /// grant of this request's own (recorded for the others).
    async fn across_instances(
        &self,
        sessions: &SessionStore,
        provider: &Provider,
        client: &awc::Client,
        session: &Session,
        refresh_token: &str,
        ask: &Ask,
    ) -> Result<Finished, BffError> {
        let lock_key = lock_key(&session.id);
        let token = self.lock(sessions, &lock_key).await?;
        let result = async {
            let shared = sessions.store.is_shared();
            let record_key = record_key(&session.id);
            let mut record = if shared {
                self.shared_record(sessions, &record_key).await?
            } else {
                Vec::new()
            };
            if let Some(done) = pick(&record, ask) {
                return Ok(done.clone());
            }
            let outcome = grant(sessions, provider, client, session, refresh_token).await?;
            let done = Finished::new(ask, refresh_token, outcome);
            if shared {
                remember(&mut record, done.clone());
                let sealed = sessions
                    .sealer
                    .seal(OUTCOME, &record, now() + SHARE_WINDOW.as_secs());
                sessions
                    .store
                    .put(&record_key, sealed.into_bytes(), SHARE_WINDOW)
                    .await?;
            }
            Ok::<Finished, BffError>(done)
        }
        .await;
        if let Err(e) = sessions.store.unlock(&lock_key, &token).await {
            tracing::warn!(error = %e, "could not release the refresh lock (it expires by itself)");
        }
        result
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
    async fn lock(&self, sessions: &SessionStore, key: &str) -> Result<String, BffError> {
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            if let Some(token) = sessions.store.try_lock(key, LOCK_TTL).await? {
                return Ok(token);
            }
            if Instant::now() >= deadline {
                return Err(crate::store::StoreError("refresh lock wait timed out".into()).into());
            }
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The session's last finished refreshes as other instances stored them.
    async fn shared_record(
        &self,
        sessions: &SessionStore,
        key: &str,
    ) -> Result<Vec<Finished>, BffError> {
        let Some(bytes) = sessions.store.get(key).await? else {
            return Ok(Vec::new());
        };
        let text = String::from_utf8(bytes).unwrap_or_default();
        Ok(sessions
            .sealer
            .open::<Vec<Finished>>(OUTCOME, &text, now())
            .map(|(o, _)| o)
            .unwrap_or_default())
    }

    /// Records the session as ended everywhere.
    async fn end(&self, sessions: &SessionStore, session: &Session) -> BffError {
        if let Err(e) = sessions.end(session).await {
            tracing::warn!(error = %e, "could not record the ended session");
        }
        BffError::SessionExpired
    }
}

// One lock and one record of finished refreshes per session, whatever the request carries:
// two views of one session (e.g. cookies from before and after `/bff/revoke`) may hold the
// same refresh token under different keys.

/// The shared-store key of a session's refresh lock.
fn lock_key(session_id: &str) -> String {
    format!("refresh:{session_id}")
}

/// The shared-store key of a session's record of finished refreshes.
fn record_key(session_id: &str) -> String {
    format!("refreshed:{session_id}")
}

/// Sealing name of a session's shared record of finished refreshes.
const OUTCOME: &str = "bff-refresh-outcomes";
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
            claims: Default::default(),
            id_token: "x".into(),
            access_token: at.map(str::to_string),
            refresh_token: None,
            access_token_expires_at: exp,
            scope: None,
            dpop_jkt: None,
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
