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

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::cookies::CookieSet;
use super::lifecycle::SessionStore;
use super::Session;
use crate::error::BffError;
use crate::oidc::{token, OidcError, Provider};
use crate::util::{hex_sha256 as digest, now};

/// How long a finished refresh is shared with requests that still carry what it replaced
/// or the refresh token it rotated away (concurrent requests whose cookies predate it).
const SHARE_WINDOW: Duration = Duration::from_secs(30);

/// Finished refreshes remembered per session in one process.
const REMEMBERED: usize = 4;

/// What a refresh produced, shared by every request that carried what it replaced.
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

/// A finished refresh as it is shared (sealed in the shared store across instances).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Finished {
    /// Names this refresh (random), so a request can tell which ones it saw on arrival.
    id: u64,
    /// The key of the request that ran it (see [`flight_key`]).
    key: String,
    /// Digest of the refresh token it spent.
    spent: String,
    /// Whether the OP answered with another refresh token: `spent` is then rotated away
    /// and can never succeed at the OP again.
    rotated: bool,
    outcome: Outcome,
    /// When it finished, milliseconds since the epoch (only bounds the share window).
    finished_ms: u64,
    /// Whether what the key names was certainly replaced by it (a different access
    /// token; for a session without one, a rotated refresh token). When not, the result
    /// is shared only with requests that were waiting while it ran.
    replaced: bool,
}

/// What a request asking for a refresh carries, and which refreshes had finished when it
/// arrived.
struct Ask {
    key: String,
    spent: String,
    seen: Vec<u64>,
}

impl Finished {
    fn fresh(&self) -> bool {
        now_ms().saturating_sub(self.finished_ms) < SHARE_WINDOW.as_millis() as u64
    }

    /// Whether the request `ask` may take this result instead of a grant of its own.
    fn serves(&self, ask: &Ask) -> bool {
        self.fresh()
            && ((self.rotated && self.spent == ask.spent)
                || (self.key == ask.key && (self.replaced || !ask.seen.contains(&self.id))))
    }
}

/// The newest of `done` that serves `ask`.
fn pick<'a>(done: &'a [Finished], ask: &Ask) -> Option<&'a Finished> {
    done.iter().rev().find(|d| d.serves(ask))
}

/// Adds `done` to a session's remembered refreshes, dropping stale and old ones.
fn remember(list: &mut Vec<Finished>, done: Finished) {
    list.retain(Finished::fresh);
    list.push(done);
    if list.len() > REMEMBERED {
        list.drain(..list.len() - REMEMBERED);
    }
}

#[derive(Default)]
struct Flight {
    /// Held while one request of this session refreshes (or looks for a shared result).
    queue: tokio::sync::Mutex<()>,
    /// The last few finished refreshes of this session in this process.
    last: Mutex<Vec<Finished>>,
}

impl Flight {
    fn last(&self) -> std::sync::MutexGuard<'_, Vec<Finished>> {
        match self.last.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

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

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The sharing key of a refresh of `session` (not its lock, which is per session): the
/// digest of the access token it replaces, or (no access token held, e.g. after `/bff/revoke`) of the refresh token
/// spent, under a distinct prefix so the two can never collide.
fn flight_key(session: &Session, refresh_token: &str) -> String {
    match &session.access_token {
        Some(at) => format!("at:{}", digest(at)),
        None => format!("rt:{}", digest(refresh_token)),
    }
}

/// Whether `tokens` certainly replaced what `key` names (see [`Finished::replaced`]).
fn replaces(key: &str, spent_refresh_token: &str, outcome: &Outcome) -> bool {
    match outcome {
        // An ended session stays ended: share that with everyone of this key.
        Outcome::Ended => true,
        Outcome::Refreshed(t) => match key.strip_prefix("at:") {
            Some(old) => digest(&t.access_token) != old,
            None => t
                .refresh_token
                .as_deref()
                .is_some_and(|rt| rt != spent_refresh_token),
        },
    }
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
        // An answer without a refresh token keeps the old one (RFC 6749 §6).
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
        let skew = sessions.config.refresh_skew.as_secs();
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
        let shared = sessions.store.is_shared();
        // One lock and one record of finished refreshes per session, whatever the request
        // carries: two views of one session (e.g. cookies from before and after
        // `/bff/revoke`) may hold the same refresh token under different keys.
        let lock_key = format!("refresh:{}", session.id);
        let record_key = format!("refreshed:{}", session.id);
        let flight = self.flight(&session.id);
        // What had finished when this request arrived, here and on other instances.
        let mut seen: Vec<u64> = flight.last().iter().map(|d| d.id).collect();
        if shared {
            let record = self.shared_record(sessions, &record_key).await?;
            seen.extend(record.iter().map(|d| d.id));
        }
        let ask = Ask {
            key: flight_key(session, &refresh_token),
            spent: digest(&refresh_token),
            seen,
        };
        // In-process single flight first: one request per session goes on.
        let _queued = flight.queue.lock().await;
        let local = pick(&flight.last(), &ask).map(|d| d.outcome.clone());
        if let Some(outcome) = local {
            return Self::apply(outcome, session);
        }
        // Across instances: the session's lock, then the results other instances got.
        let token = self.lock(sessions, &lock_key).await?;
        let result = async {
            let mut record = if shared {
                self.shared_record(sessions, &record_key).await?
            } else {
                Vec::new()
            };
            if let Some(done) = pick(&record, &ask) {
                return Ok(done.clone());
            }
            let outcome = self
                .grant(sessions, provider, client, session, &refresh_token)
                .await?;
            let done = Finished {
                id: rand::random(),
                replaced: replaces(&ask.key, &refresh_token, &outcome),
                rotated: matches!(&outcome, Outcome::Refreshed(t)
                    if t.refresh_token.as_deref().is_some_and(|rt| rt != refresh_token)),
                key: ask.key.clone(),
                spent: ask.spent.clone(),
                outcome,
                finished_ms: now_ms(),
            };
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
        let done = result?;
        remember(&mut flight.last(), done.clone());
        if matches!(done.outcome, Outcome::Ended) {
            self.end(sessions, session).await;
        }
        Self::apply(done.outcome, session)
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

    /// The refresh-token grant itself; an OP refusal is `Outcome::Ended`.
    async fn grant(
        &self,
        sessions: &SessionStore,
        provider: &Provider,
        client: &awc::Client,
        session: &Session,
        refresh_token: &str,
    ) -> Result<Outcome, BffError> {
        let meta = provider.metadata()?;
        let refreshes = &crate::metrics::get().refreshes;
        match token::refresh(client, &meta, &sessions.config, refresh_token).await {
            Ok(answer) => {
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
    async fn end(&self, sessions: &SessionStore, session: &Session) -> BffError {
        if let Err(e) = sessions.end(session).await {
            tracing::warn!(error = %e, "could not record the ended session");
        }
        BffError::SessionExpired
    }
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

    fn finished(key: &str, spent: &str, rotated: bool, replaced: bool, ms: u64) -> Finished {
        Finished {
            id: 7,
            key: key.into(),
            spent: digest(spent),
            rotated,
            outcome: Outcome::Ended,
            finished_ms: ms,
            replaced,
        }
    }

    fn ask(key: &str, spent: &str, seen: &[u64]) -> Ask {
        Ask {
            key: key.into(),
            spent: digest(spent),
            seen: seen.to_vec(),
        }
    }

    // f17: a refresh that did not certainly replace what its key names (the OP answered
    // with the same access token) is shared only with requests that were waiting while it
    // ran, never with one that arrived after it finished, whatever the clock of the
    // instance that ran it says (here: 5 s ahead).
    #[test]
    fn an_unreplaced_result_serves_only_requests_that_arrived_before_it_finished() {
        let ahead = now_ms() + 5_000;
        let same_token = finished("at:k", "r", false, false, ahead);
        assert!(same_token.serves(&ask("at:k", "r", &[])), "was waiting");
        assert!(
            !same_token.serves(&ask("at:k", "r", &[7])),
            "arrived after it finished"
        );
        assert!(
            !same_token.serves(&ask("at:other", "r", &[])),
            "another key"
        );
        let replaced = finished("at:k", "r", false, true, now_ms());
        assert!(
            replaced.serves(&ask("at:k", "r", &[7])),
            "carries what it replaced"
        );
    }

    #[test]
    fn a_rotated_away_refresh_token_is_served_under_any_key_within_the_window() {
        let rotated = finished("at:k", "r1", true, true, now_ms());
        assert!(rotated.serves(&ask("rt:r1", "r1", &[7])));
        assert!(
            !rotated.serves(&ask("rt:r2", "r2", &[])),
            "another refresh token"
        );
        let kept = finished("at:k", "r1", false, true, now_ms());
        assert!(
            !kept.serves(&ask("rt:r1", "r1", &[])),
            "not rotated: its own grant"
        );
        let old = finished("at:k", "r1", true, true, now_ms() - 31_000);
        assert!(
            !old.serves(&ask("rt:r1", "r1", &[])),
            "past the share window"
        );
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
