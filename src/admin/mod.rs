//! The admin listener (`admin_listen`): operator endpoints on an address of their own,
//! never on the browser-facing listener: `/metrics`, and with `admin_token` (issue 13) the
//! admin API under `/admin/` ([`configure`]; `auth.rs` the bearer check, `sessions.rs`
//! ending sessions, `GET /admin/config` the redacted settings). It is a separate actix
//! `App` on its own socket, plain HTTP (bind it to loopback or a private interface),
//! stopped when the main server stops.

pub mod auth;
pub mod sessions;

use std::net::TcpListener;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, Server, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, Error, HttpResponse, HttpServer};

use crate::config::{Config, ConfigError};
use crate::error::BffError;
use crate::state::AppState;

/// The admin routes. `AppState` is available as `web::Data<AppState>`. Without an
/// `admin_token` there is no `/admin/` scope at all (its paths are 404 like any other).
pub fn configure(cfg: &mut web::ServiceConfig, config: &Config) {
    cfg.route("/metrics", web::get().to(crate::metrics::endpoint));
    if config.server.admin_token.is_some() {
        cfg.service(
            web::scope("/admin")
                .wrap(from_fn(require_token))
                .service(
                    crate::bff::at("/sessions/end", "POST").route(web::post().to(sessions::end)),
                )
                .service(crate::bff::at("/config", "GET").route(web::get().to(settings)))
                .default_service(web::to(crate::bff::not_found)),
        );
    }
}

/// issue 13: every `/admin/…` request carries the admin token, checked before anything
/// else (the body is not read); counted by endpoint and outcome.
async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let endpoint = match req.path() {
        "/admin/sessions/end" => "sessions_end",
        "/admin/config" => "config",
        _ => "other",
    };
    let count = |outcome: &str| {
        crate::metrics::get()
            .admin_requests
            .with_label_values(&[endpoint, outcome])
            .inc()
    };
    let allowed = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.config.server.admin_token.as_ref())
        .is_some_and(|t| auth::authorized(t, req.headers()));
    if !allowed {
        count("unauthorized");
        tracing::warn!(path = %req.path(), "admin API: missing or wrong admin token");
        let res = actix_web::ResponseError::error_response(&BffError::AdminUnauthorized);
        return Ok(req.into_response(res).map_into_boxed_body());
    }
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    count(if status.is_success() {
        "ok"
    } else if status.is_client_error() {
        "invalid_request"
    } else {
        "error"
    });
    Ok(res)
}

/// `GET /admin/config`: the settings in force, every secret redacted.
async fn settings(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(crate::config::redacted_view(&state.config))
}

/// Binds `addr` and starts the admin server (its port is returned: `:0` picks one).
/// It ignores signals itself: the main server's shutdown stops it.
pub fn server(
    addr: &str,
    config: &Config,
    state: web::Data<AppState>,
) -> Result<(Server, u16), ConfigError> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| ConfigError::new("admin_listen", format!("cannot bind {addr}: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| ConfigError::new("admin_listen", e.to_string()))?
        .port();
    let routes = config.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add(("Cache-Control", "no-store"))
                    .add(("X-Content-Type-Options", "nosniff")),
            )
            .wrap(actix_web::middleware::from_fn(hold_unread_body))
            .configure(|cfg| configure(cfg, &routes))
            .default_service(web::to(crate::bff::not_found))
    })
    .workers(1)
    .disable_signals()
    .client_request_timeout(config.limits.request_timeout)
    .shutdown_timeout(config.server.shutdown_grace.as_secs())
    .listen(listener)
    .map_err(|e| ConfigError::new("admin_listen", e.to_string()))?
    .run();
    Ok((server, port))
}

/// A request body that its handler left unread (every admin route but
/// `POST /admin/sessions/end` ignores bodies, a refused token or an unknown path answers
/// before any is read) is kept alive until the answer is sent and the
/// connection then closes: actix would otherwise drain a dropped chunked body for as
/// long as the client sends. A handler that reads its body reads it through a stream
/// that may not stall longer than `body_timeout`.
async fn hold_unread_body(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if !crate::middleware::body_deadline::has_body_headers(req.headers()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let within = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.limits.body_timeout)
        .unwrap_or(std::time::Duration::from_secs(10));
    let payload = std::mem::replace(req.parts_mut().1, Payload::None);
    let (payload, watch) = crate::middleware::body_deadline::idle(payload, within);
    req.set_payload(payload);
    let mut res = next.call(req).await?.map_into_boxed_body();
    if watch.finished_at().is_none() {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
        res = res.map_body(|_, b| {
            BoxBody::new(crate::middleware::body_deadline::Holding::new(b, watch))
        });
    }
    Ok(res)
}
