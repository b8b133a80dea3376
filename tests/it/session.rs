//! Session cookies (sealing, tampering, chunking, key rotation, attributes), `/bff/user`,
//! logout (end-session URL, revocation, replayed cookie), and bad input.

use crate::support::process::until_ok;
use crate::support::*;
use serde_json::{json, Map, Value};

#[actix_web::test]
async fn cookie_attributes() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let res = b.get("/bff/login").await;
    let login = res
        .set_cookies
        .iter()
        .find(|c| c.starts_with("bff-login="))
        .unwrap();
    for attr in ["HttpOnly", "Secure", "Path=/", "SameSite=Lax", "Max-Age="] {
        assert!(login.contains(attr), "{attr} in {login}");
    }
    let op_res = b.get(&res.location()).await;
    let cb = b.get(&op_res.location()).await;
    let session = cb
        .set_cookies
        .iter()
        .find(|c| c.starts_with("bff-session="))
        .unwrap();
    for attr in ["HttpOnly", "Secure", "Path=/", "SameSite=Strict"] {
        assert!(session.contains(attr), "{attr} in {session}");
    }
    assert!(!session.contains("Domain"), "host-only cookie");
}

#[actix_web::test]
async fn same_site_lax_is_configurable() {
    let (_op, bff) = pair(json!({"cookie_same_site": "lax"})).await;
    let mut b = Browser::new(&bff.base);
    let cb = b.login().await;
    assert!(cb
        .set_cookies
        .iter()
        .any(|c| c.starts_with("bff-session=") && c.contains("SameSite=Lax")));
}

#[actix_web::test]
async fn tampered_garbage_and_oversized_cookies_are_401_never_5xx() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let good = b.jar.get("bff-session").cloned().unwrap();
    let mut flipped = good.clone().into_bytes();
    let i = flipped.len() / 2;
    flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
    let cases: Vec<(String, String)> = vec![
        ("bff-session".into(), String::from_utf8(flipped).unwrap()),
        ("bff-session".into(), "garbage".into()),
        ("bff-session".into(), "".into()),
        ("bff-session".into(), "%%%%".into()),
        ("bff-session".into(), good[..good.len() - 5].to_string()),
        ("bff-session.0".into(), "x".repeat(3900)),
        ("bff-session.1".into(), good.clone()),
    ];
    for (name, value) in cases {
        let mut evil = Browser::new(&bff.base);
        evil.jar.insert(name.clone(), value);
        let res = evil.get("/bff/user").await;
        assert_eq!(res.status, 401, "{name}");
        assert_eq!(res.json()["error"], "not_authenticated");
    }
    // Too many chunks.
    let mut evil = Browser::new(&bff.base);
    for i in 0..20 {
        evil.jar.insert(format!("bff-session.{i}"), "A".repeat(100));
    }
    assert_eq!(evil.get("/bff/user").await.status, 401);
    // A cookie sealed for another name (the login cookie) does not open as a session.
    let mut evil = Browser::new(&bff.base);
    evil.get("/bff/login").await;
    let login = evil.jar.get("bff-login").cloned().unwrap();
    evil.jar.insert("bff-session".into(), login);
    assert_eq!(evil.get("/bff/user").await.status, 401);
}

#[actix_web::test]
async fn large_sessions_are_chunked_and_stale_chunks_deleted() {
    let (op, bff) = pair(json!({})).await;
    let mut extra = Map::new();
    extra.insert(
        "groups".into(),
        Value::Array(
            (0..300)
                .map(|i| json!(format!("group-number-{i}")))
                .collect(),
        ),
    );
    op.tweak(Tweaks {
        extra_claims: extra,
        ..Default::default()
    });
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert!(
        b.jar.contains_key("bff-session.0") && b.jar.contains_key("bff-session.1"),
        "{:?}",
        b.jar.keys()
    );
    assert!(!b.jar.contains_key("bff-session"));
    assert!(b.jar.values().all(|v| v.len() <= 3800));
    let user = b.get("/bff/user").await;
    assert_eq!(user.status, 200);
    assert_eq!(
        user.json()["claims"]["groups"].as_array().unwrap().len(),
        300
    );
    // A later small session replaces the chunks and deletes them.
    op.tweak(Tweaks::default());
    let res = b.login().await;
    assert!(res
        .set_cookies
        .iter()
        .any(|c| c.starts_with("bff-session.0=;")
            || c.starts_with("bff-session.0=") && c.contains("Max-Age=0")));
    assert!(b.jar.contains_key("bff-session"));
    assert!(
        !b.jar.keys().any(|k| k.starts_with("bff-session.")),
        "{:?}",
        b.jar.keys()
    );
    assert_eq!(b.get("/bff/user").await.status, 200);
}

#[actix_web::test]
async fn sessions_too_large_for_the_chunk_limit_fail_cleanly() {
    let (op, bff) = pair(json!({"max_cookie_chunks": 2})).await;
    let mut extra = Map::new();
    extra.insert("blob".into(), json!("y".repeat(12_000)));
    op.tweak(Tweaks {
        extra_claims: extra,
        ..Default::default()
    });
    let mut b = Browser::new(&bff.base);
    let res = b.login().await;
    assert_eq!(res.location(), "/?login_error=session_error");
    assert!(!b.jar.keys().any(|k| k.starts_with("bff-session")));
}

#[actix_web::test]
async fn key_rotation_keeps_users_signed_in() {
    let op = FakeOp::start().await;
    let bff_a = spawn_bff(&op.issuer, json!({"cookie_keys": [cookie_key(1)]})).await;
    let mut b = Browser::new(&bff_a.base);
    b.login().await;
    let session = b.jar.get("bff-session").cloned().unwrap();
    bff_a.stop().await;

    // New key first, old key still listed: the old cookie opens, and new cookies use the new key.
    let bff_b = spawn_bff(
        &op.issuer,
        json!({"cookie_keys": [cookie_key(2), cookie_key(1)]}),
    )
    .await;
    let mut b2 = Browser::new(&bff_b.base);
    b2.jar.insert("bff-session".into(), session.clone());
    assert_eq!(b2.get("/bff/user").await.status, 200);
    let mut fresh = Browser::new(&bff_b.base);
    fresh.login().await;
    let new_cookie = fresh.jar.get("bff-session").cloned().unwrap();

    // Old key removed: the old cookie stops working, the new one keeps working.
    let bff_c = spawn_bff(&op.issuer, json!({"cookie_keys": [cookie_key(2)]})).await;
    let mut b3 = Browser::new(&bff_c.base);
    b3.jar.insert("bff-session".into(), session);
    assert_eq!(b3.get("/bff/user").await.status, 401);
    let mut b4 = Browser::new(&bff_c.base);
    b4.jar.insert("bff-session".into(), new_cookie);
    assert_eq!(b4.get("/bff/user").await.status, 200);
}

#[actix_web::test]
async fn logout_returns_end_session_url_revokes_and_ends_the_session() {
    let (op, bff) = pair(json!({"post_logout_redirect_uri": "http://127.0.0.1:1/bye"})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let stolen = b.jar.clone();
    let res = b.post("/bff/logout", None).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    // 0.2 (issue 9): logoutUrl is the BFF's logout page; the ID token reaches the OP in
    // that page's POST form (tests/logout.rs has the details), never in a URL.
    let url = res.json()["logoutUrl"].as_str().unwrap().to_string();
    assert_eq!(url, format!("{}/bff/logout/end", bff.base));
    let id_token = op.first_issued("ey").unwrap();
    assert!(!url.contains(&id_token));
    assert_eq!(
        b.jar.keys().collect::<Vec<_>>(),
        vec!["bff-logout"],
        "every session cookie cleared"
    );
    let page = b.get(&url).await;
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert!(
        html.contains(&format!("action=\"{}/session/end\"", op.issuer)),
        "{html}"
    );
    assert!(html.contains(&format!("name=\"id_token_hint\" value=\"{id_token}\"")));
    assert!(html.contains("name=\"post_logout_redirect_uri\" value=\"http://127.0.0.1:1/bye\""));
    assert!(html.contains(&format!("name=\"client_id\" value=\"{CLIENT_ID}\"")));
    assert!(b.jar.is_empty(), "every cookie cleared: {:?}", b.jar.keys());
    let revoked = op.with(|s| s.revoked.clone());
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].1, "refresh_token");
    assert!(revoked[0].0.starts_with("rt-"));
    assert_eq!(b.get("/bff/user").await.status, 401);
    // The old cookie, replayed, stays ended.
    let mut thief = Browser::new(&bff.base);
    thief.jar = stolen;
    let res = thief.get("/bff/user").await;
    assert_eq!(res.status, 401);
}

#[actix_web::test]
async fn logout_without_end_session_endpoint_goes_to_post_logout_redirect_uri() {
    let op = FakeOp::start().await;
    op.with(|s| {
        s.discovery_overrides
            .insert("end_session_endpoint".into(), Value::Null);
        s.discovery_overrides
            .insert("revocation_endpoint".into(), Value::Null);
    });
    let bff = spawn_bff(&op.issuer, json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let res = b.post("/bff/logout", None).await;
    assert_eq!(res.json()["logoutUrl"], format!("{}/", bff.base));
    assert_eq!(op.with(|s| s.counters.revoke), 0);
    assert_eq!(b.get("/bff/user").await.status, 401);
}

#[actix_web::test]
async fn bad_input_gets_json_errors() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let res = b.get("/bff/nope").await;
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["error"], "not_found");
    let res = b.post("/bff/nope", None).await;
    assert_eq!(res.status, 404);
    // A known endpoint with a method it does not take: 405 JSON naming the allowed ones.
    for (method, path, allow) in [
        ("PUT", "/bff/login", "GET, POST"),
        ("DELETE", "/bff/refresh", "POST"),
        ("POST", "/bff/user", "GET"),
        ("GET", "/bff/logout", "POST"),
    ] {
        let res = b.request(method, path, &[("X-CSRF", "1")], None).await;
        assert_eq!(res.status, 405, "{method} {path}");
        assert_eq!(res.json()["error"], "method_not_allowed", "{method} {path}");
        assert_eq!(
            res.header("allow").as_deref(),
            Some(allow),
            "{method} {path}"
        );
    }
    let res = b.post("/bff/login", Some("[[[")).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"], "invalid_request");
    let big = format!("{{\"returnUrl\":\"/{}\"}}", "a".repeat(100_000));
    let res = b.post("/bff/login", Some(&big)).await;
    assert!(res.status == 400 || res.status == 413, "{}", res.status);
    let res = b.get("/callback?code=x&state=y&iss=z").await;
    assert_eq!(res.status, 302);
    assert_eq!(res.location(), "/?login_error=invalid_state");
    let res = b.get("/callback?%%%").await;
    assert_eq!(res.location(), "/?login_error=invalid_state");
}

#[actix_web::test]
async fn spa_is_served_with_security_headers() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let res = b.get("/").await;
    assert_eq!(res.status, 200);
    assert!(String::from_utf8_lossy(&res.body).contains("<html"));
    let csp = res.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(
        res.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        res.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
}

#[actix_web::test]
async fn healthz_waits_for_discovery_and_recovers_when_the_op_appears() {
    // Reserve a port for the OP, start the BFF first.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let op_port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let issuer = format!("http://127.0.0.1:{op_port}");
    let bff = start_bff_on(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        &issuer,
        json!({}),
    );
    let mut b = Browser::new(&bff.base);
    actix_rt::time::sleep(std::time::Duration::from_millis(300)).await;
    let res = b.get("/healthz").await;
    assert_eq!(res.status, 503);
    assert_eq!(res.json()["missing"], json!(["discovery"]));
    assert_eq!(b.get("/healthz/live").await.status, 200);
    let res = b.get("/bff/login").await;
    assert_eq!(res.status, 503);
    assert_eq!(res.json()["error"], "not_ready");

    let _op = FakeOp::start_on(std::net::TcpListener::bind(("127.0.0.1", op_port)).unwrap());
    let healthz = format!("{}/healthz", bff.base);
    let ready = until_ok(
        &awc::Client::default(),
        &healthz,
        std::time::Duration::from_secs(6),
    )
    .await;
    assert!(ready, "discovery retried and succeeded");
    assert_eq!(b.login().await.location(), "/");
}

#[actix_web::test]
async fn discovery_with_a_different_issuer_is_never_ready() {
    let op = FakeOp::start().await;
    op.with(|s| {
        s.discovery_overrides
            .insert("issuer".into(), json!("https://impostor.example"));
    });
    let bff = start_bff_on(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        &op.issuer,
        json!({}),
    );
    actix_rt::time::sleep(std::time::Duration::from_millis(1200)).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.get("/healthz").await.status, 503);
}

#[actix_web::test]
async fn huge_headers_are_refused_with_a_4xx() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_op, bff) = pair(json!({})).await;
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", bff.port))
        .await
        .unwrap();
    let request = format!(
        "GET /bff/user HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let _ = conn.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    let status: u16 = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!((400..500).contains(&status), "{answer}");
}
