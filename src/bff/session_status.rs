//! `GET /bff/session` (issue 15): like `/bff/user`, but 200 whether or not someone is
//! signed in, so an SPA's first look at a signed-out page has no failed request.
//! `{"isLoggedIn": false}` (plus `silentLogin` when that is on), or
//! `{"isLoggedIn": true, "claims": …, "session": …}` with exactly `/bff/user`'s body.
//! The name follows the Curity token handler's `GET /session` and the `isLoggedIn` of
//! the silent-login message.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::user::{respond, signed_in, SILENT_LOGIN_PATH};
use crate::error::BffError;
use crate::state::AppState;

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, BffError> {
    match signed_in(&req, &state).await {
        Ok((cookies, mut body)) => {
            if let Value::Object(map) = &mut body {
                map.insert("isLoggedIn".into(), Value::Bool(true));
            }
            Ok(respond(cookies, body))
        }
        Err(BffError::NotAuthenticated) => {
            let mut body = json!({ "isLoggedIn": false });
            if state.config.provider.silent_login {
                body["silentLogin"] = Value::from(SILENT_LOGIN_PATH);
            }
            Ok(HttpResponse::Ok().json(body))
        }
        Err(e) => Err(e),
    }
}
