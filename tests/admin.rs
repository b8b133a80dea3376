//! Issue 9: `admin_listen` serves `/metrics` on an address of its own; the public
//! listener then answers 404 JSON there, and the admin listener stops with the main one.

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[actix_web::test]
async fn metrics_move_to_the_admin_listener() {
    oidc_bff::install_crypto_provider();
    let op = FakeOp::start().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = oidc_bff::config::Config::from_value(
        settings(&op.issuer, port, json!({"admin_listen": "127.0.0.1:0"})),
        &BTreeMap::new(),
    )
    .unwrap();
    let app = oidc_bff::app::Application::build(config, listener).unwrap();
    let admin_port = app.admin_port().expect("an admin listener");
    assert_ne!(admin_port, port);
    let handle = app.handle();
    let served = actix_rt::spawn(app.run_until_stopped());
    let bff = TestBff {
        base: format!("http://127.0.0.1:{port}"),
        port,
        handle: handle.clone(),
    };
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
    handle.stop(true).await;
    served.await.unwrap().unwrap();
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

#[actix_web::test]
async fn the_binary_serves_admin_and_exits_on_sigterm() {
    let op = FakeOp::start().await;
    let (port, admin_port) = (free_port(), free_port());
    let s = settings(
        &op.issuer,
        port,
        json!({"listen": format!("127.0.0.1:{port}"), "admin_listen": format!("127.0.0.1:{admin_port}")}),
    );
    let dir = std::env::temp_dir().join(format!("oidc-bff-admin-{}", std::process::id()));
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
    let client = awc::Client::default();
    let mut status = 0;
    for _ in 0..200 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{admin_port}/metrics"))
            .send()
            .await
        {
            status = r.status().as_u16();
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200, "admin /metrics");
    let public = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let code = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
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
        let dir = std::env::temp_dir().join(format!(
            "oidc-bff-admin-bad-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("settings.json");
        let s = json!({
            "issuer": "http://127.0.0.1:9",
            "client_id": "c",
            "client_secret": "s",
            "base_url": format!("http://127.0.0.1:{}", free_port()),
            "admin_listen": value,
        });
        std::fs::write(&path, s.to_string()).unwrap();
        let mut modes = vec![false];
        if check_too {
            modes.push(true);
        }
        for check in modes {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_oidc-bff"));
            cmd.arg("--config").arg(&path);
            if check {
                cmd.arg("--check");
            }
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{value} check={check}: {stderr}"
            );
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{stderr}");
            assert!(lines[0].contains("`admin_listen`"), "{stderr}");
        }
    }
    drop(held);
}
