//! `POST /bff/backchannel-logout` (Back-Channel Logout 1.0): the OP says an OP session or
//! user logged out; those sessions end. Also how any OP-initiated logout is recorded.

use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::BffError;
use crate::oidc::logout_token::{self, LogoutTokenError};
use crate::state::AppState;
use crate::state::OpClient;
use crate::util::now;

pub async fn post(
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
    payload: web::Payload,
) -> Result<HttpResponse, BffError> {
    let body = super::read_body(payload).await?;
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
    let skew = state.config.id_token.clock_skew.as_secs();
    let fresh = state
        .store
        .first_use(
            "jti",
            &logout.jti,
            logout_token::replay_until(logout.iat, skew),
        )
        .await?;
    if !fresh {
        return Err(BffError::LogoutToken(LogoutTokenError::Replayed));
    }
    let by = match (&logout.sid, &logout.sub) {
        (Some(sid), _) => By::Sid(sid),
        (None, Some(sub)) => By::Sub(sub),
        (None, None) => return Err(BffError::LogoutToken(LogoutTokenError::NoSidOrSub)),
    };
    record(&state, "backchannel", by, now).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// What an OP-initiated (or issue 13: admin) logout names.
#[derive(Clone, Copy)]
pub(crate) enum By<'a> {
    Sid(&'a str),
    Sub(&'a str),
}

/// issue 17: records a logout (sessions of that `sid`/`sub` begun by `now` are refused
/// from now on), counts the live sessions it matched where sessions are indexed (Redis
/// session mode), and logs and counts exactly that: never "ended" when nothing is known
/// to have matched. issue 13: also `POST /admin/sessions/end` (channel `admin`), which
/// answers with the count: `Some(n)` where sessions are indexed, `None` in cookie mode.
pub(crate) async fn record(
    state: &AppState,
    channel: &'static str,
    by: By<'_>,
    now: u64,
) -> Result<Option<usize>, BffError> {
    // Sessions that could still be alive: no older than the absolute lifetime.
    let until = now + state.config.session.lifetime.as_secs();
    let (by_sid, value) = match by {
        By::Sid(v) => (true, v),
        By::Sub(v) => (false, v),
    };
    let matched = if state.config.server_sessions() {
        state.store.end_indexed(by_sid, value).await?
    } else {
        None
    };
    if by_sid {
        state.store.end_sid(value, now, until).await?;
    } else {
        state.store.end_sub(value, now, until).await?;
    }
    let outcome = match matched {
        Some(0) => "unmatched",
        Some(_) => "matched",
        None => "unknown",
    };
    crate::metrics::get()
        .logouts
        .with_label_values(&[channel, outcome])
        .inc();
    crate::telemetry::event(
        "logout",
        &[("bff.channel", channel), ("bff.outcome", outcome)],
    );
    let iss = state.config.provider.issuer.as_str();
    let what = if by_sid { "sid" } else { "sub" };
    // Values from the OP are logged with Debug (quoted, escaped): no forged log lines.
    macro_rules! say {
        ($($rest:tt)*) => {
            match by {
                By::Sid(v) => tracing::info!(channel, iss, sid = ?v, $($rest)*),
                By::Sub(v) => tracing::info!(channel, iss, sub = ?v, $($rest)*),
            }
        };
    }
    match matched {
        Some(0) => say!(
            matched = 0,
            "logout recorded: no live session matched; sessions of this {what} begun until now are refused from now on"
        ),
        Some(n) => say!(
            matched = n,
            "logout: {n} live session(s) ended; sessions of this {what} begun until now are refused from now on"
        ),
        None => say!(
            "logout recorded: sessions of this {what} begun until now are refused from now on (sessions live in cookies: whether any matched is not known)"
        ),
    }
    Ok(matched)
}

/// A front-channel logout request has arrived since start.
pub(super) static FRONTCHANNEL_SEEN: AtomicBool = AtomicBool::new(false);
/// A login whose ID token had no `sid` has happened since start.
pub(super) static SIDLESS_LOGIN_SEEN: AtomicBool = AtomicBool::new(false);
/// The missing-`sid` warning was given (once per process).
static SIDLESS_WARNED: AtomicBool = AtomicBool::new(false);

pub(super) fn warn_sidless_once() {
    if !SIDLESS_WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "front-channel logout is in use but the OP's ID tokens carry no `sid`: front-channel \
             logouts cannot reach these sessions; only a back-channel logout by `sub`, or the \
             next refresh the OP refuses, ends them"
        );
    }
}

/// issue 17: called once a login has saved its new session. Indexes it for logouts
/// (Redis session mode) and warns once when front-channel logout is in use (the OP's
/// metadata says `frontchannel_logout_supported`, or a front-channel request came) and
/// the ID token carries no `sid`.
pub async fn on_login(state: &AppState, session: &crate::session::Session) {
    if state.config.server_sessions() {
        if let Err(e) = state
            .store
            .index_session(
                &session.id,
                session.sid.as_deref(),
                &session.sub,
                session.expires_at,
            )
            .await
        {
            tracing::warn!(error = %e, "could not index the session for logouts");
        }
    }
    if session.sid.is_none() {
        SIDLESS_LOGIN_SEEN.store(true, Ordering::Relaxed);
        let advertised = state
            .provider
            .metadata()
            .is_ok_and(|m| m.frontchannel_logout_supported);
        if advertised || FRONTCHANNEL_SEEN.load(Ordering::Relaxed) {
            warn_sidless_once();
        }
    }
}
