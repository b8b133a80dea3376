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
