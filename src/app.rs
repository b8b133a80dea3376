//! Wiring: shared state, routes, middleware and the HTTP(S) server, built on any listener
//! so tests bind port 0 and drive the real thing black-box.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
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

pub struct Application {
    server: Server,
    port: u16,
    /// The admin listener (`admin_listen`), stopped when the main server stops.
    admin: Option<(Server, u16)>,
}

/// What start-up builds from a validated `Config` before it binds or calls the network.
/// `--check` runs exactly this (and `Config::load`), so the two cannot drift.
pub struct Preflight {
    pub tls_client: Arc<rustls::ClientConfig>,
    pub tls_server: Option<rustls::ServerConfig>,
    pub store: Arc<dyn SharedState>,
}

/// The start-up validation that needs more than the settings themselves: the CA file
/// and client TLS, the server certificate, the shared-store URL.
pub fn preflight(config: &Config) -> Result<Preflight, ConfigError> {
    let tls_client = http::tls_client_config(config).map_err(|e| ConfigError::new("ca_file", e))?;
    let store: Arc<dyn SharedState> = match &config.shared_store {
        Some(url) => Arc::new(RedisStore::new(url, config.store_timeout).map_err(|e| {
            ConfigError::new(
                if config.redis_sessions {
                    "session_store"
                } else {
                    "shared_store"
                },
                e,
            )
        })?),
        None => Arc::new(MemoryStore::default()),
    };
    let tls_server = if config.https {
        Some(crate::tls::server_config(config.tls.as_ref())?)
    } else {
        None
    };
    Ok(Preflight {
        tls_client,
        tls_server,
        store,
    })
}

/// The SPA's Content-Security-Policy; with silent login the hidden iframe may also be
/// redirected through the OP.
fn csp(config: &Config) -> String {
    let mut csp = String::from("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'");
    if config.silent_login {
        if let Ok(op) = url::Url::parse(&config.issuer) {
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
        if config.registration.is_some() && config.client_id.is_empty() {
            let tls =
                http::tls_client_config(&config).map_err(|e| ConfigError::new("ca_file", e))?;
            let client = http::build_client(tls, config.http_timeout);
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
        } = preflight(&config)?;
        let config = Arc::new(config);
        let provider = Arc::new(Provider::new());
        if config.spa_dir.is_none() {
            tracing::info!(
                "no spa_dir and no ./spa folder: serving no static files (sidecar mode)"
            );
        }
        let sealer = Arc::new(Sealer::new(&config.cookie_keys));
        let cookies = Arc::new(CookieJar::new(&config));
        let state = web::Data::new(AppState {
            sessions: SessionStore::new(
                config.clone(),
                sealer.clone(),
                cookies.clone(),
                store.clone(),
            ),
            sealer,
            cookies,
            provider: provider.clone(),
            config: config.clone(),
            store,
            refresher: Refresher::default(),
        });

        {
            let tls = tls_client.clone();
            let config = config.clone();
            actix_rt::spawn(async move {
                let client = http::build_client(tls, config.http_timeout);
                discovery::discover_until_ready(provider, client, config).await;
            });
        }

        let port = listener
            .local_addr()
            .map_err(|e| ConfigError::new("listen", e.to_string()))?
            .port();
        let app_state = state.clone();
        let factory_config = config.clone();
        let mut server = HttpServer::new(move || {
            let config = factory_config.clone();
            let http = web::Data::new(OpClient(http::build_client(
                tls_client.clone(),
                config.http_timeout,
            )));
            let upstream = web::Data::new(UpstreamClient::new(
                tls_client.clone(),
                config.proxy_connect_timeout,
            ));
            let mut headers = DefaultHeaders::new()
                .add(("Content-Security-Policy", csp(&config)))
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("Referrer-Policy", "no-referrer"))
                .add(("X-Frame-Options", "DENY"));
            if config.https
                && !crate::config::is_loopback_host(config.base_url.host_str().unwrap_or(""))
            {
                headers = headers.add(("Strict-Transport-Security", "max-age=31536000"));
            }
            App::new()
                .app_data(app_state.clone())
                .app_data(http)
                .app_data(upstream)
                .app_data(
                    web::JsonConfig::default()
                        .limit(config.max_bff_body)
                        .error_handler(|e, _| bad_request(e)),
                )
                .app_data(web::PayloadConfig::new(config.max_bff_body))
                .app_data(web::QueryConfig::default().error_handler(|e, _| bad_request(e)))
                .wrap(from_fn(crate::middleware::guard))
                .wrap(headers)
                .configure(bff::configure)
                .route(&config.callback_path, web::get().to(bff::callback::get))
                // A prefix scope, not a `{tail:.*}` pattern: no regex on the hot path.
                .service(web::scope("/api").default_service(web::to(proxy::forward)))
                .route("/healthz", web::get().to(bff::health::ready))
                .route("/healthz/live", web::get().to(bff::health::live))
                .configure(|cfg| {
                    // With an admin listener `/metrics` lives there only.
                    if config.admin_listen.is_some() {
                        cfg.route("/metrics", web::to(bff::not_found));
                    } else {
                        cfg.route("/metrics", web::get().to(crate::metrics::endpoint));
                    }
                    match &config.spa_dir {
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
                })
        });
        server = server
            // Small final segments of streamed answers must not wait for delayed ACKs.
            .tcp_nodelay(true)
            .client_request_timeout(config.request_timeout)
            .shutdown_timeout(config.shutdown_grace.as_secs());
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        let server = match tls_server {
            Some(tls) => server.listen_rustls_0_23(listener, tls),
            None => server.listen(listener),
        }
        .map_err(|e| ConfigError::new("listen", e.to_string()))?
        .run();
        let admin = match &config.admin_listen {
            Some(addr) => Some(crate::admin::server(addr, &config, state.clone())?),
            None => None,
        };
        Ok(Application {
            server,
            port,
            admin,
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
        result
    }
}
