//! issue 11: per-route token types, client credentials, token exchange and resource
//! indicators against the fake OP (the failure cases no real OP produces on demand) and
//! a recording upstream: what the OP's token endpoint got, what the upstream got.

use std::time::{Duration, Instant};

use crate::support::process::{bin, run, settings_file, Proc};
use crate::support::upstream::Upstream;
use crate::support::*;
use serde_json::{json, Value};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

fn route(up: &Upstream, prefix: &str, extra: Value) -> Value {
    let mut r = json!({"prefix": prefix, "upstream": format!("{}{}", up.base, prefix)});
    if let (Value::Object(m), Value::Object(p)) = (&mut r, extra) {
        m.extend(p);
    }
    r
}

async fn api(b: &mut Browser, path: &str) -> Resp {
    b.request("GET", path, &[("X-CSRF", "1")], None).await
}

/// The bearer the upstream got last.
fn last_bearer(up: &Upstream) -> Option<String> {
    up.last_values("authorization")
        .first()
        .and_then(|v| v.strip_prefix("Bearer ").map(str::to_string))
}

fn cc_count(op: &FakeOp) -> usize {
    op.with(|s| s.grants.client_credentials)
}

fn exchange_count(op: &FakeOp) -> usize {
    op.with(|s| s.grants.exchange)
}

#[actix_web::test]
async fn client_route_needs_no_session() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let routes = json!([route(
        &up,
        "/api/app",
        json!({"token": "client", "scope": "api:read api:write",
        "resource": ["urn:demo:a", "https://b.example/api"], "audience": "demo-aud"})
    )]);
    let bff = spawn_bff(&op.issuer, json!({ "routes": routes })).await;
    let mut b = Browser::new(&bff.base);
    let res = api(&mut b, "/api/app/status").await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let token = op.with(|s| s.grants.cc_tokens.last().cloned()).unwrap();
    assert_eq!(last_bearer(&up).as_deref(), Some(token.as_str()));
    let form = op
        .with(|s| s.grants.last_form("client_credentials"))
        .unwrap();
    assert_eq!(values(&form, "scope"), vec!["api:read api:write"]);
    assert_eq!(
        values(&form, "resource"),
        vec!["urn:demo:a", "https://b.example/api"]
    );
    assert_eq!(values(&form, "audience"), vec!["demo-aud"]);
    assert!(op.with(|s| s.counters.authorize) == 0, "no login happened");
    assert!(
        res.set_cookies.is_empty(),
        "no session cookie: {:?}",
        res.set_cookies
    );
}

#[actix_web::test]
async fn client_token_with_every_auth_method() {
    let key = format!(
        "{}/tests/support/keys/{}.pem",
        env!("CARGO_MANIFEST_DIR"),
        CLIENT_KEY_FILE
    );
    for (method, expect) in [
        ("client_secret_basic", "basic"),
        ("client_secret_post", "post"),
        ("client_secret_jwt", "client_secret_jwt"),
        ("private_key_jwt", "private_key_jwt"),
    ] {
        let up = Upstream::start();
        let op = FakeOp::start().await;
        let mut patch = json!({
            "routes": [route(&up, "/api/app", json!({"token": "client"}))],
            "token_endpoint_auth_method": method,
        });
        if method == "private_key_jwt" {
            patch["client_private_key"] = json!(key);
        }
        let bff = spawn_bff(&op.issuer, patch).await;
        let mut b = Browser::new(&bff.base);
        let res = api(&mut b, "/api/app/x").await;
        assert_eq!(
            res.status,
            200,
            "{method}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(
            op.with(|s| s.last_client_auth.clone()).as_deref(),
            Some(expect)
        );
        if method.ends_with("_jwt") {
            let auds = op.assertion_auds("/token");
            assert_eq!(
                auds.last(),
                Some(&json!(format!("{}/token", op.issuer))),
                "{method}"
            );
        }
        bff.stop().await;
    }
}

#[actix_web::test]
async fn hundred_first_requests_one_grant() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| s.grants.delay_ms = 300);
    let routes = json!([route(&up, "/api/app", json!({"token": "client"}))]);
    let bff = spawn_bff(&op.issuer, json!({ "routes": routes, "workers": 2 })).await;
    let urls = (0..100).map(|i| format!("{}/api/app/{i}", bff.base));
    let statuses = get_all_at_once(urls, &[("X-CSRF", "1")]).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(cc_count(&op), 1, "one grant for 100 first requests");
    let token = op.with(|s| s.grants.cc_tokens[0].clone());
    let seen = up.state.lock().unwrap().seen.clone();
    assert_eq!(seen.len(), 100);
    for r in seen {
        assert_eq!(r["headers"]["authorization"], format!("Bearer {token}"));
    }
}

#[actix_web::test]
async fn client_token_renewed_before_expiry() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| s.grants.cc_ttl = Some(4));
    let routes = json!([route(&up, "/api/app", json!({"token": "client"}))]);
    let bff = spawn_bff(&op.issuer, json!({ "routes": routes, "refresh_skew": 1 })).await;
    let mut b = Browser::new(&bff.base);
    let started = Instant::now();
    let mut sent: Vec<(Duration, String)> = Vec::new();
    // Expiry has second resolution: the first token is renewed 2-3 s after its issue, the
    // second not before 4 s, so 3.8 s of requests see exactly one renewal.
    while started.elapsed() < Duration::from_millis(3800) {
        assert_eq!(api(&mut b, "/api/app/x").await.status, 200);
        sent.push((started.elapsed(), last_bearer(&up).unwrap()));
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(cc_count(&op), 2, "renewed once in 3.8 s of a 4 s token");
    let issued = op.with(|s| s.grants.cc_tokens.clone());
    // The first token is used only up to 3 s after its issue (4 s less the 1 s skew).
    for (at, token) in &sent {
        if *token == issued[0] {
            assert!(
                *at < Duration::from_millis(3300),
                "expired token sent at {at:?}"
            );
        }
    }
}

#[actix_web::test]
async fn client_token_without_expires_in() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| s.grants.omit_expires_in = true);
    let routes = json!([route(&up, "/api/app", json!({"token": "client"}))]);
    let bff = spawn_bff(&op.issuer, json!({ "routes": routes })).await;
    let mut b = Browser::new(&bff.base);
    for _ in 0..5 {
        assert_eq!(api(&mut b, "/api/app/x").await.status, 200);
    }
    assert_eq!(
        cc_count(&op),
        1,
        "cached although the answer had no expires_in"
    );
}

#[actix_web::test]
async fn different_params_different_tokens() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let routes = json!([
        route(
            &up,
            "/api/a",
            json!({"token": "client", "resource": "urn:r:a", "scope": "x y"})
        ),
        route(
            &up,
            "/api/b",
            json!({"token": "client", "resource": "urn:r:b", "scope": "x y"})
        ),
        route(
            &up,
            "/api/c",
            json!({"token": "client", "resource": "urn:r:a", "scope": "y x"})
        ),
    ]);
    let bff = spawn_bff(&op.issuer, json!({ "routes": routes })).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(api(&mut b, "/api/a/1").await.status, 200);
    let a = last_bearer(&up).unwrap();
    assert_eq!(api(&mut b, "/api/b/1").await.status, 200);
    let bt = last_bearer(&up).unwrap();
    assert_eq!(api(&mut b, "/api/c/1").await.status, 200);
    let c = last_bearer(&up).unwrap();
    assert_eq!(
        cc_count(&op),
        2,
        "other resource: another grant; same parameters: none"
    );
    assert_ne!(a, bt);
    assert_eq!(a, c);
}

#[actix_web::test]
async fn client_credentials_refused() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| {
        s.grants.cc_error = Some((
            "invalid_scope".into(),
            Some("scope api:admin\nis not allowed".into()),
        ));
        s.grants.delay_ms = 200;
    });
    let routes = json!([route(
        &up,
        "/api/app",
        json!({"token": "client", "scope": "api:admin"})
    )]);
    let bff = Proc::start(&op.issuer, json!({ "routes": routes })).await;
    let urls = (0..20).map(|i| format!("{}/api/app/{i}", bff.base));
    let statuses = get_all_at_once(urls, &[("X-CSRF", "1")]).await;
    assert!(statuses.iter().all(|s| *s == 502), "{statuses:?}");
    assert_eq!(cc_count(&op), 1, "20 waiters, one OP call");
    assert_eq!(up.count(), 0, "upstream untouched");
    let mut b = Browser::new(&bff.base);
    let res = api(&mut b, "/api/app/x").await;
    assert_eq!(res.status, 502);
    assert_eq!(res.json()["error"], "client_token_failed");
    assert!(
        res.json()["error_description"].as_str().is_some()
            || res.json()["message"].as_str().is_some()
    );
    assert_eq!(cc_count(&op), 2, "the next request tries again");
    let lines = bff.lines_with("refused the route token grant").await;
    assert_eq!(lines.len(), 2, "one line per failed grant:\n{}", bff.logs());
    assert!(lines[0].contains("error=\"invalid_scope\""), "{}", lines[0]);
    assert!(
        lines[0].contains("scope api:admin is not allowed"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("/api/app"), "{}", lines[0]);
    assert!(!bff.logs().contains(CLIENT_SECRET));
}

#[actix_web::test]
async fn slow_op_fails_client_and_exchange() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let routes = json!([
        route(&up, "/api/app", json!({"token": "client"})),
        route(&up, "/api/x", json!({"token_exchange": true})),
    ]);
    let bff = spawn_bff(&op.issuer, json!({ "routes": routes, "http_timeout": 1 })).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    op.with(|s| s.grants.delay_ms = 3000);
    for (path, code) in [
        ("/api/app/1", "client_token_failed"),
        ("/api/x/1", "token_exchange_failed"),
    ] {
        let t = Instant::now();
        let res = api(&mut b, path).await;
        assert_eq!(res.status, 502, "{path}");
        assert_eq!(res.json()["error"], code);
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{path} took {:?}",
            t.elapsed()
        );
    }
    assert_eq!(up.count(), 0);
}

#[actix_web::test]
async fn user_or_client_picks_by_session() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let routes = json!([route(&up, "/api/m", json!({"token": "user_or_client"}))]);
    let bff = spawn_bff(&op.issuer, json!({ "routes": routes })).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(api(&mut b, "/api/m/1").await.status, 200);
    assert!(
        last_bearer(&up).unwrap().starts_with("cc-"),
        "signed out: the client token"
    );
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(api(&mut b, "/api/m/1").await.status, 200);
    assert_eq!(
        last_bearer(&up),
        op.first_issued("at-"),
        "signed in: the user's token"
    );
    assert_eq!(cc_count(&op), 1);
}

#[actix_web::test]
async fn user_or_none_none_and_aliases() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let routes = json!([
        route(&up, "/api/on", json!({"token": "user_or_none"})),
        route(&up, "/api/opt", json!({"token": "optional"})),
        route(&up, "/api/none", json!({"token": "none"})),
        route(&up, "/api/u", json!({"token": "user"})),
        route(&up, "/api/req", json!({"token": "required"})),
    ]);
    let bff = spawn_bff(&op.issuer, json!({ "routes": routes })).await;
    let mut b = Browser::new(&bff.base);
    for p in ["/api/on/1", "/api/opt/1", "/api/none/1"] {
        assert_eq!(api(&mut b, p).await.status, 200, "{p}");
        assert_eq!(last_bearer(&up), None, "{p}");
    }
    for p in ["/api/u/1", "/api/req/1"] {
        let res = api(&mut b, p).await;
        assert_eq!(res.status, 401, "{p}");
        assert_eq!(res.json()["error"], "not_authenticated");
    }
    assert_eq!(b.login().await.location(), "/");
    let at = op.first_issued("at-");
    for p in ["/api/on/1", "/api/opt/1", "/api/u/1", "/api/req/1"] {
        assert_eq!(api(&mut b, p).await.status, 200, "{p}");
        assert_eq!(last_bearer(&up), at, "{p}");
    }
    assert_eq!(api(&mut b, "/api/none/1").await.status, 200);
    assert_eq!(last_bearer(&up), None);
    assert_eq!(cc_count(&op) + exchange_count(&op), 0);
}

#[actix_web::test]
async fn client_token_dropped_on_invalid_token() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let routes = json!([route(&up, "/api/app", json!({"token": "client"}))]);
    let bff = spawn_bff(&op.issuer, json!({ "routes": routes })).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(api(&mut b, "/api/app/1").await.status, 200);
    let first = last_bearer(&up).unwrap();
    up.state.lock().unwrap().reject_tokens.insert(first.clone());
    let before = up.count();
    assert_eq!(
        api(&mut b, "/api/app/2").await.status,
        200,
        "retried with a new token"
    );
    assert_eq!(cc_count(&op), 2);
    assert_eq!(up.count(), before + 2, "one retry");
    let second = last_bearer(&up).unwrap();
    assert_ne!(first, second);
    // A POST is not retried: the refused answer comes back.
    up.state.lock().unwrap().reject_tokens.insert(second);
    let res = b
        .request("POST", "/api/app/3", &[("X-CSRF", "1")], Some("{}"))
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(cc_count(&op), 2);
}

async fn exchange_setup(exchange: Value) -> (FakeOp, TestBff, Browser, Upstream) {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let routes = json!([
        route(
            &up,
            "/api/x",
            json!({"token_exchange": exchange, "resource": "urn:r:x", "scope": "orders:read"})
        ),
        route(
            &up,
            "/api/y",
            json!({"token_exchange": true, "audience": "other-api"})
        ),
    ]);
    let bff = spawn_bff(&op.issuer, json!({ "routes": routes })).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    (op, bff, b, up)
}

#[actix_web::test]
async fn exchange_sends_subject_and_params() {
    let (op, _bff, mut b, up) = exchange_setup(
        json!({"requested_token_type": "urn:ietf:params:oauth:token-type:access_token"}),
    )
    .await;
    assert_eq!(api(&mut b, "/api/x/1").await.status, 200);
    let at = op.first_issued("at-").unwrap();
    let form = op.with(|s| s.grants.last_form(EXCHANGE)).unwrap();
    assert_eq!(values(&form, "subject_token"), vec![at.clone()]);
    assert_eq!(
        values(&form, "subject_token_type"),
        vec!["urn:ietf:params:oauth:token-type:access_token"]
    );
    assert_eq!(
        values(&form, "requested_token_type"),
        vec!["urn:ietf:params:oauth:token-type:access_token"]
    );
    assert_eq!(values(&form, "resource"), vec!["urn:r:x"]);
    assert_eq!(values(&form, "scope"), vec!["orders:read"]);
    let (subject, issued) = op.with(|s| s.grants.exchanged[0].clone());
    assert_eq!(subject, at);
    assert_eq!(last_bearer(&up), Some(issued));
    assert_eq!(api(&mut b, "/api/y/1").await.status, 200);
    let form = op.with(|s| s.grants.last_form(EXCHANGE)).unwrap();
    assert_eq!(values(&form, "audience"), vec!["other-api"]);
    assert!(
        values(&form, "requested_token_type").is_empty(),
        "only when configured"
    );
}

#[actix_web::test]
async fn exchange_cached_per_session_and_route() {
    let (op, bff, mut b, up) = exchange_setup(json!(true)).await;
    for _ in 0..3 {
        assert_eq!(api(&mut b, "/api/x/1").await.status, 200);
    }
    assert_eq!(exchange_count(&op), 1);
    let x = last_bearer(&up);
    assert_eq!(api(&mut b, "/api/y/1").await.status, 200);
    assert_eq!(exchange_count(&op), 2, "another route: another exchange");
    assert_ne!(last_bearer(&up), x);
    let mut other = Browser::new(&bff.base);
    assert_eq!(other.login().await.location(), "/");
    assert_eq!(api(&mut other, "/api/x/1").await.status, 200);
    assert_eq!(exchange_count(&op), 3, "another session: another exchange");
    assert_ne!(last_bearer(&up), x);
}

#[actix_web::test]
async fn exchange_single_flight() {
    let (op, bff, b, _up) = exchange_setup(json!(true)).await;
    op.with(|s| s.grants.delay_ms = 300);
    let cookie = b.cookie_header();
    let urls = (0..50).map(|i| format!("{}/api/x/{i}", bff.base));
    let statuses = get_all_at_once(urls, &[("X-CSRF", "1"), ("Cookie", &cookie)]).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(exchange_count(&op), 1);
}

#[actix_web::test]
async fn exchange_redone_after_refresh() {
    let (op, _bff, mut b, up) = exchange_setup(json!(true)).await;
    assert_eq!(api(&mut b, "/api/x/1").await.status, 200);
    let first = last_bearer(&up).unwrap();
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
    assert_eq!(api(&mut b, "/api/x/1").await.status, 200);
    assert_eq!(exchange_count(&op), 2);
    let (subject, second) = op.with(|s| s.grants.exchanged[1].clone());
    assert_eq!(
        Some(subject),
        op.last_issued("at-"),
        "the new access token is exchanged"
    );
    assert_eq!(last_bearer(&up), Some(second.clone()));
    assert_ne!(first, second);
}

#[actix_web::test]
async fn exchange_not_reused_after_logout() {
    let (op, _bff, mut b, up) = exchange_setup(json!(true)).await;
    assert_eq!(api(&mut b, "/api/x/1").await.status, 200);
    let cookie = b.cookie_header();
    assert_eq!(b.post("/bff/logout", None).await.status, 200);
    let before = up.count();
    let mut replay = Browser::new(&b.base);
    let res = replay
        .request(
            "GET",
            "/api/x/1",
            &[("X-CSRF", "1"), ("Cookie", &cookie)],
            None,
        )
        .await;
    assert_eq!(res.status, 401, "the old cookie is refused");
    assert_eq!(up.count(), before, "nothing sent upstream");
    assert_eq!(exchange_count(&op), 1);
}

#[actix_web::test]
async fn exchange_refused() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| {
        s.grants.exchange_error = Some((
            "invalid_target".into(),
            Some("unknown resource urn:r:x".into()),
        ))
    });
    let routes = json!([route(
        &up,
        "/api/x",
        json!({"token_exchange": {"resource": "urn:r:x"}})
    )]);
    let bff = Proc::start(&op.issuer, json!({ "routes": routes })).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    for _ in 0..2 {
        let res = api(&mut b, "/api/x/1").await;
        assert_eq!(res.status, 502);
        assert_eq!(res.json()["error"], "token_exchange_failed");
    }
    assert_eq!(exchange_count(&op), 2, "a refusal is not cached");
    assert_eq!(up.count(), 0);
    let lines = bff.lines_with("refused the route token grant").await;
    assert_eq!(lines.len(), 2, "{}", bff.logs());
    assert!(
        lines[0].contains("error=\"invalid_target\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("unknown resource urn:r:x"),
        "{}",
        lines[0]
    );
    let logs = bff.logs();
    let at = op.first_issued("at-").unwrap();
    assert!(!logs.contains(&at), "no subject token in the log");
}

#[actix_web::test]
async fn exchange_bad_answer() {
    let (op, _bff, mut b, up) = exchange_setup(json!(true)).await;
    op.with(|s| s.grants.exchange_token_type = Some("N_A".into()));
    let res = api(&mut b, "/api/x/1").await;
    assert_eq!(res.status, 502, "N_A for an access token");
    assert_eq!(res.json()["error"], "token_exchange_failed");
    op.with(|s| {
        s.grants.exchange_token_type = None;
        s.grants.exchange_omit_access_token = true;
    });
    let res = api(&mut b, "/api/x/1").await;
    assert_eq!(res.status, 502, "no access_token");
    op.with(|s| {
        s.grants.exchange_omit_access_token = false;
        s.grants.issued_token_type = Some(None);
    });
    assert_eq!(
        api(&mut b, "/api/x/1").await.status,
        200,
        "issued_token_type tolerated when absent"
    );
    assert!(last_bearer(&up).unwrap().starts_with("tx-"));
}

#[actix_web::test]
async fn exchange_without_expires_in() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| {
        s.grants.omit_expires_in = true;
        s.access_token_ttl = 3;
    });
    let routes = json!([route(&up, "/api/x", json!({"token_exchange": true}))]);
    let bff = spawn_bff(&op.issuer, json!({ "routes": routes, "refresh_skew": 1 })).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(api(&mut b, "/api/x/1").await.status, 200);
    assert_eq!(api(&mut b, "/api/x/1").await.status, 200);
    assert_eq!(exchange_count(&op), 1, "cached");
    // Not used past the session's access token (3 s): after it, a refresh and a new exchange.
    actix_rt::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(api(&mut b, "/api/x/1").await.status, 200);
    assert_eq!(exchange_count(&op), 2);
}

#[test]
fn route_token_config_errors() {
    let good = json!({"issuer": "https://op.example", "client_id": "c", "client_secret": "s",
        "base_url": "https://localhost:5443"});
    let with_route = |extra: Value| {
        let mut r = json!({"prefix": "/api/x", "upstream": "https://x.example"});
        if let (Value::Object(m), Value::Object(p)) = (&mut r, extra) {
            m.extend(p);
        }
        let mut s = good.clone();
        s["routes"] = json!([r]);
        s
    };
    let cases = [
        (with_route(json!({"token": "app"})), "`routes`: route 0: token `app` is not user, user_or_none, none, client or user_or_client"),
        (with_route(json!({"token": "client", "token_exchange": true})), "token_exchange needs a user token"),
        (with_route(json!({"audience": "a"})), "apply to client tokens and token exchange only"),
        (with_route(json!({"token": "client", "resource": "nope"})), "resource `nope` is not an absolute URI"),
        (with_route(json!({"token": "client", "resource": ["urn:a", "urn:a"]})), "appears twice"),
        (with_route(json!({"token": "client", "scope": "a\\b"})), "scope has an invalid character"),
        (with_route(json!({"token_exchange": {"x": 1}})), "token_exchange: unknown key `x`"),
        ({ let mut s = good.clone(); s["resource"] = json!("rel"); s }, "`resource`: resource `rel` is not an absolute URI"),
    ];
    for (settings, want) in cases {
        let path = settings_file("route-tokens", &settings.to_string());
        let out = run(bin().arg("--check").arg("--config").arg(&path));
        assert_eq!(out.code, 2, "{settings}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "one line: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(want),
            "{} should say {want}",
            out.stderr
        );
    }
    let mut ok = with_route(json!({"token": "client", "resource": "urn:a"}));
    ok["resource"] = json!(["urn:login:a", "urn:login:b"]);
    let path = settings_file("route-tokens", &ok.to_string());
    let out = run(bin().arg("--check").arg("--config").arg(&path));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[actix_web::test]
async fn login_sends_resource() {
    for via in ["query", "par", "request_object"] {
        let op = FakeOp::start().await;
        let bff = spawn_bff(
            &op.issuer,
            json!({"resource": ["urn:login:a", "https://api.example/"], "send_parameters_via": via}),
        )
        .await;
        let mut b = Browser::new(&bff.base);
        let res = b.get("/bff/login?returnUrl=%2F").await;
        let location = res.location();
        match via {
            "query" => {
                let url = url::Url::parse(&location).unwrap();
                let resources: Vec<String> = url
                    .query_pairs()
                    .filter(|(k, _)| k == "resource")
                    .map(|(_, v)| v.into_owned())
                    .collect();
                assert_eq!(resources, vec!["urn:login:a", "https://api.example/"]);
            }
            "par" => {
                assert!(location.contains("request_uri="), "{location}");
                let form = op.with(|s| s.grants.last_form("par")).unwrap();
                assert_eq!(
                    values(&form, "resource"),
                    vec!["urn:login:a", "https://api.example/"]
                );
            }
            _ => {
                let object = url::Url::parse(&location)
                    .unwrap()
                    .query_pairs()
                    .find(|(k, _)| k == "request")
                    .map(|(_, v)| v.into_owned())
                    .unwrap();
                let payload = object.split('.').nth(1).unwrap();
                use base64::Engine;
                let claims: Value = serde_json::from_slice(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(payload)
                        .unwrap(),
                )
                .unwrap();
                assert_eq!(
                    claims["resource"],
                    json!(["urn:login:a", "https://api.example/"])
                );
            }
        }
        let op_res = b.get(&location).await;
        assert_eq!(op_res.status, 302, "{via}");
        assert_eq!(b.get(&op_res.location()).await.location(), "/", "{via}");
        let form = op
            .with(|s| s.grants.last_form("authorization_code"))
            .unwrap();
        assert_eq!(
            values(&form, "resource"),
            vec!["urn:login:a", "https://api.example/"],
            "{via}: code grant"
        );
        assert_eq!(b.post("/bff/refresh", None).await.status, 200);
        let form = op.with(|s| s.grants.last_form("refresh_token")).unwrap();
        assert_eq!(
            values(&form, "resource"),
            vec!["urn:login:a", "https://api.example/"],
            "{via}: refresh grant"
        );
        bff.stop().await;
    }
}
