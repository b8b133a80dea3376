//! The real demo OP (`node demo/op/server.mjs`, oidc-provider) as a child process of a
//! test: on a free port, HTTPS with the demo CA (`bash demo/certs.sh`), for a BFF at a given
//! origin. Killed when dropped; `None` (with a message) when node or
//! `demo/op/node_modules` is missing, like `Redis::start`. Plus a headless sign-in through
//! the OP's own login and consent pages (a cookie jar of its own, as selftest.mjs's
//! `browse`), and direct calls of its token and introspection endpoints.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use super::browser::{Browser, Resp};
use super::process::{free_port, temp_dir, until_ok};

/// The BFF's client at the demo OP (demo/op/server.mjs defaults).
pub const DEMO_CLIENT_ID: &str = "oidc-bff-demo";
pub const DEMO_CLIENT_SECRET: &str = "demo-client-secret-not-for-production";
/// The demo API's client: it may introspect the BFF's tokens.
pub const DEMO_API_CLIENT_ID: &str = "demo-api";
pub const DEMO_API_CLIENT_SECRET: &str = "demo-api-secret-not-for-production";
/// The resource server the demo OP issues audience-bound tokens for.
pub const DEMO_API_RESOURCE: &str = "urn:oidc-bff:demo-api";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// How long node and oidc-provider may take to answer discovery.
const OP_READY_WITHIN: Duration = Duration::from_secs(30);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `demo/certs/`, made by `bash demo/certs.sh` once per test process if missing.
pub fn demo_certs() -> PathBuf {
    static MADE: Mutex<()> = Mutex::new(());
    let dir = root().join("demo/certs");
    let _once = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if !dir.join("localhost.pem").exists() || !dir.join("ca.pem").exists() {
        let out = Command::new("bash")
            .arg(root().join("demo/certs.sh"))
            .current_dir(root())
            .output()
            .expect("bash runs demo/certs.sh");
        assert!(
            out.status.success(),
            "bash demo/certs.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// The demo CA, for the BFF's `ca_file` and the test's own client.
pub fn demo_ca_file() -> PathBuf {
    demo_certs().join("ca.pem")
}

/// An HTTP client trusting the demo CA, not following redirects.
pub fn demo_client() -> awc::Client {
    let settings = json!({
        "issuer": "https://localhost", "client_id": "test", "client_secret": "test",
        "ca_file": demo_ca_file(), "base_url": "http://127.0.0.1:1",
    });
    let config = oidc_bff::config::Config::from_value(settings, &Default::default())
        .expect("a config for the test's TLS client");
    oidc_bff::install_crypto_provider();
    let tls = oidc_bff::oidc::http::tls_client_config(&config).expect("TLS with the demo CA");
    oidc_bff::oidc::http::build_client(tls, Duration::from_secs(15))
}

/// One demo OP process; its output goes to a file (`logs()`).
pub struct DemoOp {
    pub issuer: String,
    pub port: u16,
    /// Its discovery document.
    pub meta: Value,
    child: Option<Child>,
    log: PathBuf,
    client: awc::Client,
}

impl Drop for DemoOp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Why this machine cannot run the demo OP, if it cannot.
fn missing_prerequisite() -> Option<String> {
    if Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        return Some("node is not installed".into());
    }
    let pkg = root().join("demo/op/node_modules/oidc-provider/package.json");
    if !pkg.exists() {
        return Some("demo/op/node_modules is missing (run: (cd demo/op && npm ci))".into());
    }
    None
}

impl DemoOp {
    /// Starts the demo OP for a BFF at `bff_origin` (its client's redirect, post-logout
    /// and back-channel logout URIs derive from it), with `extra_env` (`OP_*` variables,
    /// e.g. `OP_ACCESS_TOKEN_TTL`) on top; waits until discovery answers.
    pub async fn start(bff_origin: &str, extra_env: &[(&str, &str)]) -> Option<DemoOp> {
        if let Some(why) = missing_prerequisite() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have node and demo/op/node_modules (scripts/test installs them): {why}"
            );
            eprintln!("{why}: skipping the real-OP test");
            return None;
        }
        let certs = demo_certs();
        let port = free_port();
        let issuer = format!("https://localhost:{port}");
        let log = temp_dir("demo-op").join("op.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new("node");
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.starts_with("OP_") || k.starts_with("BFF_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg(root().join("demo/op/server.mjs"))
            .current_dir(root())
            .env("OP_PORT", port.to_string())
            .env("OP_HOST", "127.0.0.1")
            .env("OP_ISSUER", &issuer)
            .env("BFF_ORIGIN", bff_origin)
            .env("OP_TLS_CERT", certs.join("localhost.pem"))
            .env("OP_TLS_KEY", certs.join("localhost-key.pem"))
            .env("OP_CA_FILE", certs.join("ca.pem"))
            .env("OP_DEBUG", "1");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("node starts");
        let mut op = DemoOp {
            issuer,
            port,
            meta: Value::Null,
            child: Some(child),
            log,
            client: demo_client(),
        };
        let discovery = format!("{}/.well-known/openid-configuration", op.issuer);
        if !until_ok(&op.client, &discovery, OP_READY_WITHIN).await {
            panic!("the demo OP did not become ready:\n{}", op.logs());
        }
        let mut res = op.client.get(&discovery).send().await.unwrap();
        op.meta = res.json().limit(1 << 20).await.unwrap();
        Some(op)
    }

    /// Everything the OP printed so far (with `OP_DEBUG`: one line per endpoint error,
    /// `error - error_description`, and per grant).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The settings patch for a BFF signing in at this OP as the demo client (merge it
    /// into `settings(..)` / `spawn_bff`'s patch): issuer, client, demo CA, demo scopes.
    pub fn bff_patch(&self, mut extra: Value) -> Value {
        let mut patch = json!({
            "issuer": self.issuer,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "ca_file": demo_ca_file(),
            "scope": "openid profile email offline_access",
        });
        if let Value::Object(e) = extra.take() {
            for (k, v) in e {
                patch[k] = v;
            }
        }
        patch
    }

    fn endpoint(&self, name: &str) -> String {
        self.meta[name]
            .as_str()
            .unwrap_or_else(|| panic!("the demo OP's discovery has no {name}"))
            .to_string()
    }

    /// POSTs `form` to the token endpoint as the BFF's client (client_secret_basic):
    /// the status and the JSON answer.
    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        self.post_form(
            &self.endpoint("token_endpoint"),
            (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            form,
        )
        .await
    }

    /// A client-credentials grant with `extra` (`scope`, `resource`, …).
    pub async fn client_credentials(&self, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    /// An RFC 8693 exchange of the access token `subject` with `extra` (`resource`,
    /// `audience`, `scope`, `requested_token_type`).
    pub async fn token_exchange(&self, subject: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut form = vec![
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", subject),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    /// RFC 7662 introspection of `token` as the demo API's client.
    pub async fn introspect(&self, token: &str) -> Value {
        let (status, body) = self
            .post_form(
                &self.endpoint("introspection_endpoint"),
                (DEMO_API_CLIENT_ID, DEMO_API_CLIENT_SECRET),
                &[("token", token)],
            )
            .await;
        assert_eq!(status, 200, "introspection answers: {body}");
        body
    }

    async fn post_form(
        &self,
        url: &str,
        (id, secret): (&str, &str),
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut res = self
            .client
            .post(url)
            .insert_header((
                "Authorization",
                oidc_bff::oidc::token::basic_auth_header(id, secret),
            ))
            .send_form(&form)
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let body = res.body().limit(1 << 20).await.unwrap();
        (
            res.status().as_u16(),
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        )
    }

    /// Signs `user` in at the BFF at `bff_base`, headless: `/bff/login` → the OP's
    /// authorization endpoint → its login and consent pages (filled in and posted, the
    /// OP's cookies in a jar of their own) → the BFF's callback. The returned browser holds
    /// the BFF's session cookie(s).
    pub async fn sign_in(&self, bff_base: &str, user: &str, password: &str) -> Browser {
        let mut bff = Browser::new(bff_base);
        let res = bff.get("/bff/login?returnUrl=%2F").await;
        assert_eq!(res.status, 302, "/bff/login redirects to the OP");
        let callback = self.browse(&res.location(), bff_base, user, password).await;
        let res = bff.get(&callback).await;
        assert_eq!(
            res.status,
            302,
            "the callback signs in: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.location(), "/", "the callback returns to returnUrl");
        bff
    }

    /// Follows the OP's redirects from `start`, posting the login and consent forms,
    /// until a redirect leads to `bff_base`: that URL (the callback).
    pub async fn browse(&self, start: &str, bff_base: &str, user: &str, password: &str) -> String {
        let jar = OpJar::default();
        let mut url = start.to_string();
        let mut form: Option<Vec<(String, String)>> = None;
        for _ in 0..20 {
            if url.starts_with(bff_base) {
                return url;
            }
            let res = jar.request(&self.client, &url, form.take()).await;
            let body = String::from_utf8_lossy(&res.body).to_string();
            if [302, 303].contains(&res.status) {
                url = resolve(&url, &res.location());
                continue;
            }
            if res.status == 200 && body.contains("id=\"login-form\"") {
                url = resolve(&url, &form_action(&body, "login-form"));
                form = Some(pairs(&[
                    ("prompt", "login"),
                    ("login", user),
                    ("password", password),
                ]));
                continue;
            }
            if res.status == 200 && body.contains("id=\"consent-form\"") {
                url = resolve(&url, &form_action(&body, "consent-form"));
                form = Some(pairs(&[("prompt", "consent")]));
                continue;
            }
            panic!(
                "unexpected answer {} at {url}: {}",
                res.status,
                body.chars().take(400).collect::<String>()
            );
        }
        panic!("too many redirects signing in at the demo OP");
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn resolve(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(location))
        .unwrap_or_else(|e| panic!("bad redirect {location} from {base}: {e}"))
        .to_string()
}

/// The `action` of `<form id="{id}" method="post" action="…">` on an OP page.
fn form_action(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\" method=\"post\" action=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no form #{id} with an action"))
        + marker.len();
    let end = html[start..].find('"').expect("a closing quote") + start;
    html[start..end].replace("&amp;", "&")
}

/// The OP's cookies, sent to every OP URL (as selftest.mjs's jar; its cookie paths are
/// all under the issuer).
#[derive(Default)]
struct OpJar(Mutex<Vec<(String, String)>>);

impl OpJar {
    async fn request(
        &self,
        client: &awc::Client,
        url: &str,
        form: Option<Vec<(String, String)>>,
    ) -> Resp {
        let cookie = self
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = match form {
            Some(_) => client.post(url),
            None => client.get(url),
        };
        if !cookie.is_empty() {
            req = req.insert_header(("Cookie", cookie));
        }
        let sent = match form {
            Some(f) => req.send_form(&f).await,
            None => req.send().await,
        };
        let mut res = sent.unwrap_or_else(|e| panic!("request to {url}: {e}"));
        let set_cookies: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        {
            let mut jar = self.0.lock().unwrap();
            for sc in &set_cookies {
                let Ok(c) = actix_web::cookie::Cookie::parse(sc.clone()) else {
                    continue;
                };
                let expired = c.value().is_empty()
                    || c.max_age().is_some_and(|m| m.whole_seconds() <= 0)
                    || c.expires_datetime()
                        .is_some_and(|t| t <= actix_web::cookie::time::OffsetDateTime::now_utc());
                jar.retain(|(k, _)| k != c.name());
                if !expired {
                    jar.push((c.name().to_string(), c.value().to_string()));
                }
            }
        }
        let body = res.body().limit(1 << 20).await.unwrap().to_vec();
        Resp {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            set_cookies,
            body,
        }
    }
}

/// The `Authorization: Bearer` token of a request the test upstream recorded.
pub fn bearer_of(seen: &Value) -> Option<String> {
    seen["headers"]["authorization"]
        .as_str()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
}

/// The demo API (`demo-api` binary) on a free port, checking tokens at `issuer`'s OP;
/// killed when dropped; `start` fails the test when it does not answer within 20 s.
pub struct DemoApi {
    pub base: String,
    child: std::process::Child,
}

impl DemoApi {
    pub async fn start(issuer: &str) -> DemoApi {
        let certs = demo_certs();
        let port = super::process::free_port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_demo-api"))
            .env("DEMO_API_LISTEN", format!("127.0.0.1:{port}"))
            .env("DEMO_API_ISSUER", issuer)
            .env("DEMO_API_CA_FILE", certs.join("ca.pem"))
            .env("DEMO_API_TLS_CERT", certs.join("localhost.pem"))
            .env("DEMO_API_TLS_KEY", certs.join("localhost-key.pem"))
            .env_remove("DEMO_API_RESOURCE")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("demo-api starts");
        let api = DemoApi {
            base: format!("https://localhost:{port}"),
            child,
        };
        let ready = super::process::first_answer(
            &demo_client(),
            &format!("{}/app/status", api.base),
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(ready, Some(401), "the demo API answers");
        api
    }
}

impl Drop for DemoApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
