//! The BFF under test, in this test's own process and runtime: settings for it, and
//! `spawn_bff` / `pair` (in the spirit of zero-to-production's `spawn_app`), `logged_in`
//! and `refresh_due` (a browser signed in to it). For the built binary as a child process
//! see `process`.

use std::collections::BTreeMap;
use std::net::TcpListener;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::browser::Browser;
use super::op::{FakeOp, CLIENT_ID, CLIENT_SECRET};
use super::process::until_ok;

/// A BFF served in this test's runtime.
pub struct TestBff {
    pub base: String,
    pub port: u16,
    pub handle: actix_web::dev::ServerHandle,
    /// The server task: ends when the server has stopped.
    pub served: actix_rt::task::JoinHandle<std::io::Result<()>>,
}

pub fn cookie_key(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

/// Settings for a BFF on `port` talking to `issuer`, with `patch` merged in.
pub fn settings(issuer: &str, port: u16, patch: Value) -> Value {
    let mut v = json!({
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": "openid profile email offline_access",
        "base_url": format!("http://127.0.0.1:{port}"),
        "cookie_keys": [cookie_key(1)],
        "spa_dir": format!("{}/spa", env!("CARGO_MANIFEST_DIR")),
        "workers": 1,
        "jwks_min_refetch_interval": 0,
    });
    if let Value::Object(p) = patch {
        for (k, val) in p {
            v[k] = val;
        }
    }
    v
}

/// The `Config` of `settings(issuer, port, patch)` (no environment).
pub fn config(issuer: &str, port: u16, patch: Value) -> oidc_bff::config::Config {
    oidc_bff::config::Config::from_value(settings(issuer, port, patch), &BTreeMap::new())
        .expect("valid test config")
}

pub async fn spawn_bff(issuer: &str, patch: Value) -> TestBff {
    spawn_bff_on(TcpListener::bind("127.0.0.1:0").unwrap(), issuer, patch).await
}

/// A BFF on `listener`, once its `/healthz` says ready.
pub async fn spawn_bff_on(listener: TcpListener, issuer: &str, patch: Value) -> TestBff {
    let bff = start_bff_on(listener, issuer, patch);
    bff.wait_ready().await;
    bff
}

/// A BFF on `listener`, not waited for (for tests of readiness, or over https).
pub fn start_bff_on(listener: TcpListener, issuer: &str, patch: Value) -> TestBff {
    oidc_bff::install_crypto_provider();
    let port = listener.local_addr().unwrap().port();
    let app =
        oidc_bff::app::Application::build(config(issuer, port, patch), listener).expect("build");
    TestBff::run(app, port)
}

impl TestBff {
    /// Serves a built application (listening on `port`) in this test's runtime.
    pub fn run(app: oidc_bff::app::Application, port: u16) -> TestBff {
        let handle = app.handle();
        let served = actix_rt::spawn(app.run_until_stopped());
        TestBff {
            base: format!("http://127.0.0.1:{port}"),
            port,
            handle,
            served,
        }
    }

    pub async fn wait_ready(&self) {
        let ready = until_ok(
            &awc::Client::default(),
            &format!("{}/healthz", self.base),
            super::process::READY_WITHIN,
        )
        .await;
        assert!(ready, "BFF never became ready");
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

/// A fake OP and a BFF wired to it.
pub async fn pair(patch: Value) -> (FakeOp, TestBff) {
    let op = FakeOp::start().await;
    let bff = spawn_bff(&op.issuer, patch).await;
    (op, bff)
}

/// A BFF wired to `op` with `patch`, and a browser signed in to it.
pub async fn logged_in(op: &FakeOp, patch: Value) -> (TestBff, Browser) {
    let bff = spawn_bff(&op.issuer, patch).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    (bff, b)
}

/// An OP whose access tokens live 5 s and a BFF (its `/api` at `api_endpoint`) that
/// refreshes 30 s before expiry, so the token is due from the first request on; a browser
/// signed in.
pub async fn refresh_due(api_endpoint: &str) -> (FakeOp, TestBff, Browser) {
    let op = FakeOp::start().await;
    op.with(|s| s.access_token_ttl = 5);
    let (bff, b) = logged_in(
        &op,
        json!({"api_endpoint": api_endpoint, "refresh_skew": 30}),
    )
    .await;
    (op, bff, b)
}
