//! The third OP: django-oauth-toolkit's OpenID Connect provider (tests/support/dot_op/, a
//! small Django project served by gunicorn over TLS with the demo certificates) as a child
//! process of a test, from the venv `target/dot-venv` that scripts/test installs; killed
//! when dropped. Plus a headless user agent for its pages (Django's login page, the
//! toolkit's consent and logout-confirmation forms, with their CSRF tokens and cookies).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::browser::{Browser, Resp};
use super::demo_op::{demo_ca_file, demo_certs, demo_client};
use super::process::{free_port, temp_dir, until_ok};

/// The BFF's client at the toolkit. The secret holds every character RFC 6749 §2.3.1's
/// form-encoding of Basic credentials changes: the toolkit decodes them (`unquote_plus`).
pub const DOT_CLIENT_ID: &str = "oidc-bff-dot";
pub const DOT_CLIENT_SECRET: &str = "dot secret+/=&%:with reserved chars";
pub const DOT_USER: &str = "dana";
pub const DOT_PASSWORD: &str = "dana-password-1";
/// Set to `1` to skip the third-OP tests where Python or the venv is missing (otherwise
/// they fail, naming what is missing).
pub const SKIP_VAR: &str = "SKIP_DOT_OP";

/// Django's migrations and gunicorn's start on a busy machine.
const OP_READY_WITHIN: Duration = Duration::from_secs(60);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python (scripts/test makes it from tests/support/dot_op/requirements.txt).
pub fn venv_python() -> PathBuf {
    root().join("target/dot-venv/bin/python")
}

/// Which OpenID discovery document the OP serves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Discovery {
    /// As the toolkit writes it: no `revocation_endpoint`, no `introspection_endpoint`.
    Stock,
    /// With those two added (dot_op_site/urls.py), as a deployer can.
    Full,
}

/// The toolkit's RFC 9700 (Security BCP) behaviour gates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Gates {
    /// 3.4's defaults: all off (legacy behaviour, with warnings).
    Defaults,
    /// All on, as its 4.0 is to default them (`DOT_OP_RFC9700=1`, settings.py).
    Rfc9700,
}

/// Why the OP cannot start here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let python = venv_python();
    if !python.exists() {
        return Some(format!(
            "{} is missing: run scripts/test, or python3 -m venv target/dot-venv && \
             target/dot-venv/bin/pip install -r tests/support/dot_op/requirements.txt",
            python.display()
        ));
    }
    let ok = Command::new(&python)
        .args(["-c", "import oauth2_provider, gunicorn, django"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Some(format!(
            "{} cannot import oauth2_provider, gunicorn and django: \
             target/dot-venv/bin/pip install -r tests/support/dot_op/requirements.txt",
            python.display()
        ));
    }
    None
}

/// One django-oauth-toolkit OP process; its output goes to a file (`logs()`).
pub struct DotOp {
    /// `https://localhost:<port>/o`.
    pub issuer: String,
    /// `https://localhost:<port>`.
    pub origin: String,
    pub meta: Value,
    child: Option<Child>,
    log: PathBuf,
    client: awc::Client,
}

impl Drop for DotOp {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // gunicorn's quick shutdown (SIGINT), then SIGKILL if it lingers.
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl DotOp {
    /// Starts the OP for a BFF at `bff_origin` (its client's redirect URI is
    /// `{bff_origin}/callback`, its post-logout URI `{bff_origin}/`) with the discovery
    /// document and RFC 9700 gates asked for; waits until discovery answers. `None` only when `SKIP_DOT_OP=1` says to skip.
    pub async fn start(bff_origin: &str, discovery: Discovery, gates: Gates) -> Option<DotOp> {
        if let Some(why) = missing_prerequisite() {
            if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
                eprintln!("{why}: skipping the django-oauth-toolkit test ({SKIP_VAR}=1)");
                return None;
            }
            panic!("the django-oauth-toolkit OP cannot start: {why} (or set {SKIP_VAR}=1 to skip)");
        }
        let certs = demo_certs();
        let port = free_port();
        let origin = format!("https://localhost:{port}");
        let issuer = format!("{origin}/o");
        let dir = temp_dir("dot-op");
        let log = dir.join("op.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(venv_python());
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.starts_with("DOT_OP_") || k.starts_with("DJANGO_") || k == "PYTHONPATH" {
                cmd.env_remove(k);
            }
        }
        cmd.arg(root().join("tests/support/dot_op/serve.py"))
            .env("DOT_OP_DIR", dir.join("state"))
            .env("DOT_OP_PORT", port.to_string())
            .env("DOT_OP_ISSUER", &issuer)
            .env("DOT_OP_TLS_CERT", certs.join("localhost.pem"))
            .env("DOT_OP_TLS_KEY", certs.join("localhost-key.pem"))
            .env("DOT_OP_BFF_ORIGIN", bff_origin)
            .env("DOT_OP_CLIENT_ID", DOT_CLIENT_ID)
            .env("DOT_OP_CLIENT_SECRET", DOT_CLIENT_SECRET)
            .env("DOT_OP_USER", DOT_USER)
            .env("DOT_OP_PASSWORD", DOT_PASSWORD)
            .env(
                "DOT_OP_DISCOVERY",
                match discovery {
                    Discovery::Stock => "stock",
                    Discovery::Full => "full",
                },
            )
            .env(
                "DOT_OP_RFC9700",
                if gates == Gates::Rfc9700 { "1" } else { "0" },
            )
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("the venv's python starts");
        let mut op = DotOp {
            issuer,
            origin,
            meta: Value::Null,
            child: Some(child),
            log,
            client: demo_client(),
        };
        let discovery = format!("{}/.well-known/openid-configuration", op.issuer);
        if !until_ok(&op.client, &discovery, OP_READY_WITHIN).await {
            panic!(
                "the django-oauth-toolkit OP did not become ready:\n{}",
                op.logs()
            );
        }
        let mut res = op.client.get(&discovery).send().await.unwrap();
        op.meta = res.json().limit(1 << 20).await.unwrap();
        Some(op)
    }

    /// Everything the OP printed so far (gunicorn's access log, the toolkit's debug log).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The settings patch for a BFF signing in at this OP: issuer, client, demo CA, scopes
    /// (the toolkit knows no `offline_access`: it issues a refresh token with every code).
    pub fn bff_patch(&self, extra: Value) -> Value {
        let mut patch = json!({
            "issuer": self.issuer,
            "client_id": DOT_CLIENT_ID,
            "client_secret": DOT_CLIENT_SECRET,
            "ca_file": demo_ca_file(),
            "scope": "openid profile email",
        });
        if let Value::Object(e) = extra {
            for (k, v) in e {
                patch[k] = v;
            }
        }
        patch
    }

    /// RFC 7662 introspection of `token` at the OP, as the BFF's client
    /// (client_secret_basic): the OP's answer.
    pub async fn introspect(&self, token: &str) -> Value {
        let url = format!("{}/introspect/", self.issuer);
        let mut res = self
            .client
            .post(&url)
            .insert_header((
                "Authorization",
                oidc_bff::oidc::token::basic_auth_header(DOT_CLIENT_ID, DOT_CLIENT_SECRET),
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

    /// A user agent for the OP's pages: its own cookie jar, trusting the demo CA.
    pub fn agent(&self) -> OpAgent {
        OpAgent {
            origin: self.origin.clone(),
            client: demo_client(),
            jar: Mutex::new(Vec::new()),
        }
    }

    /// Signs the user in at the BFF at `bff_base`, headless: `/bff/login` → the OP's
    /// authorization endpoint → Django's login page → the toolkit's consent form → the
    /// BFF's callback. The browser holds the BFF's session; the agent the OP's.
    pub async fn sign_in(&self, bff_base: &str) -> (Browser, OpAgent, String) {
        let mut bff = Browser::new(bff_base);
        let res = bff.get("/bff/login?returnUrl=%2F").await;
        assert_eq!(res.status, 302, "/bff/login redirects to the OP");
        let agent = self.agent();
        let callback = agent.browse(&res.location(), bff_base).await;
        let res = bff.get(&callback).await;
        assert_eq!(
            res.status,
            302,
            "the callback signs in: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.location(), "/", "the callback returns to returnUrl");
        (bff, agent, callback)
    }
}

/// A headless user agent at the OP: follows its redirects, fills in Django's login form
/// and accepts the toolkit's consent and logout-confirmation forms, sending the OP's
/// cookies (all under its origin) and, on a form POST, `Origin` as a browser does
/// (Django's CSRF check needs it, or a `Referer`, over https).
pub struct OpAgent {
    pub origin: String,
    client: awc::Client,
    jar: Mutex<Vec<(String, String)>>,
}

impl OpAgent {
    /// An agent at another OP's `origin` (its cookies are sent only there), with `client`.
    pub fn new(origin: &str, client: awc::Client) -> OpAgent {
        OpAgent {
            origin: origin.to_string(),
            client,
            jar: Mutex::new(Vec::new()),
        }
    }

    /// From `start`, until a redirect leads to `stop_at`: that URL.
    pub async fn browse(&self, start: &str, stop_at: &str) -> String {
        let mut url = start.to_string();
        let mut form: Option<Vec<(String, String)>> = None;
        for _ in 0..20 {
            if url.starts_with(stop_at) {
                return url;
            }
            let res = self.request(&url, form.take(), Some(&self.origin)).await;
            let body = String::from_utf8_lossy(&res.body).to_string();
            if [301, 302, 303].contains(&res.status) {
                url = resolve(&url, &res.location());
                continue;
            }
            if res.status == 200 && body.contains("id=\"login-form\"") {
                let mut fields = hidden_inputs(&body);
                fields.push(("username".into(), DOT_USER.into()));
                fields.push(("password".into(), DOT_PASSWORD.into()));
                url = resolve(&url, &form_action(&body, "login-form").unwrap_or_default());
                form = Some(fields);
                continue;
            }
            // The consent page and the logout confirmation: one form, posted to itself;
            // the submit button named `allow` says yes.
            if res.status == 200 && body.contains("id=\"authorizationForm\"") {
                let mut fields = hidden_inputs(&body);
                fields.push(("allow".into(), "yes".into()));
                form = Some(fields);
                continue;
            }
            panic!(
                "unexpected answer {} at {url}: {}",
                res.status,
                body.chars().take(600).collect::<String>()
            );
        }
        panic!("too many steps at the django-oauth-toolkit OP");
    }

    /// One request with the jar's cookies: a GET, or a POST of `form` sent with
    /// `Origin: {origin}` when given.
    pub async fn request(
        &self,
        url: &str,
        form: Option<Vec<(String, String)>>,
        origin: Option<&str>,
    ) -> Resp {
        let cookie = self
            .jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = match form {
            Some(_) => self.client.post(url),
            None => self.client.get(url),
        };
        if !cookie.is_empty() && url.starts_with(&self.origin) {
            req = req.insert_header(("Cookie", cookie));
        }
        if let (Some(_), Some(o)) = (&form, origin) {
            req = req.insert_header(("Origin", o.to_string()));
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
            let mut jar = self.jar.lock().unwrap();
            for sc in &set_cookies {
                let Ok(c) = actix_web::cookie::Cookie::parse(sc.clone()) else {
                    continue;
                };
                let expired = c.value().is_empty()
                    || c.value() == "\"\""
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

    /// The names of the OP's cookies held now.
    pub fn cookie_names(&self) -> Vec<String> {
        self.jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }
}

pub fn resolve(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(location))
        .unwrap_or_else(|e| panic!("bad redirect {location} from {base}: {e}"))
        .to_string()
}

/// The value of `attr="…"` in one HTML tag, unescaped.
fn attr(tag: &str, attr: &str) -> Option<String> {
    let marker = format!(" {attr}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `(name, value)` of every `<input type="hidden">` on a page, in order.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            if !tag.contains("type=\"hidden\"") {
                return None;
            }
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect()
}

/// The `action` of `<form id="{id}" …>`, if it has one.
pub fn form_action(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("<form id=\"{id}\""))?;
    let tag = &html[start..start + html[start..].find('>')?];
    attr(tag, "action")
}
