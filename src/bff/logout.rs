//! `POST /bff/logout`: ends the session here (remembered as ended until its cookie
//! would expire), revokes the refresh token, and answers where the browser goes next.
//!
//! With an OP end-session endpoint that is the BFF's own logout page
//! ([`super::logout_page`]): the ID token travels there in a short-lived sealed cookie
//! that only that page receives, so it never reaches the SPA, the address bar or the
//! history (issue 9). Without one it is `post_logout_redirect_uri`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::error::BffError;
use crate::oidc::logout::Handoff;
use crate::oidc::token;
use crate::session::cookies::{fits_browser, LOGOUT_PAGE_PATH};
use crate::session::Session;
use crate::state::AppState;
use crate::state::OpClient;
use crate::util::now;

/// How long the logout hand-off cookie lives: the SPA navigates to the page at once.
pub const HANDOFF_SECONDS: u64 = 60;

pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
) -> Result<HttpResponse, BffError> {
    let session: Option<Session> = state.sessions.load(&req).await.ok();
    crate::telemetry::event(
        "logout",
        &[
            ("bff.channel", "rp"),
            (
                "bff.outcome",
                if session.is_some() {
                    "matched"
                } else {
                    "unmatched"
                },
            ),
        ],
    );
    let meta = state.provider.metadata().ok();
    if let Some(s) = &session {
        state.sessions.end(s).await?;
        if let Some(at) = &s.access_token {
            state.forget_exchanged(&s.id, at).await;
        }
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
        let mut handoff = Handoff::new(session.as_ref().map(|s| s.id_token.clone()));
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
            .server
            .base_url
            .join(LOGOUT_PAGE_PATH)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| LOGOUT_PAGE_PATH.to_string())
    } else {
        state.config.client.post_logout_redirect_uri.to_string()
    };
    tracing::info!(had_session = session.is_some(), "logout");
    Ok(res.json(json!({ "logoutUrl": url })))
}
