//! Wiring: shared state, routes, middleware and the HTTP(S) server, built on any listener
//! so tests bind port 0 and drive the real thing black-box.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};

use crate::bff;
use crate::config::{Config, ConfigError};
use crate::error::bad_request;
use crate::oidc::{discovery, http, Provider};
use crate::proxy::{self, UpstreamClient};
use crate::session::refresh::Refresher;
use crate::session::{CookieJar, Sealer, SessionStore};
use crate::state::{AppState, OpClient};
use crate::store::{MemoryStore, RedisStore, SharedState};
use crate::telemetry::Telemetry;

pub struct Application {
    server: Server,
    port: u16,
    /// The admin listener (`admin_listen`), stopped when the main server stops.
    admin: Option<(Server, u16)>,
    /// issue 13: the tracer (and exporter), flushed when the server has stopped.
    telemetry: Telemetry,
}

/// What start-up builds from a validated `Config` before it binds or calls the network.
/// `--check` runs exactly this (and `Config::load`), so the two cannot drift.
pub struct Preflight {
    pub tls_client: Arc<rustls::ClientConfig>,
    pub tls_server: Option<rustls::ServerConfig>,
    pub store: Arc<dyn SharedState>,
    /// issue 12: the DPoP keys (`dpop: true`).
    pub dpop: Option<crate::oidc::dpop::Dpop>,
}

/// The start-up validation that needs more than the settings themselves: the CA file
/// and client TLS, the server certificate, the shared-store URL.
pub fn preflight(config: &Config) -> Result<Preflight, ConfigError> {
    let tls_client = http::tls_client_config(config).map_err(|e| ConfigError::new("ca_file", e))?;
    let store: Arc<dyn SharedState> = match &config.store.url {
        Some(url) => Arc::new(RedisStore::new(url.expose(), config.store.timeout).map_err(
            |e| {
                ConfigError::new(
                    if config.session.server_side {
                        "session_store"
                    } else {
                        "shared_store"
                    },
                    e,
                )
            },
        )?),
        None => Arc::new(MemoryStore::default()),
    };
    let tls_server = if config.server.https {
        Some(crate::tls::server_config(config.server.tls.as_ref())?)
    } else {
        None
    };
    let dpop = match &config.sender.dpop {
        None => None,
        Some(keys) => Some(
            crate::oidc::dpop::Dpop::new(keys)
                .map_err(|e| ConfigError::new("dpop_private_jwk", e.to_string()))?,
        ),
    };
    Ok(Preflight {
        tls_client,
        tls_server,
        store,
        dpop,
    })
}

/// The SPA's Content-Security-Policy; with silent login the hidden iframe may also be
/// redirected through the OP.
fn csp(config: &Config) -> String {
    let mut csp = String::from("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'");
    if config.provider.silent_login {
        if let Ok(op) = url::Url::parse(&config.provider.issuer) {
            csp.push_str(&format!(
                "; frame-src 'self' {}",
                op.origin().ascii_serialization()
            ));
        }
    }
    csp
}

impl Application {
    /// Completes the configuration before serving: dynamic client registration when no
    /// `client_id` is configured (reusing the registration file on later starts).
    pub async fn prepare(mut config: Config) -> Result<Config, ConfigError> {
        if config.client.registration.is_some() && config.client.id.is_empty() {
            let tls =
                http::tls_client_config(&config).map_err(|e| ConfigError::new("ca_file", e))?;
            let client = http::build_client(tls, config.provider.http_timeout);
            crate::oidc::registration::ensure_registered(&mut config, &client)
                .await
                .map_err(|e| ConfigError::new("client_registration_file", e))?;
        }
        Ok(config)
    }

    /// Builds the server on `listener`; discovery starts in the background.
    pub fn build(config: Config, listener: TcpListener) -> Result<Application, ConfigError> {
        let Preflight {
            tls_client,
            tls_server,
            store,
            dpop,
        } = preflight(&config)?;
        // issue 11: WebSocket — sessions that end close their open sockets.
        let sockets = Arc::new(proxy::sockets::Sockets::default());
        let store = proxy::sockets::Watched::wrap(store, sockets.clone());
        let sockets = web::Data::from(sockets);
        let config = Arc::new(config);
        if config.server.spa_dir.is_none() {
            tracing::info!(
                "no spa_dir and no ./spa folder: serving no static files (sidecar mode)"
            );
        }
        let state = app_state(&config, store, dpop);
        let telemetry = Telemetry::new(&config.log, &tls_client)
            .map_err(|e| ConfigError::new("otlp_endpoint", e))?;
        spawn_discovery(
            state.provider.clone(),
            tls_client.clone(),
            config.clone(),
            &telemetry,
        );
        let port = listener
            .local_addr()
            .map_err(|e| ConfigError::new("listen", e.to_string()))?
            .port();
        let server = serve(
            &config,
            state.clone(),
            sockets,
            web::Data::new(telemetry.clone()),
            tls_client,
            tls_server,
            listener,
        )?;
        let admin = match &config.server.admin_listen {
            Some(addr) => Some(crate::admin::server(addr, &config, state.clone())?),
            None => None,
        };
        Ok(Application {
            server,
            port,
            admin,
            telemetry,
        })
    }

    /// The admin listener's port, when `admin_listen` is set.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin.as_ref().map(|(_, p)| *p)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the main server stops (SIGTERM/SIGINT or its handle), then stops the
    /// admin listener too.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let admin = self.admin.map(|(server, _)| {
            let handle = server.handle();
            actix_rt::spawn(server);
            handle
        });
        let result = self.server.await;
        if let Some(handle) = admin {
            handle.stop(true).await;
        }
        // issue 13: export the last spans (blocking, so off this thread).
        let telemetry = self.telemetry;
        let _ = actix_web::rt::task::spawn_blocking(move || telemetry.shutdown()).await;
        result
    }
}

/// The state every worker shares.
fn app_state(
    config: &Arc<Config>,
    store: Arc<dyn SharedState>,
    dpop: Option<crate::oidc::dpop::Dpop>,
) -> web::Data<AppState> {
    let sealer = Arc::new(Sealer::new(config.session.cookie_keys.expose()));
    let cookies = Arc::new(CookieJar::new(config));
    web::Data::new(AppState {
        sessions: SessionStore::new(
            config.clone(),
            sealer.clone(),
            cookies.clone(),
            store.clone(),
        ),
        sealer,
        cookies,
        provider: Arc::new(Provider::new(dpop)),
        config: config.clone(),
        store,
        refresher: Refresher::default(),
        // issue 11: route tokens (one cache for every worker).
        route_tokens: Default::default(),
    })
}

/// Discovery (metadata, then JWKS) in the background, retried until the OP answers.
/// Its calls (discovery, the first JWKS fetch) are traces of their own.
fn spawn_discovery(
    provider: Arc<Provider>,
    tls: Arc<rustls::ClientConfig>,
    config: Arc<Config>,
    telemetry: &Telemetry,
) {
    use opentelemetry::context::FutureExt;
    actix_rt::spawn(
        async move {
            let client = http::build_op_client(tls, config.provider.http_timeout, provider.clone());
            discovery::discover_until_ready(provider, client, config).await;
        }
        .with_context(telemetry.root()),
    );
}

/// The main server on `listener`: one [`app`] per worker, with the server's limits
/// (request head timeout, shutdown grace, workers) and TLS.
fn serve(
    config: &Arc<Config>,
    app_state: web::Data<AppState>,
    sockets: web::Data<proxy::sockets::Sockets>,
    telemetry: web::Data<Telemetry>,
    tls_client: Arc<rustls::ClientConfig>,
    tls_server: Option<rustls::ServerConfig>,
    listener: TcpListener,
) -> Result<Server, ConfigError> {
    let factory_config = config.clone();
    let mut server = HttpServer::new(move || {
        app(
            &factory_config,
            app_state.clone(),
            sockets.clone(),
            &tls_client,
        )
        .app_data(telemetry.clone())
    });
    server = server
        // Small final segments of streamed answers must not wait for delayed ACKs.
        .tcp_nodelay(true)
        .client_request_timeout(config.limits.request_timeout)
        .shutdown_timeout(config.server.shutdown_grace.as_secs());
    if config.server.workers > 0 {
        server = server.workers(config.server.workers);
    }
    Ok(match tls_server {
        Some(tls) => server.listen_rustls_0_23(listener, tls),
        None => server.listen(listener),
    }
    .map_err(|e| ConfigError::new("listen", e.to_string()))?
    .run())
}

/// The public App of one worker: its OP and upstream clients, body and query limits, the
/// guard, the security headers, and the routes.
fn app(
    config: &Arc<Config>,
    app_state: web::Data<AppState>,
    sockets: web::Data<proxy::sockets::Sockets>,
    tls_client: &Arc<rustls::ClientConfig>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let http = web::Data::new(OpClient(http::build_op_client(
        tls_client.clone(),
        config.provider.http_timeout,
        app_state.provider.clone(),
    )));
    let upstream = web::Data::new(UpstreamClient::new(
        tls_client.clone(),
        config.proxy.connect_timeout,
    ));
    App::new()
        .app_data(app_state)
        .app_data(sockets)
        .app_data(http)
        .app_data(upstream)
        .app_data(
            web::JsonConfig::default()
                .limit(config.limits.max_bff_body)
                .error_handler(|e, _| bad_request(e)),
        )
        .app_data(web::PayloadConfig::new(config.limits.max_bff_body))
        .app_data(web::QueryConfig::default().error_handler(|e, _| bad_request(e)))
        .wrap(from_fn(crate::middleware::guard))
        .wrap(security_headers(config))
        .configure(bff::configure)
        .route(
            &config.client.callback_path,
            web::get().to(bff::callback::get),
        )
        // A prefix scope, not a `{tail:.*}` pattern: no regex on the hot path.
        .service(web::scope("/api").default_service(web::to(proxy::forward)))
        .route("/healthz", web::get().to(bff::health::ready))
        .route("/healthz/live", web::get().to(bff::health::live))
        .configure(|cfg| metrics_and_files(cfg, config))
}

/// The headers every answer carries (HSTS over HTTPS but for a loopback host).
fn security_headers(config: &Config) -> DefaultHeaders {
    let mut headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", csp(config)))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"));
    if config.server.https
        && !crate::config::is_loopback_host(config.server.base_url.host_str().unwrap_or(""))
    {
        headers = headers.add(("Strict-Transport-Security", "max-age=31536000"));
    }
    headers
}

/// `/metrics` (here unless the admin listener has it) and the SPA's files, or 404s.
fn metrics_and_files(cfg: &mut web::ServiceConfig, config: &Config) {
    // With an admin listener `/metrics` lives there only.
    if config.server.admin_listen.is_some() {
        cfg.route("/metrics", web::to(bff::not_found));
    } else {
        cfg.route("/metrics", web::get().to(crate::metrics::endpoint));
    }
    match &config.server.spa_dir {
        Some(dir) => {
            cfg.service(
                actix_files::Files::new("/", dir)
                    .index_file("index.html")
                    .default_handler(web::to(bff::not_found)),
            );
        }
        None => {
            cfg.default_service(web::to(bff::not_found));
        }
    }
}
