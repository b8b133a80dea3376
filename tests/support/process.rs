//! The built binary as a child process whose log output the test reads, running it to its
//! end, a throw-away redis-server (skipped, with a message, when it is not installed), and
//! the small things these need: free ports, temporary folders, waiting until ready.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The `oidc-bff` binary Cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_oidc-bff");

/// How long a BFF (in process or child) may take to say ready.
pub const READY_WITHIN: Duration = Duration::from_secs(10);

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A new, empty folder of this test's own under the system's temporary folder.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "oidc-bff-{tag}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `contents` written to `settings.json` in a new temporary folder; its path.
pub fn settings_file(tag: &str, contents: &str) -> PathBuf {
    let path = temp_dir(tag).join("settings.json");
    std::fs::write(&path, contents).unwrap();
    path
}

/// Polls `url` with `client` until it answers 200, for up to `within`.
pub async fn until_ok(client: &awc::Client, url: &str, within: Duration) -> bool {
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status() == 200 {
                return true;
            }
        }
        if started.elapsed() >= within {
            return false;
        }
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `url` until it answers at all, for up to `within`: its status.
pub async fn first_answer(client: &awc::Client, url: &str, within: Duration) -> Option<u16> {
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(url).send().await {
            return Some(r.status().as_u16());
        }
        if started.elapsed() >= within {
            return None;
        }
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The binary, inheriting no `BFF_*` variable and no `RUST_LOG`: what it reads is what the
/// test gives it.
pub fn bin() -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("BFF_") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("RUST_LOG").stdin(Stdio::null());
    cmd
}

/// What one run of the binary to its end gave.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// Runs `cmd` to its end.
pub fn run(cmd: &mut Command) -> Ran {
    let started = Instant::now();
    let out = cmd.output().expect("the binary runs");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        took: started.elapsed(),
    }
}

/// One `oidc-bff` process; its stdout and stderr go to a file. Killed when dropped.
pub struct Proc {
    pub base: String,
    pub port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Proc {
    /// Starts the binary on a free port with `settings(issuer, port, patch)`, waits until
    /// `/healthz` is 200.
    pub async fn start(issuer: &str, patch: Value) -> Proc {
        let port = free_port();
        Self::start_with(port, super::settings(issuer, port, patch)).await
    }

    /// issue 13: as `start`, with these environment variables set (e.g. `BFF_<KEY>`).
    pub async fn start_with_env(issuer: &str, patch: Value, env: &[(&str, &str)]) -> Proc {
        let port = free_port();
        let mut settings = super::settings(issuer, port, patch);
        settings["listen"] = json!(format!("127.0.0.1:{port}"));
        let path = settings_file("proc", &settings.to_string());
        let mut cmd = bin();
        cmd.arg("--config").arg(&path);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::launch(cmd, port, path.parent().unwrap()).await
    }

    /// Starts the binary with these whole settings (listening on `port`), waits until
    /// `/healthz` is 200.
    pub async fn start_with(port: u16, mut settings: Value) -> Proc {
        settings["listen"] = json!(format!("127.0.0.1:{port}"));
        let path = settings_file("proc", &settings.to_string());
        let mut cmd = bin();
        cmd.arg("--config").arg(&path);
        Self::launch(cmd, port, path.parent().unwrap()).await
    }

    /// issue 13: as `start`, but waits only until it is live (`/healthz/live`): for an OP
    /// that keeps it from becoming ready.
    pub async fn start_live(issuer: &str, patch: Value) -> Proc {
        let port = free_port();
        let mut settings = super::settings(issuer, port, patch);
        settings["listen"] = json!(format!("127.0.0.1:{port}"));
        let path = settings_file("proc", &settings.to_string());
        let mut cmd = bin();
        cmd.arg("--config").arg(&path);
        Self::launch_until(cmd, port, path.parent().unwrap(), "/healthz/live").await
    }

    /// Spawns `cmd` (a `bin()` the caller has given its arguments), logging to a file in
    /// `dir`, and waits until `/healthz` on `port` is 200.
    pub async fn launch(cmd: Command, port: u16, dir: &Path) -> Proc {
        Self::launch_until(cmd, port, dir, "/healthz").await
    }

    async fn launch_until(mut cmd: Command, port: u16, dir: &Path, probe: &str) -> Proc {
        let log = dir.join("log.txt");
        let out = std::fs::File::create(&log).unwrap();
        // No NO_COLOR here: a log that is not a terminal must come without colour codes
        // by itself (issue 13).
        let child = cmd
            .env_remove("NO_COLOR")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        let p = Proc {
            base: format!("http://127.0.0.1:{port}"),
            port,
            child: Some(child),
            log,
        };
        let url = format!("{}{probe}", p.base);
        if !until_ok(&awc::Client::default(), &url, READY_WITHIN).await {
            panic!("oidc-bff did not become ready:\n{}", p.logs());
        }
        p
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
    }

    /// Waits for the process to end.
    pub async fn exit(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap()
    }

    /// Everything it logged so far (without terminal colour codes).
    pub fn logs(&self) -> String {
        let raw = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // CSI: ESC [ parameters final-letter
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Lines containing `needle`, waiting up to two seconds for the first.
    pub async fn lines_with(&self, needle: &str) -> Vec<String> {
        for _ in 0..40 {
            let lines: Vec<String> = self
                .logs()
                .lines()
                .filter(|l| l.contains(needle))
                .map(str::to_string)
                .collect();
            if !lines.is_empty() {
                return lines;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        Vec::new()
    }
}

/// A redis-server of the test's own; `down` and `up` again on the same port.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Option<Redis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            // A test that passes without running is no test: skipping is asked for.
            assert!(
                std::env::var_os("SKIP_REDIS").is_some(),
                "redis-server is required (scripts/test installs it); SKIP_REDIS=1 skips the Redis tests"
            );
            eprintln!("redis-server not installed, SKIP_REDIS set: skipping");
            return None;
        }
        // Dropped (killed and waited for) on every path, also when it never listens.
        let mut redis = Redis {
            port: free_port(),
            child: None,
        };
        redis.up();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn up(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start");
    }

    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.down();
    }
}
