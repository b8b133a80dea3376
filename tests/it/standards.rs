//! Authorization-request transports (query, RFC 9101 request objects, RFC 9126 PAR, PAR
//! forced by the OP's metadata) and each client authentication method, verified at the
//! fake OP's endpoints.

use crate::support::*;
use serde_json::json;

fn client_key_path() -> String {
    format!(
        "{}/tests/support/keys/{CLIENT_KEY_FILE}.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[actix_web::test]
async fn par_sends_only_client_id_and_request_uri_through_the_browser() {
    let (op, bff) = pair(json!({"send_parameters_via": "par"})).await;
    let mut b = Browser::new(&bff.base);
    let res = b.post("/bff/login", Some("{}")).await;
    let url = res.json()["authorizationUrl"].as_str().unwrap().to_string();
    let keys: Vec<String> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .map(|(k, _)| k.to_string())
        .collect();
    assert_eq!(keys, vec!["client_id", "request_uri"], "{url}");
    assert_eq!(op.with(|s| s.counters.par), 1);
    let back = b.get(&url).await;
    assert_eq!(op.with(|s| s.last_authorize_via.clone()), "par");
    assert_eq!(b.get(&back.location()).await.location(), "/");
    assert_eq!(b.get("/bff/user").await.status, 200);
}

#[actix_web::test]
async fn par_is_used_when_the_op_requires_it_whatever_the_setting() {
    let op = FakeOp::start().await;
    op.with(|s| s.require_par = true);
    let bff = spawn_bff(&op.issuer, json!({"send_parameters_via": "query"})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(op.with(|s| s.last_authorize_via.clone()), "par");
    assert_eq!(op.with(|s| s.counters.par), 1);
    // The fake OP really refuses a plain front-channel request meanwhile.
    let mut direct = Browser::new(&op.issuer);
    let res = direct
        .get(&format!(
            "{}/authorize?client_id={CLIENT_ID}&response_type=code",
            op.issuer
        ))
        .await;
    assert_eq!(res.status, 400);
}

#[actix_web::test]
async fn par_without_an_endpoint_is_a_clear_error() {
    let op = FakeOp::start().await;
    op.with(|s| {
        s.discovery_overrides.insert(
            "pushed_authorization_request_endpoint".into(),
            serde_json::Value::Null,
        )
    });
    let bff = spawn_bff(&op.issuer, json!({"send_parameters_via": "par"})).await;
    let mut b = Browser::new(&bff.base);
    let res = b.post("/bff/login", Some("{}")).await;
    assert_eq!(res.status, 501);
    assert_eq!(res.json()["error"], "not_supported");
}

#[actix_web::test]
async fn request_object_hs256_with_the_client_secret() {
    let (op, bff) = pair(json!({"send_parameters_via": "request_object"})).await;
    let mut b = Browser::new(&bff.base);
    let res = b
        .post("/bff/login", Some(r#"{"prompt":"login","maxAge":60}"#))
        .await;
    let url = res.json()["authorizationUrl"].as_str().unwrap().to_string();
    let object = query_param(&url, "request").expect("a request object");
    assert!(
        query_param(&url, "state").is_none(),
        "state travels inside the signed object"
    );
    assert_eq!(query_param(&url, "response_type").as_deref(), Some("code"));
    let header = jsonwebtoken::decode_header(&object).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    assert_eq!(header.typ.as_deref(), Some("oauth-authz-req+jwt"));
    let back = b.get(&url).await;
    assert_eq!(
        op.with(|s| s.last_authorize_via.clone()),
        "request_object:HS256"
    );
    let codes = op
        .with(|s| s.codes.values().next().map(|a| a.params.clone()))
        .unwrap();
    assert_eq!(codes.get("prompt").map(String::as_str), Some("login"));
    assert_eq!(codes.get("max_age").map(String::as_str), Some("60"));
    assert_eq!(b.get(&back.location()).await.location(), "/");
}

#[actix_web::test]
async fn request_object_rs256_with_the_client_key() {
    let (op, bff) = pair(json!({
        "send_parameters_via": "request_object",
        "client_private_key": client_key_path(),
        "client_key_id": "client-key-1",
        "request_object_signing_alg": "RS256",
    }))
    .await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(
        op.with(|s| s.last_authorize_via.clone()),
        "request_object:RS256"
    );
}

async fn login_with_auth(method: &str, extra: serde_json::Value) -> String {
    let mut patch = json!({"token_endpoint_auth_method": method});
    for (k, v) in extra.as_object().unwrap() {
        patch[k] = v.clone();
    }
    let (op, bff) = pair(patch).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/", "{method}");
    let at_token = op.with(|s| s.last_client_auth.clone()).unwrap();
    // The same method works for revocation (at logout) too.
    b.post("/bff/logout", None).await;
    assert_eq!(
        op.with(|s| s.counters.revoke),
        1,
        "{method}: revocation authenticated"
    );
    at_token
}

#[actix_web::test]
async fn each_client_authentication_method_is_verified_by_the_op() {
    assert_eq!(
        login_with_auth("client_secret_basic", json!({})).await,
        "basic"
    );
    assert_eq!(
        login_with_auth("client_secret_post", json!({})).await,
        "post"
    );
    assert_eq!(
        login_with_auth("client_secret_jwt", json!({})).await,
        "client_secret_jwt"
    );
    let key = json!({"client_private_key": client_key_path(), "client_key_id": "client-key-1"});
    assert_eq!(
        login_with_auth("private_key_jwt", key).await,
        "private_key_jwt"
    );
}

#[actix_web::test]
async fn private_key_jwt_also_authenticates_par() {
    let (op, bff) = pair(json!({
        "send_parameters_via": "par",
        "token_endpoint_auth_method": "private_key_jwt",
        "client_private_key": client_key_path(),
    }))
    .await;
    let mut b = Browser::new(&bff.base);
    let res = b.get("/bff/login").await;
    assert_eq!(res.status, 302);
    assert_eq!(
        op.with(|s| s.last_client_auth.clone()).as_deref(),
        Some("private_key_jwt")
    );
}

#[actix_web::test]
async fn a_wrong_client_key_is_refused_by_the_op() {
    let wrong = format!(
        "{}/tests/support/keys/rsa_rogue.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let (_op, bff) =
        pair(json!({"token_endpoint_auth_method": "private_key_jwt", "client_private_key": wrong}))
            .await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(
        b.login().await.location(),
        "/?login_error=token_exchange_failed"
    );
}

/// The client key as a private JWK (what an operator may paste into settings).
fn client_private_jwk() -> serde_json::Value {
    use base64::Engine;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    let pem = String::from_utf8(key_pem(CLIENT_KEY_FILE)).unwrap();
    let k = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
    let b =
        |n: &rsa::BigUint| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n.to_bytes_be());
    json!({"kty": "RSA", "kid": "jwk-key-1", "n": b(k.n()), "e": b(k.e()), "d": b(k.d()),
           "p": b(&k.primes()[0]), "q": b(&k.primes()[1])})
}

#[actix_web::test]
async fn private_key_jwt_with_a_jwk_setting() {
    let jwk = client_private_jwk();
    assert_eq!(
        login_with_auth("private_key_jwt", json!({"client_private_jwk": jwk})).await,
        "private_key_jwt"
    );
    // As an environment override (a JSON string), and a bad one names the key.
    let env: std::collections::BTreeMap<String, String> =
        [("BFF_CLIENT_PRIVATE_JWK".to_string(), jwk.to_string())]
            .into_iter()
            .collect();
    let c = oidc_bff::config::Config::from_value(
        settings(
            "https://op.example",
            1,
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
        ),
        &env,
    )
    .unwrap();
    assert_eq!(c.client.key.unwrap().kid.as_deref(), Some("jwk-key-1"));
    let bad = json!({"kty": "RSA", "n": "AQAB"});
    let err = oidc_bff::config::Config::from_value(
        settings("https://op.example", 1, json!({"client_private_jwk": bad})),
        &Default::default(),
    )
    .unwrap_err();
    assert_eq!(err.key, "client_private_jwk");
}

#[actix_web::test]
async fn a_par_endpoint_over_plain_http_elsewhere_than_loopback_is_refused() {
    // issue 12: the PAR endpoint gets client credentials and the whole request: https
    // (or loopback) like every other endpoint, else discovery fails and nothing starts.
    let op = FakeOp::start().await;
    op.with(|s| {
        s.discovery_overrides.insert(
            "pushed_authorization_request_endpoint".into(),
            json!("http://op.example/par"),
        );
    });
    let bff = start_bff_on(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        &op.issuer,
        json!({"send_parameters_via": "par"}),
    );
    actix_rt::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(Browser::new(&bff.base).get("/healthz").await.status, 503);
    op.with(|s| s.discovery_overrides.clear());
    let ok = spawn_bff(&op.issuer, json!({"send_parameters_via": "par"})).await;
    let mut b = Browser::new(&ok.base);
    assert_eq!(b.login().await.location(), "/");
}
