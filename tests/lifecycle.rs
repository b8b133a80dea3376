//! SIGTERM drains in-flight requests within the grace period, then exits 0; liveness and
//! readiness answer as the contract says. Drives the real binary.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::upstream::Upstream;
use support::*;

#[actix_web::test]
async fn sigterm_lets_a_slow_request_finish_then_exits_zero() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
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
    let dir = std::env::temp_dir().join(format!("oidc-bff-life-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("settings.json");
    std::fs::write(&path, s.to_string()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_oidc-bff"))
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status() == 200 {
                ready = true;
                break;
            }
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the binary became ready");
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
    let pid = child.id();
    let signal = async move {
        actix_rt::time::sleep(Duration::from_millis(700)).await;
        let started = Instant::now();
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        started
    };
    let (res, signalled_at) = tokio::join!(slow, signal);
    let mut res = res.expect("the in-flight request completed");
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["slow"], true);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0), "clean exit after draining");
    assert!(
        signalled_at.elapsed() < Duration::from_secs(15),
        "did not wait for the whole grace period"
    );
}
