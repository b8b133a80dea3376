//! Sessions: what a signed-in browser carries (sealed, chunked cookies), the short-lived
//! login state, and the in-memory sets of spent states and ended sessions.

pub mod chunk;
pub mod cookies;
pub mod lifecycle;
pub mod opened;
pub mod refresh;
// issue 11: route tokens
pub mod route_tokens;
pub mod seal;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use cookies::CookieJar;
pub use lifecycle::SessionStore;
pub use seal::Sealer;

use crate::oidc::login::SignedIn;
use crate::util::{constant_time_eq, random_id};

pub use crate::error::SessionError;

/// A signed-in session, sealed into the session cookie.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    /// Random id (128 bits), used to end the session everywhere.
    pub id: String,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// issue 14: shared, so a session from the per-worker opened cache is handed out
    /// without copying (and later freeing) every claim on each request.
    pub claims: Arc<Map<String, Value>>,
    pub id_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// issue 12: the thumbprint of the DPoP key the access token is bound to
    /// (`token_type: DPoP`); none for a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    pub created_at: u64,
    /// Absolute end of the session.
    pub expires_at: u64,
    /// Last time the idle window was extended.
    pub last_seen: u64,
}

/// Prints who and when, never a token or the id (in Redis mode the cookie carries the id).
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sub", &self.sub)
            .field("sid", &self.sid.is_some())
            .field("has_access_token", &self.access_token.is_some())
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("access_token_expires_at", &self.access_token_expires_at)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("last_seen", &self.last_seen)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A new session (with a new random id) for a finished login.
    pub fn start(login: SignedIn, now: u64, lifetime: u64) -> Session {
        Session {
            id: random_id(16),
            sub: login.sub,
            sid: login.sid,
            claims: Arc::new(login.claims),
            id_token: login.id_token,
            access_token: Some(login.access_token),
            refresh_token: login.refresh_token,
            access_token_expires_at: login.access_token_expires_at,
            scope: login.scope,
            dpop_jkt: login.dpop_jkt,
            created_at: now,
            expires_at: now + lifetime,
            last_seen: now,
        }
    }

    /// When the sealed cookie stops opening: the sooner of the absolute and idle limits.
    pub fn cookie_expiry(&self, idle: u64) -> u64 {
        self.expires_at.min(self.last_seen.saturating_add(idle))
    }

    /// The summary the SPA sees (never a token). `mtls`: the tokens were obtained over
    /// mutual TLS with the BFF's certificate (issue 12).
    pub fn summary(&self, idle: u64, mtls: bool) -> Value {
        serde_json::json!({
            "expiresAt": self.cookie_expiry(idle),
            "absoluteExpiresAt": self.expires_at,
            "accessTokenExpiresAt": self.access_token_expires_at,
            "scope": self.scope,
            "hasAccessToken": self.access_token.is_some(),
            "hasRefreshToken": self.refresh_token.is_some(),
            // issue 12: how the tokens are bound to the BFF: "dpop" (`token_type: DPoP`),
            // "mtls" (obtained with the client certificate, RFC 8705 3), or null.
            "senderConstrained": match (&self.dpop_jkt, mtls) {
                (Some(_), _) => Some("dpop"),
                (None, true) => Some("mtls"),
                (None, false) => None,
            },
        })
    }
}

/// One login in progress (a tab that went to the OP).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub return_url: String,
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    /// A `prompt=none` login in a hidden iframe: the callback answers with a page that
    /// posts the outcome to the SPA instead of redirecting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub silent: bool,
}

/// All logins in progress for this browser, keyed by `state`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoginState {
    pub pending: Vec<PendingLogin>,
}

/// At most this many concurrent logins per browser; the oldest is dropped.
pub const MAX_PENDING_LOGINS: usize = 5;

impl LoginState {
    /// Adds a login, dropping expired ones and the oldest beyond the limit.
    pub fn push(&mut self, login: PendingLogin, now: u64, timeout: u64) {
        self.pending.retain(|p| p.created_at + timeout > now);
        self.pending.push(login);
        let excess = self.pending.len().saturating_sub(MAX_PENDING_LOGINS);
        self.pending.drain(..excess);
    }

    /// Removes and returns the login for `state`, if still fresh.
    pub fn take(&mut self, state: &str, now: u64, timeout: u64) -> Option<PendingLogin> {
        let idx = self
            .pending
            .iter()
            .position(|p| constant_time_eq(p.state.as_bytes(), state.as_bytes()))?;
        let login = self.pending.remove(idx);
        (login.created_at + timeout > now).then_some(login)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(state: &str, at: u64) -> PendingLogin {
        PendingLogin {
            state: state.into(),
            nonce: "n".into(),
            verifier: "v".into(),
            return_url: "/".into(),
            created_at: at,
            max_age: None,
            silent: false,
        }
    }

    #[test]
    fn two_tabs_and_limits() {
        let mut ls = LoginState::default();
        ls.push(login("a", 100), 100, 600);
        ls.push(login("b", 101), 101, 600);
        assert_eq!(ls.take("b", 102, 600).unwrap().state, "b");
        assert!(ls.take("b", 102, 600).is_none());
        assert_eq!(ls.take("a", 102, 600).unwrap().state, "a");
        for i in 0..8 {
            ls.push(login(&i.to_string(), 200), 200, 600);
        }
        assert_eq!(ls.pending.len(), MAX_PENDING_LOGINS);
        assert!(ls.take("0", 201, 600).is_none());
        assert!(ls.take("7", 900, 600).is_none(), "expired");
    }

    // The callback's state check: a `state` that names no pending login takes nothing and
    // leaves the others in place.
    #[test]
    fn a_state_of_no_pending_login_takes_nothing() {
        let mut ls = LoginState::default();
        ls.push(login("a", 100), 100, 600);
        assert!(ls.take("b", 101, 600).is_none());
        assert!(ls.take("", 101, 600).is_none());
        assert!(ls.take("a ", 101, 600).is_none());
        assert_eq!(ls.pending.len(), 1);
        assert_eq!(ls.take("a", 101, 600).unwrap().state, "a");
    }

    #[test]
    fn a_finished_login_starts_a_session_of_the_configured_lifetime() {
        let login = SignedIn {
            sub: "u1".into(),
            sid: Some("s1".into()),
            claims: Map::new(),
            id_token: "idt".into(),
            access_token: "at".into(),
            refresh_token: None,
            access_token_expires_at: Some(1300),
            scope: Some("openid".into()),
            dpop_jkt: None,
        };
        let s = Session::start(login, 1000, 3600);
        assert_eq!((s.sub.as_str(), s.sid.as_deref()), ("u1", Some("s1")));
        assert_eq!(s.access_token.as_deref(), Some("at"));
        assert_eq!(
            (s.created_at, s.last_seen, s.expires_at),
            (1000, 1000, 4600)
        );
        assert_eq!(s.id.len(), 22);
    }

    #[test]
    fn debug_prints_no_token_and_no_id() {
        let login = SignedIn {
            sub: "u1".into(),
            sid: Some("op-session-secret".into()),
            claims: Map::new(),
            id_token: "id-token-secret".into(),
            access_token: "access-token-secret".into(),
            refresh_token: Some("refresh-token-secret".into()),
            access_token_expires_at: Some(1300),
            scope: None,
            dpop_jkt: None,
        };
        let s = Session::start(login, 1000, 3600);
        let printed = format!("{s:?} {s:#?}");
        assert!(printed.contains("u1"), "{printed}");
        for secret in ["secret", s.id.as_str()] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }

    #[test]
    fn ids_are_long_and_distinct() {
        let a = random_id(16);
        assert_eq!(a.len(), 22);
        assert_ne!(a, random_id(16));
        assert_eq!(random_id(40).len(), 54);
    }
}
