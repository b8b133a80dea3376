//! The `/api` reverse proxy against a fake upstream: header stripping (asserted at the
//! upstream), routes, traversal forms, CSRF, timeouts, 5xx pass-through, refresh before
//! proxying, refresh-and-retry on `invalid_token`, 100 MB streaming with bounded memory.

use crate::support::process::free_port;
use crate::support::upstream::Upstream;
use crate::support::*;
use serde_json::{json, Value};

async fn setup(patch_fn: impl FnOnce(&Upstream) -> Value) -> (FakeOp, TestBff, Browser, Upstream) {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let bff = spawn_bff(&op.issuer, patch_fn(&up)).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    (op, bff, b, up)
}

fn default_route(up: &Upstream) -> Value {
    json!({"api_endpoint": format!("{}/v1", up.base), "subscription_key": "gateway-key"})
}

async fn api(b: &mut Browser, method: &str, path: &str, extra: &[(&str, &str)]) -> Resp {
    let mut headers = vec![("X-CSRF", "1")];
    headers.extend_from_slice(extra);
    b.request(method, path, &headers, None).await
}

#[actix_web::test]
async fn forwards_with_bearer_and_strips_what_the_upstream_must_not_see() {
    let (op, bff, mut b, up) = setup(default_route).await;
    let res = api(
        &mut b,
        "GET",
        "/api/orders/7?x=1&y=%20z",
        &[
            ("Authorization", "Bearer browser-supplied"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Proxy-Authorization", "Basic eA=="),
            ("Accept", "application/json"),
            ("X-Request-Id", "req-abc-123"),
        ],
    )
    .await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let seen = up.last();
    assert_eq!(
        seen["path"], "/v1/orders/7",
        "prefix stripped, upstream base kept"
    );
    assert_eq!(seen["query"], "x=1&y=%20z");
    let h = &seen["headers"];
    let access = op.first_issued("at-").unwrap();
    assert_eq!(h["authorization"], format!("Bearer {access}"));
    for gone in [
        "cookie",
        "keep-alive",
        "te",
        "proxy-authorization",
        "x-csrf",
    ] {
        assert!(h.get(gone).is_none(), "{gone} reached the upstream");
    }
    assert_eq!(h["ocp-apim-subscription-key"], "gateway-key");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], format!("127.0.0.1:{}", bff.port));
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-request-id"], "req-abc-123");
    assert_eq!(h["accept"], "application/json");
    // The upstream's cookies and hop-by-hop headers do not reach the browser.
    assert!(res.set_cookies.iter().all(|c| !c.starts_with("upstream=")));
}

#[actix_web::test]
async fn headers_named_by_connection_are_removed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_op, bff, b, up) = setup(default_route).await;
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", bff.port))
        .await
        .unwrap();
    let request = format!(
        "GET /api/raw HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {}\r\nX-CSRF: 1\r\nConnection: close, X-Private\r\nX-Private: secret\r\nUpgrade: h2c\r\n\r\n",
        bff.port,
        b.cookie_header()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let h = &up.last()["headers"];
    assert!(
        h.get("x-private").is_none(),
        "a header named by Connection reached the upstream"
    );
    assert!(h.get("upgrade").is_none());
    assert!(h["authorization"]
        .as_str()
        .unwrap()
        .starts_with("Bearer at-"));
}

#[actix_web::test]
async fn csrf_rule_on_every_api_request() {
    let (_op, _bff, mut b, up) = setup(default_route).await;
    let res = b.request("GET", "/api/data", &[], None).await;
    assert_eq!(res.status, 403);
    assert_eq!(res.json()["error"], "csrf");
    let res = b
        .request(
            "GET",
            "/api/data",
            &[("X-CSRF", "1"), ("Origin", "https://evil.example")],
            None,
        )
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(up.count(), 0, "nothing reached the upstream");
}

#[actix_web::test]
async fn anonymous_requests_are_401_on_required_routes() {
    let up = Upstream::start();
    let (_op, bff) = pair(default_route(&up)).await;
    let mut b = Browser::new(&bff.base);
    let res = api(&mut b, "GET", "/api/data", &[]).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"], "not_authenticated");
    assert_eq!(up.count(), 0);
}

#[actix_web::test]
async fn traversal_forms_never_reach_an_upstream() {
    let (_op, _bff, mut b, up) = setup(default_route).await;
    for path in [
        "/api/%2e%2e/admin",
        "/api/a/%2E%2E/%2E%2E/admin",
        "/api/..%2fadmin",
        "/api/a%2fb",
        "/api/a%5cb",
        "/api/.%2e/x",
        "/api/x/%2e/y",
        // Encoded twice, for upstreams that decode twice.
        "/api/%252e%252e/admin",
        "/api/a/%252E%252E;x/admin",
        "/api/a%252fb",
        "/api/a%255cb",
    ] {
        let res = api(&mut b, "GET", path, &[]).await;
        assert_eq!(res.status, 400, "{path}");
        assert_eq!(res.json()["error"], "invalid_path");
    }
    assert_eq!(up.count(), 0);
    // An encoded `%` that hides nothing passes as it was sent.
    let res = api(&mut b, "GET", "/api/100%25/a%2520b", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(up.last()["path"], "/v1/100%25/a%2520b");
}

#[actix_web::test]
async fn routes_pick_the_longest_prefix_token_modes_and_headers() {
    let up_a = Upstream::start();
    let up_b = Upstream::start();
    let routes = json!([
        {"prefix": "/api", "upstream": up_a.base, "token": "required"},
        {"prefix": "/api/public", "upstream": format!("{}/pub", up_b.base), "token": "none", "headers": {"X-Api-Key": "k1"}},
        {"prefix": "/api/orders", "upstream": up_b.base, "token": "optional", "strip_prefix": false}
    ]);
    let op = FakeOp::start().await;
    let bff = spawn_bff(&op.issuer, json!({"routes": routes})).await;
    let mut anon = Browser::new(&bff.base);
    // token: none works anonymously and never sends a token.
    let res = api(&mut anon, "GET", "/api/public/info", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(up_b.last()["path"], "/pub/info");
    assert_eq!(up_b.last()["headers"]["x-api-key"], "k1");
    assert!(up_b.last()["headers"].get("authorization").is_none());
    // token: optional, anonymous: forwarded without a token; prefix kept.
    let res = api(&mut anon, "GET", "/api/orders/1", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(up_b.last()["path"], "/api/orders/1");
    assert!(up_b.last()["headers"].get("authorization").is_none());
    // Signed in: optional sends the token; required works.
    let mut b = Browser::new(&bff.base);
    b.login().await;
    api(&mut b, "GET", "/api/orders/1", &[]).await;
    assert!(up_b.last()["headers"]["authorization"]
        .as_str()
        .unwrap()
        .starts_with("Bearer at-"));
    let res = api(&mut b, "GET", "/api/other", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(up_a.last()["path"], "/other");
    let res = api(&mut b, "GET", "/api/public/x", &[]).await;
    assert_eq!(res.status, 200);
    assert!(
        up_b.last()["headers"].get("authorization").is_none(),
        "token: none never sends the token"
    );
}

#[actix_web::test]
async fn upstream_5xx_passes_through_and_failures_are_502_504_json() {
    let (_op, _bff, mut b, _up) =
        setup(|up| json!({"api_endpoint": up.base, "proxy_timeout": 1})).await;
    let res = api(&mut b, "GET", "/api/status/503", &[]).await;
    assert_eq!(res.status, 503);
    assert_eq!(res.json()["upstream_status"], 503);
    assert_eq!(res.header("x-upstream").as_deref(), Some("yes"));
    let res = api(&mut b, "GET", "/api/slow", &[]).await;
    assert_eq!(res.status, 504);
    assert_eq!(res.json()["error"], "upstream_timeout");
    // Nothing listens there.
    let op = FakeOp::start().await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (_bff, mut b) = logged_in(&op, json!({"api_endpoint": dead})).await;
    let res = api(&mut b, "GET", "/api/x", &[]).await;
    assert_eq!(res.status, 502);
    assert_eq!(res.json()["error"], "upstream_unreachable");
}

#[actix_web::test]
async fn expired_token_is_refreshed_before_proxying() {
    let up = Upstream::start();
    let (op, _bff, mut b) = refresh_due(&up.base).await;
    let first_access = op.first_issued("at-").unwrap();
    let res = api(&mut b, "GET", "/api/data", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(op.with(|s| s.counters.refresh), 1);
    let sent = up.last()["headers"]["authorization"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(
        sent,
        format!("Bearer {first_access}"),
        "the fresh token was sent"
    );
    assert!(
        res.set_cookies.iter().any(|c| c.starts_with("bff-session")),
        "new session cookie"
    );
}

#[actix_web::test]
async fn invalid_token_from_upstream_triggers_one_refresh_and_one_retry() {
    let (op, _bff, mut b, up) = setup(|up| json!({"api_endpoint": up.base})).await;
    let access = op.first_issued("at-").unwrap();
    up.state.lock().unwrap().reject_tokens.insert(access);
    let res = api(&mut b, "GET", "/api/data", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(op.with(|s| s.counters.refresh), 1);
    assert_eq!(up.count(), 2, "the first try and one retry");
    // A POST is not retried.
    let new_access = op.last_issued("at-").unwrap();
    up.state.lock().unwrap().reject_tokens.insert(new_access);
    let res = b
        .request("POST", "/api/data", &[("X-CSRF", "1")], Some("{}"))
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(up.count(), 3);
    // An upstream that rejects every token: still only one retry.
    let all: Vec<String> = op.with(|s| s.issued_tokens.clone());
    {
        let mut st = up.state.lock().unwrap();
        for t in all {
            st.reject_tokens.insert(t);
        }
    }
    let before = up.count();
    let res = api(&mut b, "GET", "/api/data", &[]).await;
    assert_eq!(
        res.status, 200,
        "the refreshed token is new to the upstream"
    );
    assert_eq!(up.count() - before, 2);
}

#[actix_web::test]
async fn no_route_and_no_api_configured() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let res = api(&mut b, "GET", "/api/data", &[]).await;
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["error"], "no_route");
}
