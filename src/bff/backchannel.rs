//! `POST /bff/backchannel-logout`: the OP tells us an OP session (`sid`) or a user (`sub`)
//! logged out; the matching sessions stop working at once (OIDC Back-Channel Logout 1.0).

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::Http;
use crate::app::AppState;
use crate::error::BffError;
use crate::oidc::discovery::LOGOUT_TOKEN_WINDOW;
use crate::oidc::logout_token::LogoutTokenError;
use crate::session::now;

pub async fn post(
    state: web::Data<AppState>,
    http: web::Data<Http>,
    body: web::Bytes,
) -> Result<HttpResponse, BffError> {
    let token = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| BffError::BadRequest("the logout_token form field is required".into()))?;
    let logout = state
        .provider
        .verify_logout_token(&http.0, &state.config, &token)
        .await?
        .map_err(BffError::LogoutToken)?;
    let now = now();
    let skew = state.config.clock_skew.as_secs();
    if !state.revocations.first_use_of_jti(
        &logout.jti,
        logout.iat + LOGOUT_TOKEN_WINDOW + 2 * skew,
        now,
    ) {
        return Err(BffError::LogoutToken(LogoutTokenError::Replayed));
    }
    // Sessions that could still be alive: no older than the absolute lifetime.
    let until = now + state.config.session_lifetime.as_secs();
    match (&logout.sid, &logout.sub) {
        (Some(sid), _) => state.revocations.end_sid(sid, now, until, now),
        (None, Some(sub)) => state.revocations.end_sub(sub, now, until, now),
        (None, None) => return Err(BffError::LogoutToken(LogoutTokenError::NoSidOrSub)),
    }
    tracing::info!(
        by_sid = logout.sid.is_some(),
        "back-channel logout: sessions ended"
    );
    Ok(HttpResponse::Ok().json(json!({})))
}
