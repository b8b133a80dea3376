//! Dynamic client registration: without a `client_id`, register at start-up with our
//! redirect and logout URIs, keep the credentials in the operator's file, reuse them later.

use std::collections::BTreeMap;

use crate::support::process::temp_dir;
use crate::support::*;
use serde_json::json;

/// The crypto provider installed, an OP that registers clients (that present
/// `initial_token`, when it names one), and a fresh path for the registration file.
async fn registering_op(initial_token: Option<&str>) -> (FakeOp, std::path::PathBuf) {
    oidc_bff::install_crypto_provider();
    let op = FakeOp::start().await;
    if let Some(t) = initial_token {
        op.with(|s| s.registration_token = Some(t.into()));
    }
    (op, temp_dir("reg").join("client.json"))
}

fn unregistered(
    op: &FakeOp,
    port: u16,
    file: &std::path::Path,
    token: Option<&str>,
) -> oidc_bff::config::Config {
    let mut v = settings(&op.issuer, port, json!({"client_registration_file": file}));
    let m = v.as_object_mut().unwrap();
    m.remove("client_id");
    m.remove("client_secret");
    if let Some(t) = token {
        m.insert("registration_initial_access_token".into(), json!(t));
    }
    oidc_bff::config::Config::from_value(v, &BTreeMap::new()).unwrap()
}

#[actix_web::test]
async fn registers_once_then_reuses_the_file() {
    let (op, file) = registering_op(Some("initial-token")).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let config =
        oidc_bff::app::Application::prepare(unregistered(&op, port, &file, Some("initial-token")))
            .await
            .unwrap();
    assert_eq!(config.client.id, CLIENT_ID);
    let sent = op.with(|s| s.registrations[0].clone());
    assert_eq!(
        sent["redirect_uris"],
        json!([format!("http://127.0.0.1:{port}/callback")])
    );
    assert_eq!(
        sent["backchannel_logout_uri"],
        format!("http://127.0.0.1:{port}/bff/backchannel-logout")
    );
    assert_eq!(
        sent["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // The registered client signs in.
    let app = oidc_bff::app::Application::build(config, listener).unwrap();
    let bff = TestBff::run(app, port);
    bff.wait_ready().await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");

    // A later start reads the file: no second registration.
    let again = oidc_bff::app::Application::prepare(unregistered(&op, port, &file, None))
        .await
        .unwrap();
    assert_eq!(again.client.id, CLIENT_ID);
    assert_eq!(
        again.client.secret.as_ref().map(|s| s.expose().as_str()),
        Some(CLIENT_SECRET)
    );
    assert_eq!(op.with(|s| s.registrations.len()), 1);
}

#[actix_web::test]
async fn a_refused_registration_stops_start_up_naming_the_key() {
    let (op, file) = registering_op(Some("initial-token")).await;
    let err = oidc_bff::app::Application::prepare(unregistered(&op, 9, &file, Some("wrong")))
        .await
        .unwrap_err();
    assert_eq!(err.key, "client_registration_file");
    assert!(err.message.contains("401"), "{}", err.message);
    assert!(!file.exists());
}

#[actix_web::test]
async fn without_client_id_or_registration_start_up_names_client_id() {
    let op = FakeOp::start().await;
    let mut v = settings(&op.issuer, 1, json!({}));
    v.as_object_mut().unwrap().remove("client_id");
    let err = oidc_bff::config::Config::from_value(v, &BTreeMap::new()).unwrap_err();
    assert_eq!(err.key, "client_id");
}

#[actix_web::test]
async fn private_key_jwt_registers_as_such_with_the_public_key() {
    let (op, file) = registering_op(None).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let key = std::env::current_dir()
        .unwrap()
        .join(format!("tests/support/keys/{CLIENT_KEY_FILE}.pem"));
    let mut v = settings(
        &op.issuer,
        port,
        json!({
            "client_registration_file": file,
            "token_endpoint_auth_method": "private_key_jwt",
            "client_private_key": key,
            "client_key_id": "bff-key-1",
        }),
    );
    let m = v.as_object_mut().unwrap();
    m.remove("client_id");
    m.remove("client_secret");
    let config = oidc_bff::config::Config::from_value(v, &BTreeMap::new()).unwrap();
    oidc_bff::app::Application::prepare(config).await.unwrap();

    let sent = op.with(|s| s.registrations[0].clone());
    assert_eq!(sent["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(sent["token_endpoint_auth_signing_alg"], "RS256");
    let jwk = &sent["jwks"]["keys"][0];
    assert_eq!(jwk["kid"], "bff-key-1");
    assert_eq!(jwk["use"], "sig");
    assert!(
        jwk.get("d").is_none(),
        "a private part was registered: {jwk}"
    );
    // The registered key verifies what the client key signs.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
    let enc = jsonwebtoken::EncodingKey::from_rsa_pem(&key_pem(CLIENT_KEY_FILE)).unwrap();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &json!({"sub": "x", "exp": now() + 60}),
        &enc,
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
        &validation,
    )
    .unwrap();
}
