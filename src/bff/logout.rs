//! `POST /bff/logout`: ends the session here (remembered as ended until its cookie
//! would expire), revokes the refresh token, and answers where the browser goes next.
//!
//! With an OP end-session endpoint that is the BFF's own logout page
//! ([`super::logout_page`]): the ID token travels there in a short-lived sealed cookie
//! that only that page receives, so it never reaches the SPA, the address bar or the
//! history (issue 9). Without one it is `post_logout_redirect_uri`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::BffError;
use crate::oidc::token;
use crate::session::cookies::{fits_browser, LOGOUT_PAGE_PATH};
use crate::session::Session;
use crate::state::AppState;
use crate::state::OpClient;
use crate::util::{now, random_id};

/// How long the logout hand-off cookie lives: the SPA navigates to the page at once.
pub const HANDOFF_SECONDS: u64 = 60;

/// What `POST /bff/logout` hands to the logout page, sealed in the logout cookie.
#[derive(Clone, Serialize, Deserialize)]
pub struct Handoff {
    /// The session's ID token, for `id_token_hint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_hint: Option<String>,
    /// The RP-initiated logout's `state` (random per logout).
    pub state: String,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff")
            .field("has_id_token_hint", &self.id_token_hint.is_some())
            .finish_non_exhaustive()
    }
}

pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
) -> Result<HttpResponse, BffError> {
    let session: Option<Session> = state.sessions.load(&req).await.ok();
    let meta = state.provider.metadata().ok();
    if let Some(s) = &session {
        state.sessions.end(s).await?;
        if let (Some(meta), Some(rt)) = (&meta, &s.refresh_token) {
            if meta.revocation_endpoint.is_some() {
                match token::revoke(&http.0, meta, &state.config, rt, "refresh_token").await {
                    Ok(()) => tracing::info!("refresh token revoked at logout"),
                    Err(e) => {
                        tracing::warn!(error = %e, "refresh token revocation at logout failed")
                    }
                }
            }
        }
    }
    let mut res = HttpResponse::Ok();
    for c in state.cookies.clear_session(&req) {
        res.cookie(c);
    }
    res.cookie(state.cookies.clear_login());
    let has_end_session = meta
        .as_ref()
        .is_some_and(|m| m.end_session_endpoint.is_some());
    let url = if has_end_session {
        let now = now();
        let mut handoff = Handoff {
            id_token_hint: session.as_ref().map(|s| s.id_token.clone()),
            state: random_id(16),
        };
        let mut cookie = state
            .cookies
            .write_logout(&state.sealer, &handoff, now, HANDOFF_SECONDS);
        if !fits_browser(&cookie) {
            // A browser would drop it; the OP then asks the user to confirm instead.
            tracing::warn!(
                "ID token too large for the logout cookie: logging out without id_token_hint"
            );
            handoff.id_token_hint = None;
            cookie = state
                .cookies
                .write_logout(&state.sealer, &handoff, now, HANDOFF_SECONDS);
        }
        res.cookie(cookie);
        state
            .config
            .base_url
            .join(LOGOUT_PAGE_PATH)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| LOGOUT_PAGE_PATH.to_string())
    } else {
        state.config.post_logout_redirect_uri.to_string()
    };
    tracing::info!(had_session = session.is_some(), "logout");
    Ok(res.json(json!({ "logoutUrl": url })))
}
