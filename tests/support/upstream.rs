//! A fake upstream API: records what it received, and answers on demand with errors,
//! delays, `invalid_token`, or large streamed bodies.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::web::Bytes;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;
use serde_json::{json, Value};

#[derive(Default)]
pub struct UpState {
    /// Every request: method, path, query, headers (lower-case names).
    pub seen: Vec<Value>,
    /// Access tokens answered with 401 invalid_token.
    pub reject_tokens: HashSet<String>,
    /// issue 12: the next this many requests are answered 401 invalid_token, whatever
    /// their token (a resource server that forces refreshes).
    pub reject_next: usize,
    pub bytes_received: u64,
    /// issue 12: `Authorization: DPoP` requests are checked as a resource server does.
    pub dpop: UpDpop,
    pub base: String,
}

/// issue 12: the upstream as a DPoP resource server (RFC 9449 7): each `DPoP <token>`
/// request needs a proof for its method and URL with the token's `ath`.
#[derive(Default)]
pub struct UpDpop {
    /// Proofs must carry this nonce (401 `use_dpop_nonce` with `DPoP-Nonce` otherwise).
    pub nonce: Option<String>,
    /// Every demand brings a new nonce and none is ever accepted.
    pub nonce_loop: bool,
    /// The scheme as the `use_dpop_nonce` challenge spells it (default `DPoP`; schemes
    /// are case-insensitive, RFC 9110 11.1).
    pub scheme: Option<&'static str>,
    /// The proofs that verified (thumbprint and claims), and the refusals' reasons.
    pub proofs: Vec<super::dpop::Proof>,
    pub refused: Vec<String>,
    pub nonce_demands: usize,
    /// Successful `DPoP` answers carry this `DPoP-Nonce` (RFC 9449 8.2: a server may
    /// give the next nonce on a success).
    pub success_nonce: Option<String>,
}

pub struct Upstream {
    pub base: String,
    pub state: Arc<Mutex<UpState>>,
}

impl Upstream {
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(UpState {
            base: format!("http://127.0.0.1:{port}"),
            ..UpState::default()
        }));
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(usize::MAX))
                .route("/slow", web::to(slow))
                .route("/status/{code}", web::to(status))
                .route("/big/{mb}", web::get().to(big))
                .route("/paced/{n}/{ms}", web::get().to(paced))
                .route("/upload", web::post().to(upload))
                .default_service(web::to(echo))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_rt::spawn(server);
        Upstream {
            base: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    pub fn last(&self) -> Value {
        self.state
            .lock()
            .unwrap()
            .seen
            .last()
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Every value the last request carried under `name` (case-insensitive).
    pub fn last_values(&self, name: &str) -> Vec<String> {
        self.last()["all_headers"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|p| p[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
                    .filter_map(|p| p[1].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.state.lock().unwrap().seen.len()
    }
}

type Shared = web::Data<Arc<Mutex<UpState>>>;

fn record(req: &HttpRequest, state: &Shared) -> Option<HttpResponse> {
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), json!(v.to_str().unwrap_or("?"))))
        .collect();
    // Every copy of every header, in order (the map above keeps one value per name).
    let all: Vec<Value> = req
        .headers()
        .iter()
        .map(|(k, v)| json!([k.as_str(), v.to_str().unwrap_or("?")]))
        .collect();
    let mut s = state.lock().unwrap();
    s.seen.push(json!({"method": req.method().as_str(), "path": req.path(), "query": req.query_string(), "headers": headers, "all_headers": all}));
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(denied) = dpop_check(req, &mut s) {
        return Some(denied);
    }
    let forced = s.reject_next > 0;
    s.reject_next = s.reject_next.saturating_sub(1);
    if forced || token.is_some_and(|t| s.reject_tokens.contains(t)) {
        return Some(
            HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer error=\"invalid_token\""))
                .json(json!({"error": "invalid_token"})),
        );
    }
    None
}

async fn echo(req: HttpRequest, state: Shared, body: Bytes) -> HttpResponse {
    if let Some(res) = record(&req, &state) {
        return res;
    }
    let nonce = match req.headers().get("dpop") {
        Some(_) => state.lock().unwrap().dpop.success_nonce.clone(),
        None => None,
    };
    let mut res = HttpResponse::Ok();
    if let Some(n) = nonce {
        res.insert_header(("DPoP-Nonce", n));
    }
    res.insert_header(("Set-Cookie", "upstream=1; Path=/"))
        .insert_header(("Connection", "close"))
        .json(json!({"ok": true, "path": req.path(), "query": req.query_string(), "body_len": body.len()}))
}

async fn slow(req: HttpRequest, state: Shared) -> HttpResponse {
    record(&req, &state);
    actix_rt::time::sleep(std::time::Duration::from_secs(5)).await;
    HttpResponse::Ok().json(json!({"slow": true}))
}

async fn status(req: HttpRequest, state: Shared, code: web::Path<u16>) -> HttpResponse {
    record(&req, &state);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(*code).unwrap())
        .insert_header(("X-Upstream", "yes"))
        .json(json!({"upstream_status": *code}))
}

async fn big(req: HttpRequest, state: Shared, mb: web::Path<usize>) -> HttpResponse {
    record(&req, &state);
    let chunk = Bytes::from(vec![b'x'; 1 << 20]);
    let stream =
        futures_util::stream::iter((0..*mb).map(move |_| Ok::<_, actix_web::Error>(chunk.clone())));
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .streaming(stream)
}

/// `n` chunks `chunk<i>;`, the first at once, each next one `ms` later.
async fn paced(req: HttpRequest, state: Shared, p: web::Path<(usize, u64)>) -> HttpResponse {
    record(&req, &state);
    let (n, ms) = p.into_inner();
    let stream = futures_util::stream::iter(0..n).then(move |i| async move {
        if i > 0 {
            actix_rt::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        Ok::<_, actix_web::Error>(Bytes::from(format!("chunk{i};")))
    });
    HttpResponse::Ok()
        .content_type("text/plain")
        .streaming(stream)
}

async fn upload(req: HttpRequest, state: Shared, mut body: web::Payload) -> HttpResponse {
    record(&req, &state);
    let mut n = 0u64;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => n += c.len() as u64,
            Err(_) => return HttpResponse::BadRequest().finish(),
        }
    }
    state.lock().unwrap().bytes_received = n;
    HttpResponse::Ok().json(json!({"received": n}))
}

/// issue 12: checks a `DPoP`-scheme request's proof; the refusal to answer, if any.
fn dpop_check(req: &HttpRequest, s: &mut UpState) -> Option<HttpResponse> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("DPoP "))?
        .to_string();
    let refuse = |s: &mut UpState, why: String| {
        s.dpop.refused.push(why);
        Some(
            HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "DPoP error=\"invalid_dpop_proof\""))
                .json(json!({"error": "invalid_dpop_proof"})),
        )
    };
    let Some(proof) = req.headers().get("dpop").and_then(|v| v.to_str().ok()) else {
        return refuse(s, "no proof".into());
    };
    let url = format!("{}{}", s.base, req.uri());
    let nonce = s.dpop.nonce.clone();
    let e = super::dpop::Expect {
        htm: req.method().as_str(),
        htu: &url,
        access_token: Some(&token),
        nonce: nonce.as_deref(),
    };
    match super::dpop::verify(proof, &e) {
        Ok(p) if !s.dpop.nonce_loop => {
            s.dpop.proofs.push(p);
            None
        }
        Err(super::dpop::Refusal::Invalid(why)) => refuse(s, why),
        _ => {
            s.dpop.nonce_demands += 1;
            let fresh = format!("up-{}", s.dpop.nonce_demands);
            s.dpop.nonce = Some(fresh.clone());
            let scheme = s.dpop.scheme.unwrap_or("DPoP");
            Some(
                HttpResponse::Unauthorized()
                    .insert_header((
                        "WWW-Authenticate",
                        format!(
                            "{scheme} error=\"use_dpop_nonce\", error_description=\"nonce needed\""
                        ),
                    ))
                    .insert_header(("DPoP-Nonce", fresh))
                    .json(json!({"error": "use_dpop_nonce"})),
            )
        }
    }
}
