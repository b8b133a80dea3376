//! The browser-facing JSON endpoints under `/bff/` and the OP-facing callback. Handlers
//! stay thin: protocol work lives in `oidc`, cookie work in `session`.

pub mod backchannel;
pub mod callback;
pub mod csrf;
pub mod health;
pub mod login;
pub mod logout;
pub mod tokens;
pub mod user;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::app::AppState;
use crate::error::BffError;
use crate::session::cookies::CookieSet;
use crate::session::{now, Session, SessionError};

/// The awc client of this worker thread.
pub struct Http(pub awc::Client);

/// Registers `/bff/*` (the callback is registered by the app at `redirect_uri`'s path).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/bff")
            .wrap(actix_web::middleware::DefaultHeaders::new().add(("Cache-Control", "no-store")))
            .route("/login", web::get().to(login::start_get))
            .route("/login", web::post().to(login::start_post))
            .route("/user", web::get().to(user::get))
            .route("/silent-login", web::get().to(login::silent))
            .route(
                "/frontchannel-logout",
                web::get().to(backchannel::frontchannel),
            )
            .route("/logout", web::post().to(logout::post))
            .route("/backchannel-logout", web::post().to(backchannel::post))
            .route("/refresh", web::post().to(tokens::refresh))
            .route("/revoke", web::post().to(tokens::revoke))
            .route("/introspect", web::post().to(tokens::introspect))
            .route("/userinfo", web::get().to(tokens::userinfo))
            .default_service(web::to(not_found)),
    );
}

pub async fn not_found() -> Result<HttpResponse, BffError> {
    Err(BffError::NotFound)
}

/// The request's session, or `NotAuthenticated`. Unreadable, expired and ended
/// sessions all count as none (logged at debug, without values).
pub fn current_session(req: &HttpRequest, state: &AppState) -> Result<Session, BffError> {
    let now = now();
    let opened = state
        .cookies
        .open_session::<Session>(req, &state.sealer, now);
    let session = match opened {
        Ok(Some((s, _))) => s,
        Ok(None) => return Err(BffError::NotAuthenticated),
        Err(e) => {
            tracing::debug!(reason = %e, "session cookie rejected");
            return Err(BffError::NotAuthenticated);
        }
    };
    let ended = state.revocations.is_ended(
        &session.id,
        session.sid.as_deref(),
        &session.sub,
        session.created_at,
        now,
    );
    if now >= session.expires_at || ended {
        tracing::debug!(reason = %SessionError::Ended, "session cookie rejected");
        return Err(BffError::NotAuthenticated);
    }
    Ok(session)
}

/// Cookies that re-seal `session` when its idle window is due to slide (at most once a
/// minute, or a tenth of the idle timeout), so active users are not logged out.
pub fn slide(
    req: &HttpRequest,
    state: &AppState,
    session: &mut Session,
) -> Result<Option<CookieSet>, BffError> {
    let now = now();
    let idle = state.config.session_idle_timeout.as_secs();
    let step = (idle / 10).clamp(1, 60);
    if now < session.last_seen + step {
        return Ok(None);
    }
    session.last_seen = now;
    save(req, state, session).map(Some)
}

/// Cookies that store `session`.
pub fn save(req: &HttpRequest, state: &AppState, session: &Session) -> Result<CookieSet, BffError> {
    let idle = state.config.session_idle_timeout.as_secs();
    Ok(state.cookies.write_session(
        req,
        &state.sealer,
        session,
        session.cookie_expiry(idle),
        now(),
    )?)
}

/// Reads a request body of at most `limit` bytes; larger is 413 JSON.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, BffError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| BffError::BadRequest(format!("cannot read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(BffError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
