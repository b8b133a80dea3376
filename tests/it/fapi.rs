//! issue 12 against the real demo OP (oidc-provider) in its FAPI 2.0 mode (`OP_FAPI=1`,
//! server nonces with `OP_DPOP_NONCE=1`): the BFF with `profile: "fapi2"`, PAR,
//! private_key_jwt (PS256) and DPoP signs in, calls the demo API (which checks each DPoP
//! proof and the token's `cnf.jkt`), refreshes, calls again, reads userinfo, revokes and
//! logs out. Skipped with a message where node or demo/op/node_modules is missing.

use std::net::TcpListener;

use serde_json::{json, Value};

use crate::support::demo_op::*;
use crate::support::*;

fn key_path(name: &str) -> String {
    format!(
        "{}/tests/support/keys/{name}.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The BFF's client key as the OP registers it (public JWK, PS256).
fn client_jwks() -> String {
    let key = oidc_bff::config::ClientKey::load(
        std::path::Path::new(&key_path(CLIENT_KEY_FILE)),
        Some("bff-client-key".into()),
        Some("PS256"),
    )
    .unwrap();
    json!({"keys": [key.public_jwk().unwrap()]}).to_string()
}

async fn api(b: &mut Browser, path: &str) -> Resp {
    b.request("GET", path, &[("X-CSRF", "1")], None).await
}

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

#[actix_web::test]
async fn fapi2_dpop_login_api_refresh_revoke_logout_at_the_demo_op() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let jwks = client_jwks();
    let env = [
        ("OP_FAPI", "1"),
        ("OP_DPOP_NONCE", "1"),
        ("OP_CLIENT_JWKS", jwks.as_str()),
    ];
    let Some(op) = DemoOp::start(&origin, &env).await else {
        return;
    };
    let demo_api = DemoApi::start(&op.issuer).await;
    let patch = op.bff_patch(json!({
        "client_secret": null,
        "profile": "fapi2",
        "send_parameters_via": "par",
        "client_private_key": key_path(CLIENT_KEY_FILE),
        "client_key_id": "bff-client-key",
        "dpop": true,
        "dpop_private_key": key_path("ec1"),
        "routes": [{"prefix": "/api", "upstream": demo_api.base}],
    }));
    let bff = spawn_bff_on(listener, &op.issuer, patch).await;
    let mut b = op.sign_in(&bff.base, "demo", "demo-password").await;
    let session = b.get("/bff/session").await;
    assert_eq!(
        session.json()["session"]["senderConstrained"],
        "dpop",
        "{}",
        text(&session)
    );

    // The demo API checks the proof and that the token is bound to its key.
    let res = api(&mut b, "/api/data").await;
    assert_eq!(res.status, 200, "{} {}", text(&res), op.logs());
    assert_eq!(res.json()["senderConstrained"], "dpop", "{}", text(&res));
    assert_eq!(res.json()["caller"]["sub"], "demo-user-1");

    // Refresh (the OP rotates the refresh token; DPoP nonce remembered), and again.
    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 200, "{} {}", text(&res), op.logs());
    let res = api(&mut b, "/api/data").await;
    assert_eq!(res.status, 200, "{}", text(&res));
    assert_eq!(res.json()["senderConstrained"], "dpop");

    let res = b.get("/bff/userinfo").await;
    assert_eq!(res.status, 200, "{} {}", text(&res), op.logs());
    assert_eq!(res.json()["sub"], "demo-user-1");
    let res = b.post("/bff/introspect", None).await;
    assert_eq!(res.status, 200, "{}", text(&res));
    assert_eq!(res.json()["active"], true);
    assert_eq!(res.json()["token_type"], "DPoP", "{}", text(&res));

    // Revoking the access token: the API refuses it now (the BFF refreshes and retries
    // a GET once: the new token works).
    let res = b
        .post("/bff/revoke", Some(r#"{"token":"access_token"}"#))
        .await;
    assert_eq!(res.status, 204, "{}", text(&res));
    assert_eq!(
        b.post("/bff/introspect", None).await.json()["active"],
        false
    );
    let res = api(&mut b, "/api/data").await;
    assert_eq!(res.status, 200, "refreshed and retried: {}", text(&res));

    let out = b.post("/bff/logout", None).await;
    assert_eq!(out.status, 200, "{}", text(&out));
    assert_eq!(b.get("/bff/user").await.status, 401);
    assert!(!op.logs().contains("invalid_dpop_proof"), "{}", op.logs());
    let _: Value = Value::Null;
    bff.stop().await;
}
