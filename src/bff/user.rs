//! `GET /bff/user`: the signed-in user's ID-token claims and a session summary.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::error::BffError;
use crate::state::AppState;

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, BffError> {
    let mut session = match state.sessions.load(&req).await {
        Ok(s) => s,
        // Tell the SPA it may try a silent login (prompt=none in a hidden iframe).
        Err(BffError::NotAuthenticated) if state.config.silent_login => {
            return Ok(HttpResponse::Unauthorized().json(json!({
                "error": "not_authenticated",
                "silentLogin": "/bff/silent-login",
            })))
        }
        Err(e) => return Err(e),
    };
    let cookies = state.sessions.slide(&req, &mut session).await?;
    let idle = state.config.session_idle_timeout.as_secs();
    let mut res = HttpResponse::Ok();
    for c in cookies.into_iter().flatten() {
        res.cookie(c);
    }
    // `sid` identifies the OP session for (front-/back-channel) logout; a page has no use
    // for it, and whoever knows it can end the session through front-channel logout.
    let summary = session.summary(idle);
    let mut claims = session.claims;
    claims.remove("sid");
    Ok(res.json(json!({ "claims": claims, "session": summary })))
}
