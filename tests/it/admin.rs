//! Issue 9: `admin_listen` on the built binary: `/metrics` there, 404 on the public
//! listener, both closed after SIGTERM; a bad or busy value stops start-up naming the key.
//! (The in-process case, which reads the process-wide metrics: `tests/admin_metrics.rs`.)

use std::time::Duration;

use serde_json::json;

use crate::support::process::{bin, first_answer, free_port, run, settings_file, Proc};
use crate::support::*;

#[actix_web::test]
async fn the_binary_serves_admin_and_exits_on_sigterm() {
    let op = FakeOp::start().await;
    let admin_port = free_port();
    let bff = Proc::start(
        &op.issuer,
        json!({"admin_listen": format!("127.0.0.1:{admin_port}")}),
    )
    .await;
    let client = awc::Client::default();
    let admin = format!("http://127.0.0.1:{admin_port}/metrics");
    let status = first_answer(&client, &admin, Duration::from_secs(10)).await;
    assert_eq!(status, Some(200), "admin /metrics");
    let public = client
        .get(format!("{}/metrics", bff.base))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    bff.sigterm();
    let code = bff.exit().await;
    assert_eq!(code.code(), Some(0), "clean exit");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", admin_port)).is_err(),
        "the admin port is closed"
    );
}

#[test]
fn a_bad_or_busy_admin_listen_is_one_line_naming_the_key() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().to_string();
    for (value, check_too) in [("nowhere", true), (busy.as_str(), false)] {
        let s = json!({
            "issuer": "http://127.0.0.1:9",
            "client_id": "c",
            "client_secret": "s",
            "base_url": format!("http://127.0.0.1:{}", free_port()),
            "admin_listen": value,
        });
        let path = settings_file("admin-bad", &s.to_string());
        let mut modes = vec![false];
        if check_too {
            modes.push(true);
        }
        for check in modes {
            let mut cmd = bin();
            cmd.arg("--config").arg(&path);
            if check {
                cmd.arg("--check");
            }
            let out = run(&mut cmd);
            let stderr = out.stderr;
            assert_eq!(out.code, 2, "{value} check={check}: {stderr}");
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{stderr}");
            assert!(lines[0].contains("`admin_listen`"), "{stderr}");
        }
    }
    drop(held);
}
