//! issue 17: the built binary as a child process whose log output the test reads, and a
//! throw-away redis-server (skipped, with a message, when it is not installed).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `oidc-bff` process; its stdout and stderr go to a file.
pub struct Proc {
    pub base: String,
    child: Child,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Starts the binary on a free port with `settings(issuer, port, patch)`, waits until
    /// `/healthz` is 200.
    pub async fn start(issuer: &str, patch: Value) -> Proc {
        let port = free_port();
        let mut s = super::settings(issuer, port, patch);
        s["listen"] = json!(format!("127.0.0.1:{port}"));
        let dir = std::env::temp_dir().join(format!(
            "oidc-bff-proc-{}-{port}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("settings.json");
        std::fs::write(&path, s.to_string()).unwrap();
        let log = dir.join("log.txt");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_oidc-bff"))
            .arg("--config")
            .arg(&path)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        let p = Proc {
            base: format!("http://127.0.0.1:{port}"),
            child,
            log,
        };
        let client = awc::Client::default();
        for _ in 0..400 {
            if let Ok(r) = client.get(format!("{}/healthz", p.base)).send().await {
                if r.status() == 200 {
                    return p;
                }
            }
            actix_rt::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("oidc-bff did not become ready:\n{}", p.logs());
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

/// A redis-server of the test's own.
pub struct Redis {
    pub port: u16,
    child: Child,
}

impl Redis {
    pub fn start() -> Option<Redis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have redis-server (scripts/test installs it)"
            );
            eprintln!("redis-server not installed: skipping");
            return None;
        }
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
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
        // Dropped (killed and waited for) on every path, also when it never listens.
        let redis = Redis { port, child };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(redis);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start");
    }
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
