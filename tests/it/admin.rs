//! Issue 9: `admin_listen` on the built binary: `/metrics` there, 404 on the public
//! listener, both closed after SIGTERM; a bad or busy value stops start-up naming the key.
//! (The in-process case, which reads the process-wide metrics: `tests/admin_metrics.rs`.)
//! Issue 13: the admin API (`admin_token`): bearer auth, `POST /admin/sessions/end` by
//! `sub` and `sid` in cookie mode (in process, with open WebSockets) and across two
//! binaries sharing a real Redis (sessions and sockets on the other one end), bad input,
//! and `GET /admin/config` without secrets.

use std::net::TcpListener;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::process::{bin, first_answer, free_port, run, settings_file, Proc, Redis};
use crate::support::*;

#[actix_web::test]
async fn the_binary_serves_admin_and_exits_on_sigterm() {
    let op = FakeOp::start().await;
    let admin_port = free_port();
    let bff = Proc::start(
        &op.issuer,
        json!({"admin_listen": format!("127.0.0.1:{admin_port}")}),
    )
    .await;
    let client = awc::Client::default();
    let admin = format!("http://127.0.0.1:{admin_port}/metrics");
    let status = first_answer(&client, &admin, Duration::from_secs(10)).await;
    assert_eq!(status, Some(200), "admin /metrics");
    let public = client
        .get(format!("{}/metrics", bff.base))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    bff.sigterm();
    let code = bff.exit().await;
    assert_eq!(code.code(), Some(0), "clean exit");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", admin_port)).is_err(),
        "the admin port is closed"
    );
}

#[test]
fn a_bad_or_busy_admin_listen_is_one_line_naming_the_key() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().to_string();
    for (value, check_too) in [("nowhere", true), (busy.as_str(), false)] {
        let s = json!({
            "issuer": "http://127.0.0.1:9",
            "client_id": "c",
            "client_secret": "s",
            "base_url": format!("http://127.0.0.1:{}", free_port()),
            "admin_listen": value,
        });
        let path = settings_file("admin-bad", &s.to_string());
        let mut modes = vec![false];
        if check_too {
            modes.push(true);
        }
        for check in modes {
            let mut cmd = bin();
            cmd.arg("--config").arg(&path);
            if check {
                cmd.arg("--check");
            }
            let out = run(&mut cmd);
            let stderr = out.stderr;
            assert_eq!(out.code, 2, "{value} check={check}: {stderr}");
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{stderr}");
            assert!(lines[0].contains("`admin_listen`"), "{stderr}");
        }
    }
    drop(held);
}

// ---- issue 13: the admin API ----

const TOKEN: &str = "admin-token-for-tests-0123456789abcdef";

/// An admin listener's base URL and a client for it.
struct Admin {
    base: String,
}

/// What one admin call gave.
struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    body: Value,
}

impl Admin {
    fn on(port: u16) -> Admin {
        Admin {
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let client = awc::Client::default();
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => client.get(url),
            "POST" => client.post(url),
            other => client.request(other.parse().unwrap(), url),
        };
        if let Some(a) = authorization {
            req = req.insert_header(("Authorization", a));
        }
        let mut res = match body {
            Some(b) => req
                .insert_header(("Content-Type", "application/json"))
                .send_body(b.to_string())
                .await
                .unwrap(),
            None => req.send().await.unwrap(),
        };
        let bytes = res.body().await.unwrap();
        Answer {
            status: res.status().as_u16(),
            www_authenticate: res
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, Some(&format!("Bearer {TOKEN}")), None)
            .await
    }

    async fn end(&self, body: Value) -> Answer {
        self.call(
            "POST",
            "/admin/sessions/end",
            Some(&format!("Bearer {TOKEN}")),
            Some(&body.to_string()),
        )
        .await
    }
}

/// A BFF in this process with an admin listener (and `admin_token` unless `patch` sets
/// it to `null`).
async fn with_admin(op: &FakeOp, patch: Value) -> (TestBff, Admin) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut p = json!({"admin_listen": "127.0.0.1:0", "admin_token": TOKEN});
    if let Value::Object(extra) = patch {
        for (k, v) in extra {
            p[k] = v;
        }
    }
    oidc_bff::install_crypto_provider();
    let app =
        oidc_bff::app::Application::build(config(&op.issuer, port, p), listener).expect("build");
    let admin = Admin::on(app.admin_port().expect("admin listener"));
    let bff = TestBff::run(app, port);
    bff.wait_ready().await;
    (bff, admin)
}

/// A browser signed in to `base` as `sub` in OP session `sid`.
async fn user(op: &FakeOp, base: &str, sub: &str, sid: &str) -> Browser {
    op.with(|s| {
        s.tweaks.extra_claims.insert("sub".into(), json!(sub));
        s.tweaks.extra_claims.insert("sid".into(), json!(sid));
    });
    let mut b = Browser::new(base);
    assert_eq!(b.login().await.location(), "/", "{sub} signs in");
    assert!(signed_in(&mut b).await, "{sub} is signed in");
    b
}

async fn signed_in(b: &mut Browser) -> bool {
    let res = b.get("/bff/session").await;
    assert_eq!(res.status, 200);
    res.json()["isLoggedIn"] == json!(true)
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}", rand::random::<u32>())
}

#[actix_web::test]
async fn the_admin_api_needs_the_token_in_constant_form_and_is_only_on_the_admin_listener() {
    let op = FakeOp::start().await;
    let (bff, admin) = with_admin(&op, json!({})).await;
    let right = format!("Bearer {TOKEN}");
    let wrong_same_length = format!("Bearer {}x", &TOKEN[..TOKEN.len() - 1]);
    let prefix = format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]);
    let basic = format!("Basic {TOKEN}");
    let lower = format!("bearer {TOKEN}");
    for path in ["/admin/config", "/admin/sessions/end", "/admin/nothing"] {
        let method = if path == "/admin/sessions/end" {
            "POST"
        } else {
            "GET"
        };
        let body = (method == "POST").then_some(r#"{"sub":"nobody"}"#);
        for bad in [
            None,
            Some(wrong_same_length.as_str()),
            Some(prefix.as_str()),
            Some(basic.as_str()),
            Some(TOKEN),
            Some("Bearer "),
        ] {
            let a = admin.call(method, path, bad, body).await;
            assert_eq!(a.status, 401, "{path} {bad:?}");
            assert_eq!(a.body["error"], "unauthorized", "{path} {bad:?}");
            assert!(a.body["error_description"].is_string());
            assert!(
                a.www_authenticate
                    .as_deref()
                    .is_some_and(|w| w.starts_with("Bearer")),
                "{:?}",
                a.www_authenticate
            );
            assert!(!a.body.to_string().contains(TOKEN));
        }
    }
    // The right token, any case of the scheme.
    assert_eq!(
        admin
            .call("GET", "/admin/config", Some(&right), None)
            .await
            .status,
        200
    );
    assert_eq!(
        admin
            .call("GET", "/admin/config", Some(&lower), None)
            .await
            .status,
        200
    );
    let unknown = admin.get("/admin/nothing").await;
    assert_eq!(
        (unknown.status, unknown.body["error"].clone()),
        (404, json!("not_found"))
    );
    let wrong_method = admin.get("/admin/sessions/end").await;
    assert_eq!(wrong_method.status, 405);
    // /metrics needs no token.
    assert_eq!(admin.call("GET", "/metrics", None, None).await.status, 200);
    // The public listener has no admin API, token or not: GET is 404 JSON, and a POST
    // (which the static files answer 405) ends nothing.
    let sub = unique("hank");
    let mut hank = user(&op, &bff.base, &sub, &unique("op-h")).await;
    let public = Admin {
        base: bff.base.clone(),
    };
    for auth in [Some(right.as_str()), None] {
        let a = public.call("GET", "/admin/config", auth, None).await;
        assert_eq!(
            (a.status, a.body["error"].clone()),
            (404, json!("not_found"))
        );
        let body = json!({ "sub": sub }).to_string();
        let a = public
            .call("POST", "/admin/sessions/end", auth, Some(&body))
            .await;
        assert!(matches!(a.status, 404 | 405), "{}", a.status);
        assert!(a.body["error"].is_string(), "JSON: {}", a.body);
    }
    assert!(signed_in(&mut hank).await, "nothing was ended");
}

#[actix_web::test]
async fn without_admin_token_only_metrics_is_served() {
    let op = FakeOp::start().await;
    let (_bff, admin) = with_admin(&op, json!({"admin_token": null})).await;
    assert_eq!(admin.call("GET", "/metrics", None, None).await.status, 200);
    for (method, path) in [("GET", "/admin/config"), ("POST", "/admin/sessions/end")] {
        let a = admin
            .call(
                method,
                path,
                Some(&format!("Bearer {TOKEN}")),
                Some(r#"{"sub":"x"}"#),
            )
            .await;
        assert_eq!(
            (a.status, a.body["error"].clone()),
            (404, json!("not_found")),
            "{path}"
        );
    }
}

#[actix_web::test]
async fn ending_by_sub_or_sid_in_cookie_mode_signs_out_those_browsers_only() {
    let op = FakeOp::start().await;
    let (bff, admin) = with_admin(&op, json!({})).await;
    let (alice, bob) = (unique("alice"), unique("bob"));
    let mut alice_1 = user(&op, &bff.base, &alice, &unique("op-a1")).await;
    let mut alice_2 = user(&op, &bff.base, &alice, &unique("op-a2")).await;
    let bob_sid = unique("op-b");
    let mut bob_1 = user(&op, &bff.base, &bob, &bob_sid).await;
    let mut bob_2 = user(&op, &bff.base, &bob, &unique("op-b2")).await;

    let a = admin.end(json!({"sub": alice})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body, json!({"ended": {"sub": alice}, "sessions": null}));
    assert!(
        !signed_in(&mut alice_1).await,
        "alice's first session ended"
    );
    assert!(
        !signed_in(&mut alice_2).await,
        "alice's second session ended"
    );
    assert_eq!(alice_1.get("/bff/user").await.status, 401);
    assert!(signed_in(&mut bob_1).await, "bob's sessions stay");

    let a = admin.end(json!({"sid": bob_sid})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body, json!({"ended": {"sid": bob_sid}, "sessions": null}));
    assert!(
        !signed_in(&mut bob_1).await,
        "the OP session's BFF session ended"
    );
    assert!(signed_in(&mut bob_2).await, "bob's other OP session stays");
}

#[actix_web::test]
async fn bad_input_is_400_json_and_ends_nothing() {
    let op = FakeOp::start().await;
    let (bff, admin) = with_admin(&op, json!({})).await;
    let sub = unique("carol");
    let mut carol = user(&op, &bff.base, &sub, &unique("op-c")).await;
    let long = format!(r#"{{"sub":"{}"}}"#, "a".repeat(256));
    let both = format!(r#"{{"sub":"{sub}","sid":"x"}}"#);
    for bad in [
        "",
        "not json",
        "[]",
        "{}",
        both.as_str(),
        r#"{"sub":""}"#,
        r#"{"sub":123}"#,
        r#"{"sub":"a\u0007b"}"#,
        r#"{"user":"carol"}"#,
        long.as_str(),
    ] {
        let a = admin
            .call(
                "POST",
                "/admin/sessions/end",
                Some(&format!("Bearer {TOKEN}")),
                Some(bad),
            )
            .await;
        assert_eq!(a.status, 400, "{bad:?}: {}", a.body);
        assert_eq!(a.body["error"], "invalid_request", "{bad:?}");
        let said = a.body["error_description"].as_str().unwrap_or_default();
        assert!(!said.is_empty() && !said.contains("line 1"), "{said}");
    }
    let huge = format!(r#"{{"sub":"{}"}}"#, "a".repeat(10_000));
    let a = admin
        .call(
            "POST",
            "/admin/sessions/end",
            Some(&format!("Bearer {TOKEN}")),
            Some(&huge),
        )
        .await;
    assert_eq!(
        (a.status, a.body["error"].clone()),
        (413, json!("too_large"))
    );
    assert!(signed_in(&mut carol).await, "nothing was ended");
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket through the BFF on `port` (origin `base`) with `b`'s cookies, to a route
/// `/api/ws` of a [`WsUpstream`](crate::support::ws_upstream::WsUpstream).
async fn socket(port: u16, base: &str, b: &Browser) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://127.0.0.1:{port}/api/ws/x")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", b.cookie_header().parse().unwrap());
    req.headers_mut().insert("origin", base.parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (ws, _) = tokio_tungstenite::client_async(req, tcp)
        .await
        .expect("upgraded");
    ws
}

/// The Close frame `ws` receives within `within` (code, reason); `None` when the stream
/// ends without one. Panics when it stays open.
async fn closed_within(ws: &mut Socket, within: Duration) -> Option<(u16, String)> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    tokio::time::timeout(within, async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Close(f) = m {
                return f.map(|f| (u16::from(f.code), f.reason.to_string()));
            }
        }
        None
    })
    .await
    .expect("the socket closed in time")
}

/// Whether `ws` still carries a message both ways (the upstream echoes it).
async fn still_open(ws: &mut Socket) -> bool {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    if ws.send(Message::text("still-there")).await.is_err() {
        return false;
    }
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Text(t) if t.as_str() == "echo still-there" => return true,
                Message::Close(_) => return false,
                _ => {}
            }
        }
        false
    })
    .await
    .unwrap_or(false)
}

#[actix_web::test]
async fn an_admin_end_closes_the_users_open_websocket_only() {
    let up = crate::support::ws_upstream::WsUpstream::start();
    let op = FakeOp::start().await;
    let (bff, admin) = with_admin(
        &op,
        json!({"routes": [{"prefix": "/api/ws", "upstream": up.base}]}),
    )
    .await;
    let sub = unique("dave");
    let dave = user(&op, &bff.base, &sub, &unique("op-d")).await;
    let other = user(&op, &bff.base, &unique("ida"), &unique("op-i")).await;
    let mut ws = socket(bff.port, &bff.base, &dave).await;
    let mut others = socket(bff.port, &bff.base, &other).await;
    assert!(still_open(&mut ws).await, "dave's socket works");
    assert_eq!(admin.end(json!({"sub": sub})).await.status, 200);
    assert_eq!(
        closed_within(&mut ws, Duration::from_secs(5)).await,
        Some((1008, "session ended".into()))
    );
    assert!(still_open(&mut others).await, "another user's socket stays");
}

#[actix_web::test]
async fn the_config_view_shows_settings_but_no_secret() {
    let op = FakeOp::start().await;
    let up = crate::support::upstream::Upstream::start();
    let secrets = [
        CLIENT_SECRET.to_string(),
        cookie_key(1),
        cookie_key(2),
        TOKEN.to_string(),
        "subscription-key-4711".to_string(),
        "route-api-key-4711".to_string(),
        "jpsQnnGQmL".to_string(),
    ];
    let (_bff, admin) = with_admin(
        &op,
        json!({
            "cookie_keys": [cookie_key(1), cookie_key(2)],
            "api_endpoint": up.base,
            "subscription_key": "subscription-key-4711",
            "routes": [{"prefix": "/api/other", "upstream": up.base,
                        "headers": {"x-api-key": "route-api-key-4711"}}],
            "client_private_jwk": {
                "kty": "EC", "crv": "P-256", "kid": "k1",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
            },
            // issue 12's proof key: key material like the client's.
            "dpop": true,
            "dpop_private_jwk": {
                "kty": "EC", "crv": "P-256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
            },
        }),
    )
    .await;
    let a = admin.get("/admin/config").await;
    assert_eq!(a.status, 200);
    let text = a.body.to_string();
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "{secret} shown: {text}");
    }
    let s = &a.body["settings"];
    assert_eq!(s["issuer"], json!(op.issuer));
    assert_eq!(s["client_id"], json!(CLIENT_ID));
    for key in [
        "client_secret",
        "cookie_keys",
        "admin_token",
        "subscription_key",
        "client_private_jwk",
        "dpop_private_jwk",
    ] {
        assert_eq!(s[key], "[redacted]", "{key}");
    }
    assert_eq!(s["dpop"], true);
    assert_eq!(s["admin_listen"], "127.0.0.1:0");
    assert_eq!(s["session_store"], "cookie");
    assert_eq!(s["jwks_min_refetch_interval"], 0);
    let routes = s["routes"].as_array().expect("routes");
    assert!(
        routes
            .iter()
            .any(|r| r["headers"]["x-api-key"] == "[redacted]"),
        "{routes:?}"
    );
}

/// Two binaries sharing a real Redis, each with its admin listener: an end at one
/// instance ends that user's sessions on the other, others stay; logged and counted.
#[actix_web::test]
async fn an_end_at_one_instance_ends_the_users_sessions_on_the_other() {
    let Some(redis) = Redis::start() else { return };
    let up = crate::support::ws_upstream::WsUpstream::start();
    for (mode, store, count) in [
        (
            "redis sessions",
            json!({"session_store": redis.url()}),
            json!(1),
        ),
        (
            "cookie sessions + shared redis",
            json!({"shared_store": redis.url()}),
            Value::Null,
        ),
    ] {
        let op = FakeOp::start().await;
        let start = |op_issuer: String, store: Value, ws_base: String| async move {
            let admin_port = free_port();
            let mut patch = store;
            patch["cookie_keys"] = json!([cookie_key(5)]);
            patch["admin_listen"] = json!(format!("127.0.0.1:{admin_port}"));
            patch["routes"] = json!([{"prefix": "/api/ws", "upstream": ws_base}]);
            let proc = crate::support::process::Proc::start_with_env(
                &op_issuer,
                patch,
                &[("BFF_ADMIN_TOKEN", TOKEN)],
            )
            .await;
            (proc, Admin::on(admin_port))
        };
        let (a, admin_a) = start(op.issuer.clone(), store.clone(), up.base.clone()).await;
        let (b, admin_b) = start(op.issuer.clone(), store.clone(), up.base.clone()).await;
        let (erin, frank) = (unique("erin"), unique("frank"));
        let erin_sid = unique("op-e");
        let on_a = user(&op, &a.base, &erin, &erin_sid).await;
        let mut erin_on_b = Browser::new(&b.base);
        erin_on_b.jar = on_a.jar.clone();
        assert!(
            signed_in(&mut erin_on_b).await,
            "{mode}: erin's session works on B"
        );
        let mut frank_on_b = user(&op, &b.base, &frank, &unique("op-f")).await;
        let mut erin_ws_on_b = socket(b.port, &b.base, &erin_on_b).await;
        let mut frank_ws_on_b = socket(b.port, &b.base, &frank_on_b).await;
        assert!(still_open(&mut erin_ws_on_b).await, "{mode}");

        let ended = admin_a.end(json!({"sub": erin})).await;
        assert_eq!(ended.status, 200, "{mode}: {}", ended.body);
        assert_eq!(
            ended.body,
            json!({"ended": {"sub": erin}, "sessions": count}),
            "{mode}"
        );
        assert!(
            !signed_in(&mut erin_on_b).await,
            "{mode}: ended at A, ended on B"
        );
        assert!(
            signed_in(&mut frank_on_b).await,
            "{mode}: frank's session stays"
        );
        // B's sockets poll the shared ended-marker every 2 s (README "WebSocket").
        assert_eq!(
            closed_within(&mut erin_ws_on_b, Duration::from_secs(5)).await,
            Some((1008, "session ended".into())),
            "{mode}: erin's socket on B closes"
        );
        assert!(
            still_open(&mut frank_ws_on_b).await,
            "{mode}: frank's socket on B stays"
        );

        // By sid, at B: the session made at A ends.
        let gina_sid = unique("op-g");
        let mut gina_on_a = user(&op, &a.base, &unique("gina"), &gina_sid).await;
        let ended = admin_b.end(json!({"sid": gina_sid})).await;
        assert_eq!(ended.status, 200, "{mode}: {}", ended.body);
        assert!(
            !signed_in(&mut gina_on_a).await,
            "{mode}: ended at B, ended on A"
        );
        assert!(signed_in(&mut frank_on_b).await, "{mode}");

        // One log line at A, naming the sub and the channel, never the token.
        let lines = a.lines_with("channel=\"admin\"").await;
        let lines: Vec<&String> = lines.iter().filter(|l| l.contains(&erin)).collect();
        assert_eq!(lines.len(), 1, "{mode}: {}", a.logs());
        assert!(
            !a.logs().contains(TOKEN) && !b.logs().contains(TOKEN),
            "{mode}"
        );
        // The token came from BFF_ADMIN_TOKEN; the view shows the store, not the token.
        let view = admin_a.get("/admin/config").await;
        assert_eq!(view.status, 200, "{mode}");
        assert!(!view.body.to_string().contains(TOKEN), "{mode}");
        assert_eq!(view.body["settings"]["admin_token"], "[redacted]", "{mode}");
        assert_eq!(
            view.body["settings"]["shared_store"],
            json!(redis.url()),
            "{mode}"
        );
        let metrics = admin_a.call("GET", "/metrics", None, None).await;
        assert_eq!(metrics.status, 200);
        let text = awc::Client::default()
            .get(format!("{}/metrics", admin_a.base))
            .send()
            .await
            .unwrap()
            .body()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&text).to_string();
        assert!(
            text.contains(r#"bff_admin_requests_total{endpoint="sessions_end",outcome="ok"} 1"#),
            "{mode}: {text}"
        );
        let outcome = if count.is_null() {
            "unknown"
        } else {
            "matched"
        };
        assert!(
            text.contains(&format!(
                r#"bff_logouts_total{{channel="admin",outcome="{outcome}"}} 1"#
            )),
            "{mode}: {text}"
        );
    }
}
