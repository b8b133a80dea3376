//! Issue 9: the binary as a sidecar, started from an empty directory (no `spa/`, no
//! `spa_dir`), and `--check` running exactly start-up's validation.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::process::{self, bin, free_port, temp_dir, Proc};
use crate::support::upstream::Upstream;
use crate::support::*;
use serde_json::{json, Value};

fn empty_dir(tag: &str) -> PathBuf {
    temp_dir(&format!("sidecar-{tag}"))
}

/// Runs the binary in `dir` with `./settings.json` and no BFF_* variables.
fn command(dir: &PathBuf) -> Command {
    let mut cmd = bin();
    cmd.current_dir(dir);
    cmd
}

/// Writes `dir/settings.json`: a minimal valid client of an OP that `--check` never asks,
/// with the keys of `over` on top.
fn write_settings(dir: &Path, over: Value) {
    let mut settings = json!({
        "issuer": "https://op.example",
        "client_id": "c",
        "client_secret": "s",
        "base_url": "https://localhost:5443",
    });
    for (key, value) in over.as_object().expect("an object of settings") {
        settings[key] = value.clone();
    }
    std::fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
}

#[actix_web::test]
async fn starts_bare_from_an_empty_directory() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let port = free_port();
    let dir = empty_dir("bare");
    // The release-like minimum: nothing but the five keys a sidecar needs.
    write_settings(
        &dir,
        json!({
            "issuer": op.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "base_url": format!("http://127.0.0.1:{port}"),
            "api_endpoint": up.base,
        }),
    );
    // Started means ready: `/healthz` answered 200 (or it panics with the output).
    let child = Proc::launch(command(&dir), port, &dir).await;
    let base = child.base.clone();
    let text = || child.logs();
    let lines: Vec<String> = text()
        .lines()
        .filter(|l| l.contains("serving no static files"))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 1, "one log line says so:\n{}", text());
    // issue 13: a log that is not a terminal gets no ANSI colour codes.
    assert!(!text().contains('\u{1b}'), "no ANSI escapes:\n{}", text());

    let mut b = Browser::new(&base);
    for path in ["/", "/index.html", "/app.js", "/some/page"] {
        let res = b.get(path).await;
        assert_eq!(res.status, 404, "{path}");
        assert_eq!(res.json()["error"], "not_found", "{path}: JSON body");
        assert!(
            res.header("content-type")
                .unwrap_or_default()
                .starts_with("application/json"),
            "{path}"
        );
    }
    assert_eq!(b.login().await.status, 302);
    let res = b
        .request("GET", "/api/orders?id=7", &[("X-CSRF", "1")], None)
        .await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["path"], "/orders");
    let seen = up.last();
    assert!(
        seen["headers"]["authorization"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Bearer "),
        "proxied with the token: {seen}"
    );
}

fn run(dir: &PathBuf, check: bool) -> (i32, String, String) {
    let mut cmd = command(dir);
    if check {
        cmd.arg("--check");
    }
    let out = process::run(&mut cmd);
    (out.code, out.stdout, out.stderr)
}

/// Exit 2 and exactly one line naming `key`, at start-up and with `--check` alike.
fn assert_refused(dir: &PathBuf, key: &str) {
    for check in [false, true] {
        let (code, stdout, stderr) = run(dir, check);
        assert_eq!(
            code, 2,
            "check={check}: exit 2; stdout={stdout} stderr={stderr}"
        );
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "check={check}: one line: {stderr}");
        assert!(
            lines[0].contains(&format!("`{key}`")),
            "check={check}: names {key}: {stderr}"
        );
        assert!(!stdout.contains("configuration OK"), "check={check}");
    }
}

#[test]
fn an_explicit_missing_spa_dir_is_a_config_error_at_start_and_with_check() {
    let dir = empty_dir("nospa");
    write_settings(
        &dir,
        json!({
            "base_url": format!("http://127.0.0.1:{}", free_port()),
            "spa_dir": dir.join("no-such-folder"),
        }),
    );
    assert_refused(&dir, "spa_dir");
}

#[test]
fn check_refuses_what_start_up_refuses() {
    // Start-up validation beyond the settings themselves (certificate files, the shared
    // store URL): --check used to say OK where start-up exited 2.
    let dir = empty_dir("drift");
    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(dir.join("key.pem"), "not a key").unwrap();
    write_settings(
        &dir,
        json!({
            "base_url": format!("https://localhost:{}", free_port()),
            "tls_cert": dir.join("cert.pem"),
            "tls_key": dir.join("key.pem"),
        }),
    );
    assert_refused(&dir, "tls_cert");

    // A shared store that is not reachable is not a configuration error (no network in
    // --check), and --check must not crash building its client either.
    write_settings(&dir, json!({"session_store": "redis://127.0.0.1:1/"}));
    let (code, stdout, stderr) = run(&dir, true);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // And a good file passes both ways alike: --check says OK.
    write_settings(&dir, json!({}));
    let (code, stdout, stderr) = run(&dir, true);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("configuration OK"));
}
