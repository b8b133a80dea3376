//! The browser-facing JSON endpoints under `/bff/` and the OP-facing callback. Handlers
//! stay thin: protocol work lives in `oidc`, cookie work in `session`.

pub mod backchannel;
pub mod callback;
pub mod frontchannel;
pub mod health;
pub mod login;
pub mod logout;
pub mod logout_page;
pub mod session_status;
pub mod tokens;
pub mod user;

use actix_web::{web, HttpResponse};

use crate::error::BffError;

/// Registers `/bff/*` (the callback is registered by the app at `redirect_uri`'s path).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/bff")
            .wrap(actix_web::middleware::DefaultHeaders::new().add(("Cache-Control", "no-store")))
            .route("/login", web::get().to(login::start_get))
            .route("/login", web::post().to(login::start_post))
            .route("/user", web::get().to(user::get))
            .route("/session", web::get().to(session_status::get)) // issue 15
            .route("/silent-login", web::get().to(login::silent))
            .route("/frontchannel-logout", web::get().to(frontchannel::get))
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

/// The request body, which the guard (`middleware::body_deadline::hold`) has already read
/// whole into memory, within `body_timeout` and `max_bff_body`, before any `/bff/` handler
/// runs.
pub async fn read_body(mut payload: web::Payload) -> Result<web::Bytes, BffError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| BffError::Invalid("cannot read the body", e.to_string()))?;
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
