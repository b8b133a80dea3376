//! The browser-facing JSON endpoints under `/bff/` and the OP-facing callback. Handlers
//! stay thin: protocol work lives in `oidc`, cookie work in `session`.

pub mod backchannel;
pub mod callback;
pub mod csrf;
pub mod health;
pub mod login;
pub mod logout;
pub mod logout_page;
pub mod tokens;
pub mod user;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::BffError;
use crate::session::cookies::CookieSet;
use crate::session::{now, Session, SessionError};
use crate::state::AppState;

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
            .route("/logout/end", web::get().to(logout_page::get))
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

/// What the cookie holds in Redis mode: only the session's id.
#[derive(serde::Serialize, serde::Deserialize)]
struct SessionRef {
    id: String,
}

/// Sealing name of sessions kept server-side.
const SERVER_SESSION: &str = "bff-server-session";

/// The request's session, or `NotAuthenticated`. Unreadable, expired and ended
/// sessions all count as none (logged at debug, without values).
pub async fn current_session(req: &HttpRequest, state: &AppState) -> Result<Session, BffError> {
    let now = now();
    let rejected = |reason: &dyn std::fmt::Display| {
        tracing::debug!(reason = %reason, "session cookie rejected");
        BffError::NotAuthenticated
    };
    let session: Session = if state.config.server_sessions() {
        let r = match state
            .cookies
            .open_session::<SessionRef>(req, &state.sealer, now)
        {
            Ok(Some((r, _))) => r,
            Ok(None) => return Err(BffError::NotAuthenticated),
            Err(e) => return Err(rejected(&e)),
        };
        let Some(bytes) = state.store.load_session(&r.id).await? else {
            return Err(rejected(&"no such server-side session"));
        };
        let text = String::from_utf8(bytes).map_err(|_| rejected(&SessionError::Malformed))?;
        match state.sealer.open::<Session>(SERVER_SESSION, &text, now) {
            Ok((s, _)) if s.id == r.id => s,
            Ok(_) => return Err(rejected(&SessionError::Unauthentic)),
            Err(e) => return Err(rejected(&e)),
        }
    } else {
        match state
            .cookies
            .open_session::<Session>(req, &state.sealer, now)
        {
            Ok(Some((s, _))) => s,
            Ok(None) => return Err(BffError::NotAuthenticated),
            Err(e) => return Err(rejected(&e)),
        }
    };
    if now >= session.expires_at {
        return Err(rejected(&SessionError::Expired));
    }
    let ended = state
        .store
        .is_ended(
            &session.id,
            session.sid.as_deref(),
            &session.sub,
            session.created_at,
        )
        .await?;
    if ended {
        return Err(rejected(&SessionError::Ended));
    }
    Ok(session)
}

/// Cookies that re-seal `session` when its idle window is due to slide (at most once a
/// minute, or a tenth of the idle timeout), so active users are not logged out.
pub async fn slide(
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
    save(req, state, session).await.map(Some)
}

/// Stores `session` (in its cookies, or in the shared store with an id cookie) and
/// returns the cookies to set.
pub async fn save(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
) -> Result<CookieSet, BffError> {
    let idle = state.config.session_idle_timeout.as_secs();
    let expiry = session.cookie_expiry(idle);
    let now = now();
    if state.config.server_sessions() {
        let sealed = state.sealer.seal(SERVER_SESSION, session, expiry);
        state
            .store
            .save_session(&session.id, sealed.into_bytes(), expiry)
            .await?;
        let r = SessionRef {
            id: session.id.clone(),
        };
        return Ok(state
            .cookies
            .write_session(req, &state.sealer, &r, expiry, now)?);
    }
    Ok(state
        .cookies
        .write_session(req, &state.sealer, session, expiry, now)?)
}

/// Ends `session` everywhere: remembered as ended until its cookie would expire, and
/// its server-side copy deleted.
pub async fn end(state: &AppState, session: &Session) -> Result<(), BffError> {
    state
        .store
        .end_session(&session.id, session.expires_at)
        .await?;
    if state.config.server_sessions() {
        state.store.delete_session(&session.id).await?;
    }
    Ok(())
}

/// Reads a request body of at most `limit` bytes; larger is 413 JSON.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, BffError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| BffError::Invalid("cannot read the body", e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(BffError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
