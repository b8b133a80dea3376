//! Silent login (prompt=none, postMessage to the exact origin), front-channel logout, and
//! the configurable limits on cookies, bodies and request time.

use crate::support::*;
use serde_json::json;

#[actix_web::test]
async fn silent_login_posts_the_outcome_to_our_origin_only() {
    let (op, bff) = pair(json!({"silent_login": true})).await;
    let mut b = Browser::new(&bff.base);
    let anon = b.get("/bff/user").await;
    assert_eq!(anon.status, 401);
    assert_eq!(anon.json()["silentLogin"], "/bff/silent-login");

    // The OP has a session: the iframe ends signed in.
    let res = b.get("/bff/silent-login").await;
    assert_eq!(res.status, 302);
    assert_eq!(
        query_param(&res.location(), "prompt").as_deref(),
        Some("none")
    );
    let back = b.get(&res.location()).await;
    let page = b.get(&back.location()).await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert!(html.contains(r#""isLoggedIn":true"#), "{html}");
    assert!(
        html.contains(&format!("\"{}\"", bff.base)),
        "exact target origin: {html}"
    );
    let csp = page.header("content-security-policy").unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "script carries the CSP nonce"
    );
    assert!(
        csp.contains("frame-ancestors 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(b.get("/bff/user").await.status, 200, "the session exists");

    // No OP session: isLoggedIn false, no session.
    op.with(|s| s.op_logged_in = false);
    let mut anon = Browser::new(&bff.base);
    let res = anon.get("/bff/silent-login").await;
    let back = anon.get(&res.location()).await;
    assert!(back.location().contains("error=login_required"));
    let page = anon.get(&back.location()).await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains(r#""isLoggedIn":false"#));
    assert_eq!(anon.get("/bff/user").await.status, 401);
}

#[actix_web::test]
async fn silent_login_is_off_unless_configured() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.get("/bff/silent-login").await.status, 404);
    assert!(b.get("/bff/user").await.json().get("silentLogin").is_none());
    let csp = b.get("/").await.header("content-security-policy").unwrap();
    assert!(!csp.contains("frame-src"));
    let (_op2, bff2) = pair(json!({"silent_login": true})).await;
    let mut b2 = Browser::new(&bff2.base);
    let csp = b2.get("/").await.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-src 'self' http://127.0.0.1:"), "{csp}");
}

#[actix_web::test]
async fn front_channel_logout_ends_the_op_session() {
    let (op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let mut anon = Browser::new(&bff.base);
    let bad = anon
        .get(&format!(
            "/bff/frontchannel-logout?iss={}",
            urlencode("https://evil.example")
        ))
        .await;
    assert_eq!(bad.status, 400);
    let no_sid = anon
        .get(&format!(
            "/bff/frontchannel-logout?iss={}",
            urlencode(&op.issuer)
        ))
        .await;
    assert_eq!(no_sid.status, 400);
    assert_eq!(b.get("/bff/user").await.status, 200);
    let res = anon
        .get(&format!(
            "/bff/frontchannel-logout?iss={}&sid=op-session-1",
            urlencode(&op.issuer)
        ))
        .await;
    assert_eq!(res.status, 200);
    let csp = res.header("content-security-policy").unwrap();
    assert!(
        csp.contains(&format!("frame-ancestors {}", op.issuer)),
        "the OP may frame it: {csp}"
    );
    assert_eq!(b.get("/bff/user").await.status, 401);
}

#[actix_web::test]
async fn cookie_and_body_limits() {
    let (_op, bff) =
        pair(json!({"max_cookies": 10, "max_cookie_header": 4096, "max_bff_body": 2048})).await;
    let mut b = Browser::new(&bff.base);
    for i in 0..11 {
        b.jar.insert(format!("c{i}"), "v".into());
    }
    let res = b.get("/bff/user").await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"], "invalid_request");
    let mut b = Browser::new(&bff.base);
    b.jar.insert("big".into(), "x".repeat(5000));
    let res = b.get("/bff/user").await;
    assert_eq!(res.status, 431);
    assert_eq!(res.json()["error"], "too_large");
    let mut b = Browser::new(&bff.base);
    let body = format!("{{\"returnUrl\":\"/{}\"}}", "a".repeat(3000));
    let res = b.post("/bff/login", Some(&body)).await;
    assert!(res.status == 400 || res.status == 413, "{}", res.status);
    assert!(
        res.json()["error"].is_string(),
        "JSON error: {}",
        String::from_utf8_lossy(&res.body)
    );
}

#[actix_web::test]
async fn a_slow_request_head_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_op, bff) = pair(json!({"request_timeout": 1})).await;
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", bff.port))
        .await
        .unwrap();
    conn.write_all(b"GET /bff/user HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        conn.read_to_end(&mut buf),
    )
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the server closed the slow request"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

#[actix_web::test]
async fn header_size_limit_is_configurable_and_answers_json() {
    let (_op, bff) = pair(json!({"max_header_bytes": 8192})).await;
    let mut b = Browser::new(&bff.base);
    let big = "h".repeat(9000);
    let res = b
        .request("GET", "/bff/user", &[("X-Big", big.as_str())], None)
        .await;
    assert_eq!(res.status, 431);
    assert_eq!(res.json()["error"], "too_large");
    let small = "h".repeat(4000);
    assert_eq!(
        b.request("GET", "/bff/user", &[("X-Big", small.as_str())], None)
            .await
            .status,
        401
    );
}
