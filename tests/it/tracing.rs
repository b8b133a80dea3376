//! issue 13: tracing. W3C `traceparent` to the OP and upstreams (continuing a valid
//! incoming one, replacing an invalid one), and with `otlp_endpoint` the spans a real
//! OTLP/HTTP receiver gets: the tree of a login and of an `/api` call, no secret in any
//! exported byte, an unreachable collector that neither slows requests nor goes uncounted,
//! the flush at SIGTERM, and the trace id in log lines.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::otlp::{named, parts, traceparent, Otlp, Span, CLIENT, SERVER};
use crate::support::process::{bin, free_port, settings_file, Proc, Redis};
use crate::support::upstream::Upstream;
use crate::support::*;

/// Spans reach the collector within this (the contract says 5 s).
const WITHIN: Duration = Duration::from_secs(5);

fn with_otlp(otlp: &Otlp, mut patch: Value) -> Value {
    patch["otlp_endpoint"] = json!(otlp.base);
    patch
}

/// A sign-in whose callback carries `tp`; the callback's answer.
async fn login_with(b: &mut Browser, tp: &str) -> Resp {
    let callback = b.authorize("/").await;
    b.request("GET", &callback, &[("traceparent", tp)], None)
        .await
}

fn child_of<'a>(spans: &'a [Span], parent: &Span, name: &str) -> &'a Span {
    let s = named(spans, name);
    assert_eq!(
        s.parent_id, parent.span_id,
        "{name} is a child of {}",
        parent.name
    );
    assert_eq!(s.kind, CLIENT, "{name} is a client span");
    s
}

#[actix_web::test]
async fn a_login_is_one_trace_under_the_incoming_traceparent() {
    let otlp = Otlp::start();
    let op = FakeOp::start().await;
    let bff = spawn_bff(
        &op.issuer,
        with_otlp(&otlp, json!({"otel_service_name": "bff-under-test"})),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    let (tp, trace, parent) = traceparent();
    let res = login_with(&mut b, &tp).await;
    assert_eq!(res.status, 302);
    assert_eq!(res.location(), "/");

    let spans = otlp
        .trace(&trace, WITHIN, |s| {
            s.iter().any(|s| s.kind == SERVER) && s.iter().any(|s| s.name == "OP token")
        })
        .await;
    let server = named(&spans, "GET /callback");
    assert_eq!(server.kind, SERVER);
    assert_eq!(server.parent_id, parent, "continues the caller's span");
    assert_eq!(server.service, "bff-under-test");
    assert_eq!(server.attributes["http.route"], "/callback");
    assert_eq!(server.attributes["http.request.method"], "GET");
    assert_eq!(server.attributes["http.response.status_code"], "302");
    let login = server
        .events
        .iter()
        .find(|(n, _)| n == "login finished")
        .expect("a login event");
    assert_eq!(login.1["bff.outcome"], "success");

    let token = child_of(&spans, server, "OP token");
    assert_eq!(token.attributes["bff.op.endpoint"], "token");
    assert_eq!(token.attributes["http.request.method"], "POST");
    assert_eq!(token.attributes["http.response.status_code"], "200");
    assert_eq!(token.attributes["server.address"], "127.0.0.1");
    // The OP was sent the client span as its parent, in the caller's trace.
    let sent = op.traceparent_at("/token").expect("traceparent at the OP");
    assert_eq!(parts(&sent), ["00", &trace, &token.span_id, "01"]);

    // Discovery at start-up is a trace of its own, with its own client span.
    let all = otlp.spans();
    let discovery = all
        .iter()
        .find(|s| s.name == "OP discovery")
        .expect("a discovery span");
    assert_ne!(discovery.trace_id, trace);
    let sent = op
        .traceparent_at("/.well-known/openid-configuration")
        .unwrap();
    assert_eq!(parts(&sent)[2], discovery.span_id);
}

async fn api(b: &mut Browser, path: &str, extra: &[(&str, &str)]) -> Resp {
    let mut headers = vec![("X-CSRF", "1")];
    headers.extend_from_slice(extra);
    b.request("GET", path, &headers, None).await
}

#[actix_web::test]
async fn an_api_call_is_a_server_span_over_the_upstream_client_span() {
    let otlp = Otlp::start();
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let bff = spawn_bff(
        &op.issuer,
        with_otlp(&otlp, json!({"api_endpoint": format!("{}/v1", up.base)})),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let (tp, trace, parent) = traceparent();
    let res = api(
        &mut b,
        "/api/orders/7?q=query-marker",
        &[("traceparent", &tp), ("tracestate", "vendor=abc")],
    )
    .await;
    assert_eq!(res.status, 200);

    let spans = otlp
        .trace(&trace, WITHIN, |s| {
            s.iter().any(|s| s.kind == SERVER) && s.iter().any(|s| s.name == "upstream GET")
        })
        .await;
    let server = named(&spans, "GET /api");
    assert_eq!(server.parent_id, parent);
    assert_eq!(
        server.attributes["http.route"], "/api",
        "the route, not the path"
    );
    assert_eq!(server.attributes["http.response.status_code"], "200");
    let client = child_of(&spans, server, "upstream GET");
    assert_eq!(client.attributes["bff.peer"], "upstream");
    assert_eq!(client.attributes["http.response.status_code"], "200");
    // The server span's duration is the request's: it has one, it encloses the upstream
    // call, and it is not absurd (the whole test takes well under a minute).
    assert!(client.duration() > Duration::ZERO, "{client:?}");
    assert!(
        server.start_ns <= client.start_ns && client.end_ns <= server.end_ns,
        "the server span encloses the client span: {server:?} {client:?}"
    );
    assert!(server.duration() >= client.duration());
    assert!(server.duration() < Duration::from_secs(60), "{server:?}");
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(
        server.end_ns <= now_ns && now_ns - server.end_ns < 60_000_000_000,
        "wall-clock times: {server:?}"
    );
    for s in &spans {
        for v in s.attributes.values() {
            assert!(
                !v.contains("orders") && !v.contains("query-marker"),
                "{}: {v}",
                s.name
            );
        }
    }
    // The upstream got the client span as parent, and the caller's tracestate.
    let sent = up.last_values("traceparent");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(parts(&sent[0]), ["00", &trace, &client.span_id, "01"]);
    assert_eq!(up.last_values("tracestate"), ["vendor=abc"]);
}

#[actix_web::test]
async fn without_otlp_endpoint_trace_context_still_propagates_and_invalid_is_replaced() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let bff = spawn_bff(
        &op.issuer,
        json!({"api_endpoint": format!("{}/v1", up.base)}),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    // A valid traceparent at the callback: the token request continues its trace.
    let (tp, trace, parent) = traceparent();
    login_with(&mut b, &tp).await;
    let sent = parts(&op.traceparent_at("/token").expect("traceparent at the OP"));
    assert_eq!(sent[1], trace);
    assert_ne!(sent[2], parent, "a span of the BFF's own in between");
    assert_eq!(sent[3], "01");

    // And at /api, with its tracestate.
    let (tp, trace, parent) = traceparent();
    api(
        &mut b,
        "/api/x",
        &[("traceparent", &tp), ("tracestate", "vendor=abc")],
    )
    .await;
    let sent = parts(&up.last_values("traceparent")[0]);
    assert_eq!(sent[1], trace);
    assert_ne!(sent[2], parent);
    assert_eq!(up.last_values("tracestate"), ["vendor=abc"]);

    // Invalid ones (and their tracestate) are replaced by a new trace, never forwarded.
    let zero_trace = "00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_string();
    let zero_parent = format!("00-{trace}-0000000000000000-01");
    let future_version = format!("01-{trace}-00f067aa0ba902b7-01");
    let short = format!("00-{}-00f067aa0ba902b7-01", &trace[1..]);
    for bad in [
        zero_trace,
        zero_parent,
        future_version,
        short,
        "junk".into(),
    ] {
        let res = api(
            &mut b,
            "/api/x",
            &[("traceparent", &bad), ("tracestate", "evil=1")],
        )
        .await;
        assert_eq!(res.status, 200);
        let sent = up.last_values("traceparent");
        assert_eq!(sent.len(), 1);
        let p = parts(&sent[0]);
        assert_eq!(p.len(), 4, "{}", sent[0]);
        assert_eq!(p[0], "00");
        assert!(!bad.contains(&p[1]), "{bad} → {}", sent[0]);
        assert_ne!(p[1], "0".repeat(32));
        assert_ne!(p[2], "0".repeat(16));
        assert!(up.last_values("tracestate").is_empty(), "{bad}");
    }
    // No traceparent at all: a new trace too.
    api(&mut b, "/api/x", &[]).await;
    assert_eq!(parts(&up.last_values("traceparent")[0]).len(), 4);
}

#[actix_web::test]
async fn an_invalid_traceparent_starts_a_new_root_trace() {
    let otlp = Otlp::start();
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let bff = spawn_bff(
        &op.issuer,
        with_otlp(&otlp, json!({"api_endpoint": format!("{}/v1", up.base)})),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let bad = "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01";
    api(&mut b, "/api/x", &[("traceparent", bad)]).await;
    let sent = parts(&up.last_values("traceparent")[0]);
    assert_ne!(sent[1], "4bf92f3577b34da6a3ce929d0e0e4736");
    let spans = otlp
        .trace(&sent[1], WITHIN, |s| s.iter().any(|s| s.kind == SERVER))
        .await;
    let server = named(&spans, "GET /api");
    assert_eq!(server.parent_id, "", "a root span");
    assert_eq!(named(&spans, "upstream GET").span_id, sent[2]);
}

/// Every secret a session involves, as the OP issued it, the browser holds it, or the
/// BFF is configured with.
fn secrets(op: &FakeOp, b: &Browser) -> Vec<String> {
    let mut all: Vec<String> = op.with(|s| {
        s.issued_tokens
            .iter()
            .chain(s.secrets_seen.iter())
            .chain(s.codes.keys())
            .cloned()
            .collect()
    });
    all.push(CLIENT_SECRET.to_string());
    all.extend(b.jar.values().cloned());
    all.retain(|s| s.len() >= 8);
    all
}

#[actix_web::test]
async fn no_secret_appears_in_any_exported_byte() {
    let otlp = Otlp::start();
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let bff = spawn_bff(
        &op.issuer,
        with_otlp(&otlp, json!({"api_endpoint": format!("{}/v1", up.base)})),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    let callback = b.authorize("/").await;
    let state = query_param(&callback, "state").unwrap();
    let code = query_param(&callback, "code").unwrap();
    b.get(&callback).await;
    let mut seen = secrets(&op, &b);
    api(&mut b, "/api/x?api_key=query-secret-1234", &[]).await;
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
    seen.extend(secrets(&op, &b));
    b.get("/bff/userinfo").await;
    b.post("/bff/introspect", None).await;
    assert_eq!(b.post("/bff/logout", None).await.status, 200);
    seen.extend([state, code, "query-secret-1234".into()]);

    // Wait for the logout's span: everything before it has been exported too.
    let started = Instant::now();
    while !otlp.spans().iter().any(|s| s.name == "POST /bff/logout") {
        assert!(started.elapsed() < WITHIN, "no logout span");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    let spans = otlp.spans();
    let refresh = named(&spans, "POST /bff/refresh");
    assert!(refresh
        .events
        .iter()
        .any(|(n, a)| n == "refresh" && a["bff.outcome"] == "success"));
    assert!(spans.iter().any(|s| s.name == "OP userinfo"));
    assert!(spans.iter().any(|s| s.name == "OP introspection"));
    assert!(spans.iter().any(|s| s.name == "OP revocation"));
    let logout = named(&spans, "POST /bff/logout");
    assert!(logout.events.iter().any(|(n, _)| n == "logout"));

    let raw = otlp.raw();
    let raw = String::from_utf8_lossy(&raw);
    assert!(seen.len() >= 8, "{seen:?}");
    for secret in &seen {
        assert!(!raw.contains(secret.as_str()), "exported: {secret}");
    }
}

#[actix_web::test]
async fn redis_calls_are_client_spans_with_the_command_name_only() {
    let Some(redis) = Redis::start() else { return };
    let otlp = Otlp::start();
    let op = FakeOp::start().await;
    let bff = spawn_bff(
        &op.issuer,
        with_otlp(&otlp, json!({"session_store": redis.url()})),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let (tp, trace, _) = traceparent();
    assert_eq!(
        b.request("GET", "/bff/user", &[("traceparent", &tp)], None)
            .await
            .status,
        200
    );
    let spans = otlp
        .trace(&trace, WITHIN, |s| {
            s.iter().any(|s| s.kind == SERVER) && s.iter().any(|s| s.name.starts_with("redis "))
        })
        .await;
    let server = named(&spans, "GET /bff/user");
    let redis_spans: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name.starts_with("redis "))
        .collect();
    assert!(!redis_spans.is_empty());
    for s in redis_spans {
        assert_eq!(s.parent_id, server.span_id);
        assert_eq!(s.kind, CLIENT);
        assert_eq!(s.attributes["db.system.name"], "redis");
        let keys: Vec<&String> = s.attributes.keys().collect();
        assert_eq!(keys, ["db.operation.name", "db.system.name"], "{}", s.name);
        let cmd = &s.attributes["db.operation.name"];
        assert!(cmd.chars().all(|c| c.is_ascii_uppercase()), "{cmd}");
    }
}

/// Requests to the real binary while its collector accepts connections and never
/// answers: they stay fast; the failed exports are counted, and logged once.
#[actix_web::test]
async fn a_collector_that_never_answers_slows_no_request_and_failures_are_counted() {
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", stalled.local_addr().unwrap());
    let op = FakeOp::start().await;
    let bff = Proc::start(&op.issuer, json!({"otlp_endpoint": dead})).await;
    let client = awc::Client::default();
    let started = Instant::now();
    for _ in 0..40 {
        let t = Instant::now();
        let res = client
            .get(format!("{}/bff/session", bff.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // Each export waits out its 3 s timeout; wait for two failed ones.
    let metric = || async {
        let mut res = client
            .get(format!("{}/metrics", bff.base))
            .send()
            .await
            .unwrap();
        let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("bff_trace_export_failures_total "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let started = Instant::now();
    while metric().await < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no failures counted"
        );
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    let logged = bff.lines_with("trace export failed").await;
    assert_eq!(logged.len(), 1, "once per run of failures: {logged:?}");
    drop(stalled);
}

/// With a 60 s export delay, spans still reach the collector when the process gets
/// SIGTERM; its log lines carry the trace id next to the request id.
#[actix_web::test]
async fn spans_are_flushed_at_sigterm_and_log_lines_carry_the_trace_id() {
    let otlp = Otlp::start();
    let op = FakeOp::start().await;
    let port = free_port();
    let mut settings = settings(
        &op.issuer,
        port,
        json!({"otlp_endpoint": otlp.base, "access_log": true}),
    );
    settings["listen"] = json!(format!("127.0.0.1:{port}"));
    let path = settings_file("trace", &settings.to_string());
    let mut cmd = bin();
    cmd.arg("--config")
        .arg(&path)
        .env("OTEL_BSP_SCHEDULE_DELAY", "60000");
    let bff = Proc::launch(cmd, port, path.parent().unwrap()).await;
    let (tp, trace, _) = traceparent();
    let res = awc::Client::default()
        .get(format!("{}/bff/session", bff.base))
        .insert_header(("traceparent", tp.as_str()))
        .insert_header(("X-Request-Id", "req-trace-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let line = bff.lines_with("req-trace-1").await;
    assert!(
        line.iter()
            .any(|l| l.contains(&format!("trace_id={trace}"))),
        "{line:?}"
    );
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert!(
        otlp.spans().iter().all(|s| s.trace_id != trace),
        "not yet exported"
    );
    bff.sigterm();
    let status = bff.exit().await;
    assert!(status.success(), "{status:?}");
    let spans = otlp
        .trace(&trace, Duration::from_secs(1), |s| !s.is_empty())
        .await;
    assert_eq!(named(&spans, "GET /bff/session").kind, SERVER);
}

/// The WebSocket handshake to the upstream is a client span too, and carries its
/// `traceparent`.
#[actix_web::test]
async fn a_websocket_upgrade_carries_the_trace_to_the_upstream() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let otlp = Otlp::start();
    let up = crate::support::ws_upstream::WsUpstream::start();
    let op = FakeOp::start().await;
    let routes = json!([{"prefix": "/api/ws", "upstream": up.base}]);
    let bff = spawn_bff(&op.issuer, with_otlp(&otlp, json!({"routes": routes}))).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let (tp, trace, parent) = traceparent();
    let mut req = format!("ws://127.0.0.1:{}/api/ws/chat", bff.port)
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert("cookie", b.cookie_header().parse().unwrap());
    h.insert("origin", bff.base.parse().unwrap());
    h.insert("traceparent", tp.parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", bff.port))
        .await
        .unwrap();
    let (ws, _) = tokio_tungstenite::client_async(req, tcp)
        .await
        .expect("upgraded");
    let spans = otlp
        .trace(&trace, WITHIN, |s| {
            s.iter().any(|s| s.kind == SERVER) && s.iter().any(|s| s.name == "upstream GET")
        })
        .await;
    let server = named(&spans, "GET /api/ws");
    assert_eq!(server.parent_id, parent);
    assert_eq!(server.attributes["http.response.status_code"], "101");
    let client = child_of(&spans, server, "upstream GET");
    assert_eq!(client.attributes["bff.websocket"], "true");
    assert_eq!(client.attributes["http.response.status_code"], "101");
    let seen = up.conns.lock().unwrap()[0].headers.clone();
    assert_eq!(
        parts(&seen["traceparent"]),
        ["00", &trace, &client.span_id, "01"]
    );
    drop(ws);
}

/// A login through PAR: the push is a client span of the login request.
#[actix_web::test]
async fn a_pushed_authorization_request_is_a_client_span_of_the_login() {
    let otlp = Otlp::start();
    let op = FakeOp::start().await;
    op.with(|s| s.require_par = true);
    let bff = spawn_bff(&op.issuer, with_otlp(&otlp, json!({}))).await;
    let mut b = Browser::new(&bff.base);
    let (tp, trace, _) = traceparent();
    let res = b
        .request(
            "GET",
            "/bff/login?returnUrl=%2F",
            &[("traceparent", &tp)],
            None,
        )
        .await;
    assert_eq!(res.status, 302);
    let spans = otlp
        .trace(&trace, WITHIN, |s| {
            s.iter().any(|s| s.kind == SERVER) && s.iter().any(|s| s.name == "OP par")
        })
        .await;
    let server = named(&spans, "GET /bff/login");
    let par = child_of(&spans, server, "OP par");
    assert_eq!(par.attributes["http.response.status_code"], "201");
    let sent = op.traceparent_at("/par").unwrap();
    assert_eq!(parts(&sent)[2], par.span_id);
}
