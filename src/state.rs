//! The state every handler, the proxy and the refresher share: settings, the provider,
//! the sealer and cookie jar, the shared store, the session lifecycle, and the per-worker OP client.

use std::sync::Arc;

use crate::config::Config;
use crate::oidc::Provider;
use actix_web::HttpRequest;

use crate::error::BffError;
use crate::session::refresh::{Fresh, Refresher};
use crate::session::route_tokens::exchange_key;
use crate::session::{CookieJar, Sealer, Session, SessionStore};
use crate::store::SharedState;

/// State shared by every worker.
pub struct AppState {
    pub config: Arc<Config>,
    pub provider: Arc<Provider>,
    pub sealer: Arc<Sealer>,
    pub cookies: Arc<CookieJar>,
    /// Shared state: ended sessions, spent `state`s and logout `jti`s, server-side
    /// sessions, refresh locks. In memory, or in Redis for several instances.
    pub store: Arc<dyn SharedState>,
    /// Loads, saves, slides and ends sessions (cookie or server-side).
    pub sessions: SessionStore,
    /// Single-flight token refresh.
    pub refresher: Refresher,
    // issue 11: route tokens
    /// Client-credentials and exchanged tokens: cache and single flight.
    pub route_tokens: crate::session::route_tokens::RouteTokens,
}

impl AppState {
    /// Load-refresh-save for one request: see [`Refresher::keep_fresh`].
    pub async fn keep_fresh(
        &self,
        req: &HttpRequest,
        op: &OpClient,
        session: &mut Session,
        force: bool,
    ) -> Result<Fresh, BffError> {
        let before = session.access_token.clone();
        let fresh = self
            .refresher
            .keep_fresh(&self.sessions, &self.provider, req, &op.0, session, force)
            .await;
        // issue 11: an exchange of a replaced access token, or of an ended session, goes.
        let replaced = matches!(fresh, Ok(Fresh::Ended(_))) || session.access_token != before;
        if let (true, Some(at)) = (replaced, before.as_deref()) {
            self.forget_exchanged(&session.id, at).await;
        }
        fresh
    }

    // issue 11: route tokens
    /// Drops the tokens every `token_exchange` route got for `session_id`'s access token
    /// `subject` (here and in the shared store). Failures are logged: an entry left behind
    /// is never found again (its key holds the old access token) and expires by itself.
    pub async fn forget_exchanged(&self, session_id: &str, subject: &str) {
        for route in &self.config.proxy.routes {
            let Some(params) = &route.exchange else {
                continue;
            };
            let key = exchange_key(session_id, subject, &params.key);
            if let Err(e) = self
                .route_tokens
                .forget(&key, self.store.as_ref(), &self.sealer)
                .await
            {
                tracing::warn!(error = %e, "could not drop an exchanged token (it expires by itself)");
            }
        }
    }
}

/// The awc client of this worker thread that talks to the OP (token, userinfo,
/// revocation, introspection, PAR, end-session endpoints).
pub struct OpClient(pub awc::Client);
