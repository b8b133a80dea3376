//! Sign-in through the fake OP: login (GET and POST), PKCE/state/nonce, callback checks,
//! single-use state, RFC 9207 `iss`, client authentication, open-redirect rules.

use crate::support::*;
use serde_json::json;

#[actix_web::test]
async fn full_sign_in_sets_a_session_and_user_sees_claims() {
    let (op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let anon = b.get("/bff/user").await;
    assert_eq!(anon.status, 401);
    assert_eq!(anon.json()["error"], "not_authenticated");

    let callback = b.authorize("/profile?tab=1").await;
    assert!(b.jar.contains_key("bff-login"));
    let res = b.get(&callback).await;
    assert_eq!(res.status, 302);
    assert_eq!(res.location(), "/profile?tab=1");
    assert!(b.jar.contains_key("bff-session"), "session cookie set");
    assert!(!b.jar.contains_key("bff-login"), "login cookie cleared");

    let user = b.get("/bff/user").await;
    assert_eq!(user.status, 200);
    let v = user.json();
    assert_eq!(v["claims"]["sub"], "user-123");
    assert_eq!(v["claims"]["name"], "Test User");
    assert_eq!(v["session"]["hasRefreshToken"], true);
    assert!(v["session"]["accessTokenExpiresAt"].as_u64().unwrap() > now() as u64);
    assert!(v["session"]["expiresAt"].as_u64().is_some());
    assert_eq!(user.header("cache-control").as_deref(), Some("no-store"));
    // The browser never sees a token.
    let text = String::from_utf8_lossy(&user.body).to_string();
    for t in op.with(|s| s.issued_tokens.clone()) {
        assert!(!text.contains(&t), "token leaked into /bff/user");
    }
    assert_eq!(
        op.with(|s| s.last_client_auth.clone()).as_deref(),
        Some("basic")
    );
}

#[actix_web::test]
async fn authorization_request_carries_pkce_state_nonce_and_options() {
    let (op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let body = json!({"returnUrl": "/x", "prompt": "login", "acrValues": "urn:mfa", "uiLocales": "sv en",
                      "maxAge": 300, "loginHint": "alice", "claims": {"id_token": {"email": null}}});
    let res = b.post("/bff/login", Some(&body.to_string())).await;
    assert_eq!(res.status, 200);
    let url = res.json()["authorizationUrl"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/authorize?", op.issuer)));
    let p = |n| query_param(&url, n);
    assert_eq!(p("response_type").as_deref(), Some("code"));
    assert_eq!(p("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(p("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(p("code_challenge").unwrap().len(), 43);
    assert!(
        p("state").unwrap().len() >= 22 && p("nonce").unwrap().len() >= 22,
        "128 bits at least"
    );
    assert_ne!(p("state"), p("nonce"));
    assert_eq!(p("prompt").as_deref(), Some("login"));
    assert_eq!(p("acr_values").as_deref(), Some("urn:mfa"));
    assert_eq!(p("ui_locales").as_deref(), Some("sv en"));
    assert_eq!(p("max_age").as_deref(), Some("300"));
    assert_eq!(p("login_hint").as_deref(), Some("alice"));
    assert_eq!(
        p("claims").as_deref(),
        Some(r#"{"id_token":{"email":null}}"#)
    );
    assert_eq!(p("redirect_uri"), Some(format!("{}/callback", bff.base)));
    assert!(res.header("cache-control").unwrap().contains("no-store"));

    // Bad options are 400 JSON and start nothing.
    for bad in [
        r#"{"prompt":"sudo"}"#,
        r#"{"maxAge":"soon"}"#,
        "{not json",
        r#"{"claims":[1]}"#,
    ] {
        let mut fresh = Browser::new(&bff.base);
        let res = fresh.post("/bff/login", Some(bad)).await;
        assert_eq!(res.status, 400, "{bad}");
        assert_eq!(res.json()["error"], "invalid_request");
        assert!(fresh.jar.is_empty(), "no login state for a bad request");
    }
}

#[actix_web::test]
async fn post_login_requires_csrf_header_and_same_origin() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let res = b.request("POST", "/bff/login", &[], Some("{}")).await;
    assert_eq!(res.status, 403);
    assert_eq!(res.json()["error"], "csrf");
    let res = b
        .request(
            "POST",
            "/bff/login",
            &[("X-CSRF", "1"), ("Origin", "https://evil.example")],
            Some("{}"),
        )
        .await;
    assert_eq!(res.status, 403);
    let origin = bff.base.clone();
    let res = b
        .request(
            "POST",
            "/bff/login",
            &[("X-CSRF", "1"), ("Origin", &origin)],
            Some("{}"),
        )
        .await;
    assert_eq!(res.status, 200);
    let res = b.request("POST", "/bff/logout", &[], None).await;
    assert_eq!(res.status, 403, "logout needs the header too");
}

#[actix_web::test]
async fn two_tabs_can_log_in_at_once() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let first = b.authorize("/one").await;
    let second = b.authorize("/two").await;
    let res = b.get(&first).await;
    assert_eq!(res.location(), "/one");
    let res = b.get(&second).await;
    assert_eq!(res.status, 302);
    assert_eq!(
        res.location(),
        "/two",
        "the second tab's login still completes"
    );
}

#[actix_web::test]
async fn return_url_only_same_origin_paths() {
    let (_op, bff) = pair(json!({})).await;
    for bad in [
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/%2F%2Fevil.example",
    ] {
        let mut b = Browser::new(&bff.base);
        let callback = b.authorize(bad).await;
        let res = b.get(&callback).await;
        assert_eq!(res.status, 302);
        assert_eq!(res.location(), "/", "{bad:?} must fall back to /");
    }
}

#[actix_web::test]
async fn op_error_redirects_with_code_and_no_session() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let callback = b.authorize("/").await;
    let state = query_param(&callback, "state").unwrap();
    let res = b
        .get(&format!("/callback?error=access_denied&state={state}"))
        .await;
    assert_eq!(res.status, 302);
    assert_eq!(res.location(), "/?login_error=access_denied");
    assert!(!b.jar.contains_key("bff-session"));
    // A hostile error value is not reflected.
    let callback = b.authorize("/").await;
    let state = query_param(&callback, "state").unwrap();
    let res = b
        .get(&format!("/callback?error=%3Cscript%3E&state={state}"))
        .await;
    assert_eq!(res.location(), "/?login_error=login_failed");
}

#[actix_web::test]
async fn state_mismatch_and_missing_login_cookie_fail() {
    let (op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let callback = b.authorize("/").await;
    let code = query_param(&callback, "code").unwrap();
    let res = b
        .get(&format!(
            "/callback?code={code}&state=not-the-state&iss={}",
            urlencode(&op.issuer)
        ))
        .await;
    assert_eq!(res.location(), "/?login_error=invalid_state");
    assert!(!b.jar.contains_key("bff-session"));
    // The real callback in a browser without the login cookie.
    let mut other = Browser::new(&bff.base);
    let res = other.get(&callback).await;
    assert_eq!(res.location(), "/?login_error=invalid_state");
    assert_eq!(
        op.token_calls(),
        0,
        "no code exchange without a matching state"
    );
}

#[actix_web::test]
async fn replayed_callback_never_reaches_the_token_endpoint() {
    let (op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let callback = b.authorize("/").await;
    let login_cookie = b.jar.get("bff-login").cloned().unwrap();
    let res = b.get(&callback).await;
    assert_eq!(res.location(), "/");
    assert_eq!(op.token_calls(), 1);
    // An attacker replays the whole callback with the original login cookie.
    let mut attacker = Browser::new(&bff.base);
    attacker.jar.insert("bff-login".into(), login_cookie);
    let res = attacker.get(&callback).await;
    assert_eq!(res.location(), "/?login_error=state_replayed");
    assert!(!attacker.jar.contains_key("bff-session"));
    assert_eq!(
        op.token_calls(),
        1,
        "replay must not reach the token endpoint"
    );
}

#[actix_web::test]
async fn iss_parameter_checked_per_rfc9207() {
    let (op, bff) = pair(json!({})).await;
    op.with(|s| s.iss_override = Some("https://evil.example".into()));
    let mut b = Browser::new(&bff.base);
    let res = b.login().await;
    assert_eq!(res.location(), "/?login_error=iss_mismatch");
    // Advertised but missing.
    op.with(|s| {
        s.iss_override = None;
        s.send_iss = false;
    });
    let res = b.login().await;
    assert_eq!(res.location(), "/?login_error=iss_mismatch");
    assert_eq!(op.token_calls(), 0);
}

#[actix_web::test]
async fn iss_may_be_absent_when_not_advertised() {
    let op = FakeOp::start().await;
    op.with(|s| {
        s.send_iss = false;
        s.discovery_overrides.insert(
            "authorization_response_iss_parameter_supported".into(),
            json!(false),
        );
    });
    let bff = spawn_bff(&op.issuer, json!({})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
}

#[actix_web::test]
async fn client_secret_post_when_the_op_only_supports_it() {
    let op = FakeOp::start().await;
    op.with(|s| {
        s.discovery_overrides.insert(
            "token_endpoint_auth_methods_supported".into(),
            json!(["client_secret_post"]),
        );
    });
    let bff = spawn_bff(&op.issuer, json!({})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(
        op.with(|s| s.last_client_auth.clone()).as_deref(),
        Some("post")
    );
    // And the setting overrides the metadata.
    let bff2 = spawn_bff(
        &op.issuer,
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let mut b = Browser::new(&bff2.base);
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(
        op.with(|s| s.last_client_auth.clone()).as_deref(),
        Some("basic")
    );
}

#[actix_web::test]
async fn token_endpoint_failure_is_reported_not_a_session() {
    let (op, bff) = pair(json!({"client_secret": "wrong-secret"})).await;
    let mut b = Browser::new(&bff.base);
    let res = b.login().await;
    assert_eq!(res.location(), "/?login_error=token_exchange_failed");
    assert!(!b.jar.contains_key("bff-session"));
    assert_eq!(op.token_calls(), 1);
}

#[actix_web::test]
async fn a_new_login_never_upgrades_the_old_session_cookie() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let first = b.jar.get("bff-session").cloned().unwrap();
    b.login().await;
    let second = b.jar.get("bff-session").cloned().unwrap();
    assert_ne!(first, second);
    assert_eq!(b.get("/bff/user").await.status, 200);
}
