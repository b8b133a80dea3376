//! issue 12: DPoP (RFC 9449) against the fake OP's DPoP modes (binding, nonces, nonce
//! loops, malformed nonces, refused proofs) and a recording upstream that checks proofs as
//! a resource server does; and the `profile: "fapi2"` refusals at run time.

use crate::support::dpop::ath;
use crate::support::upstream::Upstream;
use crate::support::*;
use serde_json::{json, Value};

fn key_path(name: &str) -> String {
    format!(
        "{}/tests/support/keys/{name}.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A BFF with DPoP (the test EC key), PAR, and `/api` to `up`.
fn dpop_settings(up: &Upstream, extra: Value) -> Value {
    let mut p = json!({
        "dpop": true,
        "dpop_private_key": key_path("ec1"),
        "send_parameters_via": "par",
        "api_endpoint": up.base,
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut p, extra) {
        m.extend(e);
    }
    p
}

async fn api(b: &mut Browser, path: &str) -> Resp {
    b.request("GET", path, &[("X-CSRF", "1")], None).await
}

fn body(res: &Resp) -> String {
    String::from_utf8_lossy(&res.body).into_owned()
}

/// The DPoP token the upstream got last, and the `jkt` its proof was made with.
fn last_dpop(up: &Upstream) -> (String, String) {
    let auth = up.last_values("authorization");
    let token = auth
        .first()
        .and_then(|v| v.strip_prefix("DPoP "))
        .expect("Authorization: DPoP")
        .to_string();
    let jkt = up
        .state
        .lock()
        .unwrap()
        .dpop
        .proofs
        .last()
        .expect("a proof")
        .jkt
        .clone();
    (token, jkt)
}

#[actix_web::test]
async fn a_dpop_session_is_bound_and_proven_at_every_step() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let bff = spawn_bff(&op.issuer, dpop_settings(&up, json!({}))).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    // PAR and the code exchange carried proofs by one key; the code was bound to it.
    let (proofs, par) = op.with(|s| (s.dpop.proofs.clone(), s.grants.last_form("par")));
    let paths: Vec<&str> = proofs.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, vec!["/par", "/token"], "{proofs:?}");
    let jkt = op
        .with(|s| s.dpop.bound.values().next().cloned())
        .expect("bound");
    assert_eq!(
        values(&par.unwrap(), "dpop_jkt"),
        vec![jkt.clone()],
        "dpop_jkt in the request"
    );
    let at = op.first_issued("at-").unwrap();
    assert_eq!(
        op.with(|s| s.dpop.bound.get(&at).cloned()),
        Some(jkt.clone())
    );
    // The SPA sees that the tokens are sender-constrained (and no token).
    let session = b.get("/bff/session").await;
    assert_eq!(
        session.json()["session"]["senderConstrained"],
        "dpop",
        "{}",
        body(&session)
    );
    assert!(!body(&session).contains(&at));

    // /api: `Authorization: DPoP`, a proof for the upstream URL with the token's `ath`.
    let res = api(&mut b, "/api/orders/7?x=1").await;
    assert_eq!(res.status, 200, "{}", body(&res));
    let (sent, proof_jkt) = last_dpop(&up);
    assert_eq!(sent, at);
    assert_eq!(proof_jkt, jkt);
    let claims = up
        .state
        .lock()
        .unwrap()
        .dpop
        .proofs
        .last()
        .unwrap()
        .claims
        .clone();
    assert_eq!(
        claims["htu"],
        format!("{}/orders/7", up.base),
        "htu has no query"
    );
    assert_eq!(claims["htm"], "GET");
    assert_eq!(claims["ath"], ath(&at));
    // A client's own DPoP header never reaches the upstream.
    let res = b
        .request(
            "GET",
            "/api/x",
            &[("X-CSRF", "1"), ("DPoP", "forged")],
            None,
        )
        .await;
    assert_eq!(res.status, 200);
    assert_ne!(up.last_values("dpop"), vec!["forged".to_string()]);
    assert_eq!(up.last_values("dpop").len(), 1);

    // Refresh: a proof; the new token is bound to the same key and used at once.
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
    let at2 = op.last_issued("at-").unwrap();
    assert_ne!(at2, at);
    assert_eq!(
        op.with(|s| s.dpop.bound.get(&at2).cloned()),
        Some(jkt.clone())
    );
    assert_eq!(op.with(|s| s.dpop.proofs.len()), 3);
    assert_eq!(api(&mut b, "/api/y").await.status, 200);
    assert_eq!(last_dpop(&up).0, at2);

    // userinfo with DPoP; introspection and revocation keep working.
    let res = b.get("/bff/userinfo").await;
    assert_eq!(res.status, 200, "{}", body(&res));
    assert!(
        op.with(|s| s.dpop.refused.is_empty()),
        "{:?}",
        op.with(|s| s.dpop.refused.clone())
    );
    assert_eq!(b.post("/bff/introspect", None).await.json()["active"], true);
    let res = b
        .post("/bff/revoke", Some(r#"{"token":"access_token"}"#))
        .await;
    assert_eq!(res.status, 204);
    assert!(op.with(|s| s.revoked_tokens.contains(&at2)));
    assert!(up.state.lock().unwrap().dpop.refused.is_empty());
}

#[actix_web::test]
async fn every_grant_gets_a_proof_and_route_tokens_are_bound_too() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let routes = json!([
        {"prefix": "/api/app", "upstream": format!("{}/app", up.base), "token": "client"},
        {"prefix": "/api/tx", "upstream": format!("{}/tx", up.base),
         "token_exchange": {"audience": "tx-api"}},
    ]);
    let (bff, mut b) = logged_in(
        &op,
        dpop_settings(
            &up,
            json!({"routes": routes, "send_parameters_via": "query"}),
        ),
    )
    .await;
    let res = api(&mut b, "/api/app/status").await;
    assert_eq!(res.status, 200, "{}", body(&res));
    let cc = op.with(|s| s.grants.cc_tokens.last().cloned()).unwrap();
    let (sent, jkt) = last_dpop(&up);
    assert_eq!(sent, cc);
    assert_eq!(
        op.with(|s| s.dpop.bound.get(&cc).cloned()),
        Some(jkt.clone())
    );
    let res = api(&mut b, "/api/tx/items").await;
    assert_eq!(res.status, 200, "{}", body(&res));
    let tx = op.with(|s| s.grants.exchanged.last().cloned()).unwrap().1;
    assert_eq!(last_dpop(&up).0, tx);
    assert_eq!(op.with(|s| s.dpop.bound.get(&tx).cloned()), Some(jkt));
    // Cached route tokens keep their binding.
    assert_eq!(api(&mut b, "/api/app/again").await.status, 200);
    assert_eq!(last_dpop(&up).0, cc);
    // Code, client-credentials and exchange: each token request had a proof.
    assert_eq!(op.with(|s| s.dpop.proofs.len()), 3);
    bff.stop().await;
}

#[actix_web::test]
async fn the_ops_nonce_is_retried_once_then_sent_up_front() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| s.dpop.nonce = Some("first".into()));
    let bff = spawn_bff(&op.issuer, dpop_settings(&up, json!({}))).await;
    let mut b = Browser::new(&bff.base);
    // PAR asks for a nonce (one retry); the token request already carries it.
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(op.with(|s| s.dpop.nonce_demands), 1);
    let nonce = op.with(|s| s.dpop.nonce.clone()).unwrap();
    let proofs = op.with(|s| s.dpop.proofs.clone());
    assert!(
        proofs.iter().all(|(_, c)| c["nonce"] == nonce),
        "{proofs:?}"
    );
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
    assert_eq!(
        op.with(|s| s.dpop.nonce_demands),
        1,
        "the nonce was remembered"
    );
}

#[actix_web::test]
async fn an_op_nonce_loop_gets_one_retry_then_a_502_naming_it() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let bff = spawn_bff(&op.issuer, dpop_settings(&up, json!({}))).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    op.with(|s| s.dpop.nonce_loop = true);
    // At the token endpoint (a refresh): two requests, then our 502; the session stays.
    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 502, "{}", body(&res));
    assert_eq!(res.json()["error"], "use_dpop_nonce");
    assert!(res.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("use_dpop_nonce"));
    assert_eq!(op.with(|s| s.dpop.nonce_demands), 2);
    assert_eq!(b.get("/bff/session").await.status, 200, "not signed out");
    // At the PAR endpoint: the login answers the same.
    let res = b.post("/bff/login", Some("{}")).await;
    assert_eq!(res.status, 502, "{}", body(&res));
    assert_eq!(res.json()["error"], "use_dpop_nonce");
    assert_eq!(op.with(|s| s.dpop.nonce_demands), 4);
    op.with(|s| s.dpop.nonce_loop = false);
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
}

#[actix_web::test]
async fn a_malformed_nonce_is_ignored_and_a_refused_proof_is_the_ops_refusal() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| {
        s.dpop.nonce = Some("wanted".into());
        s.dpop.malformed_nonce = true;
    });
    let bff = spawn_bff(&op.issuer, dpop_settings(&up, json!({}))).await;
    let mut b = Browser::new(&bff.base);
    // `DPoP-Nonce: has a space` is not a nonce: no retry, the OP's refusal is answered.
    let res = b.post("/bff/login", Some("{}")).await;
    assert_eq!(res.status, 502, "{}", body(&res));
    assert_eq!(res.json()["error"], "op_error");
    assert_eq!(op.with(|s| s.dpop.nonce_demands), 1);
    op.with(|s| {
        s.dpop.nonce = None;
        s.dpop.malformed_nonce = false;
        s.dpop.reject = true;
    });
    let res = b.post("/bff/login", Some("{}")).await;
    assert_eq!(res.status, 502, "{}", body(&res));
    assert_eq!(res.json()["error"], "op_error");
    assert!(
        !body(&res).contains("invalid_dpop_proof"),
        "the OP's text stays in the log"
    );
    assert_eq!(op.with(|s| s.dpop.refused.len()), 1);
}

#[actix_web::test]
async fn an_upstream_nonce_is_retried_once_and_remembered_for_bodies() {
    let up = Upstream::start();
    up.state.lock().unwrap().dpop.nonce = Some("initial".into());
    let op = FakeOp::start().await;
    let (_bff, mut b) = logged_in(&op, dpop_settings(&up, json!({}))).await;
    let res = api(&mut b, "/api/a").await;
    assert_eq!(res.status, 200, "{}", body(&res));
    assert_eq!(up.state.lock().unwrap().dpop.nonce_demands, 1);
    assert_eq!(up.count(), 2, "one retry");
    // A request with a body carries the remembered nonce up front.
    let res = b
        .request(
            "POST",
            "/api/submit",
            &[("X-CSRF", "1"), ("Content-Type", "text/plain")],
            Some("hello"),
        )
        .await;
    assert_eq!(res.status, 200, "{}", body(&res));
    assert_eq!(up.state.lock().unwrap().dpop.nonce_demands, 1);
    assert_eq!(up.count(), 3);
    // An upstream that wants a new nonce every time: one retry, then our 502.
    up.state.lock().unwrap().dpop.nonce_loop = true;
    let res = api(&mut b, "/api/b").await;
    assert_eq!(res.status, 502, "{}", body(&res));
    assert_eq!(res.json()["error"], "use_dpop_nonce");
    assert_eq!(up.count(), 5);
    // With a body there is no retry: the upstream's answer is the browser's.
    let res = b
        .request(
            "POST",
            "/api/submit",
            &[("X-CSRF", "1"), ("Content-Type", "text/plain")],
            Some("hello"),
        )
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(up.count(), 6);
}

/// RFC 9449 8.2: a nonce given on a success is the next one to send, also when that
/// success answered the resend after a refused token was refreshed.
#[actix_web::test]
async fn a_nonce_given_on_the_resend_after_a_refresh_is_sent_next() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let (_bff, mut b) = logged_in(&op, dpop_settings(&up, json!({}))).await;
    {
        let mut s = up.state.lock().unwrap();
        s.reject_next = 1;
        s.dpop.success_nonce = Some("after-refresh".into());
    }
    let res = api(&mut b, "/api/a").await;
    assert_eq!(res.status, 200, "{}", body(&res));
    assert_eq!(up.count(), 2, "refused, refreshed, resent");
    up.state.lock().unwrap().dpop.success_nonce = None;
    assert_eq!(api(&mut b, "/api/b").await.status, 200);
    let proofs = up.state.lock().unwrap().dpop.proofs.clone();
    assert_eq!(
        proofs.last().unwrap().claims["nonce"],
        "after-refresh",
        "the resend's nonce is sent next"
    );
}

#[actix_web::test]
async fn token_type_is_case_insensitive_and_bearer_stays_bearer() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| s.dpop.token_type = Some("dpop".into()));
    let (bff, mut b) = logged_in(&op, dpop_settings(&up, json!({}))).await;
    assert_eq!(api(&mut b, "/api/a").await.status, 200);
    assert_eq!(last_dpop(&up).0, op.first_issued("at-").unwrap());
    bff.stop().await;
    // An OP without DPoP answers Bearer: the token goes as a bearer token.
    let op = FakeOp::start().await;
    op.with(|s| s.dpop.ignore = true);
    let (_bff, mut b) = logged_in(&op, dpop_settings(&up, json!({}))).await;
    assert_eq!(
        b.get("/bff/session").await.json()["session"]["senderConstrained"],
        Value::Null
    );
    assert_eq!(api(&mut b, "/api/a").await.status, 200);
    let at = op.first_issued("at-").unwrap();
    assert_eq!(
        up.last_values("authorization"),
        vec![format!("Bearer {at}")]
    );
    assert!(up.last_values("dpop").is_empty());
}

/// Key rotation: with `[new, old]` the new key signs new proofs, a token bound to the old
/// key is still proven with it until a refresh binds a new one.
#[actix_web::test]
async fn a_rotated_key_keeps_proving_tokens_bound_to_it_until_refresh() {
    let jwk = |byte: u8| {
        use base64::Engine;
        json!({"kty": "EC", "crv": "P-256",
               "d": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([byte; 32])})
    };
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let old = json!({"dpop_private_key": null, "dpop_private_jwk": [jwk(7)]});
    let (_one, mut b) = logged_in(&op, dpop_settings(&up, old)).await;
    assert_eq!(api(&mut b, "/api/a").await.status, 200);
    let old_jkt = last_dpop(&up).1;
    let both = json!({"dpop_private_key": null, "dpop_private_jwk": [jwk(9), jwk(7)]});
    let two = spawn_bff(&op.issuer, dpop_settings(&up, both)).await;
    b.base = two.base.clone();
    assert_eq!(api(&mut b, "/api/b").await.status, 200);
    assert_eq!(last_dpop(&up).1, old_jkt, "the bound token keeps its key");
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
    assert_eq!(api(&mut b, "/api/c").await.status, 200);
    let (at, new_jkt) = last_dpop(&up);
    assert_ne!(new_jkt, old_jkt, "the refresh bound the new key");
    assert_eq!(op.with(|s| s.dpop.bound.get(&at).cloned()), Some(new_jkt));
}

/// `profile: "fapi2"` with private_key_jwt, PAR, DPoP and an ES256-signing OP.
fn fapi2_settings(up: &Upstream) -> Value {
    dpop_settings(
        up,
        json!({
            "profile": "fapi2",
            "client_secret": null,
            "token_endpoint_auth_method": "private_key_jwt",
            "client_private_key": key_path(CLIENT_KEY_FILE),
        }),
    )
}

fn es256_op(op: &FakeOp) {
    let key = SigningKey::ec("ec1", "ec-1");
    op.with(|s| {
        s.signing = key.clone();
        s.published = vec![key];
    });
}

#[actix_web::test]
async fn fapi2_requires_iss_es256_and_issuer_audience() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    es256_op(&op);
    op.accept_assertion_aud(AudRule::Issuer);
    let bff = spawn_bff(&op.issuer, fapi2_settings(&up)).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/", "the happy path");
    assert_eq!(api(&mut b, "/api/a").await.status, 200);
    assert!(op
        .assertion_auds("/token")
        .iter()
        .all(|a| *a == json!(op.issuer)));
    // RFC 9207 `iss` is required under the profile, advertised or not.
    op.with(|s| {
        s.send_iss = false;
        s.discovery_overrides.insert(
            "authorization_response_iss_parameter_supported".into(),
            json!(false),
        );
    });
    let bff2 = spawn_bff(&op.issuer, fapi2_settings(&up)).await;
    let mut b2 = Browser::new(&bff2.base);
    assert_eq!(b2.login().await.location(), "/?login_error=iss_mismatch");
    // An RS256 ID token is refused under the profile.
    op.with(|s| {
        s.send_iss = true;
        let rsa = SigningKey::rsa("rsa1", "key-1");
        s.signing = rsa.clone();
        s.published = vec![rsa];
    });
    let res = b2.login().await;
    assert!(
        res.location().starts_with("/?login_error="),
        "{}",
        res.location()
    );
    assert_ne!(res.location(), "/");
}

/// Under fapi2 with DPoP and no mutual TLS, an exchanged token must be DPoP-bound as the
/// session's are: a Bearer exchange answer is a 502, and nothing goes upstream.
#[actix_web::test]
async fn fapi2_refuses_a_bearer_token_from_a_token_exchange() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    es256_op(&op);
    op.accept_assertion_aud(AudRule::Issuer);
    let mut settings = fapi2_settings(&up);
    settings["routes"] = json!([{"prefix": "/api/tx", "upstream": format!("{}/tx", up.base),
                                "token_exchange": {"audience": "tx-api"}}]);
    let bff = spawn_bff(&op.issuer, settings).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    let res = api(&mut b, "/api/tx/items").await;
    assert_eq!(res.status, 200, "a DPoP-bound exchange: {}", body(&res));
    let before = up.count();
    op.with(|s| s.grants.exchange_token_type = Some("Bearer".into()));
    // A new session, so the exchange is made again (exchanged tokens are cached).
    let mut b2 = Browser::new(&bff.base);
    assert_eq!(b2.login().await.location(), "/");
    let res = api(&mut b2, "/api/tx/other").await;
    assert_eq!(res.status, 502, "{}", body(&res));
    assert_eq!(res.json()["error"], "token_exchange_failed");
    assert_eq!(op.with(|s| s.grants.exchange), 2, "the exchange was made");
    assert_eq!(up.count(), before, "the Bearer token went nowhere");
}

#[actix_web::test]
async fn a_websocket_upgrade_carries_the_dpop_token_and_a_fresh_proof_for_the_http_url() {
    use crate::support::ws_upstream::WsUpstream;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let ws_up = WsUpstream::start();
    let op = FakeOp::start().await;
    let routes = json!([{"prefix": "/api/ws", "upstream": ws_up.base}]);
    let bff = spawn_bff(
        &op.issuer,
        json!({"dpop": true, "dpop_private_key": key_path("ec1"), "routes": routes}),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    for _ in 0..2 {
        let mut req = format!("ws://127.0.0.1:{}/api/ws/chat?room=1", bff.port)
            .into_client_request()
            .unwrap();
        let h = req.headers_mut();
        h.insert("cookie", b.cookie_header().parse().unwrap());
        h.insert("origin", bff.base.parse().unwrap());
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", bff.port))
            .await
            .unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(req, tcp)
            .await
            .expect("upgraded");
        let _ = ws.close(None).await;
    }
    let conns = ws_up.conns.lock().unwrap().clone();
    assert_eq!(conns.len(), 2);
    let mut jtis = Vec::new();
    for c in &conns {
        let token = c.headers["authorization"]
            .strip_prefix("DPoP ")
            .expect("Authorization: DPoP");
        assert!(
            op.with(|s| s.dpop.bound.contains_key(token)),
            "a bound token"
        );
        // htu is the upstream's http URL (RFC 9449 4.2: without query), the method GET.
        let htu = format!("{}{}", ws_up.base, c.path);
        let expect = crate::support::dpop::Expect {
            htm: "GET",
            htu: &htu,
            access_token: Some(token),
            nonce: None,
        };
        let proof = crate::support::dpop::verify(&c.headers["dpop"], &expect)
            .unwrap_or_else(|e| panic!("proof for {htu}: {e:?}"));
        assert!(proof.claims["htu"].as_str().unwrap().starts_with("http://"));
        jtis.push(proof.claims["jti"].clone());
    }
    assert_ne!(jtis[0], jtis[1], "a fresh proof per upgrade");
}

/// A WebSocket upstream that demands a DPoP nonce on its handshake: the refused upgrade's
/// nonce is taken and the handshake retried once (it has no body); the nonce is then sent
/// up front; an upstream that never accepts is our 502 `use_dpop_nonce`, not an upgrade.
#[actix_web::test]
async fn a_websocket_upgrade_answers_a_dpop_nonce_demand_once() {
    use crate::support::ws_upstream::WsUpstream;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let ws_up = WsUpstream::start();
    ws_up.dpop.lock().unwrap().nonce = Some("ws-0".into());
    let op = FakeOp::start().await;
    let routes = json!([{"prefix": "/api/ws", "upstream": ws_up.base}]);
    let bff = spawn_bff(
        &op.issuer,
        json!({"dpop": true, "dpop_private_key": key_path("ec1"), "routes": routes}),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    let upgrade = || {
        let mut req = format!("ws://127.0.0.1:{}/api/ws/chat", bff.port)
            .into_client_request()
            .unwrap();
        let h = req.headers_mut();
        h.insert("cookie", b.cookie_header().parse().unwrap());
        h.insert("origin", bff.base.parse().unwrap());
        async move {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", bff.port))
                .await
                .unwrap();
            tokio_tungstenite::client_async(req, tcp).await
        }
    };
    let nonce_of = |i: usize| {
        let c = ws_up.conns.lock().unwrap()[i].clone();
        let htu = format!("{}{}", ws_up.base, c.path);
        let token = c.headers["authorization"].strip_prefix("DPoP ").unwrap();
        let e = crate::support::dpop::Expect {
            htm: "GET",
            htu: &htu,
            access_token: Some(token),
            nonce: None,
        };
        match crate::support::dpop::verify(&c.headers["dpop"], &e) {
            Ok(p) => p.claims["nonce"].as_str().map(str::to_string),
            Err(_) => Some("(not the expected proof)".into()),
        }
    };
    let (mut ws, _) = upgrade().await.expect("upgraded after one retry");
    let _ = ws.close(None).await;
    assert_eq!(ws_up.count(), 2, "the refused handshake and its retry");
    assert_eq!(nonce_of(0), None);
    assert_eq!(
        nonce_of(1).as_deref(),
        Some("ws-1"),
        "the retry carries the nonce"
    );
    // The next upgrade sends the remembered nonce up front.
    let (mut ws, _) = upgrade().await.expect("upgraded");
    let _ = ws.close(None).await;
    assert_eq!(ws_up.count(), 3);
    assert_eq!(nonce_of(2).as_deref(), Some("ws-1"));
    // An upstream that asks again and again: one retry, then our JSON 502.
    ws_up.dpop.lock().unwrap().nonce_loop = true;
    match upgrade().await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 502);
            let body: Value = serde_json::from_slice(res.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"], "use_dpop_nonce");
        }
        other => panic!("expected a 502, got {:?}", other.map(|r| r.1)),
    }
    assert_eq!(ws_up.count(), 5, "one retry, no more");
}

#[actix_web::test]
async fn a_dpop_key_the_op_does_not_accept_keeps_the_bff_from_becoming_ready() {
    // The OP lists ES256 only (oidc-provider's default): an RSA key's PS256 proofs would
    // be refused at every login, so discovery refuses the pairing, naming the setting.
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| {
        s.discovery_overrides.insert(
            "dpop_signing_alg_values_supported".into(),
            json!(["ES256", "EdDSA"]),
        );
    });
    let rsa = start_bff_on(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        &op.issuer,
        dpop_settings(&up, json!({"dpop_private_key": key_path("rsa1")})),
    );
    let ec = spawn_bff(&op.issuer, dpop_settings(&up, json!({}))).await;
    actix_rt::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(Browser::new(&rsa.base).get("/healthz").await.status, 503);
    let mut b = Browser::new(&ec.base);
    assert_eq!(b.get("/healthz").await.status, 200);
    assert_eq!(b.login().await.location(), "/", "ES256 is accepted");
}
