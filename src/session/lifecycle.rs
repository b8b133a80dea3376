//! The session lifecycle: load, save, slide, refresh and end a session, in its cookies or
//! (with `session_store`) in the shared store behind an id cookie, for handlers and proxy.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse};

use super::cookies::CookieSet;
use super::{CookieJar, Sealer, Session, SessionError};
use crate::config::Config;
use crate::error::BffError;
use crate::store::{Ended, SharedState};
use crate::util::now;

/// Where sessions live: wholly in sealed cookies, or in the shared store with a sealed
/// id cookie.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Cookie,
    Server,
}

/// What the cookie holds in server-side mode: the session's id and (issue 14) its OP
/// session and user, so that one store read brings the session and its ends.
#[derive(serde::Serialize, serde::Deserialize)]
struct SessionRef {
    id: String,
    /// Absent in cookies sealed before issue 14 (then the ends are a second read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

/// Sealing name of sessions kept server-side.
const SERVER_SESSION: &str = "bff-server-session";

/// The one way handlers and the proxy load, save, slide and end sessions (refreshing
/// them is [`super::refresh::Refresher::keep_fresh`]).
pub struct SessionStore {
    backend: Backend,
    pub(super) config: Arc<Config>,
    pub(super) sealer: Arc<Sealer>,
    cookies: Arc<CookieJar>,
    pub(super) store: Arc<dyn SharedState>,
}

impl SessionStore {
    pub fn new(
        config: Arc<Config>,
        sealer: Arc<Sealer>,
        cookies: Arc<CookieJar>,
        store: Arc<dyn SharedState>,
    ) -> Self {
        let backend = if config.server_sessions() {
            Backend::Server
        } else {
            Backend::Cookie
        };
        Self {
            backend,
            config,
            sealer,
            cookies,
            store,
        }
    }

    /// The request's session, or `NotAuthenticated`. Unreadable, expired and ended
    /// sessions all count as none (logged at debug, without values).
    pub async fn load(&self, req: &HttpRequest) -> Result<Session, BffError> {
        let now = now();
        let (session, ends) = match self.backend {
            Backend::Server => self.load_server(req, now).await?,
            Backend::Cookie => (self.load_cookie(req, now)?, None),
        };
        if now >= session.expires_at {
            return Err(rejected(&SessionError::Expired));
        }
        let ended = match ends {
            Some(ends) => ends.covers(session.created_at),
            None => {
                self.store
                    .is_ended(
                        &session.id,
                        session.sid.as_deref(),
                        &session.sub,
                        session.created_at,
                    )
                    .await?
            }
        };
        if ended {
            return Err(rejected(&SessionError::Ended));
        }
        Ok(session)
    }

    /// The session in the request's cookies: from this worker's cache of opened cookies
    /// when the same sealed bytes were opened before (issue 14), else opened and kept.
    fn load_cookie(&self, req: &HttpRequest, now: u64) -> Result<Session, BffError> {
        let raw = match self.cookies.read_session_raw(req) {
            Ok(Some(raw)) => raw,
            Ok(None) => return Err(BffError::NotAuthenticated),
            Err(e) => return Err(rejected(&e)),
        };
        self.open(self.cookies.session_name(), &raw, now)
    }

    /// Opens a sealed session, from this worker's cache when the same bytes under the same
    /// name were opened before (issue 14).
    fn open(&self, name: &str, raw: &str, now: u64) -> Result<Session, BffError> {
        if let Some((s, _)) = super::opened::get(name, raw, now) {
            return Ok(s);
        }
        match self.sealer.open::<Session>(name, raw, now) {
            Ok((s, until)) => {
                super::opened::put(name, raw, &s, until);
                Ok(s)
            }
            Err(e) => Err(rejected(&e)),
        }
    }

    /// The server-side session the request's id cookie names, and, when the cookie names
    /// its OP session and user too, the ends read with it in the same store call.
    async fn load_server(
        &self,
        req: &HttpRequest,
        now: u64,
    ) -> Result<(Session, Option<Ended>), BffError> {
        let r = match self
            .cookies
            .open_session::<SessionRef>(req, &self.sealer, now)
        {
            Ok(Some((r, _))) => r,
            Ok(None) => return Err(BffError::NotAuthenticated),
            Err(e) => return Err(rejected(&e)),
        };
        let (bytes, ends) = match r.sub.as_deref() {
            Some(sub) => {
                let (bytes, ends) = self
                    .store
                    .load_session_ended(&r.id, r.sid.as_deref(), sub)
                    .await?;
                (bytes, Some(ends))
            }
            None => (self.store.load_session(&r.id).await?, None),
        };
        let Some(bytes) = bytes else {
            return Err(rejected(&"no such server-side session"));
        };
        let text = String::from_utf8(bytes).map_err(|_| rejected(&SessionError::Malformed))?;
        let s = self.open(SERVER_SESSION, &text, now)?;
        if s.id != r.id {
            return Err(rejected(&SessionError::Unauthentic));
        }
        // The ends count only if they were read for this session's own OP session and user.
        let ends = ends.filter(|_| r.sid == s.sid && r.sub.as_deref() == Some(s.sub.as_str()));
        Ok((s, ends))
    }

    /// Cookies that re-seal `session` when its idle window is due to slide (at most once a
    /// minute, or a tenth of the idle timeout), so active users are not logged out.
    pub async fn slide(
        &self,
        req: &HttpRequest,
        session: &mut Session,
    ) -> Result<Option<CookieSet>, BffError> {
        let now = now();
        let idle = self.config.session.idle_timeout.as_secs();
        let step = (idle / 10).clamp(1, 60);
        if now < session.last_seen + step {
            return Ok(None);
        }
        session.last_seen = now;
        self.save(req, session).await.map(Some)
    }

    /// Stores `session` (in its cookies, or in the shared store with an id cookie) and
    /// returns the cookies to set.
    pub async fn save(&self, req: &HttpRequest, session: &Session) -> Result<CookieSet, BffError> {
        let idle = self.config.session.idle_timeout.as_secs();
        let expiry = session.cookie_expiry(idle);
        let now = now();
        if self.backend == Backend::Server {
            let sealed = self.sealer.seal(SERVER_SESSION, session, expiry);
            self.store
                .save_session(&session.id, sealed.into_bytes(), expiry)
                .await?;
            let r = SessionRef {
                id: session.id.clone(),
                sub: Some(session.sub.clone()),
                sid: session.sid.clone(),
            };
            return Ok(self
                .cookies
                .write_session(req, &self.sealer, &r, expiry, now)?);
        }
        Ok(self
            .cookies
            .write_session(req, &self.sealer, session, expiry, now)?)
    }

    /// Ends `session` everywhere: remembered as ended until its cookie would expire, and
    /// its server-side copy deleted.
    pub async fn end(&self, session: &Session) -> Result<(), BffError> {
        self.store
            .end_session(&session.id, session.expires_at)
            .await?;
        if self.backend == Backend::Server {
            self.store.delete_session(&session.id).await?;
        }
        Ok(())
    }

    /// The answer for a session that has ended: 401 `session_expired`, clearing every
    /// session cookie the request carried.
    pub fn ended(&self, req: &HttpRequest) -> HttpResponse {
        BffError::SessionExpired.response_with_cookies(self.cookies.clear_session(req))
    }
}

fn rejected(reason: &dyn std::fmt::Display) -> BffError {
    tracing::debug!(reason = %reason, "session cookie rejected");
    BffError::NotAuthenticated
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use actix_web::test::TestRequest;
    use serde_json::json;

    use super::*;
    use crate::store::MemoryStore;

    fn server_mode() -> (SessionStore, Arc<MemoryStore>) {
        let config = Config::from_value(
            json!({
                "issuer": "https://op.example", "client_id": "c", "client_secret": "s",
                "base_url": "http://localhost:5080", "session_store": "redis://127.0.0.1:1",
                "cookie_keys": [base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD, [7u8; 32])]
            }),
            &BTreeMap::new(),
        )
        .expect("config");
        assert!(config.server_sessions());
        let config = Arc::new(config);
        let store = Arc::new(MemoryStore::default());
        let sealer = Arc::new(Sealer::new(config.session.cookie_keys.expose()));
        let cookies = Arc::new(CookieJar::new(&config));
        let sessions = SessionStore::new(config, sealer, cookies, store.clone());
        (sessions, store)
    }

    fn session(id: &str) -> Session {
        let t = now();
        serde_json::from_value(json!({
            "id": id, "sub": "u1", "sid": "s1", "claims": {}, "id_token": "t",
            "created_at": t - 5, "expires_at": t + 3600, "last_seen": t - 5
        }))
        .expect("session")
    }

    fn with(cookies: &CookieSet) -> HttpRequest {
        cookies
            .iter()
            .fold(TestRequest::default(), |r, c| r.cookie(c.clone()))
            .to_http_request()
    }

    /// An id cookie naming `sub`/`sid` (or, as sealed before issue 14, only the id).
    fn id_cookie(s: &SessionStore, r: &SessionRef) -> CookieSet {
        let req = TestRequest::default().to_http_request();
        s.cookies
            .write_session(&req, &s.sealer, r, now() + 600, now())
            .expect("cookie")
    }

    #[actix_rt::test]
    async fn one_read_brings_the_session_and_its_ends_and_older_id_cookies_still_open() {
        let (s, store) = server_mode();
        let blank = TestRequest::default().to_http_request();
        // A session saved now: its cookie names sid and sub, and it loads.
        let a = session("a");
        let fresh = s.save(&blank, &a).await.expect("saved");
        assert_eq!(s.load(&with(&fresh)).await.expect("loads").id, "a");
        // An id-only cookie (before issue 14), and one naming another user: both load,
        // their ends read by the session's own sid and sub.
        let b = session("b");
        s.save(&blank, &b).await.expect("saved");
        let old = id_cookie(
            &s,
            &SessionRef {
                id: "b".into(),
                sub: None,
                sid: None,
            },
        );
        let c = session("c");
        s.save(&blank, &c).await.expect("saved");
        let other = SessionRef {
            id: "c".into(),
            sub: Some("u2".into()),
            sid: None,
        };
        let other = id_cookie(&s, &other);
        for cookie in [&fresh, &old, &other] {
            assert!(s.load(&with(cookie)).await.is_ok());
        }
        // The OP session s1 ends (a back-channel logout): all three are refused.
        store
            .end_sid("s1", now(), now() + 3600)
            .await
            .expect("ended");
        for cookie in [&fresh, &old, &other] {
            assert!(matches!(
                s.load(&with(cookie)).await,
                Err(BffError::NotAuthenticated)
            ));
        }
    }
}
