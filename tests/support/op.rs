//! The in-process fake OpenID Provider, for what no real OP will produce (bad signatures,
//! wrong `iss`, replays), and its modes: `Tweaks` for the next ID tokens, `OpState` for
//! everything else (PAR, rotation, errors, delays, registration), `AudRule` for client
//! assertions.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::tokens::{now, sign_id_token};

pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-secret-value-0123456789";

pub fn key_pem(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/support/keys/{name}.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("test key")
}

#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub enc: EncodingKey,
}

impl SigningKey {
    pub fn rsa(file: &str, kid: &str) -> Self {
        Self {
            kid: kid.into(),
            alg: Algorithm::RS256,
            enc: EncodingKey::from_rsa_pem(&key_pem(file)).expect("rsa key"),
        }
    }
    pub fn ec(file: &str, kid: &str) -> Self {
        Self {
            kid: kid.into(),
            alg: Algorithm::ES256,
            enc: EncodingKey::from_ec_pem(&key_pem(file)).expect("ec key"),
        }
    }
    pub fn jwk(&self) -> Value {
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&self.enc, self.alg).expect("jwk"))
                .unwrap();
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        jwk
    }
}

/// How the next ID tokens deviate from a correct one.
#[derive(Clone, Default)]
pub struct Tweaks {
    pub alg_none: bool,
    pub sign_with: Option<SigningKey>,
    pub hs256_secret: Option<String>,
    pub iss: Option<String>,
    pub aud: Option<Value>,
    pub azp: Option<String>,
    pub exp_offset: Option<i64>,
    pub iat_offset: Option<i64>,
    pub nonce: Option<String>,
    pub omit_sub: bool,
    pub omit_nonce: bool,
    pub no_id_token: bool,
    pub extra_claims: Map<String, Value>,
    /// issue 17: ID tokens without `sid` (OPs that do not do sessions that way).
    pub omit_sid: bool,
    /// issue 12: claims left out of the ID token (e.g. `iss`, `aud`, `exp`).
    pub omit: Vec<&'static str>,
}

#[derive(Clone)]
pub struct AuthRequest {
    pub params: BTreeMap<String, String>,
}

#[derive(Default)]
pub struct Counters {
    pub token: usize,
    pub refresh: usize,
    pub userinfo: usize,
    pub introspect: usize,
    pub jwks: usize,
    pub revoke: usize,
    pub authorize: usize,
    pub par: usize,
}

pub struct OpState {
    /// issue 13: every request's path and its `traceparent` / `tracestate`, in order.
    pub trace_headers: Vec<(String, Option<String>, Option<String>)>,
    pub issuer: String,
    pub signing: SigningKey,
    pub published: Vec<SigningKey>,
    pub tweaks: Tweaks,
    pub discovery_overrides: Map<String, Value>,
    pub send_iss: bool,
    pub iss_override: Option<String>,
    pub codes: HashMap<String, AuthRequest>,
    pub counters: Counters,
    /// "basic" or "post": how the last token request authenticated.
    pub last_client_auth: Option<String>,
    pub revoked: Vec<(String, String)>,
    pub refresh_token_issued: bool,
    pub access_token_ttl: u64,
    /// issue 12: code-exchange and refresh answers without `expires_in`.
    pub omit_expires_in: bool,
    pub issued_tokens: Vec<String>,
    /// Live refresh tokens (spent ones are removed when rotating).
    pub live_refresh_tokens: Vec<String>,
    pub revoked_tokens: Vec<String>,
    pub rotate_refresh_tokens: bool,
    /// Answer refresh grants with this OAuth error.
    pub refresh_error: Option<String>,
    /// Hold each refresh grant this long (to make concurrency visible).
    pub refresh_delay_ms: u64,
    pub userinfo_sub: Option<String>,
    pub id_token_on_refresh: bool,
    /// Codes and PKCE verifiers that passed through (for leak tests).
    pub secrets_seen: Vec<String>,
    pub pushed: HashMap<String, BTreeMap<String, String>>,
    pub require_par: bool,
    /// Extra characters in each access token (large-token tests).
    pub access_token_padding: usize,
    /// Initial access token the registration endpoint demands, if any.
    pub registration_token: Option<String>,
    pub registrations: Vec<Value>,
    /// Whether the user has a session at the OP (for prompt=none).
    pub op_logged_in: bool,
    /// "query", "par" or "request_object:<alg>" for the last /authorize.
    pub last_authorize_via: String,
    pub last_authorize_query: BTreeMap<String, String>,
    /// issue 11: client-credentials and token-exchange modes, and what token requests sent.
    pub grants: Grants,
    /// issue 12: how DPoP proofs are checked and tokens bound.
    pub dpop: DpopOp,
    /// issue 13: the quirky-OP modes of the interop aids.
    pub quirks: Quirks,
}

/// issue 13: OPs that bend the standards, as met by integrators.
#[derive(Default)]
pub struct Quirks {
    /// Refuse `prompt=none` without an `id_token_hint` naming an ID token this OP issued
    /// (`login_required`, with an `error_description`).
    pub prompt_none_needs_hint: bool,
    /// The `id_token_hint` of every authorization request (resolved: query, request
    /// object or PAR), `None` where it had none.
    pub hints: Vec<Option<String>>,
    /// Right after serving the JWKS once, rotate the signing key to this one (the RP
    /// conformance test `oidcc-client-test-signing-key-rotation`).
    pub rotate_after_jwks: Option<SigningKey>,
    /// Answer the authorization request with this `(error, error_description)`.
    pub authorize_error: Option<(String, String)>,
}

/// issue 13: how the OP checks client credentials: the secret it expects, and whether
/// it form-decodes Basic credentials (RFC 6749 2.3.1) or compares them raw.
pub struct ClientRule {
    pub secret: String,
    pub raw_basic: bool,
}

impl Default for ClientRule {
    fn default() -> Self {
        ClientRule {
            secret: CLIENT_SECRET.into(),
            raw_basic: false,
        }
    }
}

/// issue 13: a canned answer for every request to one path (an OP's error pages).
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: String,
    /// Append the request (its `Authorization` header and form body) to the body, as
    /// the debug error pages of some web frameworks do.
    pub echo: bool,
}

impl Canned {
    /// An OAuth error answer with `error_description`.
    pub fn oauth(status: u16, error: &str, description: &str) -> Canned {
        Canned {
            status,
            content_type: Some("application/json"),
            body: json!({"error": error, "error_description": description}).to_string(),
            echo: false,
        }
    }
    /// No body, no content type.
    pub fn empty(status: u16) -> Canned {
        Canned {
            status,
            content_type: None,
            body: String::new(),
            echo: false,
        }
    }
    /// A web server's HTML error page.
    pub fn html(status: u16) -> Canned {
        Canned {
            status,
            content_type: Some("text/html; charset=utf-8"),
            body: format!(
                "<!DOCTYPE html>\n<html><head><title>{status} Internal Server Error</title></head>\n<body>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error.</p>{}\n</body></html>",
                "<!-- padding -->".repeat(200)
            ),
            echo: false,
        }
    }
    /// Plain text.
    pub fn text(status: u16, text: &str) -> Canned {
        Canned {
            status,
            content_type: Some("text/plain"),
            body: text.into(),
            echo: false,
        }
    }
    /// A framework's debug page: the request it failed on, dumped.
    pub fn debug_page(status: u16) -> Canned {
        Canned {
            status,
            content_type: Some("text/html"),
            body: "<h1>Server Error</h1><pre>".into(),
            echo: true,
        }
    }
    async fn response(
        &self,
        req: &HttpRequest,
        mut payload: actix_web::dev::Payload,
    ) -> HttpResponse {
        use futures_util::StreamExt as _;
        let mut body = self.body.clone();
        if self.echo {
            let mut sent = Vec::new();
            while let Some(Ok(chunk)) = payload.next().await {
                sent.extend_from_slice(&chunk);
            }
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            body = format!(
                "{body}Authorization: {auth}\nbody: {}\n</pre>",
                String::from_utf8_lossy(&sent)
            );
        }
        let mut res = HttpResponse::build(
            actix_web::http::StatusCode::from_u16(self.status).expect("status"),
        );
        if let Some(ct) = self.content_type {
            res.insert_header(("Content-Type", ct));
        }
        res.body(body)
    }
}

/// issue 12: the OP's DPoP modes. A token or PAR request with a `DPoP` proof is checked
/// (`support::dpop::verify`); its tokens are bound to the proof's key.
#[derive(Default)]
pub struct DpopOp {
    /// `token_type` of bound tokens (default `DPoP`; e.g. `dpop` for the case test).
    pub token_type: Option<String>,
    /// The OP ignores proofs and issues Bearer tokens (an OP without DPoP).
    pub ignore: bool,
    /// Proofs must carry this nonce (RFC 9449 8); a proof without it gets 400
    /// `use_dpop_nonce` with `DPoP-Nonce`.
    pub nonce: Option<String>,
    /// Every `use_dpop_nonce` answer brings a new nonce, and no nonce is ever accepted.
    pub nonce_loop: bool,
    /// `use_dpop_nonce` answers carry a malformed `DPoP-Nonce` (a space in it).
    pub malformed_nonce: bool,
    /// Every proof is refused with `invalid_dpop_proof`.
    pub reject: bool,
    /// `(path, claims)` of every proof that verified; `(path, reason)` of the others.
    pub proofs: Vec<(String, Value)>,
    pub refused: Vec<(String, String)>,
    /// Access token → the `jkt` it is bound to.
    pub bound: HashMap<String, String>,
    pub nonce_demands: usize,
    /// The thumbprint of the proof of the token request being answered.
    current: Option<String>,
}

/// issue 12: the `DPoP` proof of a request to `path` (POST), checked: `Ok(None)` without
/// one, `Ok(Some(jkt))`, or the answer refusing it.
fn dpop_check(
    s: &mut OpState,
    req: &HttpRequest,
    path: &str,
) -> Result<Option<String>, Box<HttpResponse>> {
    let Some(proof) = req.headers().get("dpop").and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if s.dpop.ignore {
        return Ok(None);
    }
    if s.dpop.reject {
        s.dpop.refused.push((path.into(), "rejected".into()));
        return Err(Box::new(HttpResponse::BadRequest().json(
            json!({"error": "invalid_dpop_proof", "error_description": "proof refused"}),
        )));
    }
    let htu = format!("{}{path}", s.issuer);
    let nonce = s.dpop.nonce.clone();
    let expect = super::dpop::Expect {
        htm: "POST",
        htu: &htu,
        access_token: None,
        nonce: nonce.as_deref(),
    };
    match super::dpop::verify(proof, &expect) {
        Ok(p) if !s.dpop.nonce_loop => {
            s.dpop.proofs.push((path.into(), p.claims));
            Ok(Some(p.jkt))
        }
        Err(super::dpop::Refusal::Invalid(why)) => {
            s.dpop.refused.push((path.into(), why));
            Err(Box::new(
                HttpResponse::BadRequest().json(json!({"error": "invalid_dpop_proof"})),
            ))
        }
        _ => {
            s.dpop.nonce_demands += 1;
            if s.dpop.nonce_loop || s.dpop.nonce.is_none() {
                s.dpop.nonce = Some(format!("n-{}", random(12)));
            }
            let header = if s.dpop.malformed_nonce {
                "has a space".to_string()
            } else {
                s.dpop.nonce.clone().unwrap_or_default()
            };
            Err(Box::new(
                HttpResponse::BadRequest()
                    .insert_header(("DPoP-Nonce", header))
                    .json(json!({"error": "use_dpop_nonce", "error_description": "a nonce is needed"})),
            ))
        }
    }
}

/// issue 12: the `token_type` of `access` just issued: bound to the current proof's key
/// (recorded), else Bearer.
fn issue_type(s: &mut OpState, access: &str) -> String {
    match s.dpop.current.clone() {
        Some(jkt) => {
            s.dpop.bound.insert(access.to_string(), jkt);
            s.dpop.token_type.clone().unwrap_or_else(|| "DPoP".into())
        }
        None => "Bearer".into(),
    }
}

/// issue 11: route tokens. How the token endpoint answers client-credentials grants and
/// token exchanges, and what every token request sent.
#[derive(Default)]
pub struct Grants {
    /// Refuse client-credentials grants with this `(error, error_description)`.
    pub cc_error: Option<(String, Option<String>)>,
    /// Refuse token exchanges with this `(error, error_description)`.
    pub exchange_error: Option<(String, Option<String>)>,
    /// Hold each client-credentials grant and exchange this long.
    pub delay_ms: u64,
    /// Answer both without `expires_in`.
    pub omit_expires_in: bool,
    /// `expires_in` of client tokens (default 300) and exchanged tokens (default 300).
    pub cc_ttl: Option<u64>,
    pub exchange_ttl: Option<u64>,
    /// Exchange answers: this `token_type` (default Bearer), this `issued_token_type`
    /// (`Some(None)`: omitted), no `access_token` at all.
    pub exchange_token_type: Option<String>,
    pub issued_token_type: Option<Option<String>>,
    pub exchange_omit_access_token: bool,
    /// `(grant_type, every form pair in order)` of every token request.
    pub forms: Vec<(String, Vec<(String, String)>)>,
    pub client_credentials: usize,
    pub exchange: usize,
    /// `(subject_token, issued token)` of every exchange.
    pub exchanged: Vec<(String, String)>,
    /// Client tokens issued, in order.
    pub cc_tokens: Vec<String>,
}

impl Grants {
    /// The form pairs of the last token request of `grant_type`.
    pub fn last_form(&self, grant_type: &str) -> Option<Vec<(String, String)>> {
        self.forms
            .iter()
            .rev()
            .find(|(g, _)| g == grant_type)
            .map(|(_, f)| f.clone())
    }
}

/// Every value of `name` in `pairs`.
pub fn values(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

pub struct FakeOp {
    pub issuer: String,
    pub port: u16,
    pub state: Arc<Mutex<OpState>>,
    /// issue 17: which client-assertion `aud` this OP accepts, and what it was sent.
    pub assertions: Arc<Mutex<AssertionCheck>>,
    /// issue 13: the client secret and how Basic credentials are decoded.
    pub client_rule: Arc<Mutex<ClientRule>>,
    /// issue 13: canned answers by path.
    canned: Arc<Mutex<HashMap<String, Canned>>>,
    handle: actix_web::dev::ServerHandle,
}

fn random(n: usize) -> String {
    let mut v = vec![0u8; n];
    for b in v.iter_mut() {
        *b = rand::random();
    }
    URL_SAFE_NO_PAD.encode(v)
}

impl FakeOp {
    pub async fn start() -> FakeOp {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    pub fn start_on(listener: TcpListener) -> FakeOp {
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("http://127.0.0.1:{port}");
        let key = SigningKey::rsa("rsa1", "key-1");
        let state = Arc::new(Mutex::new(OpState {
            trace_headers: Vec::new(),
            issuer: issuer.clone(),
            signing: key.clone(),
            published: vec![key],
            tweaks: Tweaks::default(),
            discovery_overrides: Map::new(),
            send_iss: true,
            iss_override: None,
            codes: HashMap::new(),
            counters: Counters::default(),
            last_client_auth: None,
            revoked: Vec::new(),
            refresh_token_issued: true,
            access_token_ttl: 300,
            omit_expires_in: false,
            issued_tokens: Vec::new(),
            live_refresh_tokens: Vec::new(),
            revoked_tokens: Vec::new(),
            rotate_refresh_tokens: true,
            refresh_error: None,
            refresh_delay_ms: 0,
            userinfo_sub: None,
            id_token_on_refresh: false,
            secrets_seen: Vec::new(),
            pushed: HashMap::new(),
            require_par: false,
            access_token_padding: 0,
            registration_token: None,
            registrations: Vec::new(),
            op_logged_in: true,
            last_authorize_via: String::new(),
            last_authorize_query: BTreeMap::new(),
            grants: Grants::default(),
            dpop: DpopOp::default(),
            quirks: Quirks::default(),
        }));
        let data = web::Data::new(state.clone());
        let assertions = Arc::new(Mutex::new(AssertionCheck::default()));
        let assertion_data = web::Data::new(assertions.clone());
        let client_rule = Arc::new(Mutex::new(ClientRule::default()));
        let client_rule_data = web::Data::new(client_rule.clone());
        let canned: Arc<Mutex<HashMap<String, Canned>>> = Arc::default();
        let canned_paths = canned.clone();
        let traced = state.clone();
        let server = HttpServer::new(move || {
            let canned_paths = canned_paths.clone();
            let traced = traced.clone();
            App::new()
                .app_data(data.clone())
                .app_data(assertion_data.clone())
                .app_data(client_rule_data.clone())
                .wrap_fn(move |req, srv| {
                    use actix_web::dev::Service as _;
                    use futures_util::future::{Either, FutureExt as _};
                    let header = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    let seen = (
                        req.path().to_string(),
                        header("traceparent"),
                        header("tracestate"),
                    );
                    traced.lock().unwrap().trace_headers.push(seen);
                    let answer = canned_paths.lock().unwrap().get(req.path()).cloned();
                    match answer {
                        Some(c) => Either::Left(
                            async move {
                                let (req, payload) = req.into_parts();
                                let res = c.response(&req, payload).await;
                                Ok(actix_web::dev::ServiceResponse::new(req, res)
                                    .map_into_right_body())
                            }
                            .boxed_local(),
                        ),
                        None => {
                            Either::Right(srv.call(req).map(|r| r.map(|r| r.map_into_left_body())))
                        }
                    }
                })
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/jwks", web::get().to(jwks))
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
                .route("/revoke", web::post().to(revoke))
                .route("/par", web::post().to(par))
                .route("/register", web::post().to(register))
                .route("/userinfo", web::get().to(userinfo))
                .route("/introspect", web::post().to(introspect))
                // issue 12: where `mtls_endpoint_aliases` (RFC 8705 5) may point.
                .route("/mtls/token", web::post().to(token))
                .route("/mtls/revoke", web::post().to(revoke))
                .route("/mtls/par", web::post().to(par))
                .route("/mtls/userinfo", web::get().to(userinfo))
                .route("/mtls/introspect", web::post().to(introspect))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_rt::spawn(server);
        FakeOp {
            issuer,
            port,
            state,
            assertions,
            client_rule,
            canned,
            handle,
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut OpState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// issue 13: the `traceparent` of the last request to `path`.
    pub fn traceparent_at(&self, path: &str) -> Option<String> {
        self.with(|s| {
            s.trace_headers
                .iter()
                .rev()
                .find(|(p, _, _)| p == path)
                .and_then(|(_, t, _)| t.clone())
        })
    }

    pub fn tweak(&self, t: Tweaks) {
        self.with(|s| s.tweaks = t);
    }

    /// The first token issued so far that starts with `prefix` (`at-` access, `rt-`
    /// refresh, `ey` ID tokens).
    pub fn first_issued(&self, prefix: &str) -> Option<String> {
        self.with(|s| {
            s.issued_tokens
                .iter()
                .find(|t| t.starts_with(prefix))
                .cloned()
        })
    }

    /// The last token issued so far that starts with `prefix`.
    pub fn last_issued(&self, prefix: &str) -> Option<String> {
        self.with(|s| {
            s.issued_tokens
                .iter()
                .rev()
                .find(|t| t.starts_with(prefix))
                .cloned()
        })
    }

    /// issue 13: every request to `path` gets `answer` (until [`FakeOp::heal`]).
    pub fn fail(&self, path: &str, answer: Canned) {
        self.canned.lock().unwrap().insert(path.into(), answer);
    }

    /// issue 13: `path` answers normally again.
    pub fn heal(&self, path: &str) {
        self.canned.lock().unwrap().remove(path);
    }

    /// issue 13: this client secret; `raw`: Basic credentials compared without
    /// form-decoding (an OP that ignores RFC 6749 2.3.1).
    pub fn expect_secret(&self, secret: &str, raw: bool) {
        *self.client_rule.lock().unwrap() = ClientRule {
            secret: secret.into(),
            raw_basic: raw,
        };
    }

    pub fn token_calls(&self) -> usize {
        self.with(|s| s.counters.token)
    }

    pub fn jwks_calls(&self) -> usize {
        self.with(|s| s.counters.jwks)
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

type Shared = web::Data<Arc<Mutex<OpState>>>;

async fn discovery(state: Shared) -> HttpResponse {
    let s = state.lock().unwrap();
    let i = &s.issuer;
    let mut doc = json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "end_session_endpoint": format!("{i}/session/end"),
        "revocation_endpoint": format!("{i}/revoke"),
        "introspection_endpoint": format!("{i}/introspect"),
        "pushed_authorization_request_endpoint": format!("{i}/par"),
        "registration_endpoint": format!("{i}/register"),
        "require_pushed_authorization_requests": s.require_par,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
    });
    for (k, v) in &s.discovery_overrides {
        if v.is_null() {
            doc.as_object_mut().unwrap().remove(k);
        } else {
            doc[k] = v.clone();
        }
    }
    HttpResponse::Ok().json(doc)
}

async fn jwks(state: Shared) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.counters.jwks += 1;
    let keys: Vec<Value> = s.published.iter().map(SigningKey::jwk).collect();
    if let Some(next) = s.quirks.rotate_after_jwks.take() {
        s.signing = next.clone();
        s.published = vec![next];
    }
    HttpResponse::Ok().json(json!({ "keys": keys }))
}

async fn authorize(state: Shared, q: web::Query<BTreeMap<String, String>>) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.counters.authorize += 1;
    s.last_authorize_query = q.0.clone();
    let params = match resolve_request(&mut s, q.into_inner()) {
        Ok(p) => p,
        Err(e) => return HttpResponse::BadRequest().json(json!({"error": e})),
    };
    let code = random(24);
    let redirect = params.get("redirect_uri").cloned().unwrap_or_default();
    let st = params.get("state").cloned().unwrap_or_default();
    // issue 13: the hint, and the quirks that refuse the login.
    let hint = params.get("id_token_hint").cloned();
    s.quirks.hints.push(hint.clone());
    let silent = params
        .get("prompt")
        .is_some_and(|p| p.split(' ').any(|v| v == "none"));
    let hinted = hint.is_some_and(|h| s.issued_tokens.contains(&h));
    let refusal = match &s.quirks.authorize_error {
        Some(e) => Some(e.clone()),
        None if silent && s.quirks.prompt_none_needs_hint && !hinted => Some((
            "login_required".to_string(),
            "prompt=none needs an id_token_hint here".to_string(),
        )),
        None => None,
    };
    if let Some((error, description)) = refusal {
        let mut url = url::Url::parse(&redirect).unwrap();
        url.query_pairs_mut()
            .append_pair("error", &error)
            .append_pair("error_description", &description)
            .append_pair("state", &st)
            .append_pair("iss", &s.issuer);
        return HttpResponse::Found()
            .insert_header(("Location", url.to_string()))
            .finish();
    }
    if params.get("prompt").map(String::as_str) == Some("none") && !s.op_logged_in {
        let mut url = url::Url::parse(&redirect).unwrap();
        url.query_pairs_mut()
            .append_pair("error", "login_required")
            .append_pair("state", &st)
            .append_pair("iss", &s.issuer);
        return HttpResponse::Found()
            .insert_header(("Location", url.to_string()))
            .finish();
    }
    s.secrets_seen.push(code.clone());
    s.codes.insert(code.clone(), AuthRequest { params });
    let mut url = url::Url::parse(&redirect).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &code).append_pair("state", &st);
        if s.send_iss {
            let iss = s.iss_override.clone().unwrap_or_else(|| s.issuer.clone());
            q.append_pair("iss", &iss);
        }
    }
    HttpResponse::Found()
        .insert_header(("Location", url.to_string()))
        .finish()
}

fn oauth_error(code: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": code }))
}

fn invalid_client() -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}))
}

/// The form, if the client authenticated itself.
/// The common start of the revocation and introspection endpoints: the client
/// authenticates (else `None`, answered with `invalid_client` and not counted), then
/// `counter` counts the call. Gives the locked state, the form's `token` and the form.
fn token_request<'a>(
    req: &HttpRequest,
    state: &'a Shared,
    form: web::Form<HashMap<String, String>>,
    counter: fn(&mut Counters) -> &mut usize,
) -> Option<(MutexGuard<'a, OpState>, String, HashMap<String, String>)> {
    let form = form.into_inner();
    client_auth(req, &form)?;
    let mut s = state.lock().unwrap();
    *counter(&mut s.counters) += 1;
    let token = form.get("token").cloned().unwrap_or_default();
    Some((s, token, form))
}

/// Checks client_secret_basic or client_secret_post; returns which was used.
fn client_auth(req: &HttpRequest, form: &HashMap<String, String>) -> Option<String> {
    if let Some(h) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        let b64 = h.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(b64).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let (expected, raw) = client_rule(req);
        if raw {
            // issue 13: an OP that compares the decoded `id:secret` as it is.
            return (id == CLIENT_ID && secret == expected).then(|| "basic".into());
        }
        // `x=` so that `parse` decodes the value (`+` as a space, `%XX`), as RFC 6749
        // 2.3.1 says. `&` cannot appear in a form-encoded value.
        let dec = |s: &str| {
            (!s.contains('&'))
                .then(|| {
                    url::form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.to_string())
                })
                .flatten()
        };
        return (dec(id)? == CLIENT_ID && dec(secret)? == expected).then(|| "basic".into());
    }
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return None;
        }
        let header = jsonwebtoken::decode_header(assertion).ok()?;
        let (key, name) = match header.alg {
            Algorithm::HS256 => (
                jsonwebtoken::DecodingKey::from_secret(CLIENT_SECRET.as_bytes()),
                "client_secret_jwt",
            ),
            // issue 12: PS256 is what FAPI 2.0 allows for RSA.
            Algorithm::RS256 | Algorithm::PS256 => (client_public_key(), "private_key_jwt"),
            _ => return None,
        };
        let expected = expected_assertion_aud(req, assertion);
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.set_audience(std::slice::from_ref(&expected));
        v.set_issuer(&[CLIENT_ID]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Value>(assertion, &key, &v).ok()?;
        if data.claims["aud"].as_str() != Some(expected.as_str())
            || data.claims["sub"] != CLIENT_ID
            || data.claims["jti"].as_str().is_none_or(str::is_empty)
        {
            return None;
        }
        return Some(name.into());
    }
    let (expected, _) = client_rule(req);
    (form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret") == Some(&expected))
    .then(|| "post".into())
}

/// issue 13: the secret this OP expects and whether it compares Basic credentials raw.
fn client_rule(req: &HttpRequest) -> (String, bool) {
    match req.app_data::<web::Data<Arc<Mutex<ClientRule>>>>() {
        Some(rule) => {
            let rule = rule.lock().unwrap();
            (rule.secret.clone(), rule.raw_basic)
        }
        None => (CLIENT_SECRET.into(), false),
    }
}

// ---------------------------------------------------------------------------
// issue 17: an OP that accepts a client assertion only with one `aud` value.

/// The one `aud` a client assertion must carry (a single string, nothing else).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AudRule {
    /// `{issuer}/token` at every endpoint (what this fake OP always did).
    #[default]
    TokenEndpoint,
    /// The issuer identifier.
    Issuer,
    /// The URL being called.
    Endpoint,
}

#[derive(Default)]
pub struct AssertionCheck {
    pub rule: AudRule,
    /// `(path called, aud sent)` of every client assertion received.
    pub seen: Vec<(String, Value)>,
}

impl FakeOp {
    /// Accept client assertions only with this `aud`.
    pub fn accept_assertion_aud(&self, rule: AudRule) {
        self.assertions.lock().unwrap().rule = rule;
    }
    /// The `aud` of the client assertions sent to `path` so far.
    pub fn assertion_auds(&self, path: &str) -> Vec<Value> {
        let a = self.assertions.lock().unwrap();
        a.seen
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, aud)| aud.clone())
            .collect()
    }
    /// An OP that never rotates refresh tokens: a refresh answer has no `refresh_token`
    /// and the one refresh token stays valid.
    pub fn without_refresh_token_rotation(&self) {
        self.with(|s| s.rotate_refresh_tokens = false);
    }
}

/// Records the assertion's `aud` and returns the one this OP accepts for this request.
fn expected_assertion_aud(req: &HttpRequest, assertion: &str) -> String {
    let issuer = issuer_of(req);
    let aud = assertion
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .map(|c| c["aud"].clone())
        .unwrap_or(Value::Null);
    let Some(check) = req.app_data::<web::Data<Arc<Mutex<AssertionCheck>>>>() else {
        return format!("{issuer}/token");
    };
    let mut check = check.lock().unwrap();
    check.seen.push((req.path().to_string(), aud));
    match check.rule {
        AudRule::TokenEndpoint => format!("{issuer}/token"),
        AudRule::Issuer => issuer,
        AudRule::Endpoint => format!("{issuer}{}", req.path()),
    }
}

fn issuer_of(req: &HttpRequest) -> String {
    format!("http://{}", req.connection_info().host())
}

/// The test client's own key pair (private_key_jwt, signed request objects).
pub const CLIENT_KEY_FILE: &str = "rsa2";

pub fn client_public_key() -> jsonwebtoken::DecodingKey {
    let enc = EncodingKey::from_rsa_pem(&key_pem(CLIENT_KEY_FILE)).unwrap();
    let jwk = Jwk::from_encoding_key(&enc, Algorithm::RS256).unwrap();
    jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap()
}

/// Resolves `request` (RFC 9101) or `request_uri` (RFC 9126) into plain parameters.
fn resolve_request(
    s: &mut OpState,
    mut params: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, &'static str> {
    if let Some(uri) = params.get("request_uri").cloned() {
        let pushed = s.pushed.remove(&uri).ok_or("invalid_request_uri")?;
        if params.get("client_id") != pushed.get("client_id") {
            return Err("invalid_request");
        }
        s.last_authorize_via = "par".into();
        return Ok(pushed);
    }
    if s.require_par {
        return Err("invalid_request");
    }
    if let Some(object) = params.remove("request") {
        let header = jsonwebtoken::decode_header(&object).map_err(|_| "invalid_request_object")?;
        let key = match header.alg {
            Algorithm::HS256 => jsonwebtoken::DecodingKey::from_secret(CLIENT_SECRET.as_bytes()),
            Algorithm::RS256 => client_public_key(),
            _ => return Err("invalid_request_object"),
        };
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.set_audience(std::slice::from_ref(&s.issuer));
        v.set_issuer(&[CLIENT_ID]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(&object, &key, &v)
            .map_err(|_| "invalid_request_object")?;
        if data
            .claims
            .get("jti")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err("invalid_request_object");
        }
        for (k, val) in ["client_id", "response_type", "scope"].map(|k| (k, params.get(k).cloned()))
        {
            if val.as_deref() != data.claims.get(k).and_then(Value::as_str) {
                return Err("invalid_request_object");
            }
        }
        let mut out = BTreeMap::new();
        for (k, val) in data.claims {
            if ["iss", "aud", "exp", "iat", "nbf", "jti"].contains(&k.as_str()) {
                continue;
            }
            out.insert(
                k,
                match val {
                    Value::String(t) => t,
                    other => other.to_string(),
                },
            );
        }
        s.last_authorize_via = format!("request_object:{:?}", header.alg);
        return Ok(out);
    }
    s.last_authorize_via = "query".into();
    Ok(params)
}

async fn par(req: HttpRequest, state: Shared, body: web::Bytes) -> HttpResponse {
    // issue 11: the raw pairs are recorded (a map keeps one `resource`).
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut s = state.lock().unwrap();
    s.grants.forms.push(("par".into(), pairs.clone()));
    s.counters.par += 1;
    let jkt = match dpop_check(&mut s, &req, "/par") {
        Ok(j) => j,
        Err(answer) => return *answer,
    };
    let form: BTreeMap<String, String> = pairs.into_iter().collect();
    let hm: HashMap<String, String> = form.clone().into_iter().collect();
    let Some(method) = client_auth(&req, &hm) else {
        return invalid_client();
    };
    s.last_client_auth = Some(method);
    let mut params = form;
    for k in ["client_secret", "client_assertion", "client_assertion_type"] {
        params.remove(k);
    }
    if !params.contains_key("client_id") {
        params.insert("client_id".into(), CLIENT_ID.into());
    }
    // RFC 9449 10.1: a PAR proof binds the code like `dpop_jkt` (they must agree); an OP
    // without DPoP ignores both.
    if s.dpop.ignore {
        params.remove("dpop_jkt");
    }
    if let Some(jkt) = jkt {
        if params.get("dpop_jkt").is_some_and(|j| j != &jkt) {
            return oauth_error("invalid_request");
        }
        params.insert("dpop_jkt".into(), jkt);
    }
    let uri = format!("urn:ietf:params:oauth:request_uri:{}", random(16));
    s.pushed.insert(uri.clone(), params);
    HttpResponse::Created().json(json!({"request_uri": uri, "expires_in": 60}))
}

async fn token(req: HttpRequest, state: Shared, body: web::Bytes) -> HttpResponse {
    // issue 11: the raw pairs (a map keeps one `resource`), recorded per grant.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let form: HashMap<String, String> = pairs.iter().cloned().collect();
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    {
        let mut s = state.lock().unwrap();
        s.grants.forms.push((grant_type.clone(), pairs));
        // issue 12: every grant's proof is checked first; its key binds the tokens.
        match dpop_check(&mut s, &req, "/token") {
            Ok(jkt) => s.dpop.current = jkt,
            Err(answer) => return *answer,
        }
    }
    match grant_type.as_str() {
        "refresh_token" => return refresh_grant(req, state, form).await,
        "client_credentials" => return client_credentials_grant(req, state, form).await,
        "urn:ietf:params:oauth:grant-type:token-exchange" => {
            return exchange_grant(req, state, form).await
        }
        _ => {}
    }
    let mut s = state.lock().unwrap();
    s.counters.token += 1;
    let Some(method) = client_auth(&req, &form) else {
        return invalid_client();
    };
    s.last_client_auth = Some(method);
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {}
        _ => return oauth_error("unsupported_grant_type"),
    }
    let Some(code) = form.get("code") else {
        return oauth_error("invalid_request");
    };
    let Some(auth) = s.codes.remove(code) else {
        return oauth_error("invalid_grant");
    };
    if form.get("redirect_uri") != auth.params.get("redirect_uri") {
        return oauth_error("invalid_grant");
    }
    // issue 12: a code bound with `dpop_jkt` needs a proof by that key (RFC 9449 10).
    if let Some(jkt) = auth.params.get("dpop_jkt") {
        if s.dpop.current.as_ref() != Some(jkt) {
            return oauth_error("invalid_grant");
        }
    }
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    s.secrets_seen.push(verifier.clone());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if Some(&challenge) != auth.params.get("code_challenge")
        || auth.params.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return oauth_error("invalid_grant");
    }
    let nonce = auth.params.get("nonce").cloned().unwrap_or_default();
    let access = format!("at-{}{}", random(24), "p".repeat(s.access_token_padding));
    let refresh = format!("rt-{}", random(24));
    let token_type = issue_type(&mut s, &access);
    let mut body = json!({
        "access_token": access,
        "token_type": token_type,
        "expires_in": s.access_token_ttl,
        "scope": auth.params.get("scope"),
    });
    if s.omit_expires_in {
        body.as_object_mut().unwrap().remove("expires_in");
    }
    s.issued_tokens.push(access);
    if s.refresh_token_issued {
        body["refresh_token"] = json!(refresh);
        s.live_refresh_tokens.push(refresh.clone());
        s.issued_tokens.push(refresh);
    }
    if !s.tweaks.no_id_token {
        let id = sign_id_token(&s, &nonce);
        s.issued_tokens.push(id.clone());
        body["id_token"] = json!(id);
    }
    HttpResponse::Ok().json(body)
}

/// issue 11: the client-credentials grant.
async fn client_credentials_grant(
    req: HttpRequest,
    state: Shared,
    form: HashMap<String, String>,
) -> HttpResponse {
    let delay = {
        let mut s = state.lock().unwrap();
        s.grants.client_credentials += 1;
        s.grants.delay_ms
    };
    if delay > 0 {
        actix_rt::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let Some(method) = client_auth(&req, &form) else {
        return invalid_client();
    };
    let mut s = state.lock().unwrap();
    s.last_client_auth = Some(method);
    if let Some((error, description)) = s.grants.cc_error.clone() {
        return HttpResponse::BadRequest()
            .json(json!({"error": error, "error_description": description}));
    }
    let token = format!("cc-{}", random(24));
    s.issued_tokens.push(token.clone());
    s.grants.cc_tokens.push(token.clone());
    let token_type = issue_type(&mut s, &token);
    let mut body = json!({"access_token": token, "token_type": token_type});
    if !s.grants.omit_expires_in {
        body["expires_in"] = json!(s.grants.cc_ttl.unwrap_or(300));
    }
    if let Some(scope) = form.get("scope") {
        body["scope"] = json!(scope);
    }
    HttpResponse::Ok().json(body)
}

/// issue 11: token exchange (RFC 8693); the subject must be a live access token.
async fn exchange_grant(
    req: HttpRequest,
    state: Shared,
    form: HashMap<String, String>,
) -> HttpResponse {
    let delay = {
        let mut s = state.lock().unwrap();
        s.grants.exchange += 1;
        s.grants.delay_ms
    };
    if delay > 0 {
        actix_rt::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    if client_auth(&req, &form).is_none() {
        return invalid_client();
    }
    let mut s = state.lock().unwrap();
    if let Some((error, description)) = s.grants.exchange_error.clone() {
        return HttpResponse::BadRequest()
            .json(json!({"error": error, "error_description": description}));
    }
    let subject = form.get("subject_token").cloned().unwrap_or_default();
    if form.get("subject_token_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:token-type:access_token")
    {
        return oauth_error("invalid_request");
    }
    if !subject.starts_with("at-")
        || !s.issued_tokens.contains(&subject)
        || s.revoked_tokens.contains(&subject)
    {
        return oauth_error("invalid_grant");
    }
    let token = format!("tx-{}", random(24));
    s.issued_tokens.push(token.clone());
    s.grants.exchanged.push((subject, token.clone()));
    let bound = issue_type(&mut s, &token);
    let mut body = json!({
        "token_type": s.grants.exchange_token_type.clone().unwrap_or(bound),
    });
    if !s.grants.exchange_omit_access_token {
        body["access_token"] = json!(token);
    }
    match s.grants.issued_token_type.clone() {
        Some(None) => {}
        Some(Some(t)) => body["issued_token_type"] = json!(t),
        None => body["issued_token_type"] = json!("urn:ietf:params:oauth:token-type:access_token"),
    }
    if !s.grants.omit_expires_in {
        body["expires_in"] = json!(s.grants.exchange_ttl.unwrap_or(300));
    }
    HttpResponse::Ok().json(body)
}

async fn revoke(
    req: HttpRequest,
    state: Shared,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let Some((mut s, token, form)) = token_request(&req, &state, form, |c| &mut c.revoke) else {
        return invalid_client();
    };
    s.live_refresh_tokens.retain(|t| t != &token);
    s.revoked_tokens.push(token.clone());
    let hint = form.get("token_type_hint").cloned().unwrap_or_default();
    s.revoked.push((token, hint));
    HttpResponse::Ok().finish()
}

async fn refresh_grant(
    req: HttpRequest,
    state: Shared,
    form: HashMap<String, String>,
) -> HttpResponse {
    let delay = {
        let mut s = state.lock().unwrap();
        s.counters.refresh += 1;
        s.refresh_delay_ms
    };
    if delay > 0 {
        actix_rt::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let mut s = state.lock().unwrap();
    if client_auth(&req, &form).is_none() {
        return invalid_client();
    }
    if let Some(e) = s.refresh_error.clone() {
        return oauth_error(&e);
    }
    let rt = form.get("refresh_token").cloned().unwrap_or_default();
    if !s.live_refresh_tokens.contains(&rt) {
        return oauth_error("invalid_grant");
    }
    let access = format!("at-{}{}", random(24), "p".repeat(s.access_token_padding));
    s.issued_tokens.push(access.clone());
    let token_type = issue_type(&mut s, &access);
    let mut body =
        json!({"access_token": access, "token_type": token_type, "expires_in": s.access_token_ttl});
    if s.omit_expires_in {
        body.as_object_mut().unwrap().remove("expires_in");
    }
    if s.rotate_refresh_tokens {
        s.live_refresh_tokens.retain(|t| t != &rt);
        let new_rt = format!("rt-{}", random(24));
        s.live_refresh_tokens.push(new_rt.clone());
        s.issued_tokens.push(new_rt.clone());
        body["refresh_token"] = json!(new_rt);
    }
    if s.id_token_on_refresh {
        let id = sign_id_token(&s, "");
        body["id_token"] = json!(id);
    }
    HttpResponse::Ok().json(body)
}

async fn register(req: HttpRequest, state: Shared, body: web::Json<Value>) -> HttpResponse {
    let mut s = state.lock().unwrap();
    if let Some(expected) = &s.registration_token {
        if bearer(&req).as_deref() != Some(expected.as_str()) {
            return HttpResponse::Unauthorized().json(json!({"error": "invalid_token"}));
        }
    }
    let meta = body.into_inner();
    if meta["redirect_uris"]
        .as_array()
        .is_none_or(|a| a.is_empty())
    {
        return oauth_error("invalid_redirect_uri");
    }
    s.registrations.push(meta);
    HttpResponse::Created().json(json!({
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "registration_access_token": "reg-access-token", "token_endpoint_auth_method": "client_secret_basic"
    }))
}

fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

async fn userinfo(req: HttpRequest, state: Shared) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.counters.userinfo += 1;
    // issue 12: a bound token comes as `DPoP <token>` with a proof by its key.
    let dpop = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("DPoP "))
        .map(str::to_string);
    let Some(token) = bearer(&req).or(dpop.clone()) else {
        return HttpResponse::Unauthorized().finish();
    };
    if let Some(jkt) = s.dpop.bound.get(&token).cloned() {
        let htu = format!("{}/userinfo", s.issuer);
        let proof = req.headers().get("dpop").and_then(|v| v.to_str().ok());
        let ok = dpop.is_some()
            && proof.is_some_and(|p| {
                let e = super::dpop::Expect {
                    htm: "GET",
                    htu: &htu,
                    access_token: Some(&token),
                    nonce: None,
                };
                super::dpop::verify(p, &e).is_ok_and(|p| p.jkt == jkt)
            });
        if !ok {
            s.dpop
                .refused
                .push(("/userinfo".into(), "bad proof".into()));
            return HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "DPoP error=\"invalid_token\""))
                .json(json!({"error": "invalid_token"}));
        }
        s.dpop.proofs.push(("/userinfo".into(), json!({})));
    }
    if !s.issued_tokens.contains(&token) || s.revoked_tokens.contains(&token) {
        return HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Bearer error=\"invalid_token\""))
            .json(json!({"error": "invalid_token"}));
    }
    let sub = s.userinfo_sub.clone().unwrap_or_else(|| "user-123".into());
    HttpResponse::Ok().json(json!({"sub": sub, "name": "Test User", "email": "test@example.com"}))
}

async fn introspect(
    req: HttpRequest,
    state: Shared,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let Some((s, token, _)) = token_request(&req, &state, form, |c| &mut c.introspect) else {
        return invalid_client();
    };
    let active = s.issued_tokens.contains(&token) && !s.revoked_tokens.contains(&token);
    if !active {
        return HttpResponse::Ok().json(json!({"active": false}));
    }
    HttpResponse::Ok().json(
        json!({"active": true, "scope": "openid profile", "client_id": CLIENT_ID, "sub": "user-123",
        "exp": now() + 300, "token": token}),
    )
}
