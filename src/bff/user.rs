//! `GET /bff/user`: the signed-in user's ID-token claims and a session summary.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::error::BffError;
use crate::session::cookies::CookieSet;
use crate::state::AppState;

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, BffError> {
    match signed_in(&req, &state).await {
        Ok((cookies, body)) => Ok(respond(cookies, body)),
        // Tell the SPA it may try a silent login (prompt=none in a hidden iframe).
        Err(BffError::NotAuthenticated) if state.config.provider.silent_login => {
            Ok(HttpResponse::Unauthorized().json(json!({
                "error": "not_authenticated",
                "silentLogin": SILENT_LOGIN_PATH,
            })))
        }
        Err(e) => Err(e),
    }
}

/// Where the SPA runs a silent login, when `silent_login` is on.
pub(super) const SILENT_LOGIN_PATH: &str = "/bff/silent-login";

/// The body of a 200 `/bff/user` (`{claims, session}`) for the request's session, and
/// the cookies that re-seal it when its idle window slides. `NotAuthenticated` without
/// a live session.
pub(super) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(Option<CookieSet>, Value), BffError> {
    let mut session = state.sessions.load(req).await?;
    let cookies = state.sessions.slide(req, &mut session).await?;
    let idle = state.config.session.idle_timeout.as_secs();
    let summary = session.summary(idle, state.config.sender.tls_client.is_some());
    // `sid` identifies the OP session for (front-/back-channel) logout; a page has no use
    // for it, and whoever knows it can end the session through front-channel logout.
    let mut claims = std::sync::Arc::unwrap_or_clone(session.claims);
    claims.remove("sid");
    Ok((cookies, json!({ "claims": claims, "session": summary })))
}

/// 200 with `body` and the re-sealed cookies, if any.
pub(super) fn respond(cookies: Option<CookieSet>, body: Value) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    for c in cookies.into_iter().flatten() {
        res.cookie(c);
    }
    res.json(body)
}
