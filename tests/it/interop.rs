//! issue 13: the interop aids, each against a fake-OP mode that behaves like the quirky
//! OP: `client_secret_basic_encoding`, `id_token_hint` with `prompt=none`, the OP's
//! `error_description` in the log (never in an answer), error answers that are empty or
//! not JSON at every endpoint (discovery and the JWKS included), and a log without colour codes when it is not a terminal.
//! Log lines are read from the binary run as a child process.

use std::io::Read;
use std::process::Stdio;

use crate::support::process::{bin, settings_file, until_ok, Proc, READY_WITHIN};
use crate::support::upstream::Upstream;
use crate::support::*;
use serde_json::{json, Value};

/// A secret with every character form-encoding changes: `+ / = & % :` and a space.
const ODD_SECRET: &str = "s3+cr/et=&x%41:y z-0123456789";

fn route(up: &Upstream, prefix: &str, extra: Value) -> Value {
    let mut r = json!({"prefix": prefix, "upstream": format!("{}{}", up.base, prefix)});
    if let (Value::Object(m), Value::Object(p)) = (&mut r, extra) {
        m.extend(p);
    }
    r
}

fn routes(up: &Upstream) -> Value {
    json!([
        route(up, "/api/app", json!({"token": "client"})),
        route(up, "/api/x", json!({"token_exchange": true})),
        route(up, "/api", json!({})),
    ])
}

async fn api(b: &mut Browser, path: &str) -> Resp {
    b.request("GET", path, &[("X-CSRF", "1")], None).await
}

/// The one line of `bff`'s log holding every needle (waiting for it); panics otherwise.
async fn line_with(bff: &Proc, needles: &[&str]) -> String {
    for _ in 0..40 {
        let found: Vec<String> = bff
            .logs()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .map(str::to_string)
            .collect();
        if let Some(l) = found.last() {
            return l.clone();
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no log line with {needles:?}:\n{}", bff.logs());
}

// ---------------------------------------------------------------------------
// 1. client_secret_basic_encoding

#[actix_web::test]
async fn form_encoded_basic_credentials_fail_at_an_op_that_does_not_decode_them_and_say_why() {
    let op = FakeOp::start().await;
    op.expect_secret(ODD_SECRET, true);
    let bff = Proc::start(&op.issuer, json!({"client_secret": ODD_SECRET})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(
        b.login().await.location(),
        "/?login_error=token_exchange_failed"
    );
    let failed = line_with(&bff, &["login failed"]).await;
    assert!(
        failed.contains("the OpenID Provider's token endpoint answered 401 invalid_client"),
        "{failed}"
    );
    let hint = line_with(&bff, &["client_secret_basic_encoding: \"raw\""]).await;
    assert!(hint.contains("refused the client credentials"), "{hint}");
    let logs = bff.logs();
    let form_encoded: String =
        url::form_urlencoded::byte_serialize(ODD_SECRET.as_bytes()).collect();
    assert!(!logs.contains(ODD_SECRET) && !logs.contains(&form_encoded));
}

#[actix_web::test]
async fn raw_basic_credentials_work_for_every_call_with_client_authentication() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.expect_secret(ODD_SECRET, true);
    let raw = json!({
        "client_secret": ODD_SECRET,
        "client_secret_basic_encoding": "raw",
        "routes": routes(&up),
    });
    let bff = spawn_bff(&op.issuer, raw.clone()).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/", "code exchange");
    assert_eq!(
        op.with(|s| s.last_client_auth.clone()).as_deref(),
        Some("basic")
    );
    assert_eq!(b.post("/bff/refresh", None).await.status, 200, "refresh");
    let info = b.post("/bff/introspect", None).await;
    assert_eq!(info.status, 200, "introspection");
    assert_eq!(info.json()["active"], true);
    assert_eq!(
        api(&mut b, "/api/app/1").await.status,
        200,
        "client credentials"
    );
    assert_eq!(api(&mut b, "/api/x/1").await.status, 200, "token exchange");
    let revoked = b
        .post("/bff/revoke", Some(r#"{"token":"refresh_token"}"#))
        .await;
    assert_eq!(revoked.status, 204, "revocation");
    assert_eq!(op.with(|s| s.revoked.len()), 1);

    // PAR too.
    let mut par = raw;
    par["send_parameters_via"] = json!("par");
    let bff = spawn_bff(&op.issuer, par).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(op.with(|s| s.last_authorize_via.clone()), "par");
}

#[actix_web::test]
async fn the_default_form_encoding_works_at_a_standard_op_with_the_same_secret() {
    let op = FakeOp::start().await;
    op.expect_secret(ODD_SECRET, false);
    let bff = spawn_bff(&op.issuer, json!({"client_secret": ODD_SECRET})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
    // And raw fails there: the standard OP form-decodes `+` and `%41`.
    let bff = spawn_bff(
        &op.issuer,
        json!({"client_secret": ODD_SECRET, "client_secret_basic_encoding": "raw"}),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(
        b.login().await.location(),
        "/?login_error=token_exchange_failed"
    );
}

// ---------------------------------------------------------------------------
// 2. prompt=none with id_token_hint

async fn silent_login(b: &mut Browser) -> String {
    let res = b.post("/bff/login", Some(r#"{"prompt":"none"}"#)).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    res.json()["authorizationUrl"]
        .as_str()
        .expect("authorizationUrl")
        .to_string()
}

/// Follows an authorization URL through the OP to the callback: where the BFF sends the
/// browser then.
async fn follow(b: &mut Browser, url: &str) -> String {
    let at_op = b.get(url).await;
    assert_eq!(at_op.status, 302, "the OP redirects back");
    b.get(&at_op.location()).await.location()
}

#[actix_web::test]
async fn prompt_none_from_a_session_sends_the_id_token_as_hint_and_never_logs_it() {
    let op = FakeOp::start().await;
    op.with(|s| s.quirks.prompt_none_needs_hint = true);
    let bff = Proc::start(&op.issuer, json!({"debug": true})).await;

    // Without a session: no hint, and this OP refuses.
    let mut stranger = Browser::new(&bff.base);
    let url = silent_login(&mut stranger).await;
    assert_eq!(query_param(&url, "id_token_hint"), None, "{url}");
    assert_eq!(
        follow(&mut stranger, &url).await,
        "/?login_error=login_required"
    );
    assert_eq!(op.with(|s| s.quirks.hints.last().cloned()), Some(None));

    // Signed in: the session's ID token goes along, and the OP signs the user in again.
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    let id_token = op.last_issued("ey").expect("an ID token");
    let url = silent_login(&mut b).await;
    assert_eq!(
        query_param(&url, "id_token_hint").as_deref(),
        Some(id_token.as_str())
    );
    assert_eq!(follow(&mut b, &url).await, "/");
    // Only with prompt=none.
    let res = b.post("/bff/login", Some(r#"{"prompt":"login"}"#)).await;
    let url = res.json()["authorizationUrl"].as_str().unwrap().to_string();
    assert_eq!(query_param(&url, "id_token_hint"), None);

    let logs = bff.logs();
    assert!(
        logs.contains("prompt=none login"),
        "debug logging is on:\n{logs}"
    );
    for t in op.with(|s| s.issued_tokens.clone()) {
        assert!(!logs.contains(&t), "a token in the log:\n{logs}");
    }
}

#[actix_web::test]
async fn with_par_or_a_request_object_the_hint_stays_off_the_browser() {
    let op = FakeOp::start().await;
    op.with(|s| s.quirks.prompt_none_needs_hint = true);
    for via in ["par", "request_object"] {
        let bff = spawn_bff(&op.issuer, json!({ "send_parameters_via": via })).await;
        let mut b = Browser::new(&bff.base);
        assert_eq!(b.login().await.location(), "/", "{via}");
        let id_token = op.last_issued("ey").unwrap();
        let url = silent_login(&mut b).await;
        assert!(!url.contains(&id_token), "{via}: {url}");
        assert_eq!(follow(&mut b, &url).await, "/", "{via}");
        assert_eq!(
            op.with(|s| s.quirks.hints.last().cloned()),
            Some(Some(id_token.clone())),
            "{via}: the OP got the hint"
        );
        let (sent_via, front) =
            op.with(|s| (s.last_authorize_via.clone(), s.last_authorize_query.clone()));
        assert!(sent_via.starts_with(via), "{sent_via}");
        assert!(!front.contains_key("id_token_hint"), "{via}: {front:?}");
    }
}

// ---------------------------------------------------------------------------
// 3. The OP's error_description in the log, our sentence in the answer

/// The OP's text, with a control character and HTML, longer than the log keeps.
fn op_text(what: &str) -> String {
    format!("{what}\nsee <a href=x>docs</a> {}", "z".repeat(400))
}

fn assert_ours(res: &Resp, code: &str, sentence: &str) {
    assert_eq!(res.status, 502, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["error"], code);
    assert_eq!(res.json()["error_description"], sentence);
    let text = String::from_utf8_lossy(&res.body);
    assert!(!text.contains("docs") && !text.contains("zzz"), "{text}");
}

/// The logged description: sanitised (no newline) and bounded.
fn assert_logged(line: &str, what: &str) {
    assert!(
        line.contains(&format!("{what} see <a href=x>docs</a> zzz")),
        "{line}"
    );
    assert!(!line.contains(&"z".repeat(200)), "bounded: {line}");
}

#[actix_web::test]
async fn error_descriptions_are_logged_for_callback_exchange_refresh_and_par() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let bff = Proc::start(&op.issuer, json!({"routes": routes(&up)})).await;

    // Callback error.
    op.with(|s| s.quirks.authorize_error = Some(("access_denied".into(), op_text("user said no"))));
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/?login_error=access_denied");
    let line = line_with(&bff, &["login failed", "access_denied"]).await;
    assert_logged(&line, "user said no");
    op.with(|s| s.quirks.authorize_error = None);

    // Code exchange.
    let callback = b.authorize("/").await;
    op.fail(
        "/token",
        Canned::oauth(400, "invalid_grant", &op_text("code expired")),
    );
    assert_eq!(
        b.get(&callback).await.location(),
        "/?login_error=token_exchange_failed"
    );
    let line = line_with(&bff, &["login failed", "code expired"]).await;
    assert!(
        line.contains("token endpoint answered 400 invalid_grant"),
        "{line}"
    );
    assert_logged(&line, "code expired");
    op.heal("/token");

    // Refresh: a 5xx OAuth error is a 502 naming the endpoint; a refusal ends the session.
    assert_eq!(b.login().await.location(), "/");
    op.fail(
        "/token",
        Canned::oauth(503, "temporarily_unavailable", &op_text("db down")),
    );
    assert_ours(
        &b.post("/bff/refresh", None).await,
        "op_error",
        "the OpenID Provider's token endpoint failed",
    );
    let line = line_with(&bff, &["request failed", "db down"]).await;
    assert!(
        line.contains("token endpoint answered 503 temporarily_unavailable"),
        "{line}"
    );
    assert_logged(&line, "db down");

    // Token exchange and client credentials at the same token endpoint.
    op.fail(
        "/token",
        Canned::oauth(400, "invalid_target", &op_text("no such audience")),
    );
    assert_ours(
        &api(&mut b, "/api/x/1").await,
        "token_exchange_failed",
        "the OpenID Provider's token endpoint did not exchange the token",
    );
    let line = line_with(&bff, &["refused the route token grant", "/api/x"]).await;
    assert_logged(&line, "no such audience");
    op.fail(
        "/token",
        Canned::oauth(400, "invalid_scope", &op_text("scope unknown")),
    );
    assert_ours(
        &api(&mut b, "/api/app/1").await,
        "client_token_failed",
        "the OpenID Provider's token endpoint did not issue a client token for this route",
    );
    let line = line_with(&bff, &["refused the route token grant", "/api/app"]).await;
    assert!(line.contains("error=\"invalid_scope\""), "{line}");
    assert_logged(&line, "scope unknown");

    op.fail(
        "/token",
        Canned::oauth(400, "invalid_grant", &op_text("revoked by admin")),
    );
    assert_eq!(
        b.post("/bff/refresh", None).await.status,
        401,
        "session ended"
    );
    let line = line_with(&bff, &["refresh refused; session ended"]).await;
    assert!(line.contains("error=\"invalid_grant\""), "{line}");
    assert_logged(&line, "revoked by admin");
    op.heal("/token");

    // PAR.
    let par = Proc::start(&op.issuer, json!({"send_parameters_via": "par"})).await;
    op.fail(
        "/par",
        Canned::oauth(400, "invalid_request", &op_text("redirect_uri unknown")),
    );
    let mut b = Browser::new(&par.base);
    let res = b.post("/bff/login", None).await;
    assert_ours(
        &res,
        "op_error",
        "the OpenID Provider's pushed authorization request endpoint refused the request",
    );
    let line = line_with(&par, &["request failed", "redirect_uri unknown"]).await;
    assert!(
        line.contains("pushed authorization request endpoint answered 400 invalid_request"),
        "{line}"
    );
    assert_logged(&line, "redirect_uri unknown");
}

// ---------------------------------------------------------------------------
// 4. Error answers that are empty or not JSON, at every endpoint

/// The kinds of broken error answer, and what the log line says of each.
fn broken() -> Vec<(Canned, String)> {
    let html = Canned::html(500);
    let html_said = format!(
        "answered 500, not an OAuth error: text/html; charset=utf-8, {} bytes: \"<!DOCTYPE html> <html><head><title>500 Internal Server Error</title>",
        html.body.len()
    );
    vec![
        (
            Canned::empty(500),
            "answered 500, not an OAuth error: no content type, empty body".into(),
        ),
        (html, html_said),
        (
            Canned::text(502, "Bad Gateway"),
            "answered 502, not an OAuth error: text/plain, 11 bytes: \"Bad Gateway\"".into(),
        ),
    ]
}

#[actix_web::test]
async fn empty_and_non_json_error_answers_are_logged_clearly_and_answered_502() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let bff = Proc::start(
        &op.issuer,
        json!({"routes": routes(&up), "send_parameters_via": "par"}),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    for (answer, said) in broken() {
        let bounded = |line: &str| assert!(line.len() < 700, "bounded: {line}");

        // Code exchange.
        let mut fresh = Browser::new(&bff.base);
        let callback = fresh.authorize("/").await;
        op.fail("/token", answer.clone());
        assert_eq!(
            fresh.get(&callback).await.location(),
            "/?login_error=token_exchange_failed"
        );
        bounded(&line_with(&bff, &["login failed", &format!("token endpoint {said}")]).await);

        // Refresh, and the route tokens of the same endpoint.
        for (path, code) in [
            ("/bff/refresh", "op_error"),
            ("/api/app/1", "client_token_failed"),
            ("/api/x/1", "token_exchange_failed"),
        ] {
            let res = if path == "/bff/refresh" {
                b.post(path, None).await
            } else {
                api(&mut b, path).await
            };
            assert_eq!(res.status, 502, "{path}");
            assert_eq!(res.json()["error"], code, "{path}");
        }
        bounded(&line_with(&bff, &["request failed", &format!("token endpoint {said}")]).await);
        let detail = said.split("not an OAuth error: ").nth(1).unwrap();
        let escaped = detail.replace('"', "\\\"");
        for route in ["/api/app", "/api/x"] {
            line_with(&bff, &["refused the route token grant", route, &escaped]).await;
        }
        op.heal("/token");

        // PAR, userinfo, introspection, revocation.
        for (path, endpoint, call) in [
            ("/par", "pushed authorization request endpoint", "login"),
            ("/userinfo", "userinfo endpoint", "userinfo"),
            ("/introspect", "introspection endpoint", "introspect"),
            ("/revoke", "revocation endpoint", "revoke"),
        ] {
            op.fail(path, answer.clone());
            let res = match call {
                "login" => b.post("/bff/login", None).await,
                "userinfo" => b.get("/bff/userinfo").await,
                "introspect" => b.post("/bff/introspect", None).await,
                _ => {
                    b.post("/bff/revoke", Some(r#"{"token":"access_token"}"#))
                        .await
                }
            };
            assert_eq!(
                res.status,
                502,
                "{path}: {}",
                String::from_utf8_lossy(&res.body)
            );
            assert_eq!(res.json()["error"], "op_error", "{path}");
            let sentence = res.json()["error_description"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(
                sentence.starts_with(&format!("the OpenID Provider's {endpoint} ")),
                "{sentence}"
            );
            assert!(
                !sentence.contains("Bad Gateway") && !sentence.contains('<'),
                "{sentence}"
            );
            bounded(&line_with(&bff, &["request failed", &format!("{endpoint} {said}")]).await);
            op.heal(path);
        }
    }
    // Healed: everything works again, the session was never lost.
    assert_eq!(b.get("/bff/userinfo").await.status, 200);
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
}

/// Discovery and the JWKS answering empty, HTML or plain text: discovery keeps the BFF
/// not ready (a clear log line per attempt, 503 `not_ready` answers) until the OP heals,
/// then it becomes ready by itself; a JWKS failure fails that login with a clear line and
/// the next login, once healed, works.
#[actix_web::test]
async fn empty_and_non_json_discovery_and_jwks_answers_are_logged_clearly() {
    let op = FakeOp::start().await;
    let discovery = "/.well-known/openid-configuration";
    let client = awc::Client::default();
    for (answer, said) in broken() {
        op.fail(discovery, answer.clone());
        let bff = Proc::start_live(&op.issuer, json!({})).await;
        let line = line_with(
            &bff,
            &[
                "discovery failed; retrying",
                &format!("discovery endpoint {said}"),
            ],
        )
        .await;
        assert!(line.len() < 700, "bounded: {line}");
        let mut res = client
            .get(format!("{}/healthz", bff.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 503);
        let health: Value = res.json().await.unwrap();
        assert_eq!(health["missing"], json!(["discovery"]));
        let mut b = Browser::new(&bff.base);
        let res = b.post("/bff/login", None).await;
        assert_eq!(res.status, 503, "{}", String::from_utf8_lossy(&res.body));
        assert_eq!(res.json()["error"], "not_ready");
        op.heal(discovery);
        assert!(
            until_ok(&client, &format!("{}/healthz", bff.base), READY_WITHIN).await,
            "ready once the OP heals:\n{}",
            bff.logs()
        );

        // The JWKS, fetched at the first login.
        op.fail("/jwks", answer);
        let location = b.login().await.location();
        // The ID token is checked as part of finishing the exchange: its code, with the
        // log line naming the JWKS endpoint.
        assert_eq!(location, "/?login_error=token_exchange_failed");
        let line = line_with(&bff, &["login failed", &format!("JWKS endpoint {said}")]).await;
        assert!(line.len() < 700, "bounded: {line}");
        op.heal("/jwks");
        assert_eq!(b.login().await.location(), "/", "healed");
    }
}

#[actix_web::test]
async fn a_refused_refresh_with_an_empty_body_still_ends_the_session_and_says_what_came() {
    let op = FakeOp::start().await;
    let bff = Proc::start(&op.issuer, json!({})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    op.fail("/token", Canned::empty(400));
    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"], "session_expired");
    let line = line_with(&bff, &["refresh refused; session ended"]).await;
    assert!(line.contains("status=400"), "{line}");
    assert!(line.contains("no content type, empty body"), "{line}");
}

/// An OP whose error page dumps the request it failed on (a framework's debug page):
/// the start of that page is logged, but never a code, verifier, token or secret.
#[actix_web::test]
async fn an_error_page_that_dumps_the_request_leaks_nothing_into_the_log() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.expect_secret(ODD_SECRET, false);
    for method in ["client_secret_basic", "client_secret_post"] {
        let bff = Proc::start(
            &op.issuer,
            json!({"client_secret": ODD_SECRET, "token_endpoint_auth_method": method,
                   "routes": routes(&up), "debug": true}),
        )
        .await;
        let mut b = Browser::new(&bff.base);
        assert_eq!(b.login().await.location(), "/");
        let mut fresh = Browser::new(&bff.base);
        let callback = fresh.authorize("/").await;
        op.fail("/token", Canned::debug_page(500));
        assert_eq!(
            fresh.get(&callback).await.location(),
            "/?login_error=token_exchange_failed"
        );
        assert_eq!(b.post("/bff/refresh", None).await.status, 502);
        assert_eq!(api(&mut b, "/api/x/1").await.status, 502);
        assert_eq!(api(&mut b, "/api/app/1").await.status, 502);
        op.heal("/token");
        for path in ["/introspect", "/revoke", "/userinfo"] {
            op.fail(path, Canned::debug_page(500));
        }
        assert_eq!(b.post("/bff/introspect", None).await.status, 502);
        assert_eq!(b.get("/bff/userinfo").await.status, 502);
        let revoke = b.post("/bff/revoke", Some(r#"{"token":"refresh_token"}"#));
        assert_eq!(revoke.await.status, 502);

        let line = line_with(&bff, &["login failed", "Server Error"]).await;
        assert!(
            line.contains("grant_type=authorization_code&code=[redacted]"),
            "{line}"
        );
        let line = line_with(&bff, &["userinfo endpoint answered 500"]).await;
        assert!(line.contains("Authorization: Bearer [redacted]"), "{line}");
        let logs = bff.logs();
        let form_secret: String =
            url::form_urlencoded::byte_serialize(ODD_SECRET.as_bytes()).collect();
        let mut secrets = op.with(|s| {
            let mut v = s.issued_tokens.clone();
            v.extend(s.secrets_seen.clone());
            v
        });
        secrets.extend([ODD_SECRET.to_string(), form_secret]);
        for secret in secrets {
            assert!(
                !logs.contains(&secret),
                "{method}: {secret} in the log:\n{logs}"
            );
        }
        for path in ["/introspect", "/revoke", "/userinfo"] {
            op.heal(path);
        }
    }
}

// ---------------------------------------------------------------------------
// 5. No colour codes unless stdout is a terminal

#[actix_web::test]
async fn a_piped_log_has_no_colour_codes() {
    let op = FakeOp::start().await;
    let port = crate::support::process::free_port();
    let mut settings = settings(&op.issuer, port, json!({"debug": true}));
    settings["listen"] = json!(format!("127.0.0.1:{port}"));
    let path = settings_file("ansi", &settings.to_string());
    let mut child = bin()
        .arg("--config")
        .arg(&path)
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        until_ok(
            &awc::Client::default(),
            &format!("{base}/healthz"),
            READY_WITHIN
        )
        .await,
        "ready"
    );
    // A warning and an info line, which a terminal would show in colour.
    let mut b = Browser::new(&base);
    b.get("/callback?state=nope&code=x").await;
    assert_eq!(b.login().await.location(), "/");
    actix_rt::time::sleep(std::time::Duration::from_millis(200)).await;
    let _ = child.kill();
    let _ = child.wait();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.contains("login failed") && out.contains("login succeeded"),
        "{out}"
    );
    assert!(out.contains("WARN") && out.contains("INFO"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "colour codes in a piped log:\n{out:?}"
    );
}
