//! Issue 13 item 4: the BFF against a second, independently written OP,
//! django-oauth-toolkit 3.4.1 (tests/support/dot_op/): login (code + PKCE), refresh,
//! userinfo, introspection, revocation and RP-initiated logout, headless through its real
//! pages, with its RFC 9700 gates off (3.4's defaults) and on (4.0's); and its quirks,
//! each pinned by an assertion that fails if the toolkit changes. It has no back-channel
//! logout. Fails (not skips) without target/dot-venv unless
//! `SKIP_DOT_OP=1`.

use std::net::TcpListener;

use serde_json::{json, Value};

use crate::support::demo_op::bearer_of;
use crate::support::dot_op::*;
use crate::support::upstream::Upstream;
use crate::support::*;

/// A listener for the BFF first: the OP's client URIs need its origin.
fn bff_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    (listener, origin)
}

async fn api_get(b: &mut Browser, path: &str) -> Resp {
    b.request("GET", path, &[("X-CSRF", "1")], None).await
}

fn body(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

/// The access token the upstream saw on a fresh `/api` call.
async fn current_bearer(b: &mut Browser, up: &Upstream) -> String {
    let res = api_get(b, "/api/whoami").await;
    assert_eq!(res.status, 200, "{}", body(&res));
    bearer_of(&up.last()).expect("the upstream got a bearer token")
}

#[actix_web::test]
async fn dot_op_login_refresh_userinfo_introspect_revoke_logout() {
    full_flow(Gates::Defaults).await;
}

/// The same with the toolkit's RFC 9700 gates on (its 4.0 defaults): it then sends and
/// advertises `iss` (RFC 9207), which the BFF checks, offers S256 only, keeps bearer tokens
/// to the Authorization header and protects refresh tokens against reuse.
#[actix_web::test]
async fn dot_op_full_flow_with_rfc9700_gates() {
    full_flow(Gates::Rfc9700).await;
}

/// Login, userinfo, introspection, two refreshes, RP-initiated logout, then revocation of
/// either token, against the toolkit with revocation and introspection in its discovery.
async fn full_flow(gates: Gates) {
    let (listener, origin) = bff_listener();
    let Some(op) = DotOp::start(&origin, Discovery::Full, gates).await else {
        return;
    };
    let rfc9700 = gates == Gates::Rfc9700;
    // Its quirks, as its discovery document states them.
    assert_eq!(
        op.meta["token_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "client_secret_basic"]),
        "{}",
        op.meta
    );
    assert_eq!(
        op.meta
            .get("authorization_response_iss_parameter_supported"),
        rfc9700.then_some(&json!(true)),
        "{}",
        op.meta
    );
    assert_eq!(
        op.meta["code_challenge_methods_supported"],
        if rfc9700 {
            json!(["S256"])
        } else {
            json!(["plain", "S256"])
        },
        "{}",
        op.meta
    );
    assert!(
        op.meta.get("backchannel_logout_supported").is_none(),
        "the toolkit has no back-channel logout: {}",
        op.meta
    );
    let up = Upstream::start();
    let patch = op.bff_patch(json!({
        // The toolkit's end-session endpoint refuses the cross-site POST (Django's CSRF
        // check): see dot_op_stock_discovery_and_post_logout.
        "end_session_method": "get",
        "routes": [{"prefix": "/api", "upstream": format!("{}/v1", up.base)}],
    }));
    let bff = spawn_bff_on(listener, &op.issuer, patch).await;

    // Login: authorization code with PKCE S256, client_secret_basic with a secret full of
    // reserved characters, RS256 ID token. The callback carries `iss` (RFC 9207) only with
    // the gates on.
    let (mut b, agent, callback) = op.sign_in(&bff.base).await;
    assert_eq!(
        query_param(&callback, "iss"),
        rfc9700.then(|| op.issuer.clone()),
        "{callback}"
    );
    assert!(query_param(&callback, "code").is_some(), "{callback}");
    if rfc9700 {
        // The BFF holds the toolkit to it: another issuer on a callback is refused.
        let mut other = Browser::new(&bff.base);
        let res = other.get("/bff/login?returnUrl=%2F").await;
        let cb = agent.browse(&res.location(), &bff.base).await;
        let res = other
            .get(&with_param(&cb, "iss", "https://localhost:1/o"))
            .await;
        assert_eq!(res.status, 302, "{}", body(&res));
        assert_eq!(res.location(), "/?login_error=iss_mismatch");
        assert_eq!(other.get("/bff/user").await.status, 401);
    }
    let user = b.get("/bff/user").await;
    assert_eq!(user.status, 200, "{}", body(&user));
    let user = user.json();
    let claims = &user["claims"];
    assert_eq!(claims["name"], "Dana Toolkit", "{user}");
    assert_eq!(claims["email"], "dana@example.test", "{user}");
    assert_eq!(claims["preferred_username"], DOT_USER, "{user}");
    let sub = claims["sub"].as_str().expect("a sub").to_string();
    assert_eq!(user["session"]["hasRefreshToken"], true, "{user}");
    let logs = op.logs();
    assert!(
        logs.contains("code_challenge_method=S256"),
        "PKCE S256 reached the OP: {logs}"
    );

    // Userinfo: the toolkit's, with the same sub and the profile and email claims.
    let info = b.get("/bff/userinfo").await;
    assert_eq!(info.status, 200, "{}", body(&info));
    let info = info.json();
    assert_eq!(info["sub"], sub.as_str(), "{info}");
    assert_eq!(info["email"], "dana@example.test", "{info}");
    assert_eq!(info["given_name"], "Dana", "{info}");

    // Introspection through the BFF (the client's own credentials; the toolkit answers
    // `username` where others answer `sub`).
    let first = current_bearer(&mut b, &up).await;
    let intro = b.post("/bff/introspect", None).await;
    assert_eq!(intro.status, 200, "{}", body(&intro));
    let intro = intro.json();
    assert_eq!(intro["active"], true, "{intro}");
    assert_eq!(intro["client_id"], DOT_CLIENT_ID, "{intro}");
    assert_eq!(intro["username"], DOT_USER, "{intro}");
    assert_eq!(intro["scope"], "openid profile email", "{intro}");
    assert!(intro.get("sub").is_none(), "{intro}");
    assert!(!body_has(&intro, &first), "no token in the answer");

    // Refresh: the toolkit rotates the refresh token on every use and revokes the old
    // access token. Two refreshes in a row work only if the BFF kept the rotated one.
    for round in 0..2 {
        let before = current_bearer(&mut b, &up).await;
        let res = b.post("/bff/refresh", None).await;
        assert_eq!(res.status, 200, "refresh {round}: {}", body(&res));
        assert_eq!(res.json()["hasRefreshToken"], true, "{}", body(&res));
        let after = current_bearer(&mut b, &up).await;
        assert_ne!(after, before, "refresh {round} got a new access token");
        assert_eq!(op.introspect(&before).await["active"], false);
        assert_eq!(op.introspect(&after).await["active"], true);
    }
    // The refreshed ID token still names the same user.
    assert_eq!(
        b.get("/bff/user").await.json()["claims"]["sub"],
        sub.as_str()
    );
    let current = current_bearer(&mut b, &up).await;

    // RP-initiated logout by GET: the toolkit asks the user to confirm (it always does
    // by default, even with a valid id_token_hint), ends its session, deletes the user's
    // tokens and returns to post_logout_redirect_uri with the state.
    let res = b.post("/bff/logout", None).await;
    assert_eq!(res.status, 200, "{}", body(&res));
    // The BFF revoked the refresh token (and so, at the toolkit, its access token)
    // before the browser reached the OP.
    let mut revoked = false;
    for _ in 0..200 {
        if op.introspect(&current).await["active"] == false {
            revoked = true;
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(revoked, "logout revoked the refresh token at the OP");
    // gunicorn writes its access line after the answer: give it a moment.
    for _ in 0..100 {
        if op.logs().contains("\"POST /o/revoke_token/ HTTP/1.1\" 200") {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        op.logs().contains("\"POST /o/revoke_token/ HTTP/1.1\" 200"),
        "{}",
        op.logs()
    );
    assert!(!op.logs().contains("/o/logout/"), "not yet at the OP");
    let logout_url = res.json()["logoutUrl"].as_str().unwrap().to_string();
    let page = b.get(&logout_url).await;
    assert_eq!(page.status, 302, "{}", body(&page));
    let end = page.location();
    assert!(end.starts_with(&format!("{}/logout/", op.issuer)), "{end}");
    let state = query_param(&end, "state").expect("a state");
    assert!(query_param(&end, "id_token_hint").is_some(), "{end}");
    let confirm = agent.request(&end, None, None).await;
    assert_eq!(confirm.status, 200, "{}", body(&confirm));
    assert!(
        body(&confirm).contains("Confirm Logout"),
        "{}",
        body(&confirm)
    );
    let back = agent.browse(&end, &origin).await;
    assert_eq!(
        back,
        format!("{origin}/?state={state}"),
        "back at post_logout_redirect_uri"
    );
    assert_eq!(b.get("/bff/user").await.status, 401);
    assert_eq!(api_get(&mut b, "/api/x").await.status, 401);
    assert!(
        !agent.cookie_names().contains(&"sessionid".to_string()),
        "the OP's session cookie is gone: {:?}",
        agent.cookie_names()
    );
    // Signing in again needs the password again: the OP's session ended.
    let mut again = Browser::new(&bff.base);
    let res = again.get("/bff/login?returnUrl=%2F").await;
    let mut at_op = agent.request(&res.location(), None, None).await;
    assert_eq!(at_op.status, 302, "{}", body(&at_op));
    assert!(
        at_op.location().starts_with("/accounts/login/"),
        "{}",
        at_op.location()
    );
    at_op = agent
        .request(&resolve(&op.origin, &at_op.location()), None, None)
        .await;
    assert!(body(&at_op).contains("id=\"login-form\""));

    // Revocation (RFC 7009) of the refresh token: the toolkit revokes its access token
    // with it; the session keeps working until that token is needed.
    let (mut b, _, _) = op.sign_in(&bff.base).await;
    let at = current_bearer(&mut b, &up).await;
    let res = b
        .post("/bff/revoke", Some(r#"{"token":"refresh_token"}"#))
        .await;
    assert_eq!(res.status, 204, "{}", body(&res));
    assert_eq!(op.introspect(&at).await["active"], false);
    assert_eq!(
        b.get("/bff/user").await.json()["session"]["hasRefreshToken"],
        false
    );
    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 409, "{}", body(&res));
    assert_eq!(res.json()["error"], "no_refresh_token");

    // Revocation of the access token: dead at the OP, gone from the session, and (the
    // toolkit's choice, which RFC 7009 §2.1 allows) its refresh token revoked with it, so
    // the next refresh is refused and ends the session.
    let (mut b, _, _) = op.sign_in(&bff.base).await;
    let at = current_bearer(&mut b, &up).await;
    let res = b
        .post("/bff/revoke", Some(r#"{"token":"access_token"}"#))
        .await;
    assert_eq!(res.status, 204, "{}", body(&res));
    assert_eq!(op.introspect(&at).await["active"], false);
    let intro = b.post("/bff/introspect", None).await;
    assert_eq!(intro.json(), json!({"active": false}), "{}", body(&intro));
    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 401, "{}", body(&res));
    assert_eq!(res.json()["error"], "session_expired");
    assert_eq!(b.get("/bff/user").await.status, 401);
    bff.stop().await;
}

/// `url` with the query parameter `name` set to `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_string()
            } else {
                v.to_string()
            };
            (k.to_string(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

fn body_has(v: &Value, needle: &str) -> bool {
    v.to_string().contains(needle)
}

/// The toolkit as it ships: its OpenID discovery names no revocation or introspection
/// endpoint (only its RFC 8414 document does), so the BFF answers those calls 501 and does
/// not revoke at logout; and its end-session endpoint is a Django form view behind the CSRF
/// check, so the BFF's default cross-site POST logout form is refused with 403 there.
#[actix_web::test]
async fn dot_op_stock_discovery_and_post_logout() {
    let (listener, origin) = bff_listener();
    let Some(op) = DotOp::start(&origin, Discovery::Stock, Gates::Defaults).await else {
        return;
    };
    assert!(op.meta.get("revocation_endpoint").is_none(), "{}", op.meta);
    assert!(
        op.meta.get("introspection_endpoint").is_none(),
        "{}",
        op.meta
    );
    // Its RFC 8414 document (issuer + /.well-known/oauth-authorization-server) has them;
    // the BFF reads OpenID discovery only, and does not guess.
    let rfc8414 = get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        op.issuer
    ))
    .await;
    assert_eq!(
        rfc8414["revocation_endpoint"],
        format!("{}/revoke_token/", op.issuer),
        "{rfc8414}"
    );
    assert_eq!(
        rfc8414["introspection_endpoint"],
        format!("{}/introspect/", op.issuer),
        "{rfc8414}"
    );
    let bff = spawn_bff_on(listener, &op.issuer, op.bff_patch(json!({}))).await;
    let (mut b, agent, _) = op.sign_in(&bff.base).await;
    assert_eq!(b.get("/bff/user").await.status, 200);

    // It knows no `offline_access` scope: asking for it is `invalid_scope` (a refresh
    // token comes with every code anyway).
    let login = Browser::new(&bff.base)
        .get("/bff/login?returnUrl=%2F")
        .await
        .location();
    let refused = agent
        .browse(
            &with_param(&login, "scope", "openid offline_access"),
            &origin,
        )
        .await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("invalid_scope"),
        "{refused}"
    );
    for (path, body_) in [
        ("/bff/introspect", None),
        ("/bff/revoke", Some(r#"{"token":"refresh_token"}"#)),
    ] {
        let res = b.post(path, body_).await;
        assert_eq!(res.status, 501, "{path}: {}", body(&res));
        assert_eq!(res.json()["error"], "not_supported", "{path}");
    }

    // The default logout page: a form POSTed to the end-session endpoint from the BFF's
    // sandboxed page, so with `Origin: null` and without the OP's SameSite=Lax cookies.
    let res = b.post("/bff/logout", None).await;
    assert_eq!(res.status, 200, "{}", body(&res));
    assert_eq!(
        b.get("/bff/user").await.status,
        401,
        "ended here all the same"
    );
    let logout_url = res.json()["logoutUrl"].as_str().unwrap().to_string();
    let page = b.get(&logout_url).await;
    assert_eq!(page.status, 200, "{}", body(&page));
    assert!(
        !op.logs().contains("/o/revoke_token/"),
        "nothing to revoke at: {}",
        op.logs()
    );
    let html = body(&page);
    let action = form_action(&html, "bff-logout-form").expect("the logout form");
    assert_eq!(action, format!("{}/logout/", op.issuer));
    let fields = hidden_inputs(&html);
    assert!(fields.iter().any(|(k, _)| k == "id_token_hint"), "{html}");
    let cross_site = op.agent();
    let refused = cross_site
        .request(&action, Some(fields), Some("null"))
        .await;
    assert_eq!(refused.status, 403, "{}", body(&refused));
    assert!(
        op.logs()
            .contains("Forbidden (Origin checking failed - null does not match any trusted origins.): /o/logout/"),
        "{}",
        op.logs()
    );
    bff.stop().await;
}

async fn get_json(url: &str) -> Value {
    let client = crate::support::demo_op::demo_client();
    let mut res = client.get(url).send().await.unwrap();
    res.json().limit(1 << 20).await.unwrap_or(Value::Null)
}
