//! The state every handler, the proxy and the refresher share: settings, the provider,
//! the sealer and cookie jar, the shared store, the session lifecycle, and the per-worker OP client.

use std::sync::Arc;

use crate::config::Config;
use crate::oidc::Provider;
use actix_web::HttpRequest;

use crate::error::BffError;
use crate::session::refresh::{Fresh, Refresher};
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
        self.refresher
            .keep_fresh(&self.sessions, &self.provider, req, &op.0, session, force)
            .await
    }
}

/// The awc client of this worker thread that talks to the OP (token, userinfo,
/// revocation, introspection, PAR, end-session endpoints).
pub struct OpClient(pub awc::Client);
