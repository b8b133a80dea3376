//! `POST /bff/backchannel-logout` (Back-Channel Logout 1.0) and `GET /bff/frontchannel-logout`
//! (Front-Channel Logout 1.0): the OP says an OP session or user logged out; those sessions end.

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
    payload: web::Payload,
) -> Result<HttpResponse, BffError> {
    let body = super::read_body(payload, state.config.max_bff_body).await?;
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
    let fresh = state
        .store
        .first_use(
            "jti",
            &logout.jti,
            logout.iat + LOGOUT_TOKEN_WINDOW + 2 * skew,
        )
        .await?;
    if !fresh {
        return Err(BffError::LogoutToken(LogoutTokenError::Replayed));
    }
    // Sessions that could still be alive: no older than the absolute lifetime.
    let until = now + state.config.session_lifetime.as_secs();
    match (&logout.sid, &logout.sub) {
        (Some(sid), _) => state.store.end_sid(sid, now, until).await?,
        (None, Some(sub)) => state.store.end_sub(sub, now, until).await?,
        (None, None) => return Err(BffError::LogoutToken(LogoutTokenError::NoSidOrSub)),
    }
    tracing::info!(
        by_sid = logout.sid.is_some(),
        "back-channel logout: sessions ended"
    );
    Ok(HttpResponse::Ok().json(json!({})))
}

#[derive(serde::Deserialize)]
pub struct FrontChannel {
    iss: Option<String>,
    sid: Option<String>,
}

/// `GET /bff/frontchannel-logout?iss=…&sid=…`, loaded by the OP in an iframe. Requires
/// `iss` and `sid` (`frontchannel_logout_session_required`): with SameSite cookies the
/// iframe brings no session cookie, so `sid` is what identifies the sessions.
pub async fn frontchannel(
    state: web::Data<AppState>,
    query: Result<web::Query<FrontChannel>, actix_web::Error>,
) -> Result<HttpResponse, BffError> {
    let q = query
        .map_err(|e| BffError::Invalid("the query string is malformed", e.to_string()))?
        .into_inner();
    if q.iss.as_deref() != Some(state.config.issuer.as_str()) {
        return Err(BffError::BadRequest(
            "iss is missing or not our issuer".into(),
        ));
    }
    let sid = q
        .sid
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .ok_or_else(|| BffError::BadRequest("sid is required".into()))?;
    let now = now();
    state
        .store
        .end_sid(&sid, now, now + state.config.session_lifetime.as_secs())
        .await?;
    tracing::info!("front-channel logout: sessions ended");
    let op_origin = url::Url::parse(&state.config.issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .insert_header((
            "Content-Security-Policy",
            format!("default-src 'none'; frame-ancestors {op_origin}"),
        ))
        .insert_header(("X-Frame-Options", "ALLOWALL"))
        .body("<!doctype html><title>logged out</title>"))
}
