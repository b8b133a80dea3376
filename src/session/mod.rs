//! Sessions: what a signed-in browser carries (sealed, chunked cookies), the short-lived
//! login state, and the in-memory sets of spent states and ended sessions.

pub mod chunk;
pub mod cookies;
pub mod lifecycle;
pub mod refresh;
pub mod seal;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use cookies::CookieJar;
pub use lifecycle::SessionStore;
pub use seal::Sealer;

use crate::util::constant_time_eq;

pub use crate::error::SessionError;

/// A signed-in session, sealed into the session cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Random id (128 bits), used to end the session everywhere.
    pub id: String,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub claims: Map<String, Value>,
    pub id_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub created_at: u64,
    /// Absolute end of the session.
    pub expires_at: u64,
    /// Last time the idle window was extended.
    pub last_seen: u64,
}

impl Session {
    /// When the sealed cookie stops opening: the sooner of the absolute and idle limits.
    pub fn cookie_expiry(&self, idle: u64) -> u64 {
        self.expires_at.min(self.last_seen.saturating_add(idle))
    }

    /// The summary the SPA sees (never a token).
    pub fn summary(&self, idle: u64) -> Value {
        serde_json::json!({
            "expiresAt": self.cookie_expiry(idle),
            "absoluteExpiresAt": self.expires_at,
            "accessTokenExpiresAt": self.access_token_expires_at,
            "scope": self.scope,
            "hasAccessToken": self.access_token.is_some(),
            "hasRefreshToken": self.refresh_token.is_some(),
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
    use crate::util::random_id;

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

    #[test]
    fn ids_are_long_and_distinct() {
        let a = random_id(16);
        assert_eq!(a.len(), 22);
        assert_ne!(a, random_id(16));
        assert_eq!(random_id(40).len(), 54);
    }
}
