//! Issue 11, the real-OP path: the BFF as it is today signs in at the demo OP
//! (oidc-provider, `node demo/op/server.mjs`) headlessly, proxies `/api` with the session's
//! token, and logs out; the same OP issues client-credentials tokens for the demo API's
//! resource and exchanges the session's access token (RFC 8693) for one with that
//! audience; the demo API's `/app/status` and `/orders/list` take exactly those tokens.
//! Skipped with a message where node or demo/op/node_modules is missing.

use std::net::TcpListener;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::demo_op::*;
use crate::support::upstream::Upstream;
use crate::support::*;

/// A listener for the BFF first: the OP's client URIs need its origin.
fn bff_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    (listener, origin)
}

/// An `/api` GET as the SPA sends it (with `X-CSRF`).
async fn api_get(b: &mut Browser, path: &str) -> Resp {
    b.request("GET", path, &[("X-CSRF", "1")], None).await
}

#[actix_web::test]
async fn demo_op_sign_in_proxy_exchange_and_logout() {
    let (listener, origin) = bff_listener();
    let Some(op) = DemoOp::start(&origin, &[]).await else {
        return;
    };
    let up = Upstream::start();
    let routes = json!({"routes": [{"prefix": "/api", "upstream": format!("{}/v1", up.base)}]});
    let bff = spawn_bff_on(listener, &op.issuer, op.bff_patch(routes)).await;

    let mut b = op.sign_in(&bff.base, "demo", "demo-password").await;
    let user = b.get("/bff/user").await;
    assert_eq!(user.status, 200, "{}", String::from_utf8_lossy(&user.body));
    let user = user.json();
    assert_eq!(user["claims"]["name"], "Dana Demo", "{user}");
    assert_eq!(user["claims"]["sub"], "demo-user-1", "{user}");

    let res = api_get(&mut b, "/api/things?x=1").await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let seen = up.last();
    assert_eq!(seen["path"], "/v1/things");
    let bearer = bearer_of(&seen).expect("the upstream got a bearer token");
    let info = op.introspect(&bearer).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["sub"], "demo-user-1", "{info}");
    assert_eq!(info["client_id"], DEMO_CLIENT_ID, "{info}");
    assert!(
        info.get("aud").is_none(),
        "a login without resource: no aud {info}"
    );

    // OP only (the BFF cannot exchange yet): the bearer the upstream received, exchanged
    // for the demo API's resource.
    let (status, exchanged) = op
        .token_exchange(
            &bearer,
            &[("resource", DEMO_API_RESOURCE), ("scope", "api:read")],
        )
        .await;
    assert_eq!(status, 200, "{exchanged}");
    assert_eq!(exchanged["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(exchanged["token_type"], "Bearer");
    let exchanged = exchanged["access_token"].as_str().unwrap().to_string();
    assert_ne!(exchanged, bearer);
    let xinfo = op.introspect(&exchanged).await;
    assert_eq!(xinfo["active"], true, "{xinfo}");
    assert_eq!(xinfo["sub"], "demo-user-1", "{xinfo}");
    assert_eq!(xinfo["aud"], DEMO_API_RESOURCE, "{xinfo}");
    assert_eq!(xinfo["scope"], "api:read", "{xinfo}");
    assert!(
        xinfo["exp"].as_u64() <= info["exp"].as_u64(),
        "the exchanged token does not outlive the session's: {xinfo} {info}"
    );

    // Logout ends the session here and, by revoking the refresh token, the grant at the
    // OP: the session's token and the one exchanged from it die with it.
    let out = b.post("/bff/logout", None).await;
    assert_eq!(out.status, 200, "{}", String::from_utf8_lossy(&out.body));
    assert_eq!(b.get("/bff/user").await.status, 401);
    assert_eq!(api_get(&mut b, "/api/things").await.status, 401);
    let mut dead = false;
    for _ in 0..40 {
        if op.introspect(&bearer).await["active"] == false {
            dead = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dead, "after logout the session's access token is inactive");
    assert_eq!(op.introspect(&exchanged).await["active"], false);
    let (status, again) = op
        .token_exchange(&bearer, &[("resource", DEMO_API_RESOURCE)])
        .await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant")),
        "{again}"
    );
    bff.stop().await;
}

#[actix_web::test]
async fn demo_op_client_credentials_with_resource() {
    let (_listener, origin) = bff_listener();
    let Some(op) = DemoOp::start(&origin, &[]).await else {
        return;
    };
    let grants = op.meta["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!("client_credentials")), "{grants:?}");
    assert!(grants.contains(&json!(TOKEN_EXCHANGE)), "{grants:?}");

    let (status, cc) = op
        .client_credentials(&[("resource", DEMO_API_RESOURCE), ("scope", "api:read")])
        .await;
    assert_eq!(status, 200, "{cc}");
    assert_eq!(cc["scope"], "api:read");
    assert!(cc["expires_in"].as_u64().is_some_and(|s| s > 0), "{cc}");
    let info = op.introspect(cc["access_token"].as_str().unwrap()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["aud"], DEMO_API_RESOURCE, "{info}");
    assert_eq!(info["client_id"], DEMO_CLIENT_ID, "{info}");
    assert_eq!(info["scope"], "api:read", "{info}");
    assert!(
        info.get("sub").is_none(),
        "a client token has no sub: {info}"
    );

    let (status, refused) = op
        .client_credentials(&[("resource", "urn:example:unknown"), ("scope", "api:read")])
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"], "invalid_target");
    assert_eq!(
        refused["error_description"],
        "unknown resource urn:example:unknown"
    );
    // OP_DEBUG logs the refusal with its description (what issue 11's BFF logs too).
    let logged = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        op.logs()
            .contains("invalid_target - unknown resource urn:example:unknown")
    });
    assert!(logged, "{}", op.logs());
}

/// The demo API binary against the demo OP: `/app/status` takes a client token of its
/// resource, `/orders/list` a user's token of its resource (an exchanged one), and each
/// refuses the other kind and a token without the audience with 401 `invalid_token`.
#[actix_web::test]
async fn demo_api_resource_endpoints_check_audience_and_kind() {
    let (listener, origin) = bff_listener();
    let Some(op) = DemoOp::start(&origin, &[]).await else {
        return;
    };
    let demo_api = DemoApi::start(&op.issuer).await;
    let api = demo_api.base.clone();
    let client = demo_client();

    let call = |path: &str, token: Option<String>| {
        let mut req = client.get(format!("{api}{path}"));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        async move {
            let mut res = req.send().await.unwrap();
            let www = res
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (res.status().as_u16(), www, body)
        }
    };
    let token_of = |v: &Value| v["access_token"].as_str().map(str::to_string);

    // A user's access token, as the BFF gets it at sign-in (taken from the upstream).
    let up = Upstream::start();
    let routes = json!({"routes": [{"prefix": "/api", "upstream": up.base}]});
    let bff = spawn_bff_on(listener, &op.issuer, op.bff_patch(routes)).await;
    let mut b = op.sign_in(&bff.base, "demo", "demo-password").await;
    assert_eq!(api_get(&mut b, "/api/x").await.status, 200);
    let user_token = bearer_of(&up.last()).unwrap();

    let (_, cc) = op
        .client_credentials(&[("resource", DEMO_API_RESOURCE), ("scope", "api:read")])
        .await;
    let (_, plain_cc) = op.client_credentials(&[]).await;
    let (_, x) = op
        .token_exchange(&user_token, &[("resource", DEMO_API_RESOURCE)])
        .await;

    let (status, _, body) = call("/app/status", token_of(&cc)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["caller"]["client_id"], DEMO_CLIENT_ID, "{body}");
    assert!(body["caller"].get("sub").is_none(), "{body}");
    assert_eq!(body["aud"], DEMO_API_RESOURCE, "{body}");
    assert_eq!(body["scopes"], json!(["api:read"]), "{body}");
    assert!(
        body["tokenExpiresIn"].as_u64().is_some_and(|s| s > 0),
        "{body}"
    );

    let (status, _, body) = call("/orders/list", token_of(&x)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["caller"]["sub"], "demo-user-1", "{body}");
    assert_eq!(body["aud"], DEMO_API_RESOURCE, "{body}");
    let orders = body["orders"].as_array().unwrap();
    assert!(!orders.is_empty(), "{body}");
    assert!(orders
        .iter()
        .all(|o| o["id"].as_str().unwrap().starts_with("demo-user-1-")));

    for (path, token, description) in [
        ("/app/status", Some(user_token.clone()), "wrong audience"),
        ("/app/status", token_of(&plain_cc), "wrong audience"),
        ("/orders/list", Some(user_token.clone()), "wrong audience"),
        (
            "/app/status",
            token_of(&x),
            "this endpoint takes a client token, not a user's",
        ),
        (
            "/orders/list",
            token_of(&cc),
            "this endpoint takes a user's token",
        ),
        ("/orders/list", None, "no bearer token"),
        (
            "/app/status",
            Some("not-a-token".into()),
            "token is not active",
        ),
    ] {
        let (status, www, body) = call(path, token).await;
        assert_eq!(status, 401, "{path} {description}: {body}");
        assert_eq!(body["error"], "invalid_token", "{path}: {body}");
        assert_eq!(body["error_description"], description, "{path}: {body}");
        assert_eq!(
            www,
            format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
            "{path}"
        );
    }
    // Any method is checked the same way (not the echo of the default service).
    let res = client
        .post(format!("{api}/app/status"))
        .insert_header(("Authorization", format!("Bearer {user_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "POST /app/status with a user's token");
    // The old endpoint is unchanged: any active token.
    let (status, _, body) = call("/data", Some(user_token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["caller"]["sub"], "demo-user-1");
    bff.stop().await;
}

// issue 11, items 2-4: the BFF itself gets client and exchanged tokens from the demo OP.

/// A BFF at the demo OP with a client route and an exchange route to a recording
/// upstream; `None` where node or the OP's packages are missing.
async fn bff_with_route_tokens(extra: Value) -> Option<(DemoOp, TestBff, Upstream)> {
    let (listener, origin) = bff_listener();
    let op = DemoOp::start(&origin, &[]).await?;
    let up = Upstream::start();
    let mut patch = json!({"routes": [
        {"prefix": "/api/app", "upstream": format!("{}/app", up.base), "token": "client",
         "resource": DEMO_API_RESOURCE, "scope": "api:read"},
        {"prefix": "/api/unknown", "upstream": format!("{}/unknown", up.base), "token": "client",
         "resource": "urn:oidc-bff:nobody"},
        {"prefix": "/api/orders", "upstream": format!("{}/orders", up.base),
         "token_exchange": {"resource": DEMO_API_RESOURCE, "scope": "api:read"}},
        {"prefix": "/api/bad-exchange", "upstream": format!("{}/bad", up.base),
         "token_exchange": {"resource": "urn:oidc-bff:nobody"}},
        {"prefix": "/api", "upstream": format!("{}/v1", up.base)},
    ]});
    if let (Value::Object(p), Value::Object(e)) = (&mut patch, extra) {
        p.extend(e);
    }
    let bff = spawn_bff_on(listener, &op.issuer, op.bff_patch(patch)).await;
    Some((op, bff, up))
}

#[actix_web::test]
async fn demo_op_bff_client_route_and_unknown_resource() {
    let Some((op, bff, up)) = bff_with_route_tokens(json!({})).await else {
        return;
    };
    let mut b = Browser::new(&bff.base);
    let res = api_get(&mut b, "/api/app/status").await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let bearer = bearer_of(&up.last()).expect("a client token upstream");
    let info = op.introspect(&bearer).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["aud"], DEMO_API_RESOURCE, "{info}");
    assert_eq!(info["client_id"], DEMO_CLIENT_ID, "{info}");
    assert!(
        info.get("sub").is_none(),
        "a client token has no sub: {info}"
    );
    assert_eq!(info["scope"], "api:read", "{info}");
    // Cached: the second call sends the same token.
    assert_eq!(api_get(&mut b, "/api/app/status").await.status, 200);
    assert_eq!(bearer_of(&up.last()), Some(bearer));
    let before = up.state.lock().unwrap().seen.len();
    let res = api_get(&mut b, "/api/unknown/x").await;
    assert_eq!(res.status, 502);
    assert_eq!(res.json()["error"], "client_token_failed");
    assert_eq!(up.state.lock().unwrap().seen.len(), before);
}

#[actix_web::test]
async fn demo_op_bff_token_exchange_route() {
    let Some((op, bff, up)) = bff_with_route_tokens(json!({})).await else {
        return;
    };
    let mut b = op.sign_in(&bff.base, "demo", "demo-password").await;
    assert_eq!(api_get(&mut b, "/api/things").await.status, 200);
    let session_at = bearer_of(&up.last()).unwrap();
    let res = api_get(&mut b, "/api/orders/list").await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let exchanged = bearer_of(&up.last()).unwrap();
    assert_ne!(exchanged, session_at);
    let info = op.introspect(&exchanged).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["sub"], "demo-user-1", "{info}");
    assert_eq!(info["aud"], DEMO_API_RESOURCE, "{info}");
    let res = api_get(&mut b, "/api/bad-exchange/x").await;
    assert_eq!(res.status, 502);
    assert_eq!(res.json()["error"], "token_exchange_failed");
}

#[actix_web::test]
async fn demo_op_login_with_resource() {
    let Some((op, bff, up)) = bff_with_route_tokens(json!({"resource": DEMO_API_RESOURCE})).await
    else {
        return;
    };
    let mut b = op.sign_in(&bff.base, "demo", "demo-password").await;
    assert_eq!(api_get(&mut b, "/api/things").await.status, 200);
    let at = bearer_of(&up.last()).unwrap();
    let info = op.introspect(&at).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(
        info["aud"], DEMO_API_RESOURCE,
        "the login's token has the resource: {info}"
    );
    assert_eq!(info["sub"], "demo-user-1", "{info}");
}
