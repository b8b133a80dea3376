//! Serving over HTTPS: a generated self-signed localhost certificate when none is
//! configured, or the configured PEM files; `__Host-` cookie names on https origins.

use std::sync::Arc;

use crate::support::process::{temp_dir, until_ok, READY_WITHIN};
use crate::support::*;
use serde_json::json;

fn insecure_client() -> awc::Client {
    oidc_bff::install_crypto_provider();
    let settings = json!({"issuer": "https://op.example", "client_id": "c", "client_secret": "s", "verify_ssl_server": false});
    let config = oidc_bff::config::Config::from_value(settings, &Default::default()).unwrap();
    let tls = oidc_bff::oidc::http::tls_client_config(&config).unwrap();
    oidc_bff::oidc::http::build_client(tls, std::time::Duration::from_secs(5))
}

async fn https_bff(op: &FakeOp, extra: serde_json::Value) -> (String, awc::Client) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut patch = json!({"base_url": format!("https://localhost:{port}")});
    for (k, v) in extra.as_object().unwrap() {
        patch[k] = v.clone();
    }
    start_bff_on(listener, &op.issuer, patch);
    let base = format!("https://localhost:{port}");
    let client = insecure_client();
    if !until_ok(&client, &format!("{base}/healthz"), READY_WITHIN).await {
        panic!("https BFF not ready");
    }
    (base, client)
}

#[actix_web::test]
async fn self_signed_certificate_and_host_prefixed_cookies() {
    let op = FakeOp::start().await;
    let (base, client) = https_bff(&op, json!({})).await;
    let res = client
        .get(format!("{base}/bff/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("__Host-bff-login=")
            && c.contains("Secure")
            && c.contains("Path=/")),
        "{cookies:?}"
    );
}

#[actix_web::test]
async fn configured_certificate_is_served() {
    let dir = temp_dir("tls");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cp, kp) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cp, cert.cert.pem()).unwrap();
    std::fs::write(&kp, cert.signing_key.serialize_pem()).unwrap();
    let op = FakeOp::start().await;
    let (base, _) = https_bff(&op, json!({"tls_cert": cp, "tls_key": kp})).await;

    // A client that trusts exactly that certificate connects.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(Arc::new(tls)))
        .finish();
    let res = client
        .get(format!("{base}/healthz/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Issue 9 review: over HTTP/2 a body needs no `Content-Length`; an `/api` upload
/// without one still reaches the upstream whole.
#[actix_web::test]
async fn an_h2_api_upload_without_content_length_reaches_the_upstream() {
    let op = FakeOp::start().await;
    let up = crate::support::upstream::Upstream::start();
    let routes = json!({"routes": [
        {"prefix": "/api", "upstream": format!("{}/v1", up.base), "token": "none"},
    ]});
    let (base, _) = https_bff(&op, routes).await;
    let settings = json!({"issuer": "https://op.example", "client_id": "c", "client_secret": "s", "verify_ssl_server": false});
    let config = oidc_bff::config::Config::from_value(settings, &Default::default()).unwrap();
    let mut tls = (*oidc_bff::oidc::http::tls_client_config(&config).unwrap()).clone();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let client = awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(Arc::new(tls)))
        .finish();
    for method in [awc::http::Method::POST, awc::http::Method::PUT] {
        let chunks = futures_util::stream::iter(
            ["hello ", "over ", "h2"]
                .map(|s| Ok::<_, std::io::Error>(actix_web::web::Bytes::from(s))),
        );
        let mut res = client
            .request(method.clone(), format!("{base}/api/echo"))
            .insert_header(("X-CSRF", "1"))
            .send_stream(chunks)
            .await
            .unwrap();
        assert_eq!(res.version(), awc::http::Version::HTTP_2);
        assert_eq!(res.status(), 200, "{method}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["body_len"], 13, "{method}: {body}");
        assert!(up.last_values("content-length").len() <= 1);
    }
    // A body-less GET still goes without one.
    let mut res = client
        .get(format!("{base}/api/echo"))
        .insert_header(("X-CSRF", "1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["body_len"], 0);
}
