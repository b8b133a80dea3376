//! SIGTERM drains in-flight requests within the grace period, then exits 0; liveness and
//! readiness answer as the contract says. Drives the real binary.

use std::time::{Duration, Instant};

use crate::support::process::{free_port, Proc};
use crate::support::upstream::Upstream;
use crate::support::*;
use serde_json::json;

#[actix_web::test]
async fn sigterm_lets_a_slow_request_finish_then_exits_zero() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let port = free_port();
    let mut s = settings(
        &op.issuer,
        port,
        json!({
            "routes": [{"prefix": "/api", "upstream": up.base, "token": "none"}],
            "shutdown_grace": 15,
            "listen": format!("127.0.0.1:{port}"),
        }),
    );
    s.as_object_mut().unwrap().remove("workers");
    // Started means ready: `/healthz` answered 200.
    let bff = Proc::start_with(port, s).await;
    let base = bff.base.clone();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    assert_eq!(
        client
            .get(format!("{base}/healthz/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let slow = client
        .get(format!("{base}/api/slow"))
        .insert_header(("X-CSRF", "1"))
        .send();
    let signal = async {
        actix_rt::time::sleep(Duration::from_millis(700)).await;
        let started = Instant::now();
        bff.sigterm();
        started
    };
    let (res, signalled_at) = tokio::join!(slow, signal);
    let mut res = res.expect("the in-flight request completed");
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["slow"], true);
    let status = bff.exit().await;
    assert_eq!(status.code(), Some(0), "clean exit after draining");
    assert!(
        signalled_at.elapsed() < Duration::from_secs(15),
        "did not wait for the whole grace period"
    );
}
