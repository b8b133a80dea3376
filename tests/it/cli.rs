//! The binary's outside contract: `--help`, and bad configuration stopping start-up
//! within a second with exit code 2 and one line naming the key.

use std::time::Duration;

use crate::support::process::{bin, run, settings_file};

fn run_with(settings: &str, env: &[(&str, &str)]) -> (i32, String, Duration) {
    let path = settings_file("cli", settings);
    let out = run(bin().arg("--config").arg(&path).envs(env.iter().copied()));
    (out.code, out.stderr, out.took)
}

const GOOD: &str = r#"{"issuer": "https://op.example", "client_id": "c", "client_secret": "s", "base_url": "https://localhost:5443"}"#;

#[test]
fn help_lists_flags() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--config") && text.contains("--check"),
        "{text}"
    );
}

#[test]
fn bad_settings_exit_2_with_one_line_naming_the_key() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (r#"{"client_id": "c"}"#, &[], "`issuer`"),
        (
            r#"{"issuer": "https://op.example", "client_id": "c", "client_secret": "s", "cookie_keys": ["nope"]}"#,
            &[],
            "`cookie_keys`",
        ),
        (
            r#"{"issuer": "https://op.example", "client_id": "c", "client_secret": "s", "verify_ssl_server": "no"}"#,
            &[],
            "`verify_ssl_server`",
        ),
        (
            GOOD,
            &[("BFF_BASE_URL", "http://bff.example")],
            "`base_url`",
        ),
        (
            GOOD,
            &[("BFF_SESSION_LIFETIME", "abc")],
            "`session_lifetime`",
        ),
        (
            GOOD,
            &[("BFF_TLS_CERT", "/nonexistent/cert.pem")],
            "`tls_key`",
        ),
        // issue 10: refused, no longer silently raised to 8.
        (GOOD, &[("BFF_MAX_COOKIES", "7")], "`max_cookies`"),
        // issue 13: an absolute http(s) URL.
        (
            GOOD,
            &[("BFF_OTLP_ENDPOINT", "collector:4318")],
            "`otlp_endpoint`",
        ),
        (
            GOOD,
            &[("BFF_OTLP_ENDPOINT", "http://collector:4318/?x=1")],
            "`otlp_endpoint`",
        ),
        (
            GOOD,
            &[("BFF_OTEL_SERVICE_NAME", " ")],
            "`otel_service_name`",
        ),
        ("not json", &[], "`--config`"),
    ];
    for (settings, env, key) in cases {
        let (code, stderr, took) = run_with(settings, env);
        assert_eq!(code, 2, "{settings} {env:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(key), "{stderr} should name {key}");
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }
}

#[test]
fn secrets_come_from_the_environment() {
    let without = r#"{"issuer": "https://op.example", "client_id": "c", "base_url": "https://localhost:5443"}"#;
    let (code, stderr, _) = run_with(without, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("`client_secret`"));
    let path = settings_file("cli-ok", without);
    let out = bin()
        .args(["--check", "--config"])
        .arg(&path)
        .env("BFF_CLIENT_SECRET", "from-env")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The secret is never echoed.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("from-env"));
}

#[test]
fn missing_config_file_is_named() {
    let out = bin()
        .args(["--config", "/nonexistent/settings.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/settings.json"));
}

/// Issue 15: a busy port is not a "configuration error": one line naming the address
/// and saying it is in use, exit code 3.
#[test]
fn busy_listen_address_is_named_and_not_a_config_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr, took) = run_with(GOOD, &[("BFF_LISTEN", &addr)]);
    assert_eq!(code, 3, "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let line = lines.last().copied().unwrap_or("");
    assert!(line.contains(&addr), "names {addr}: {stderr}");
    assert!(line.contains("already in use"), "{stderr}");
    assert!(!stderr.contains("configuration error"), "{stderr}");
    assert!(!stderr.contains("os error"), "no raw OS text: {stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    drop(taken);
}

/// Issue 15: the demo API takes its port before anything else, reports a busy one in
/// one clear line (no raw `Os { code: 98 … }`), exit code 3, and never says "ready".
#[test]
fn demo_api_names_a_busy_port_and_does_not_say_ready() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_demo-api"))
        .env("DEMO_API_LISTEN", &addr)
        // An OP that is not there: the port check must come first.
        .env("DEMO_API_ISSUER", "https://127.0.0.1:9")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&addr) && stderr.contains("already in use"),
        "{stderr}"
    );
    assert!(!stderr.contains("Os {"), "{stderr}");
    assert!(!stdout.contains("ready"), "{stdout}");
    drop(taken);
}
