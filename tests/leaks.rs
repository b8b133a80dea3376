//! No token, code, verifier, client secret or cookie value in any log line (at trace
//! level, text and JSON) or in any response body the browser gets, across a login,
//! proxied calls, a refresh and a logout.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::upstream::Upstream;
use support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn scenario(logs: &[Capture]) {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    // issue 11: a client route and an exchange route too, so their tokens are checked.
    let routes = json!([
        {"prefix": "/api", "upstream": up.base},
        {"prefix": "/api/app", "upstream": format!("{}/app", up.base), "token": "client", "scope": "api:read"},
        {"prefix": "/api/x", "upstream": format!("{}/x", up.base), "token_exchange": {"resource": "urn:r:x"}},
    ]);
    let bff = spawn_bff(&op.issuer, json!({"routes": routes, "debug": true})).await;
    let mut b = Browser::new(&bff.base);
    let mut bodies = Vec::new();
    let mut cookie_values = Vec::new();

    let login = b.get("/bff/login?returnUrl=/x").await;
    let auth_url = login.location();
    let state = query_param(&auth_url, "state").unwrap();
    let nonce = query_param(&auth_url, "nonce").unwrap();
    cookie_values.extend(b.jar.values().cloned());
    let back = b.get(&auth_url).await;
    let cb = b.get(&back.location()).await;
    assert_eq!(cb.location(), "/x");
    cookie_values.extend(b.jar.values().cloned());
    for (method, path) in [
        ("GET", "/bff/user"),
        ("GET", "/api/data?q=1"),
        ("GET", "/api/app/status"),
        ("GET", "/api/x/list"),
        ("POST", "/bff/refresh"),
        ("GET", "/bff/userinfo"),
        ("POST", "/bff/introspect"),
    ] {
        let res = b.request(method, path, &[("X-CSRF", "1")], None).await;
        assert!(res.status < 300, "{path}: {}", res.status);
        bodies.push(String::from_utf8_lossy(&res.body).to_string());
        cookie_values.extend(b.jar.values().cloned());
    }
    // A failed login, too: its reasons are logged.
    op.tweak(Tweaks {
        nonce: Some("wrong".into()),
        ..Default::default()
    });
    let mut other = Browser::new(&bff.base);
    assert_eq!(
        other.login().await.location(),
        "/?login_error=invalid_id_token"
    );
    cookie_values.extend(other.jar.values().cloned());
    let res = b.post("/bff/logout", None).await;
    // 0.2 (issue 9): the logout answer carries no token at all (the ID token goes to the
    // OP in the logout page's form, from a cookie only that page receives).
    let logout_body = res.json();
    assert!(logout_body["logoutUrl"].is_string());
    let logout_cookies = res.set_cookies.join("\n");
    // The logout page (its form holds the ID token for the OP, by design) logs nothing secret.
    let page = b
        .get(logout_body["logoutUrl"].as_str().unwrap_or_default())
        .await;
    assert_eq!(page.status, 200);

    assert!(
        op.with(|s| s.grants.client_credentials == 1 && s.grants.exchange == 1),
        "a client token and an exchanged token were issued"
    );
    let mut secrets: Vec<String> = op.with(|s| {
        let mut v = s.issued_tokens.clone();
        v.extend(s.secrets_seen.clone());
        v
    });
    secrets.push(CLIENT_SECRET.to_string());
    secrets.push(state);
    secrets.push(nonce);
    secrets.extend(cookie_values.into_iter().filter(|v| v.len() > 16));
    assert!(secrets.len() > 10);

    for capture in logs {
        let log_text = String::from_utf8_lossy(&capture.0.lock().unwrap()).to_string();
        assert!(log_text.contains("login succeeded"), "logs were captured");
        assert!(log_text.contains("login failed"), "the failure was logged");
        assert!(
            log_text.contains("/api/data"),
            "request lines were captured"
        );
        for secret in &secrets {
            assert!(
                !log_text.contains(secret.as_str()),
                "a secret reached the logs: {}…",
                &secret[..8.min(secret.len())]
            );
        }
    }
    for secret in &secrets {
        for body in &bodies {
            assert!(
                !body.contains(secret.as_str()),
                "a secret reached a response body: {}… in {body}",
                &secret[..8.min(secret.len())]
            );
        }
        assert!(
            !logout_body.to_string().contains(secret.as_str()),
            "the logout answer leaks a secret: {}…",
            &secret[..8.min(secret.len())]
        );
        assert!(
            !logout_cookies.contains(secret.as_str()),
            "a logout cookie holds a secret in clear: {}…",
            &secret[..8.min(secret.len())]
        );
    }
}

#[actix_web::test]
async fn nothing_secret_in_logs_or_bodies() {
    use tracing_subscriber::layer::SubscriberExt;
    let text = Capture::default();
    let json = Capture::default();
    let (t, j) = (text.clone(), json.clone());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(tracing_subscriber::fmt::layer().with_writer(move || t.clone()))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || j.clone()),
        );
    tracing::subscriber::set_global_default(subscriber).unwrap();
    scenario(&[text, json]).await;
}
