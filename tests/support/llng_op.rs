//! The fourth OP: LemonLDAP::NG's portal (Perl, written independently of oidc-provider and
//! of django-oauth-toolkit) as an OpenID Provider, from Debian 13's packages unpacked into
//! `target/llng-op/root` by tests/support/llng_op/install.sh, served by starman
//! (tests/support/llng_op/serve.pl) on `http://127.0.0.1:<port>`; its process group is
//! ended when dropped. Demo authentication (users `dwho`/`dwho`, `rtyler`/`rtyler`), one
//! confidential client for the BFF with back-channel logout to
//! `{bff_origin}/bff/backchannel-logout`. Plus a headless user agent for its login form.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::browser::{Browser, Resp};
use super::dot_op::{hidden_inputs, resolve, OpAgent};
use super::process::{free_port, temp_dir, until_ok};

pub const LLNG_CLIENT_ID: &str = "oidc-bff-llng";
pub const LLNG_CLIENT_SECRET: &str = "llng-secret-7f3c9a";
/// LemonLDAP::NG's built-in Demo users (login = password).
pub const LLNG_USER: &str = "dwho";
pub const LLNG_PASSWORD: &str = "dwho";
/// Set to `1` to skip the LemonLDAP::NG tests where it is not installed (otherwise they
/// fail, naming what is missing).
pub const SKIP_VAR: &str = "SKIP_LLNG_OP";

/// Perl loads the whole portal at start (a few seconds on a busy machine).
const OP_READY_WITHIN: Duration = Duration::from_secs(60);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The unpacked packages (install.sh).
pub fn llng_root() -> PathBuf {
    root().join("target/llng-op/root")
}

/// Why the OP cannot start here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let how =
        "run scripts/test, or: apt-get install $(cat tests/support/llng_op/debian-packages.txt) \
               && bash tests/support/llng_op/install.sh";
    let version = llng_root().join("VERSION");
    if !version.exists() {
        return Some(format!("{} is missing: {how}", version.display()));
    }
    let ok = Command::new("perl")
        .env("PERL5LIB", llng_root().join("usr/share/perl5"))
        .args([
            "-e",
            "use Lemonldap::NG::Portal::Main; use Lemonldap::NG::Portal::Issuer::OpenIDConnect; \
             use Plack::Runner; use Starman; use Crypt::OpenSSL::RSA;",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Some(format!(
            "perl cannot load LemonLDAP::NG from {} with starman: {how}",
            llng_root().display()
        ));
    }
    None
}

/// One LemonLDAP::NG portal (starman, preforked); its output goes to a file (`logs()`).
pub struct LlngOp {
    /// `http://127.0.0.1:<port>`: issuer and portal alike.
    pub issuer: String,
    pub meta: Value,
    /// The Debian package version that runs.
    pub version: String,
    child: Option<Child>,
    log: PathBuf,
    client: awc::Client,
}

impl Drop for LlngOp {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // The prefork parent passes SIGTERM on to its workers; the whole group, to be sure.
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &group])
                    .stderr(Stdio::null())
                    .status();
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = child.wait();
    }
}

impl LlngOp {
    /// Starts the OP for a BFF at `bff_origin` (redirect URI `{bff_origin}/callback`,
    /// post-logout URI `{bff_origin}/`, back-channel logout URI
    /// `{bff_origin}/bff/backchannel-logout` with `sid`); waits until discovery answers.
    /// `None` only when `SKIP_LLNG_OP=1` says to skip.
    pub async fn start(bff_origin: &str) -> Option<LlngOp> {
        if let Some(why) = missing_prerequisite() {
            if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
                eprintln!("{why}: skipping the LemonLDAP::NG test ({SKIP_VAR}=1)");
                return None;
            }
            panic!("the LemonLDAP::NG OP cannot start: {why} (or set {SKIP_VAR}=1 to skip)");
        }
        let port = free_port();
        let issuer = format!("http://127.0.0.1:{port}");
        let dir = temp_dir("llng-op");
        let log = dir.join("op.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new("perl");
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.starts_with("LLNG_") || k.starts_with("PERL") {
                cmd.env_remove(k);
            }
        }
        cmd.arg(root().join("tests/support/llng_op/serve.pl"))
            .env("LLNG_OP_DIR", dir.join("state"))
            .env("LLNG_OP_PORT", port.to_string())
            .env("LLNG_OP_ROOT", llng_root())
            .env("LLNG_OP_BFF_ORIGIN", bff_origin)
            .env("LLNG_OP_CLIENT_ID", LLNG_CLIENT_ID)
            .env("LLNG_OP_CLIENT_SECRET", LLNG_CLIENT_SECRET)
            .process_group(0);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("perl starts");
        let version = std::fs::read_to_string(llng_root().join("VERSION"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let mut op = LlngOp {
            issuer,
            meta: Value::Null,
            version,
            child: Some(child),
            log,
            client: awc::Client::builder().disable_redirects().finish(),
        };
        let discovery = format!("{}/.well-known/openid-configuration", op.issuer);
        if !until_ok(&op.client, &discovery, OP_READY_WITHIN).await {
            panic!("the LemonLDAP::NG OP did not become ready:\n{}", op.logs());
        }
        let mut res = op.client.get(&discovery).send().await.unwrap();
        op.meta = res.json().limit(1 << 20).await.unwrap();
        // LemonLDAP::NG answers errors of its own configuration with a 200 HTML page
        // elsewhere; discovery must be the JSON document.
        assert_eq!(op.meta["issuer"], op.issuer.as_str(), "{}", op.logs());
        Some(op)
    }

    /// Everything the OP printed so far (its log lines at level `info`).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The settings patch for a BFF signing in at this OP.
    pub fn bff_patch(&self, extra: Value) -> Value {
        let mut patch = json!({
            "issuer": self.issuer,
            "client_id": LLNG_CLIENT_ID,
            "client_secret": LLNG_CLIENT_SECRET,
            "scope": "openid profile email offline_access",
        });
        if let Value::Object(e) = extra {
            for (k, v) in e {
                patch[k] = v;
            }
        }
        patch
    }

    /// RFC 7662 introspection of `token` at the OP, as the BFF's client: the OP's answer.
    pub async fn introspect(&self, token: &str) -> Value {
        let url = format!("{}/oauth2/introspect", self.issuer);
        let mut res = self
            .client
            .post(&url)
            .insert_header((
                "Authorization",
                oidc_bff::oidc::token::basic_auth_header(LLNG_CLIENT_ID, LLNG_CLIENT_SECRET),
            ))
            .send_form(&[("token", token)])
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let body = res.body().limit(1 << 20).await.unwrap();
        assert_eq!(
            res.status(),
            200,
            "introspection answers: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }

    /// A user agent for the portal: its own cookie jar.
    pub fn agent(&self) -> LlngAgent {
        LlngAgent {
            inner: OpAgent::new(
                &self.issuer,
                awc::Client::builder().disable_redirects().finish(),
            ),
        }
    }

    /// Signs `user` in at the BFF at `bff_base`, headless: `/bff/login` → the portal's
    /// authorization endpoint → its login form → the BFF's callback. The browser holds the
    /// BFF's session; the agent the portal's (cookie `lemonldap`).
    pub async fn sign_in(&self, bff_base: &str, user: &str) -> (Browser, LlngAgent, String) {
        let mut bff = Browser::new(bff_base);
        let res = bff.get("/bff/login?returnUrl=%2F").await;
        assert_eq!(res.status, 302, "/bff/login redirects to the OP");
        let agent = self.agent();
        let callback = agent.browse(&res.location(), bff_base, user).await;
        let res = bff.get(&callback).await;
        assert_eq!(
            res.status,
            302,
            "the callback signs in: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(
            res.location(),
            "/",
            "the callback returns to returnUrl; the OP said:\n{}",
            self.logs()
        );
        (bff, agent, callback)
    }
}

/// A headless user agent at the portal: follows its redirects and fills in its login form
/// (`<form id="lform" action="#">`, posted to the page's own URL with its hidden `token`
/// and `url` fields). Demo users' password is their login.
pub struct LlngAgent {
    pub inner: OpAgent,
}

impl LlngAgent {
    /// From `start`, until a redirect leads to `stop_at`: that URL. Signs `user` in when
    /// the login form shows.
    pub async fn browse(&self, start: &str, stop_at: &str, user: &str) -> String {
        let mut url = start.to_string();
        let mut form: Option<Vec<(String, String)>> = None;
        for _ in 0..20 {
            if url.starts_with(stop_at) {
                return url;
            }
            let posted = form.is_some();
            let res = self.request(&url, form.take()).await;
            let body = String::from_utf8_lossy(&res.body).to_string();
            if [301, 302, 303].contains(&res.status) {
                url = resolve(&url, &res.location());
                continue;
            }
            if res.status == 200 && body.contains("id=\"lform\"") && !posted {
                let mut fields = hidden_inputs(&body);
                fields.push(("user".into(), user.into()));
                fields.push(("password".into(), user.into()));
                form = Some(fields);
                continue;
            }
            panic!(
                "unexpected answer {} at {url}: {}",
                res.status,
                body.chars().take(1500).collect::<String>()
            );
        }
        panic!("too many steps at the LemonLDAP::NG OP");
    }

    /// One request with the jar's cookies: a GET, or a POST of `form`.
    pub async fn request(&self, url: &str, form: Option<Vec<(String, String)>>) -> Resp {
        self.inner.request(url, form, None).await
    }

    pub fn cookie_names(&self) -> Vec<String> {
        self.inner.cookie_names()
    }
}
