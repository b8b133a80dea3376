//! issue 12 against the real demo OP (oidc-provider) in its FAPI 2.0 mode (`OP_FAPI=1`,
//! server nonces with `OP_DPOP_NONCE=1`): the BFF with `profile: "fapi2"`, PAR,
//! private_key_jwt (PS256) and DPoP signs in, calls the demo API (which checks each DPoP
//! proof and the token's `cnf.jkt`), refreshes, calls again, reads userinfo, revokes and
//! logs out; and the same with mutual TLS (`OP_MTLS=1`, self_signed_tls_client_auth and
//! certificate-bound tokens). Skipped with a message where node or demo/op/node_modules
//! is missing.

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
    bff.stop().await;
}

/// A self-signed client certificate (P-256) in a temporary folder, and its JWK with the
/// `x5c` and `x5t#S256` the OP matches it by (self_signed_tls_client_auth).
fn client_certificate() -> (std::path::PathBuf, String, String, Value) {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    use sha2::Digest;
    let dir = std::env::temp_dir().join(format!("bff-mtls-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = rcgen::generate_simple_self_signed(vec!["oidc-bff-demo".to_string()]).unwrap();
    let (cert, key) = (dir.join("client.pem"), dir.join("client-key.pem"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    let point = c.signing_key.public_key_raw();
    assert_eq!(point.len(), 65, "an uncompressed P-256 point");
    let der = c.cert.der().to_vec();
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        "x5c": [STANDARD.encode(&der)],
        "x5t#S256": URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der)),
    });
    let s = |p: &std::path::Path| p.to_string_lossy().into_owned();
    (dir.clone(), s(&cert), s(&key), jwk)
}

#[actix_web::test]
async fn fapi2_mtls_login_refresh_userinfo_revoke_logout_at_the_demo_op() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (dir, cert, key, jwk) = client_certificate();
    let jwks = json!({"keys": [jwk]}).to_string();
    let env = [
        ("OP_FAPI", "1"),
        ("OP_MTLS", "1"),
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
        "token_endpoint_auth_method": "self_signed_tls_client_auth",
        "client_tls_cert": cert,
        "client_tls_key": key,
        "routes": [{"prefix": "/api", "upstream": demo_api.base}],
    }));
    let bff = spawn_bff_on(listener, &op.issuer, patch.clone()).await;
    let mut b = op.sign_in(&bff.base, "demo", "demo-password").await;
    let session = b.get("/bff/session").await;
    assert_eq!(
        session.json()["session"]["senderConstrained"],
        "mtls",
        "{}",
        text(&session)
    );
    // The OP bound the token to the certificate (RFC 8705 3: cnf.x5t#S256).
    let res = b.post("/bff/introspect", None).await;
    assert_eq!(res.status, 200, "{} {}", text(&res), op.logs());
    let info = res.json();
    assert_eq!(info["active"], true);
    assert_eq!(info["cnf"]["x5t#S256"], jwk["x5t#S256"], "{info}");
    // userinfo: the OP accepts the certificate-bound token over the same certificate.
    let res = b.get("/bff/userinfo").await;
    assert_eq!(res.status, 200, "{} {}", text(&res), op.logs());
    // The API (introspecting) sees a certificate-bound token.
    let res = api(&mut b, "/api/data").await;
    assert_eq!(res.status, 200, "{}", text(&res));
    assert_eq!(res.json()["senderConstrained"], "mtls", "{}", text(&res));
    // The demo API checks the binding: the same session's token through a BFF with
    // another certificate (a stolen token, replayed) is refused there (RFC 8705 3).
    let (dir2, cert2, key2, _) = client_certificate();
    let mut thief = patch.clone();
    thief["client_tls_cert"] = json!(cert2);
    thief["client_tls_key"] = json!(key2);
    let other = spawn_bff(&op.issuer, thief).await;
    let mut b2 = Browser::new(&other.base);
    b2.jar = b.jar.clone();
    let res = api(&mut b2, "/api/data").await;
    assert_eq!(res.status, 401, "{}", text(&res));
    other.stop().await;
    let _ = std::fs::remove_dir_all(dir2);
    let res = api(&mut b, "/api/data").await;
    assert_eq!(
        res.status,
        200,
        "the holder's own certificate still works: {}",
        text(&res)
    );
    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 200, "{} {}", text(&res), op.logs());
    assert_eq!(b.get("/bff/userinfo").await.status, 200);
    let res = b
        .post("/bff/revoke", Some(r#"{"token":"access_token"}"#))
        .await;
    assert_eq!(res.status, 204, "{}", text(&res));
    let out = b.post("/bff/logout", None).await;
    assert_eq!(out.status, 200, "{}", text(&out));
    assert_eq!(b.get("/bff/user").await.status, 401);
    bff.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
