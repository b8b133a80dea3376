//! issue 17: `client_assertion_audience` (`token_endpoint`, `issuer`, `endpoint`) for
//! `private_key_jwt` and `client_secret_jwt`, checked by an OP that accepts a client
//! assertion only with one `aud`, at every endpoint that takes one: token, PAR,
//! introspection, revocation. A bad value stops start-up (and `--check`) naming the key.

use crate::support::process::{self, bin, settings_file};
use crate::support::*;
use serde_json::{json, Value};

fn client_key_path() -> String {
    format!(
        "{}/tests/support/keys/{CLIENT_KEY_FILE}.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn method_settings(method: &str) -> Value {
    let mut p = json!({"token_endpoint_auth_method": method});
    if method == "private_key_jwt" {
        p["client_private_key"] = json!(client_key_path());
    }
    p
}

#[actix_web::test]
async fn each_audience_value_is_sent_to_every_endpoint_that_takes_an_assertion() {
    for method in ["private_key_jwt", "client_secret_jwt"] {
        for (value, rule) in [
            ("token_endpoint", AudRule::TokenEndpoint),
            ("issuer", AudRule::Issuer),
            ("endpoint", AudRule::Endpoint),
        ] {
            let what = format!("{method}, {value}");
            let op = FakeOp::start().await;
            op.accept_assertion_aud(rule);
            let mut patch = method_settings(method);
            patch["client_assertion_audience"] = json!(value);
            patch["send_parameters_via"] = json!("par");
            let bff = spawn_bff(&op.issuer, patch).await;
            let mut b = Browser::new(&bff.base);
            assert_eq!(b.login().await.location(), "/", "{what}: PAR and token");
            assert_eq!(op.with(|s| s.last_authorize_via.clone()), "par", "{what}");
            assert_eq!(b.post("/bff/refresh", None).await.status, 200, "{what}");
            let res = b.post("/bff/introspect", None).await;
            assert_eq!(res.status, 200, "{what}: introspection");
            assert_eq!(res.json()["active"], true, "{what}");
            let res = b
                .post("/bff/revoke", Some(r#"{"token":"access_token"}"#))
                .await;
            assert_eq!(res.status, 204, "{what}: revocation");
            assert_eq!(op.with(|s| s.counters.revoke), 1, "{what}");
            let i = &op.issuer;
            for path in ["/par", "/token", "/introspect", "/revoke"] {
                let want = match rule {
                    AudRule::TokenEndpoint => format!("{i}/token"),
                    AudRule::Issuer => i.clone(),
                    AudRule::Endpoint => format!("{i}{path}"),
                };
                let auds = op.assertion_auds(path);
                assert!(!auds.is_empty(), "{what}: an assertion reached {path}");
                assert!(
                    auds.iter().all(|a| *a == json!(want)),
                    "{what}: {path} got {auds:?}, want {want}"
                );
            }
            bff.stop().await;
            op.stop().await;
        }
    }
}

#[actix_web::test]
async fn the_default_audience_is_refused_by_an_op_that_wants_the_endpoint_or_the_issuer() {
    // What the issue saw: `aud` = the token endpoint everywhere; an OP that takes only the
    // URL being called refuses introspection.
    let op = FakeOp::start().await;
    op.accept_assertion_aud(AudRule::Endpoint);
    let bff = spawn_bff(&op.issuer, method_settings("private_key_jwt")).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    let res = b.post("/bff/introspect", None).await;
    assert_eq!(res.status, 502);
    assert!(res.json()["error"].is_string());
    assert_eq!(
        op.assertion_auds("/introspect"),
        vec![json!(format!("{}/token", op.issuer))]
    );
    // And one that takes only the issuer refuses even the code exchange.
    let op = FakeOp::start().await;
    op.accept_assertion_aud(AudRule::Issuer);
    let bff = spawn_bff(&op.issuer, method_settings("client_secret_jwt")).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(
        b.login().await.location(),
        "/?login_error=token_exchange_failed"
    );
}

fn run(args: &[&str], settings: &str) -> (i32, String) {
    let path = settings_file("aud", settings);
    let out = process::run(bin().args(args).arg("--config").arg(&path));
    (out.code, out.stderr)
}

#[test]
fn a_bad_audience_value_is_one_line_naming_the_key_at_start_up_and_with_check() {
    let bad = r#"{"issuer": "https://op.example", "client_id": "c", "client_secret": "s", "base_url": "https://localhost:5443", "listen": "127.0.0.1:0", "client_assertion_audience": "token"}"#;
    for args in [&[][..], &["--check"][..]] {
        let (code, stderr) = run(args, bad);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("`client_assertion_audience`"),
            "{args:?}: {stderr}"
        );
    }
    let good = bad.replace(r#""token""#, r#""endpoint""#);
    assert_eq!(run(&["--check"], &good).0, 0);
}
