//! Token operations against the fake OP: refresh (explicit, automatic, single-flight,
//! rotation, invalid_grant), revoke, introspect, userinfo, and their failures.

use crate::support::*;
use serde_json::json;

async fn signed_in(patch: serde_json::Value) -> (FakeOp, TestBff, Browser) {
    let (op, bff) = pair(patch).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    (op, bff, b)
}

#[actix_web::test]
async fn refresh_now_rotates_and_stores_the_new_refresh_token() {
    let (op, _bff, mut b) = signed_in(json!({})).await;
    let before = b.get("/bff/user").await.json()["session"].clone();
    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let v = res.json();
    assert_eq!(v["hasRefreshToken"], true);
    assert!(v["accessTokenExpiresAt"].as_u64() >= before["accessTokenExpiresAt"].as_u64());
    assert!(
        !res.set_cookies.is_empty(),
        "new cookie with the new tokens"
    );
    assert_eq!(op.with(|s| s.counters.refresh), 1);
    // The rotated refresh token is the one used next time: a second refresh succeeds
    // (the fake OP refuses spent refresh tokens).
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
    assert_eq!(op.with(|s| s.counters.refresh), 2);
    let text = String::from_utf8_lossy(&res.body).to_string();
    assert!(
        !text.contains("rt-") && !text.contains("at-"),
        "no token in the answer"
    );
}

#[actix_web::test]
async fn invalid_grant_ends_the_session() {
    let (op, _bff, mut b) = signed_in(json!({})).await;
    let stolen = b.jar.clone();
    op.with(|s| s.refresh_error = Some("invalid_grant".into()));
    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"], "session_expired");
    assert!(b.jar.is_empty(), "cookies cleared");
    let mut thief = Browser::new(&b.base);
    thief.jar = stolen;
    op.with(|s| s.refresh_error = None);
    assert_eq!(
        thief.get("/bff/user").await.status,
        401,
        "an ended session stays ended"
    );
}

#[actix_web::test]
async fn op_down_during_refresh_is_a_gateway_error_and_keeps_the_session() {
    let (op, _bff, mut b) = signed_in(json!({"http_timeout": 2})).await;
    op.stop().await;
    // Hold the port (a listener that never answers), so no other test's server can take it.
    let _dead = std::net::TcpListener::bind(("127.0.0.1", op.port));
    let res = b.post("/bff/refresh", None).await;
    assert!(res.status == 502 || res.status == 504, "{}", res.status);
    assert!(res.json()["error"].as_str().unwrap().starts_with("op_"));
    assert_eq!(b.get("/bff/user").await.status, 200);
}

#[actix_web::test]
async fn expired_access_token_is_refreshed_before_userinfo() {
    let op = FakeOp::start().await;
    op.with(|s| s.access_token_ttl = 10);
    let bff = spawn_bff(&op.issuer, json!({"refresh_skew": 30})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let res = b.get("/bff/userinfo").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["sub"], "user-123");
    assert_eq!(
        op.with(|s| s.counters.refresh),
        1,
        "refreshed first: 10 s left is within the 30 s skew"
    );
}

#[actix_web::test]
async fn userinfo_sub_must_match_the_id_token() {
    let (op, _bff, mut b) = signed_in(json!({})).await;
    op.with(|s| s.userinfo_sub = Some("someone-else".into()));
    let res = b.get("/bff/userinfo").await;
    assert_eq!(res.status, 502);
    assert_eq!(res.json()["error"], "userinfo_sub_mismatch");
}

#[actix_web::test]
async fn ten_concurrent_requests_cause_exactly_one_refresh_grant() {
    let op = FakeOp::start().await;
    op.with(|s| {
        s.access_token_ttl = 5;
        s.refresh_delay_ms = 300;
    });
    let bff = spawn_bff(&op.issuer, json!({"workers": 2, "refresh_skew": 30})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let cookie = b.cookie_header();
    let urls = (0..10).map(|_| format!("{}/bff/userinfo", bff.base));
    let statuses = get_all_at_once(urls, &[("Cookie", &cookie)]).await;
    assert_eq!(statuses, vec![200; 10]);
    assert_eq!(
        op.with(|s| s.counters.refresh),
        1,
        "single-flight: one grant for ten requests"
    );
}

#[actix_web::test]
async fn revoke_each_token_and_reject_bad_input() {
    let (op, _bff, mut b) = signed_in(json!({})).await;
    let res = b
        .post("/bff/revoke", Some(r#"{"token":"access_token"}"#))
        .await;
    assert_eq!(res.status, 204);
    let user = b.get("/bff/user").await.json();
    assert_eq!(user["session"]["hasAccessToken"], false);
    assert_eq!(
        op.with(|s| s.revoked.last().unwrap().1.clone()),
        "access_token"
    );
    let res = b
        .post("/bff/revoke", Some(r#"{"token":"refresh_token"}"#))
        .await;
    assert_eq!(res.status, 204);
    assert_eq!(
        b.get("/bff/user").await.json()["session"]["hasRefreshToken"],
        false
    );
    assert_eq!(op.with(|s| s.revoked.len()), 2);
    for bad in [r#"{"token":"id_token"}"#, r#"{"token":5}"#, "nope", r#"{}"#] {
        let res = b.post("/bff/revoke", Some(bad)).await;
        assert_eq!(res.status, 400, "{bad}");
        assert!(res.json()["error"].is_string());
    }
    // Refresh without a refresh token: a clear 409, the session itself continues.
    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 409);
    assert_eq!(res.json()["error"], "no_refresh_token");
}

#[actix_web::test]
async fn missing_endpoints_are_501() {
    let op = FakeOp::start().await;
    op.with(|s| {
        for k in [
            "revocation_endpoint",
            "introspection_endpoint",
            "userinfo_endpoint",
        ] {
            s.discovery_overrides
                .insert(k.into(), serde_json::Value::Null);
        }
    });
    let bff = spawn_bff(&op.issuer, json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    for (method, path, body) in [
        ("POST", "/bff/revoke", Some(r#"{"token":"access_token"}"#)),
        ("POST", "/bff/introspect", None),
        ("GET", "/bff/userinfo", None),
    ] {
        let res = b.request(method, path, &[("X-CSRF", "1")], body).await;
        assert_eq!(res.status, 501, "{path}");
        assert_eq!(res.json()["error"], "not_supported");
    }
}

#[actix_web::test]
async fn introspection_answers_the_op_but_never_the_token() {
    let (op, _bff, mut b) = signed_in(json!({})).await;
    let res = b.post("/bff/introspect", None).await;
    assert_eq!(res.status, 200);
    let v = res.json();
    assert_eq!(v["active"], true);
    assert_eq!(v["sub"], "user-123");
    assert!(
        v.get("token").is_none(),
        "the OP echoed the token; the BFF must drop it"
    );
    b.post("/bff/revoke", Some(r#"{"token":"access_token"}"#))
        .await;
    let res = b.post("/bff/introspect", None).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        json!({"active": false}),
        "a dropped token is not active"
    );
    assert_eq!(op.with(|s| s.counters.introspect), 1);
}

#[actix_web::test]
async fn anonymous_token_operations_are_401() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    for (m, p) in [
        ("POST", "/bff/refresh"),
        ("POST", "/bff/introspect"),
        ("GET", "/bff/userinfo"),
    ] {
        let res = b.request(m, p, &[("X-CSRF", "1")], None).await;
        assert_eq!(res.status, 401, "{p}");
        assert_eq!(res.json()["error"], "not_authenticated");
    }
    let res = b
        .post("/bff/revoke", Some(r#"{"token":"access_token"}"#))
        .await;
    assert_eq!(res.status, 401);
}

#[actix_web::test]
async fn id_token_from_a_refresh_is_validated_and_replaces_the_claims() {
    let (op, _bff, mut b) = signed_in(json!({})).await;
    let mut extra = serde_json::Map::new();
    extra.insert("name".into(), json!("Renamed User"));
    op.with(|s| {
        s.id_token_on_refresh = true;
        s.tweaks.extra_claims = extra;
    });
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
    assert_eq!(
        b.get("/bff/user").await.json()["claims"]["name"],
        "Renamed User"
    );
    // A refreshed ID token with a bad signature is refused; the session is kept.
    op.with(|s| s.tweaks.sign_with = Some(SigningKey::rsa("rsa_rogue", "key-1")));
    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 502);
    assert_eq!(b.get("/bff/user").await.status, 200);
}
