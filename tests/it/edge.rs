//! Issue 9, the proxy edge, driven with raw sockets where an HTTP client would normalise
//! the attack away: refused methods, dot segments behind `;`, headers the proxy owns,
//! forwarding headers and `trusted_proxies`, body deadlines, and error bodies that never
//! carry a library's or the OS's text.

use std::time::{Duration, Instant};

use crate::support::process::{bin, run, temp_dir};
use crate::support::upstream::Upstream;
use crate::support::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn setup(patch: Value) -> (FakeOp, TestBff, Browser) {
    let op = FakeOp::start().await;
    let bff = spawn_bff(&op.issuer, patch).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    (op, bff, b)
}

fn api_to(up: &Upstream) -> Value {
    json!({"api_endpoint": format!("{}/v1", up.base), "subscription_key": "gateway-key"})
}

/// An answer as read off the socket.
struct Raw {
    text: String,
}

impl Raw {
    fn status(&self) -> Option<u16> {
        self.text
            .strip_prefix("HTTP/1.1 ")
            .and_then(|r| r.get(..3))
            .and_then(|s| s.parse().ok())
    }
    fn body(&self) -> &str {
        self.text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_str(self.body()).unwrap_or(Value::Null)
    }
}

/// Sends `bytes` and reads until the server closes (or `wait` passes).
async fn raw(port: u16, bytes: &[u8], wait: Duration) -> Raw {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    conn.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(wait, conn.read_to_end(&mut buf)).await;
    Raw {
        text: String::from_utf8_lossy(&buf).to_string(),
    }
}

/// No library or OS text in what a client sees.
fn assert_no_internal_text(text: &str) {
    for needle in [
        "os error",
        "Connection refused",
        "connection refused",
        "corrupt message",
        "InvalidContentType",
        "line 1 column",
        "at line",
        "segment started",
        "invalid character",
        "rustls",
        "Failed to connect",
        "Timeout while",
        "deserialize",
        "Io(",
        "Custom {",
        "invalid digit",
        "upstream_error",
    ] {
        assert!(
            !text.contains(needle),
            "`{needle}` reached the client: {text}"
        );
    }
}

// ---------------------------------------------------------------------------------
// 1. Methods.

#[actix_web::test]
async fn trace_track_and_connect_are_405_and_never_forwarded() {
    let up = Upstream::start();
    let (_op, bff, b) = setup(api_to(&up)).await;
    let cookie = b.cookie_header();
    for method in ["TRACE", "TRACK", "CONNECT", "trace"] {
        for csrf in ["X-CSRF: 1\r\n", ""] {
            let req = format!(
                "{method} /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n{csrf}Max-Forwards: 0\r\nConnection: close\r\n\r\n"
            );
            let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
            assert_eq!(res.status(), Some(405), "{method}: {}", res.text);
            assert_eq!(res.json()["error"], "method_not_allowed", "{}", res.text);
            assert!(res.json()["error_description"].is_string());
        }
    }
    // A CONNECT in authority form is no proxy request either.
    let req = format!(
        "CONNECT 127.0.0.1:{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nConnection: close\r\n\r\n",
        up.base.rsplit(':').next().unwrap(),
        up.base.rsplit(':').next().unwrap()
    );
    let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
    assert!(
        res.text.is_empty() || res.status().is_some_and(|s| (400..500).contains(&s)),
        "{}",
        res.text
    );
    assert_eq!(up.count(), 0, "the upstream saw none of them");
    // The same connection setup does forward an ordinary request.
    let req = format!(
        "GET /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nConnection: close\r\n\r\n"
    );
    let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(res.status(), Some(200), "{}", res.text);
    assert_eq!(up.count(), 1);
}

#[actix_web::test]
async fn method_override_headers_cannot_tunnel_trace() {
    let up = Upstream::start();
    let (_op, bff, b) = setup(api_to(&up)).await;
    let cookie = b.cookie_header();
    for name in [
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
    ] {
        for value in ["TRACE", "track", " Connect ", "PATCH, TRACE"] {
            let req = format!(
                "POST /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF: 1\r\n{name}: {value}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
            assert_eq!(res.status(), Some(405), "{name}: {value}: {}", res.text);
            assert_eq!(res.json()["error"], "method_not_allowed", "{}", res.text);
            assert!(res.json()["error_description"].is_string());
        }
    }
    assert_eq!(up.count(), 0, "the upstream saw none of them");
    // Other values are legitimate and pass unchanged.
    let req = format!(
        "POST /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nX-HTTP-Method-Override: PATCH\r\nX-Method-Override: DELETE\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(res.status(), Some(200), "{}", res.text);
    assert_eq!(up.last_values("x-http-method-override"), ["PATCH"]);
    assert_eq!(up.last_values("x-method-override"), ["DELETE"]);
}

// ---------------------------------------------------------------------------------
// 2. Paths.

#[actix_web::test]
async fn dot_segments_behind_path_parameters_are_400() {
    let up = Upstream::start();
    let (_op, bff, b) = setup(api_to(&up)).await;
    let cookie = b.cookie_header();
    for path in [
        "/api/b/..;/a/echo",
        "/api/b/..;x=1/a/echo",
        "/api/b/%2e%2e;/a/echo",
        "/api/b/..%3b/a/echo",
        "/api/b/.;/a/echo",
        "/api/b/%2E;/a/echo",
        "/api/b/%2E%2e;jsessionid=1/echo",
    ] {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nConnection: close\r\n\r\n"
        );
        let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(res.status(), Some(400), "{path}: {}", res.text);
        assert_eq!(res.json()["error"], "invalid_path", "{path}");
    }
    assert_eq!(up.count(), 0, "no dot segment reached the upstream");
    // Other path parameters are forwarded unchanged.
    let req = format!(
        "GET /api/items;color=red/a;v=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nConnection: close\r\n\r\n"
    );
    let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(res.status(), Some(200), "{}", res.text);
    assert_eq!(up.last()["path"], "/v1/items;color=red/a;v=1");
}

// ---------------------------------------------------------------------------------
// 3. Headers the proxy owns.

#[actix_web::test]
async fn configured_headers_replace_the_clients() {
    let up = Upstream::start();
    let routes = json!({"routes": [
        {"prefix": "/api/cat", "upstream": format!("{}/cat", up.base), "headers": {"X-Api-Key": "configured"}},
    ], "api_endpoint": format!("{}/v1", up.base), "subscription_key": "gateway-key"});
    let (_op, bff, b) = setup(routes).await;
    let cookie = b.cookie_header();
    let req = format!(
        "GET /api/cat/x HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nX-Api-Key: attacker\r\nx-api-key: attacker-2\r\nX-API-KEY: attacker-3\r\nConnection: close\r\n\r\n"
    );
    let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(res.status(), Some(200), "{}", res.text);
    assert_eq!(up.last()["path"], "/cat/x");
    assert_eq!(up.last_values("x-api-key"), ["configured"]);
    // A route that configures no `Ocp-Apim-Subscription-Key` passes the client's on.
    let req = format!(
        "GET /api/cat/x HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nOcp-Apim-Subscription-Key: the-apis-own\r\nConnection: close\r\n\r\n"
    );
    let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(res.status(), Some(200), "{}", res.text);
    assert_eq!(
        up.last_values("ocp-apim-subscription-key"),
        ["the-apis-own"]
    );

    // With `routes`, `subscription_key` belongs to no route; the default route gets it
    // when there are no `routes`.
    let up2 = Upstream::start();
    let (_op2, bff2, b2) = setup(api_to(&up2)).await;
    let req = format!(
        "GET /api/x HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\nX-CSRF: 1\r\nOcp-Apim-Subscription-Key: stolen\r\nocp-apim-subscription-key: other\r\nConnection: close\r\n\r\n",
        b2.cookie_header()
    );
    let res = raw(bff2.port, req.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(res.status(), Some(200), "{}", res.text);
    assert_eq!(
        up2.last_values("ocp-apim-subscription-key"),
        ["gateway-key"]
    );
}

// ---------------------------------------------------------------------------------
// 4. Forwarding headers.

const SPOOFED: &[(&str, &str)] = &[
    ("X-Forwarded-For", "6.6.6.6"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Real-IP", "6.6.6.6"),
    ("X-Client-IP", "6.6.6.6"),
    ("X-Original-URL", "/admin"),
    ("X-Rewrite-URL", "/admin"),
    ("X-Forwarded-Prefix", "/admin"),
    ("Forwarded", "for=6.6.6.6;host=evil.example;proto=https"),
    ("X-Forwarded-Port", "443"),
    ("X-Forwarded-Server", "evil.example"),
    ("X-Original-Host", "evil.example"),
    ("True-Client-IP", "6.6.6.6"),
    ("CF-Connecting-IP", "6.6.6.6"),
    ("X-Cluster-Client-IP", "6.6.6.6"),
];

fn spoofing_request(cookie: &str, host: &str) -> String {
    let mut req = format!(
        "GET /api/fwd HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nConnection: close\r\n"
    );
    for (n, v) in SPOOFED {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req
}

/// The last upstream request carried our own forwarding headers: the peer, our scheme,
/// and base_url's host (never the Host header).
fn assert_forwarding_is_ours(up: &Upstream, port: u16) {
    assert_eq!(up.last_values("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(up.last_values("x-forwarded-proto"), ["http"]);
    assert_eq!(
        up.last_values("x-forwarded-host"),
        [format!("127.0.0.1:{port}")],
        "base_url's host, never the Host header"
    );
}

#[actix_web::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ours() {
    let up = Upstream::start();
    let (_op, bff, b) = setup(api_to(&up)).await;
    let req = spoofing_request(&b.cookie_header(), "evil.example");
    let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(res.status(), Some(200), "{}", res.text);
    assert_forwarding_is_ours(&up, bff.port);
    for (n, _) in &SPOOFED[3..] {
        assert!(up.last_values(n).is_empty(), "{n} reached the upstream");
    }
}

#[actix_web::test]
async fn forwarding_headers_from_a_trusted_peer_are_kept() {
    let up = Upstream::start();
    let mut patch = api_to(&up);
    patch["trusted_proxies"] = json!(["10.0.0.0/8", "127.0.0.1"]);
    let (_op, bff, b) = setup(patch).await;
    let req = spoofing_request(&b.cookie_header(), "app.example");
    let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(res.status(), Some(200), "{}", res.text);
    assert_eq!(up.last_values("x-forwarded-for"), ["6.6.6.6, 127.0.0.1"]);
    assert_eq!(up.last_values("x-forwarded-proto"), ["https"]);
    assert_eq!(up.last_values("x-forwarded-host"), ["evil.example"]);
    for (n, v) in &SPOOFED[3..] {
        assert_eq!(up.last_values(n), [*v], "{n} from a trusted proxy");
    }
    // Absent, they are ours.
    let req = format!(
        "GET /api/fwd HTTP/1.1\r\nHost: app.example\r\nCookie: {}\r\nX-CSRF: 1\r\nConnection: close\r\n\r\n",
        b.cookie_header()
    );
    let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(res.status(), Some(200), "{}", res.text);
    assert_forwarding_is_ours(&up, bff.port);
}

// ---------------------------------------------------------------------------------
// 5. Deadlines.

/// Writes `piece` once a second, `times` times at most, while reading what the server
/// says, for up to `read_for`: what it said before it closed (or the time was up).
async fn trickle(
    conn: TcpStream,
    piece: &'static [u8],
    times: usize,
    read_for: Duration,
) -> Vec<u8> {
    let (mut rd, mut wr) = conn.into_split();
    let writer = actix_rt::spawn(async move {
        for _ in 0..times {
            if wr.write_all(piece).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(read_for, rd.read_to_end(&mut buf)).await;
    writer.abort();
    buf
}

/// Opens a POST to `path` announcing 100 body bytes and sends one a second; returns how
/// long until the server answered or closed, and what it said.
async fn slow_post(port: u16, path: &str, content_type: &str, extra: &str) -> (Duration, Raw) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: 100\r\nX-CSRF: 1\r\n{extra}\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let buf = trickle(conn, b"{", 100, Duration::from_secs(20)).await;
    let elapsed = started.elapsed();
    (
        elapsed,
        Raw {
            text: String::from_utf8_lossy(&buf).to_string(),
        },
    )
}

fn assert_cut_off(what: &str, elapsed: Duration, res: &Raw, body_timeout: u64) {
    assert!(
        elapsed < Duration::from_secs(body_timeout + 3),
        "{what}: still open after {elapsed:?}"
    );
    assert!(
        elapsed >= Duration::from_secs(body_timeout) - Duration::from_millis(200),
        "{what}: cut off too early ({elapsed:?})"
    );
    if !res.text.is_empty() {
        assert_eq!(res.status(), Some(408), "{what}: {}", res.text);
        assert_eq!(res.json()["error"], "request_timeout", "{what}");
    }
}

#[actix_web::test]
async fn slow_bodies_are_cut_off_and_do_not_starve_the_server() {
    let (_op, bff) = pair(json!({"body_timeout": 2})).await;
    let port = bff.port;
    let targets = [
        ("/bff/login", "application/json"),
        (
            "/bff/backchannel-logout",
            "application/x-www-form-urlencoded",
        ),
        ("/bff/revoke", "application/json"),
    ];
    // One of each, answered 408 JSON within the deadline.
    for (path, ct) in targets {
        let (elapsed, res) = slow_post(port, path, ct, "").await;
        assert!(!res.text.is_empty(), "{path}: an answer, not only a close");
        assert_cut_off(path, elapsed, &res, 2);
    }

    // Sixty at once: /healthz keeps answering promptly, and all of them are cut off.
    let mut slow = Vec::new();
    for i in 0..60 {
        let (path, ct) = targets[i % 3];
        slow.push(actix_rt::spawn(slow_post(port, path, ct, "")));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let client = awc::Client::default();
    for _ in 0..3 {
        let started = Instant::now();
        let res = client
            .get(format!("{}/healthz", bff.base))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .expect("healthz answers while 60 bodies trickle");
        assert_eq!(res.status(), 200);
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for (i, h) in slow.into_iter().enumerate() {
        let (elapsed, res) = h.await.unwrap();
        assert_cut_off(&format!("slow body {i}"), elapsed, &res, 2);
    }
}

#[actix_web::test]
async fn a_slow_chunked_body_to_an_endpoint_that_ignores_it_is_cut_off() {
    let (_op, bff) = pair(json!({"body_timeout": 2})).await;
    let mut conn = TcpStream::connect(("127.0.0.1", bff.port)).await.unwrap();
    conn.write_all(
        b"POST /bff/refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nX-CSRF: 1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let buf = trickle(conn, b"1\r\nx\r\n", 30, Duration::from_secs(15)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "connection still open after {:?}: {text}",
        started.elapsed()
    );
    assert_no_internal_text(&text);
}

/// Sends `head` (which announces a chunked body), then one one-byte chunk a second for
/// up to 30 s; returns how long until the server closed, and what it said.
async fn trickle_chunked(port: u16, head: &str) -> (Duration, Raw) {
    let conn = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut rd, mut wr) = conn.into_split();
    wr.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let writer = actix_rt::spawn(async move {
        for _ in 0..30 {
            if wr.write_all(b"1\r\nx\r\n").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), rd.read_to_end(&mut buf)).await;
    let elapsed = started.elapsed();
    writer.abort();
    (
        elapsed,
        Raw {
            text: String::from_utf8_lossy(&buf).to_string(),
        },
    )
}

#[actix_web::test]
async fn a_slow_chunked_body_refused_before_routing_is_answered_and_closed() {
    let (_op, bff) = pair(json!({"body_timeout": 30, "max_cookies": 8})).await;
    let many_cookies = format!(
        "Cookie: {}\r\n",
        (0..9)
            .map(|i| format!("c{i}=1"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let cases: &[(&str, &str, &str, u16)] = &[
        ("POST", "/bff/logout", "", 403),
        (
            "POST",
            "/bff/logout",
            "X-CSRF: 1\r\nOrigin: https://evil.example\r\n",
            403,
        ),
        ("TRACE", "/bff/user", "X-CSRF: 1\r\n", 405),
        ("POST", "/bff/logout", many_cookies.as_str(), 400),
    ];
    for (method, path, extra, status) in cases {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Transfer-Encoding: chunked\r\n\r\n"
        );
        let (elapsed, res) = trickle_chunked(bff.port, &head).await;
        let what = format!("{method} {path} {extra:?}");
        assert_eq!(res.status(), Some(*status), "{what}: {}", res.text);
        assert!(res.json()["error"].is_string(), "{what}: {}", res.text);
        assert!(
            elapsed < Duration::from_secs(3),
            "{what}: connection still open after {elapsed:?}"
        );
        assert_no_internal_text(&res.text);
    }
}

#[actix_web::test]
async fn a_slow_chunked_body_to_the_admin_listener_is_answered_and_closed() {
    let op = FakeOp::start().await;
    let admin_port = crate::support::process::free_port();
    let _bff = spawn_bff(
        &op.issuer,
        json!({"admin_listen": format!("127.0.0.1:{admin_port}")}),
    )
    .await;
    for path in ["/metrics", "/nothing-here"] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        let (elapsed, res) = trickle_chunked(admin_port, &head).await;
        let status = res.status().unwrap_or(0);
        assert!((400..500).contains(&status), "{path}: {}", res.text);
        assert!(res.json()["error"].is_string(), "{path}: {}", res.text);
        assert!(
            elapsed < Duration::from_secs(3),
            "{path}: connection still open after {elapsed:?}"
        );
    }
}

#[actix_web::test]
async fn a_stalled_api_upload_is_cut_off_after_proxy_timeout() {
    let up = Upstream::start();
    let mut patch = api_to(&up);
    patch["proxy_timeout"] = json!(2);
    let (_op, bff, b) = setup(patch).await;
    for framing in ["Content-Length: 1000\r\n", "Transfer-Encoding: chunked\r\n"] {
        let mut conn = TcpStream::connect(("127.0.0.1", bff.port)).await.unwrap();
        let head = format!(
            "POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\nX-CSRF: 1\r\n{framing}\r\n",
            b.cookie_header()
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        let first: &[u8] = if framing.starts_with("Content-Length") {
            b"0123456789"
        } else {
            b"a\r\n0123456789\r\n"
        };
        conn.write_all(first).await.unwrap();
        let started = Instant::now();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut buf)).await;
        let elapsed = started.elapsed();
        let res = Raw {
            text: String::from_utf8_lossy(&buf).to_string(),
        };
        assert!(
            elapsed < Duration::from_secs(5) && elapsed >= Duration::from_millis(1800),
            "{framing}: {elapsed:?}"
        );
        assert_eq!(res.status(), Some(408), "{framing}: {}", res.text);
        assert_eq!(res.json()["error"], "request_timeout");
        assert_no_internal_text(&res.text);
    }
    // A steady upload slower than proxy_timeout in all, but never stalled, passes.
    let mut conn = TcpStream::connect(("127.0.0.1", bff.port)).await.unwrap();
    let head = format!(
        "POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\nX-CSRF: 1\r\nContent-Length: 6\r\nConnection: close\r\n\r\n",
        b.cookie_header()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        conn.write_all(b"x").await.unwrap();
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains(r#""body_len":6"#),
        "the upstream got it all: {text}"
    );
}

/// Reads a raw GET of `path` to its end (or 10 s); the text and how long it took.
async fn raw_get(port: u16, path: &str, cookie: &str) -> (String, Duration) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut buf)).await;
    (String::from_utf8_lossy(&buf).to_string(), started.elapsed())
}

#[actix_web::test]
async fn an_answer_the_upstream_stalls_is_cut_off_after_proxy_timeout() {
    let up = Upstream::start();
    let (_op, bff, b) = setup(json!({"api_endpoint": up.base, "proxy_timeout": 1})).await;
    // The first chunk comes at once, the second only after 4 s: the BFF gives up after 1 s
    // of waiting and closes the connection (the status line has gone out already).
    let (text, elapsed) = raw_get(bff.port, "/api/paced/2/4000", &b.cookie_header()).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("chunk0;"), "{text}");
    assert!(!text.contains("chunk1;"), "{text}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(3000),
        "closed after {elapsed:?}"
    );
    // A steady answer slower than proxy_timeout in all, but never stalled, arrives whole.
    let (text, elapsed) = raw_get(bff.port, "/api/paced/5/600", &b.cookie_header()).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("chunk4;"), "{text}");
    assert!(elapsed >= Duration::from_millis(2400), "{elapsed:?}");
}

#[actix_web::test]
async fn an_upload_the_upstream_stops_reading_is_cut_off_after_proxy_timeout() {
    // An upstream that reads the request head, then never reads again nor answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_port = listener.local_addr().unwrap().port();
    let heads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = heads.clone();
    actix_rt::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match conn.read(&mut byte).await {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(conn);
        }
    });
    let mut patch = json!({"api_endpoint": format!("http://127.0.0.1:{up_port}/v1")});
    patch["proxy_timeout"] = json!(2);
    let (_op, bff, b) = setup(patch).await;
    for framing in [
        "Content-Length: 1000000000\r\n",
        "Transfer-Encoding: chunked\r\n",
    ] {
        let conn = TcpStream::connect(("127.0.0.1", bff.port)).await.unwrap();
        let (mut rd, mut wr) = conn.into_split();
        let head = format!(
            "POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\nX-CSRF: 1\r\n{framing}\r\n",
            b.cookie_header()
        );
        wr.write_all(head.as_bytes()).await.unwrap();
        let chunked = framing.starts_with("Transfer");
        let started = Instant::now();
        // The client never stalls: it writes as fast as the BFF reads.
        let writer = actix_rt::spawn(async move {
            let block = vec![b'x'; 64 * 1024];
            loop {
                let sent = if chunked {
                    let mut c = format!("{:x}\r\n", block.len()).into_bytes();
                    c.extend_from_slice(&block);
                    c.extend_from_slice(b"\r\n");
                    wr.write_all(&c).await
                } else {
                    wr.write_all(&block).await
                };
                if sent.is_err() {
                    break;
                }
            }
        });
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut buf)).await;
        let elapsed = started.elapsed();
        writer.abort();
        let res = Raw {
            text: String::from_utf8_lossy(&buf).to_string(),
        };
        assert!(
            elapsed < Duration::from_secs(8) && elapsed >= Duration::from_millis(1800),
            "{framing}: cut off after {elapsed:?}: {}",
            res.text
        );
        // Closing on unread bytes may reset the connection before the answer is read.
        if !res.text.is_empty() {
            assert_eq!(res.status(), Some(504), "{framing}: {}", res.text);
            assert_eq!(res.json()["error"], "upstream_timeout", "{}", res.text);
        }
        assert_no_internal_text(&res.text);
    }
    assert_eq!(
        heads.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "both uploads reached the upstream"
    );
}

// ---------------------------------------------------------------------------------
// 6. Error bodies.

#[actix_web::test]
async fn upstream_failures_answer_our_words_only() {
    // Nothing listens: "Connection refused (os error 111)" stays in the log.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (_op, bff, mut b) =
        setup(json!({"api_endpoint": format!("http://127.0.0.1:{port}")})).await;
    let res = b.request("GET", "/api/x", &[("X-CSRF", "1")], None).await;
    let text = String::from_utf8_lossy(&res.body).to_string();
    assert_eq!(res.status, 502, "{text}");
    assert_eq!(res.json()["error"], "upstream_unreachable");
    assert!(res.json()["error_description"].is_string());
    assert_no_internal_text(&text);
    bff.stop().await;

    // TLS to a plain-http upstream: rustls' "received corrupt message" stays in the log.
    let up = Upstream::start();
    let https = up.base.replace("http://", "https://");
    let (_op, _bff, mut b) = setup(json!({"api_endpoint": https})).await;
    let res = b.request("GET", "/api/x", &[("X-CSRF", "1")], None).await;
    let text = String::from_utf8_lossy(&res.body).to_string();
    assert!(res.status == 502, "{} {text}", res.status);
    assert!(res.json()["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("upstream_")));
    assert_no_internal_text(&text);
}

#[actix_web::test]
async fn extractor_and_static_file_errors_are_json_in_our_words() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let cases: Vec<(&str, &str, Option<&str>, u16)> = vec![
        ("POST", "/bff/login", Some("{\"returnUrl\": 1"), 400),
        ("POST", "/bff/login", Some("{\"returnUrl\": 7}"), 400),
        ("POST", "/bff/revoke", Some("{bad"), 400),
        (
            "POST",
            "/bff/revoke",
            Some("{\"token\": \"id_token\", \"x\": 1}"),
            400,
        ),
        ("GET", "/bff/login?maxAge=abc", None, 400),
        ("GET", "/bff/frontchannel-logout?iss=%ZZ", None, 400),
        ("POST", "/healthz", None, 405),
        ("PUT", "/healthz", None, 405),
        ("TRACE", "/", None, 405),
    ];
    for (method, path, body, status) in cases {
        let headers = [("X-CSRF", "1")];
        let res = b.request(method, path, &headers, body).await;
        let text = String::from_utf8_lossy(&res.body).to_string();
        assert_eq!(res.status, status, "{method} {path}: {text}");
        assert!(
            res.json()["error"].is_string(),
            "{method} {path}: JSON error: {text}"
        );
        assert!(res.json()["error_description"].is_string(), "{text}");
        assert_no_internal_text(&text);
    }
    // actix-files' own "segment started with invalid character" for hidden files.
    for path in ["/.env", "/a/.git/config", "/%2e%2e/etc/passwd"] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
        let status = res.status().unwrap_or(0);
        assert!((400..500).contains(&status), "{path}: {}", res.text);
        assert!(res.json()["error"].is_string(), "{path}: {}", res.text);
        assert_no_internal_text(&res.text);
    }
}

#[actix_web::test]
async fn malformed_chunked_bodies_are_400_never_502() {
    let up = Upstream::start();
    let (_op, bff, b) = setup(api_to(&up)).await;
    let cookie = b.cookie_header();
    let bodies: &[(&str, &str)] = &[
        ("Transfer-Encoding: chunked\r\n", "zz\r\nabc\r\n0\r\n\r\n"),
        (
            "Transfer-Encoding: chunked\r\n",
            "3\r\nabc\r\nzz\r\nabc\r\n0\r\n\r\n",
        ),
        ("Transfer-Encoding: chunked\r\n", "3\r\nabcdef\r\n0\r\n\r\n"),
        (
            "Transfer-Encoding: chunked\r\n",
            "3;\u{1}ext\r\nabc\r\n0\r\n\r\n",
        ),
        ("Transfer-Encoding: chunked\r\n", "-3\r\nabc\r\n0\r\n\r\n"),
        (
            "Transfer-Encoding: chunked\r\n",
            "ffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        ),
        (
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
            "3\r\nabc\r\n0\r\n\r\n",
        ),
        (
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "3\r\nabc\r\n0\r\n\r\n",
        ),
        (
            "Transfer-Encoding: chunked, identity\r\n",
            "3\r\nabc\r\n0\r\n\r\n",
        ),
        ("Transfer-Encoding: xchunked\r\n", "3\r\nabc\r\n0\r\n\r\n"),
    ];
    for path in ["/api/upload", "/bff/login"] {
        for (framing, body) in bodies {
            let req = format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nContent-Type: application/json\r\n{framing}\r\n{body}"
            );
            let res = raw(bff.port, req.as_bytes(), Duration::from_secs(5)).await;
            let what = format!("{path} {framing:?} {body:?}");
            if !res.text.is_empty() {
                assert_eq!(res.status(), Some(400), "{what}: {}", res.text);
                // actix answers framing it cannot parse at all with an empty 400 before
                // any handler runs; everything that reaches us is JSON.
                if !res.body().is_empty() {
                    assert!(res.json()["error"].is_string(), "{what}: {}", res.text);
                }
            }
            assert_no_internal_text(&res.text);
        }
    }
    // The broken chunk arrives after the upload started streaming to the upstream: the
    // upstream call fails because of the client's body, and that is the client's 400.
    for bad in [
        "zz\r\nabc\r\n0\r\n\r\n",
        "3;\u{1}ext\r\nabc\r\n0\r\n\r\n",
        "3\r\nabcdef\r\n",
    ] {
        let mut conn = TcpStream::connect(("127.0.0.1", bff.port)).await.unwrap();
        let head = format!(
            "POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        conn.write_all(bad.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut buf)).await;
        let res = Raw {
            text: String::from_utf8_lossy(&buf).to_string(),
        };
        assert_eq!(res.status(), Some(400), "{bad:?}: {}", res.text);
        assert_eq!(res.json()["error"], "invalid_body", "{bad:?}: {}", res.text);
        assert_no_internal_text(&res.text);
    }
    // The fake upstream records a request once its body was read whole.
    assert_eq!(up.count(), 0, "no malformed body completed at the upstream");
}

// ---------------------------------------------------------------------------------
// The two new settings: a bad value is one line naming the key, exit 2.

/// A settings patch, environment overrides, and the key the error line must name.
type BadCase = (Value, Vec<(&'static str, &'static str)>, &'static str);

#[test]
fn bad_trusted_proxies_or_body_timeout_stop_start_up_naming_the_key() {
    let dir = temp_dir("edge");
    let good = json!({"issuer": "https://op.example", "client_id": "c", "client_secret": "s", "base_url": "https://localhost:5443"});
    let cases: Vec<BadCase> = vec![
        (
            json!({"trusted_proxies": ["10.0.0.0/33"]}),
            vec![],
            "`trusted_proxies`",
        ),
        (
            json!({"trusted_proxies": ["proxy.internal"]}),
            vec![],
            "`trusted_proxies`",
        ),
        (
            json!({}),
            vec![("BFF_TRUSTED_PROXIES", "10.0.0.1,not-an-ip")],
            "`trusted_proxies`",
        ),
        (json!({"body_timeout": 0}), vec![], "`body_timeout`"),
        (
            json!({}),
            vec![("BFF_BODY_TIMEOUT", "soon")],
            "`body_timeout`",
        ),
    ];
    for (i, (patch, env, key)) in cases.into_iter().enumerate() {
        let mut settings = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            settings[k] = v.clone();
        }
        let path = dir.join(format!("settings-{i}.json"));
        std::fs::write(&path, settings.to_string()).unwrap();
        for check in [true, false] {
            let mut cmd = bin();
            cmd.arg("--config").arg(&path).envs(env.iter().copied());
            if check {
                cmd.arg("--check");
            }
            let out = run(&mut cmd);
            let stderr = out.stderr;
            assert_eq!(out.code, 2, "case {i} check={check}: {stderr}");
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(lines.len(), 1, "case {i}: one line: {stderr}");
            assert!(lines[0].contains(key), "case {i}: {stderr}");
        }
    }
}
