//! `GET /bff/login` (302 to the OP) and `POST /bff/login` (`{authorizationUrl}`): start
//! the code flow and remember the tab's state, nonce and verifier in the login cookie.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::error::BffError;
use crate::oidc::authorize::{self, safe_return_url, LoginOptions, Secrets};
use crate::session::{LoginState, PendingLogin};
use crate::state::AppState;
use crate::state::OpClient;
use crate::util::now;

/// Longest `returnUrl` (bytes) a login accepts: `POST /bff/login` answers 400
/// `invalid_request` above it, `GET /bff/login` signs in with `/` instead (issue 9). With
/// this bound one pending login always fits a browser's 4,096-byte cookie.
pub const MAX_RETURN_URL: usize = 1024;

/// Builds the authorization URL and the updated login cookie.
async fn start(
    req: &HttpRequest,
    state: &AppState,
    http: &OpClient,
    mut options: LoginOptions,
    silent: bool,
) -> Result<(String, actix_web::cookie::Cookie<'static>), BffError> {
    // Via the query string `claims` arrives as text.
    if let Some(Value::String(text)) = &options.claims {
        options.claims = Some(
            serde_json::from_str(text)
                .map_err(|_| BffError::BadRequest("claims is not JSON".into()))?,
        );
    }
    if options
        .return_url
        .as_ref()
        .is_some_and(|r| r.len() > MAX_RETURN_URL)
    {
        return Err(BffError::BadRequest(format!(
            "returnUrl is longer than {MAX_RETURN_URL} bytes"
        )));
    }
    options.validate()?;
    let meta = state.provider.metadata()?;
    let secrets = Secrets::generate();
    let dpop = state.provider.dpop();
    let mut params = authorize::authorization_params(&state.config, &secrets, &options);
    // issue 12: the code is bound to our DPoP key (RFC 9449 10).
    if let Some(d) = dpop {
        params.push(("dpop_jkt", d.signer().jkt().to_string()));
    }
    // issue 13: a silent login from a signed-in session names the user to the OP. No
    // session (or one that cannot be read) means no hint; the hint is never logged.
    if authorize::is_silent(&options) {
        let id_token = state.sessions.load(req).await.ok().map(|s| s.id_token);
        tracing::debug!(id_token_hint = id_token.is_some(), "prompt=none login");
        authorize::add_id_token_hint(&mut params, &options, id_token);
    }
    let via = authorize::params_via(
        meta.require_pushed_authorization_requests,
        state.config.provider.params_via,
    );
    let front =
        authorize::front_channel_params(&http.0, &meta, &state.config, dpop, params, via).await?;
    let url = authorize::url_with(&meta.authorization_endpoint, &front)?;

    let now = now();
    let timeout = state.config.session.login_timeout.as_secs();
    let mut logins: LoginState = state
        .cookies
        .open_login(req, &state.sealer, now)
        .unwrap_or_default();
    logins.push(
        PendingLogin {
            state: secrets.state,
            nonce: secrets.nonce,
            verifier: secrets.verifier,
            return_url: safe_return_url(options.return_url.as_deref()),
            created_at: now,
            max_age: options.max_age,
            silent,
        },
        now,
        timeout,
    );
    // Browsers drop a cookie over 4,096 bytes, which would lose every pending login:
    // the oldest logins give way until the newest fits.
    let mut cookie = state
        .cookies
        .write_login(&state.sealer, &logins, now + timeout, now);
    while !crate::session::cookies::fits_browser(&cookie) && logins.pending.len() > 1 {
        logins.pending.remove(0);
        cookie = state
            .cookies
            .write_login(&state.sealer, &logins, now + timeout, now);
    }
    tracing::info!(pending = logins.pending.len(), "login started");
    Ok((url.to_string(), cookie))
}

pub async fn start_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
    query: Result<web::Query<LoginOptions>, actix_web::Error>,
) -> Result<HttpResponse, BffError> {
    let mut options = query
        .map_err(|e| BffError::Invalid("the query string is malformed", e.to_string()))?
        .into_inner();
    // A navigation has no one to read a 400: an over-long returnUrl is treated like any
    // other one we will not follow, and the user lands on `/`.
    if options
        .return_url
        .as_ref()
        .is_some_and(|r| r.len() > MAX_RETURN_URL)
    {
        tracing::info!("returnUrl too long: signing in with / instead");
        options.return_url = None;
    }
    let (url, cookie) = start(&req, &state, &http, options, false).await?;
    Ok(HttpResponse::Found()
        .insert_header(("Location", url))
        .cookie(cookie)
        .finish())
}

pub async fn start_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
    payload: web::Payload,
) -> Result<HttpResponse, BffError> {
    let body = super::read_body(payload).await?;
    let options: LoginOptions = if body.iter().all(u8::is_ascii_whitespace) {
        LoginOptions::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| BffError::Invalid("the body is not valid JSON", e.to_string()))?
    };
    let (url, cookie) = start(&req, &state, &http, options, false).await?;
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .json(json!({ "authorizationUrl": url })))
}

/// `GET /bff/silent-login`: for a hidden iframe. `prompt=none` at the OP; the callback
/// answers with a page that posts `{isLoggedIn}` to the SPA's origin.
pub async fn silent(
    req: HttpRequest,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
) -> Result<HttpResponse, BffError> {
    if !state.config.provider.silent_login {
        return Err(BffError::NotFound);
    }
    let options = LoginOptions {
        prompt: Some("none".into()),
        ..LoginOptions::default()
    };
    let (url, cookie) = start(&req, &state, &http, options, true).await?;
    Ok(HttpResponse::Found()
        .insert_header(("Location", url))
        .cookie(cookie)
        .finish())
}
