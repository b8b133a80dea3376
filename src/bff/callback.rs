//! `GET <redirect_uri path>`: the OP sends the browser back here. Takes the pending login
//! by `state` (one use), has `oidc::login` check the answer, and starts a new session.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::LoginError;
use crate::oidc::login::{self, Expected};
use crate::session::{LoginState, PendingLogin, Session};
use crate::state::AppState;
use crate::state::OpClient;
use crate::util::{hex_sha256, now, random_id};

use crate::oidc::login::CallbackQuery;

/// Parses the callback's query string; anything malformed is an empty query (which then
/// fails the `state` check).
pub fn parse_query(query: &str) -> CallbackQuery {
    web::Query::<CallbackQuery>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
) -> HttpResponse {
    let query = parse_query(req.query_string());
    let now = now();
    let timeout = state.config.session.login_timeout.as_secs();
    let mut logins: LoginState = state
        .cookies
        .open_login(&req, &state.sealer, now)
        .unwrap_or_default();
    let pending = query
        .state
        .as_deref()
        .and_then(|s| logins.take(s, now, timeout));
    // The consumed entry leaves the login cookie whatever happens next.
    let login_cookie = if logins.pending.is_empty() {
        state.cookies.clear_login()
    } else {
        state
            .cookies
            .write_login(&state.sealer, &logins, now + timeout, now)
    };

    let silent = pending.as_ref().is_some_and(|p| p.silent);
    let outcome = finish(&req, &state, &http, query, pending, now).await;
    let logins = &crate::metrics::get().logins;
    match &outcome {
        Ok(_) => logins.with_label_values(&["success", ""]).inc(),
        Err(e) => logins.with_label_values(&["failure", e.reason()]).inc(),
    }
    // issue 13: on the request's span (the reason is one of our fixed codes).
    match &outcome {
        Ok(_) => crate::telemetry::event("login finished", &[("bff.outcome", "success")]),
        Err(e) => crate::telemetry::event(
            "login finished",
            &[("bff.outcome", "failure"), ("bff.reason", e.reason())],
        ),
    }
    if silent {
        if let Err(e) = &outcome {
            tracing::info!(reason = %e, code = %e.code(), "silent login: not signed in");
        }
        let (logged_in, cookies) = match outcome {
            Ok((_, cookies)) => (true, cookies),
            Err(_) => (false, Vec::new()),
        };
        let mut res = silent_page(&state.config.server.origin, logged_in);
        for c in cookies.into_iter().chain([login_cookie]) {
            let _ = res.add_cookie(&c);
        }
        return res;
    }
    match outcome {
        Ok((return_url, cookies)) => {
            let mut res = HttpResponse::Found();
            res.insert_header(("Location", return_url))
                .insert_header(("Cache-Control", "no-store"));
            for c in cookies {
                res.cookie(c);
            }
            res.cookie(login_cookie).finish()
        }
        Err(e) => e.redirect().cookie(login_cookie).finish(),
    }
}

/// The pending login `state` names, spent once and for all; then the OP's answer checked
/// and the new session saved.
async fn finish(
    req: &HttpRequest,
    state: &AppState,
    http: &OpClient,
    query: CallbackQuery,
    pending: Option<PendingLogin>,
    now: u64,
) -> Result<(String, Vec<actix_web::cookie::Cookie<'static>>), LoginError> {
    let config = &state.config;
    let pending = pending.ok_or(LoginError::InvalidState)?;
    // Single use, even when the whole callback is replayed with the original login cookie.
    let spent_key = hex_sha256(&pending.state);
    let login_expiry = pending.created_at + config.session.login_timeout.as_secs();
    let first = state
        .store
        .first_use("state", &spent_key, login_expiry)
        .await
        .map_err(|_| LoginError::Store)?;
    if !first {
        return Err(LoginError::StateReplayed);
    }
    let expected = Expected {
        nonce: &pending.nonce,
        verifier: &pending.verifier,
        max_age: pending.max_age,
    };
    let signed_in = login::finish(&http.0, &state.provider, config, query, expected, now).await?;
    let session = Session::start(signed_in, now, config.session.lifetime.as_secs());
    let cookies = state
        .sessions
        .save(req, &session)
        .await
        .map_err(|e| match e {
            crate::error::BffError::Session(s) => LoginError::Session(s),
            _ => LoginError::Store,
        })?;
    super::backchannel::on_login(state, &session).await;
    tracing::info!(
        has_refresh_token = session.refresh_token.is_some(),
        "login succeeded"
    );
    Ok((pending.return_url, cookies))
}

/// The page a silent-login iframe ends on: posts the outcome to the SPA's exact origin,
/// with a nonce'd CSP that allows only that one script, and framing by ourselves only.
pub fn silent_page(origin: &str, logged_in: bool) -> HttpResponse {
    let nonce = random_id(16);
    let target = serde_json::to_string(origin).unwrap_or_else(|_| "\"null\"".into());
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>oidc-bff</title></head><body>\
         <script nonce=\"{nonce}\">window.parent.postMessage({{\"source\":\"bff-silent-login\",\"isLoggedIn\":{logged_in}}}, {target});</script>\
         </body></html>"
    );
    HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Security-Policy",
            format!("default-src 'none'; script-src 'nonce-{nonce}'; frame-ancestors 'self'"),
        ))
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .body(body)
}
