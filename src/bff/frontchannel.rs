//! `GET /bff/frontchannel-logout` (Front-Channel Logout 1.0), loaded by the OP in an
//! iframe: the sessions of that OP `sid` end.

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};

use super::backchannel::{record, warn_sidless_once, By, FRONTCHANNEL_SEEN, SIDLESS_LOGIN_SEEN};
use crate::error::BffError;
use crate::state::AppState;
use crate::util::now;

#[derive(serde::Deserialize)]
pub struct FrontChannel {
    iss: Option<String>,
    sid: Option<String>,
}

/// `GET /bff/frontchannel-logout?iss=…&sid=…`, loaded by the OP in an iframe. Requires
/// `iss` and `sid` (`frontchannel_logout_session_required`): with SameSite cookies the
/// iframe brings no session cookie, so `sid` is what identifies the sessions.
pub async fn get(
    state: web::Data<AppState>,
    query: Result<web::Query<FrontChannel>, actix_web::Error>,
) -> Result<HttpResponse, BffError> {
    let q = query
        .map_err(|e| BffError::Invalid("the query string is malformed", e.to_string()))?
        .into_inner();
    if q.iss.as_deref() != Some(state.config.provider.issuer.as_str()) {
        return Err(BffError::BadRequest(
            "iss is missing or not our issuer".into(),
        ));
    }
    let sid = q
        .sid
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .ok_or_else(|| BffError::BadRequest("sid is required".into()))?;
    FRONTCHANNEL_SEEN.store(true, Ordering::Relaxed);
    if SIDLESS_LOGIN_SEEN.load(Ordering::Relaxed) {
        warn_sidless_once();
    }
    record(&state, "frontchannel", By::Sid(&sid), now()).await?;
    let op_origin = url::Url::parse(&state.config.provider.issuer)
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
