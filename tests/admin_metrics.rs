//! Issue 9: `admin_listen` serves `/metrics` on an address of its own; the public
//! listener then answers 404 JSON there, and the admin listener stops with the main one.
//! In process. Its own test binary: the metrics registry is process-wide, and the test
//! checks that its own login shows on the admin listener. (The binary's admin listener
//! and bad values: `it/admin.rs`.)

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

#[actix_web::test]
async fn metrics_move_to_the_admin_listener() {
    oidc_bff::install_crypto_provider();
    let op = FakeOp::start().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = config(&op.issuer, port, json!({"admin_listen": "127.0.0.1:0"}));
    let app = oidc_bff::app::Application::build(config, listener).unwrap();
    let admin_port = app.admin_port().expect("an admin listener");
    assert_ne!(admin_port, port);
    let bff = TestBff::run(app, port);
    bff.wait_ready().await;

    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.status, 302);
    let public = b.get("/metrics").await;
    assert_eq!(public.status, 404, "no /metrics on the public listener");
    assert_eq!(public.json()["error"], "not_found");

    let mut admin = Browser::new(&format!("http://127.0.0.1:{admin_port}"));
    let res = admin.get("/metrics").await;
    assert_eq!(res.status, 200);
    assert!(res
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/plain"));
    let text = String::from_utf8_lossy(&res.body);
    assert!(
        text.contains("outcome=\"success\""),
        "the login shows on the admin listener: {text}"
    );
    let other = admin.get("/bff/user").await;
    assert_eq!(
        other.status, 404,
        "the admin listener serves only its own routes"
    );
    assert_eq!(other.json()["error"], "not_found");

    // Stopping the main server stops the admin listener too.
    bff.handle.stop(true).await;
    bff.served.await.unwrap().unwrap();
    let client = awc::Client::default();
    let mut refused = false;
    for _ in 0..50 {
        if client
            .get(format!("http://127.0.0.1:{admin_port}/metrics"))
            .timeout(Duration::from_millis(300))
            .send()
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "the admin listener stopped with the main server");
}
