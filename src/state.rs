//! The state every handler, the proxy and the refresher share: settings, the provider,
//! the sealer and cookie jar, the shared store, the refresher, and the per-worker OP client.

use std::sync::Arc;

use crate::config::Config;
use crate::oidc::Provider;
use crate::refresh::Refresher;
use crate::session::{CookieJar, Sealer};
use crate::store::SharedState;

/// State shared by every worker.
pub struct AppState {
    pub config: Arc<Config>,
    pub provider: Arc<Provider>,
    pub sealer: Sealer,
    pub cookies: CookieJar,
    /// Shared state: ended sessions, spent `state`s and logout `jti`s, server-side
    /// sessions, refresh locks. In memory, or in Redis for several instances.
    pub store: Arc<dyn SharedState>,
    pub refresher: Refresher,
}

/// The awc client of this worker thread that talks to the OP (token, userinfo,
/// revocation, introspection, PAR, end-session endpoints).
pub struct OpClient(pub awc::Client);
