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
            .service(
                at("/login", "GET, POST")
                    .route(web::get().to(login::start_get))
                    .route(web::post().to(login::start_post)),
            )
            .service(at("/user", "GET").route(web::get().to(user::get)))
            .service(at("/session", "GET").route(web::get().to(session_status::get))) // issue 15
            .service(at("/silent-login", "GET").route(web::get().to(login::silent)))
            .service(at("/frontchannel-logout", "GET").route(web::get().to(frontchannel::get)))
            .service(at("/logout", "POST").route(web::post().to(logout::post)))
            .service(at("/logout/end", "GET").route(web::get().to(logout_page::get)))
            .service(at("/backchannel-logout", "POST").route(web::post().to(backchannel::post)))
            .service(at("/refresh", "POST").route(web::post().to(tokens::refresh)))
            .service(at("/revoke", "POST").route(web::post().to(tokens::revoke)))
            .service(at("/introspect", "POST").route(web::post().to(tokens::introspect)))
            .service(at("/userinfo", "GET").route(web::get().to(tokens::userinfo)))
            .default_service(web::to(not_found)),
    );
}

/// An endpoint answering `allow`'s methods; any other method (HEAD too) is 405 JSON with
/// `Allow`.
pub(crate) fn at(path: &'static str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        let mut res = actix_web::ResponseError::error_response(&BffError::MethodNotAllowed);
        res.headers_mut().insert(
            actix_web::http::header::ALLOW,
            actix_web::http::header::HeaderValue::from_static(allow),
        );
        res
    }))
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
