//! The demo API behind oidc-bff: an HTTPS JSON API that knows nothing of cookies and
//! checks each bearer token by RFC 7662 introspection at the demo OP. `/clock` (issue 11)
//! is a WebSocket: it greets the caller by name (from the OP's userinfo for the token),
//! then sends the time every second and echoes what it receives.

use std::sync::Arc;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use oidc_bff::oidc::http;
use serde_json::{json, Value};

mod dpop; // issue 12: DPoP-bound tokens and their proofs
mod mtls; // issue 12: certificate-bound tokens (the client certificate of the connection)
mod resource; // issue 11: /app/status and /orders/list (tokens for the API resource)

struct Api {
    introspection_endpoint: String,
    userinfo_endpoint: Option<String>,
    client_id: String,
    client_secret: String,
    tls: Arc<rustls::ClientConfig>,
    /// issue 12: DPoP proofs' `jti`s seen lately.
    seen: dpop::Seen,
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn invalid_token(description: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((
            "WWW-Authenticate",
            format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
        ))
        .json(json!({"error": "invalid_token", "error_description": description}))
}

/// issue 12: a refused DPoP request (RFC 9449 7.1: a `DPoP` challenge).
fn invalid_dpop(description: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((
            "WWW-Authenticate",
            format!("DPoP error=\"invalid_token\", error_description=\"{description}\", algs=\"ES256 PS256 EdDSA\""),
        ))
        .json(json!({"error": "invalid_token", "error_description": description}))
}

/// Introspects the request's token (`Bearer`, or `DPoP` with its proof checked and the
/// token's `cnf.jkt` matched); `Err` is the 401 to send.
async fn caller(req: &HttpRequest, api: &Api, client: &awc::Client) -> Result<Value, HttpResponse> {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Auth schemes are case-insensitive (RFC 9110 11.1).
    let (scheme, credentials) = auth.split_once(' ').unwrap_or((auth, ""));
    let credentials = credentials.trim_start();
    if credentials.is_empty() {
        return Err(invalid_token("no bearer token"));
    }
    let (token, proof_jkt) = if scheme.eq_ignore_ascii_case("dpop") {
        let token = credentials;
        let proof = req
            .headers()
            .get("dpop")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| invalid_dpop("no DPoP proof"))?;
        // The URL the caller used: https, its `Host` (not X-Forwarded-Host: that is the
        // BFF's own public host), the path (no query).
        let host = req
            .headers()
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        let url = format!("https://{host}{}", req.path());
        let jkt = dpop::verify(proof, req.method().as_str(), &url, token, &api.seen)
            .map_err(invalid_dpop)?;
        (token, Some(jkt))
    } else {
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(invalid_token("no bearer token"));
        }
        (credentials, None)
    };
    let peer = req.conn_data::<mtls::PeerCert>().cloned();
    let req = client.post(&api.introspection_endpoint).insert_header((
        "Authorization",
        oidc_bff::oidc::token::basic_auth_header(&api.client_id, &api.client_secret),
    ));
    let answer: Value = http::send_form(
        req,
        &[("token", token), ("token_type_hint", "access_token")],
    )
    .await
    .map_err(|e| {
        eprintln!("demo-api: introspection failed: {e}");
        HttpResponse::BadGateway().json(json!({"error": "introspection_failed"}))
    })?;
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(invalid_token("token is not active"));
    }
    match (dpop::bound_jkt(&answer), proof_jkt.as_deref()) {
        (None, None) => {}
        (Some(bound), Some(proven)) if bound == proven => {}
        (Some(_), None) => {
            return Err(invalid_dpop(
                "a DPoP-bound token needs the DPoP scheme and a proof",
            ))
        }
        (None, Some(_)) => return Err(invalid_token("the token is not DPoP-bound")),
        (Some(_), Some(_)) => {
            return Err(invalid_dpop("the proof's key is not the token's (cnf.jkt)"))
        }
    }
    // issue 12: a certificate-bound token (RFC 8705 3) only with its certificate.
    if let Some(bound) = answer
        .get("cnf")
        .and_then(|c| c.get("x5t#S256"))
        .and_then(Value::as_str)
    {
        match peer {
            Some(p) if p.0 == bound => {}
            Some(_) => {
                return Err(invalid_token(
                    "the token is bound to another client certificate",
                ))
            }
            None => {
                return Err(invalid_token(
                    "the token is bound to a client certificate this connection did not present",
                ))
            }
        }
    }
    Ok(answer)
}

async fn data(
    req: HttpRequest,
    api: web::Data<Api>,
    client: web::Data<awc::Client>,
) -> HttpResponse {
    match caller(&req, &api, &client).await {
        Ok(info) => {
            let exp = info.get("exp").and_then(Value::as_u64);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            HttpResponse::Ok().json(json!({
                "message": "Hello from the demo API",
                "caller": { "sub": info.get("sub"), "client_id": info.get("client_id") },
                "scopes": info.get("scope").and_then(Value::as_str).map(|s| s.split(' ').collect::<Vec<_>>()),
                "tokenExpiresAt": exp,
                "tokenExpiresIn": exp.map(|e| e.saturating_sub(now)),
                // issue 12: how the token is bound to its holder, if it is.
                "senderConstrained": match info.get("cnf") {
                    Some(c) if c.get("jkt").is_some() => Some("dpop"),
                    Some(c) if c.get("x5t#S256").is_some() => Some("mtls"),
                    _ => None,
                },
                "method": req.method().as_str(),
                "path": req.path(),
                "query": req.query_string(),
            }))
        }
        Err(res) => res,
    }
}

/// issue 11: the caller's name, from the OP's userinfo for the same token.
async fn name_of(req: &HttpRequest, api: &Api, client: &awc::Client, info: &Value) -> String {
    let sub = info
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or("you")
        .to_string();
    let (Some(url), Some(auth)) = (
        api.userinfo_endpoint.as_deref(),
        req.headers().get("authorization").cloned(),
    ) else {
        return sub;
    };
    let answer = client
        .get(url)
        .insert_header(("Authorization", auth))
        .send()
        .await;
    let claims: Option<Value> = match answer {
        Ok(mut res) if res.status().is_success() => res.json().await.ok(),
        _ => None,
    };
    claims
        .as_ref()
        .and_then(|c| c.get("name").or_else(|| c.get("preferred_username")))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or(sub)
}

/// issue 11: `GET /clock` as a WebSocket: a greeting with the caller's name, the time
/// every second, and an echo of each text message.
async fn clock(
    req: HttpRequest,
    body: web::Payload,
    api: web::Data<Api>,
    client: web::Data<awc::Client>,
) -> HttpResponse {
    let info = match caller(&req, &api, &client).await {
        Ok(info) => info,
        Err(res) => return res,
    };
    let name = name_of(&req, &api, &client, &info).await;
    let (res, mut session, mut messages) = match actix_ws::handle(&req, body) {
        Ok(parts) => parts,
        Err(_) => return HttpResponse::BadRequest().json(
            json!({"error": "not_a_websocket", "error_description": "connect with a WebSocket"}),
        ),
    };
    actix_rt::spawn(async move {
        use actix_ws::Message;
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        };
        let hello = json!({"type": "hello", "name": name, "text": format!("Hello, {name}!"), "time": now()});
        if session.text(hello.to_string()).await.is_err() {
            return;
        }
        let mut ticks = actix_rt::time::interval(std::time::Duration::from_secs(1));
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    let tick = json!({"type": "tick", "time": now()});
                    if session.text(tick.to_string()).await.is_err() {
                        return;
                    }
                }
                m = messages.recv() => match m {
                    Some(Ok(Message::Text(t))) => {
                        let echo = json!({"type": "echo", "text": t.to_string()});
                        if session.text(echo.to_string()).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(Message::Ping(p))) => {
                        let _ = session.pong(&p).await;
                    }
                    Some(Ok(Message::Close(reason))) => {
                        let _ = session.close(reason).await;
                        return;
                    }
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => return,
                },
            }
        }
    });
    res
}

/// Always answers 401 `invalid_token`, so the BFF's refresh-and-retry path can be seen.
async fn reject() -> HttpResponse {
    invalid_token("rejected on demand")
}

/// Why the demo API stopped, as one line for the person running the demo.
fn fail(message: String) -> std::process::ExitCode {
    eprintln!("demo-api: {message}");
    std::process::ExitCode::from(2)
}

fn main() -> std::process::ExitCode {
    oidc_bff::install_crypto_provider();
    let issuer = env("DEMO_API_ISSUER", "https://localhost:8443");
    let listen = env("DEMO_API_LISTEN", "127.0.0.1:3000");
    let cert = env("DEMO_API_TLS_CERT", "demo/certs/localhost.pem");
    let key = env("DEMO_API_TLS_KEY", "demo/certs/localhost-key.pem");
    let ca = env("DEMO_API_CA_FILE", "demo/certs/ca.pem");

    // Take the port first: a busy one is reported at once, in one line (exit 3).
    let listener = match std::net::TcpListener::bind(&listen) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            eprintln!("demo-api: cannot listen on {listen}: the address is already in use (is the demo already running?)");
            return std::process::ExitCode::from(3);
        }
        Err(e) => return fail(format!("cannot listen on {listen}: {e}")),
    };

    let settings = json!({
        "issuer": issuer, "client_id": "demo-api", "client_secret": "unused",
        "ca_file": ca, "base_url": "https://localhost:3000",
    });
    let config = match oidc_bff::config::Config::from_value(settings, &Default::default()) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let tls = match http::tls_client_config(&config) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    // issue 12: client certificates asked for (optional), for certificate-bound tokens.
    let server_tls = match oidc_bff::tls::server_config_with(
        Some(&oidc_bff::config::TlsFiles {
            cert: cert.into(),
            key: key.into(),
        }),
        Some(mtls::AnyClientCert::new()),
    ) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };

    let result: Result<(), String> = actix_web::rt::System::new().block_on(async move {
        let client = http::build_client(tls.clone(), std::time::Duration::from_secs(10));
        let meta = loop {
            match oidc_bff::oidc::discovery::discover(&client, &config).await {
                Ok(m) => break m,
                Err(e) => {
                    eprintln!("demo-api: waiting for the OP ({e})");
                    actix_rt::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        };
        let api = web::Data::new(Api {
            userinfo_endpoint: meta.userinfo_endpoint.clone(),
            introspection_endpoint: meta
                .introspection_endpoint
                .ok_or_else(|| "the OP has no introspection endpoint".to_string())?,
            client_id: env("DEMO_API_CLIENT_ID", "demo-api"),
            client_secret: env(
                "DEMO_API_CLIENT_SECRET",
                "demo-api-secret-not-for-production",
            ),
            tls,
            seen: Default::default(),
        });
        let server = HttpServer::new(move || {
            let client = http::build_client(api.tls.clone(), std::time::Duration::from_secs(10));
            App::new()
                .app_data(api.clone())
                .app_data(web::Data::new(client))
                .route("/data", web::to(data))
                .route("/invalid-token", web::to(reject))
                .app_data(web::Data::new(resource::Resource::from_env()))
                .route("/app/status", web::to(resource::app_status))
                .route("/orders/list", web::to(resource::orders_list))
                .route("/clock", web::get().to(clock))
                .default_service(web::to(data))
        })
        .workers(1)
        .on_connect(mtls::on_connect)
        .listen_rustls_0_23(listener, server_tls)
        .map_err(|e| format!("cannot serve on {listen}: {e}"))?
        .run();
        // Listening (the socket is bound and the server built): only now say so.
        println!("demo-api ready on https://{listen}");
        server.await.map_err(|e| format!("stopped: {e}"))
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
