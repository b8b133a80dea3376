//! The admin listener (`admin_listen`): operator endpoints on an address of their own,
//! never on the browser-facing listener. Today `/metrics`; later issues add `/admin/…`
//! routes in [`configure`]. It is a separate actix `App` on its own socket, plain HTTP
//! (bind it to loopback or a private interface), stopped when the main server stops.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::config::{Config, ConfigError};
use crate::state::AppState;

/// The admin routes. `AppState` is available as `web::Data<AppState>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(crate::metrics::endpoint));
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
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add(("Cache-Control", "no-store"))
                    .add(("X-Content-Type-Options", "nosniff")),
            )
            .configure(configure)
            .default_service(web::to(crate::bff::not_found))
    })
    .workers(1)
    .disable_signals()
    .client_request_timeout(config.request_timeout)
    .shutdown_timeout(config.shutdown_grace.as_secs())
    .listen(listener)
    .map_err(|e| ConfigError::new("admin_listen", e.to_string()))?
    .run();
    Ok((server, port))
}
