//! issue 11: WebSocket through `/api` against a real WebSocket upstream (tungstenite) and
//! a tungstenite client, or a raw TCP socket where a library would refuse to send the
//! attack: the token and header rules of the handshake, the CSRF rule for upgrades,
//! closes both ways, ping/pong, 1009 and 1002, sessions that end closing their sockets,
//! and the open-sockets gauge.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::support::process::free_port;
use crate::support::upstream::Upstream;
use crate::support::ws_upstream::WsUpstream;
use crate::support::*;

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// The metrics test reads the process-wide gauge: it runs alone among these tests.
static GAUGE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

const LIMIT: usize = 4096;

struct Setup {
    op: FakeOp,
    bff: TestBff,
    b: Browser,
    up: WsUpstream,
}

async fn setup() -> Setup {
    let up = WsUpstream::start();
    let op = FakeOp::start().await;
    let routes = json!([
        {"prefix": "/api/ws", "upstream": up.base, "headers": {"X-Api-Key": "k1"}},
        {"prefix": "/api/plain", "upstream": up.base, "websocket": false},
    ]);
    let bff = spawn_bff(
        &op.issuer,
        json!({"routes": routes, "websocket_max_message": LIMIT}),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    Setup { op, bff, b, up }
}

/// Opens `path` through the BFF with the browser's cookies, `Origin` (the BFF's own unless
/// given) and `extra` headers: the socket and the 101's headers, or the refusal's status
/// and JSON body.
async fn open(
    bff: &TestBff,
    b: &Browser,
    path: &str,
    origin: Option<&str>,
    extra: &[(&str, &str)],
) -> Result<(Ws, Vec<(String, String)>), (u16, Value)> {
    let mut req = format!("ws://127.0.0.1:{}{path}", bff.port)
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    if !b.jar.is_empty() {
        h.insert("cookie", b.cookie_header().parse().unwrap());
    }
    if let Some(o) = origin {
        h.insert("origin", o.parse().unwrap());
    }
    for (n, v) in extra {
        h.append(http_name(n), v.parse().expect("header value"));
    }
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", bff.port))
        .await
        .unwrap();
    match tokio_tungstenite::client_async(req, tcp).await {
        Ok((ws, res)) => Ok((
            ws,
            res.headers()
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
        )),
        Err(WsError::Http(res)) => {
            let body = res.body().clone().unwrap_or_default();
            Err((
                res.status().as_u16(),
                serde_json::from_slice(&body).unwrap_or(Value::Null),
            ))
        }
        Err(e) => panic!("handshake failed: {e}"),
    }
}

fn http_name(n: &str) -> tokio_tungstenite::tungstenite::http::HeaderName {
    n.to_ascii_lowercase().parse().unwrap()
}

/// Opens `path` as `open` does, expecting a refusal: its status and JSON body.
async fn refused(
    bff: &TestBff,
    b: &Browser,
    path: &str,
    origin: Option<&str>,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    match open(bff, b, path, origin, extra).await {
        Ok(_) => panic!("{path} was upgraded"),
        Err(refusal) => refusal,
    }
}

/// Opens `path` with the BFF's own `Origin` (it must not be refused) and reads the
/// upstream's greeting.
async fn greeted(bff: &TestBff, b: &Browser, path: &str) -> Ws {
    let mut ws = open(bff, b, path, Some(&bff.base), &[])
        .await
        .unwrap_or_else(|e| panic!("refused: {e:?}"))
        .0;
    next_text(&mut ws).await;
    ws
}

/// The next text, binary or close message (pings and pongs skipped), within 5 s.
async fn next(ws: &mut Ws) -> Option<Message> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
        {
            None | Some(Err(_)) => return None,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(m)) => return Some(m),
        }
    }
}

async fn next_text(ws: &mut Ws) -> String {
    match next(ws).await {
        Some(Message::Text(t)) => t.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Reads until the Close: its code and reason.
async fn close_of(ws: &mut Ws) -> (u16, String) {
    loop {
        match next(ws).await {
            Some(Message::Close(Some(f))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Message::Close(None)) => return (1005, String::new()),
            Some(_) => continue,
            None => panic!("the connection ended without a Close"),
        }
    }
}

#[actix_web::test]
async fn greets_with_the_bearer_echoes_and_follows_the_header_rules() {
    let _g = GAUGE.read().await;
    let s = setup().await;
    let (mut ws, headers) = open(
        &s.bff,
        &s.b,
        "/api/ws/echo?room=1",
        Some(&s.bff.base),
        &[
            ("Sec-WebSocket-Protocol", "chat.v1, chat.v2"),
            ("X-Api-Key", "spoofed"),
            ("Authorization", "Bearer browser-supplied"),
            ("X-Forwarded-For", "10.9.9.9"),
        ],
    )
    .await
    .unwrap();
    let proto: Vec<_> = headers
        .iter()
        .filter(|(n, _)| n == "sec-websocket-protocol")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(proto, ["chat.v2"], "the upstream's choice is answered");
    assert!(
        headers.iter().all(|(n, _)| n != "sec-websocket-extensions"),
        "no extension is negotiated"
    );
    let access = s.op.first_issued("at-").unwrap();
    assert_eq!(next_text(&mut ws).await, format!("hello Bearer {access}"));
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "echo hi");
    ws.send(Message::binary(vec![1u8; 1000])).await.unwrap();
    match next(&mut ws).await {
        Some(Message::Binary(b)) => assert_eq!(b.len(), 1000),
        other => panic!("{other:?}"),
    }
    // A fragmented message from the upstream arrives whole at the client.
    ws.send(Message::text("frag")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "fragment");

    let seen = s.up.last();
    assert_eq!(seen.path, "/echo?room=1", "prefix stripped, query kept");
    let h = &seen.headers;
    assert_eq!(h["authorization"], format!("Bearer {access}"));
    assert!(
        h.get("cookie").is_none(),
        "the session cookie reached the upstream"
    );
    assert_eq!(
        h["x-api-key"], "k1",
        "the route's header wins over the browser's"
    );
    assert_eq!(
        h["x-forwarded-for"], "127.0.0.1",
        "an untrusted peer's XFF replaced"
    );
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], format!("127.0.0.1:{}", s.bff.port));
    assert_eq!(h["origin"], s.bff.base);
    assert_eq!(h["sec-websocket-protocol"], "chat.v1, chat.v2");
    assert!(h.get("sec-websocket-extensions").is_none());
    assert!(h.get("x-csrf").is_none());
    assert_eq!(h["upgrade"].to_ascii_lowercase(), "websocket");
    assert_eq!(s.up.count(), 1);
}

#[actix_web::test]
async fn upgrades_need_our_origin_not_x_csrf() {
    let _g = GAUGE.read().await;
    let s = setup().await;
    for (origin, extra) in [
        (None, vec![]),
        (None, vec![("X-CSRF", "1")]),
        (Some("https://evil.example"), vec![("X-CSRF", "1")]),
        (Some("null"), vec![]),
    ] {
        let err = refused(&s.bff, &s.b, "/api/ws/x", origin, &extra).await;
        assert_eq!(err.0, 403, "{origin:?}");
        assert_eq!(err.1["error"], "csrf");
    }
    assert_eq!(s.up.count(), 0, "nothing reached the upstream");
    // An allowed origin other than ours works.
    let up = WsUpstream::start();
    let op = FakeOp::start().await;
    let (bff, b) = logged_in(
        &op,
        json!({"api_endpoint": up.base, "allowed_origins": ["https://app.example"]}),
    )
    .await;
    let (mut ws, _) = open(&bff, &b, "/api/x", Some("https://app.example"), &[])
        .await
        .unwrap();
    assert!(next_text(&mut ws).await.starts_with("hello Bearer at-"));
}

#[actix_web::test]
async fn refused_before_any_upgrade_route_off_no_session_bad_handshake() {
    let _g = GAUGE.read().await;
    let s = setup().await;
    let err = refused(&s.bff, &s.b, "/api/plain/x", Some(&s.bff.base), &[]).await;
    assert_eq!(err.0, 400);
    assert_eq!(err.1["error"], "websocket_not_allowed");
    let anon = Browser::new(&s.bff.base);
    let err = refused(&s.bff, &anon, "/api/ws/x", Some(&s.bff.base), &[]).await;
    assert_eq!(err.0, 401);
    assert_eq!(err.1["error"], "not_authenticated");
    assert_eq!(s.up.count(), 0);
    // A handshake without a version or key, over raw TCP.
    let req = format!(
        "GET /api/ws/x HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {}\r\nCookie: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        s.bff.base,
        s.b.cookie_header()
    );
    let (_conn, head) = raw(s.bff.port, &req).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(head.contains("invalid_websocket_handshake"), "{head}");
    assert_eq!(s.up.count(), 0);
}

#[actix_web::test]
async fn closes_pass_both_ways_with_code_and_reason() {
    let _g = GAUGE.read().await;
    let s = setup().await;
    let mut ws = greeted(&s.bff, &s.b, "/api/ws/a").await;
    ws.close(Some(CloseFrame {
        code: 4000.into(),
        reason: "client bye".into(),
    }))
    .await
    .unwrap();
    let (code, _) = close_of(&mut ws).await;
    assert_eq!(code, 4000, "the upstream's answer to our close comes back");
    let seen = s.up.wait_for(|s| s.close.is_some()).await;
    assert_eq!(seen.close, Some((4000, "client bye".into())));

    let mut ws = greeted(&s.bff, &s.b, "/api/ws/b").await;
    ws.send(Message::text("close:4001:upstream bye"))
        .await
        .unwrap();
    assert_eq!(close_of(&mut ws).await, (4001, "upstream bye".into()));
    let seen = s.up.wait_for(|s| s.ended).await;
    assert!(seen.ended);
}

#[actix_web::test]
async fn pings_and_pongs_pass() {
    let _g = GAUGE.read().await;
    let s = setup().await;
    let mut ws = greeted(&s.bff, &s.b, "/api/ws/p").await;
    ws.send(Message::Ping(b"p1".to_vec().into())).await.unwrap();
    let pong = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Pong(p))) => break p,
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(&pong[..], b"p1");
    // The upstream's ping reaches the client, whose pong reaches the upstream.
    ws.send(Message::text("ping")).await.unwrap();
    ws.send(Message::text("after")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "echo after");
    let seen = s.up.wait_for(|s| !s.pongs.is_empty()).await;
    assert_eq!(seen.pongs, vec![b"from-upstream".to_vec()]);
}

#[actix_web::test]
async fn messages_over_the_limit_close_with_1009_either_way() {
    let _g = GAUGE.read().await;
    let s = setup().await;
    // From the browser, whole.
    let mut ws = greeted(&s.bff, &s.b, "/api/ws/1").await;
    ws.send(Message::binary(vec![0u8; LIMIT + 1]))
        .await
        .unwrap();
    assert_eq!(close_of(&mut ws).await.0, 1009);
    let seen = s.up.wait_for(|s| s.close.is_some()).await;
    assert_eq!(seen.close.map(|c| c.0), Some(1009));
    assert!(seen.messages.is_empty(), "nothing of it was forwarded");
    // From the browser, in fragments each under the limit.
    let mut ws = greeted(&s.bff, &s.b, "/api/ws/2").await;
    for (i, op) in [Data::Binary, Data::Continue, Data::Continue]
        .into_iter()
        .enumerate()
    {
        let header = FrameHeader {
            is_final: i == 2,
            opcode: OpCode::Data(op),
            ..FrameHeader::default()
        };
        let payload = vec![1u8; LIMIT / 2];
        let _ = ws
            .send(Message::Frame(Frame::from_payload(header, payload.into())))
            .await;
    }
    assert_eq!(close_of(&mut ws).await.0, 1009);
    let seen = s.up.wait_for(|s| s.close.is_some()).await;
    assert_eq!(seen.close.map(|c| c.0), Some(1009));
    // From the upstream.
    let mut ws = greeted(&s.bff, &s.b, "/api/ws/3").await;
    ws.send(Message::text(format!("big:{}", LIMIT + 1)))
        .await
        .unwrap();
    assert_eq!(close_of(&mut ws).await.0, 1009);
    let seen = s.up.wait_for(|s| s.close.is_some()).await;
    assert_eq!(seen.close.map(|c| c.0), Some(1009));
    // At the limit, it passes.
    let mut ws = greeted(&s.bff, &s.b, "/api/ws/4").await;
    ws.send(Message::binary(vec![0u8; LIMIT])).await.unwrap();
    match next(&mut ws).await {
        Some(Message::Binary(b)) => assert_eq!(b.len(), LIMIT),
        other => panic!("{other:?}"),
    }
}

/// Sends `req` as it is on a new connection to the BFF at `port`: the connection and the
/// answer's head (and whatever came with it).
async fn raw(port: u16, req: &str) -> (tokio::net::TcpStream, String) {
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    conn.write_all(req.as_bytes()).await.unwrap();
    let head = read_head(&mut conn).await;
    (conn, head)
}

/// Reads an HTTP answer's head (and whatever came with it).
async fn read_head(conn: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut chunk))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    // Let a JSON body that follows arrive too.
    if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(200), conn.read(&mut chunk)).await
    {
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf).to_string()
}

#[actix_web::test]
async fn an_invalid_frame_from_either_side_closes_with_1002_and_is_not_forwarded() {
    let _g = GAUGE.read().await;
    let s = setup().await;
    // The browser side, over raw TCP: an unmasked client frame.
    let req = format!(
        "GET /api/ws/raw HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nOrigin: {}\r\nCookie: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        s.bff.port,
        s.bff.base,
        s.b.cookie_header()
    );
    let (mut conn, head) = raw(s.bff.port, &req).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    conn.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut rest)).await;
    // The greeting (a text frame), then a Close frame with 1002.
    let close_at = rest
        .windows(4)
        .position(|w| w[0] == 0x88 && w[2..4] == 1002u16.to_be_bytes())
        .unwrap_or_else(|| panic!("no close 1002 in {rest:?}"));
    assert_eq!(
        rest.len(),
        close_at + 4 + (rest[close_at + 1] as usize - 2),
        "nothing after the Close"
    );
    let seen = s.up.wait_for(|s| s.close.is_some()).await;
    assert_eq!(seen.close.map(|c| c.0), Some(1002));
    assert!(seen.messages.is_empty(), "the bad frame was not forwarded");

    // The upstream side: a frame with a reserved opcode.
    let mut ws = greeted(&s.bff, &s.b, "/api/ws/bad").await;
    ws.send(Message::text("bad")).await.unwrap();
    assert_eq!(close_of(&mut ws).await.0, 1002);
}

#[actix_web::test]
async fn logout_closes_the_sessions_sockets_within_seconds() {
    let _g = GAUGE.read().await;
    let mut s = setup().await;
    let mut ws = greeted(&s.bff, &s.b, "/api/ws/live").await;
    let mut other = Browser::new(&s.bff.base);
    other.login().await;
    let mut other_ws = greeted(&s.bff, &other, "/api/ws/other").await;

    let started = std::time::Instant::now();
    let res =
        s.b.request("POST", "/bff/logout", &[("X-CSRF", "1")], None)
            .await;
    assert_eq!(res.status, 200);
    assert_eq!(close_of(&mut ws).await, (1008, "session ended".into()));
    assert!(started.elapsed() < Duration::from_secs(3));
    let seen =
        s.up.wait_for(|s| s.path == "/live" && s.close.is_some())
            .await;
    let _ = seen;
    // The other session's socket is untouched.
    other_ws.send(Message::text("still")).await.unwrap();
    assert_eq!(next_text(&mut other_ws).await, "echo still");
}

#[actix_web::test]
async fn a_backchannel_logout_closes_the_op_sessions_sockets() {
    let _g = GAUGE.read().await;
    let s = setup().await;
    let mut ws = greeted(&s.bff, &s.b, "/api/ws/bc").await;
    let token = LogoutToken::new(&s.op)
        .claims(json!({"sid": "op-session-1", "sub": "user-123"}))
        .encode();
    let res = send_logout_token(&s.bff.base, &token).await;
    assert_eq!(res.status, 200);
    assert_eq!(close_of(&mut ws).await, (1008, "session ended".into()));
    let seen = s.up.wait_for(|s| s.close.is_some()).await;
    assert_eq!(seen.close, Some((1001, "session ended".into())));
}

#[actix_web::test]
async fn non_websocket_upgrades_are_not_tunnelled() {
    let _g = GAUGE.read().await;
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let (bff, b) = logged_in(&op, json!({"api_endpoint": up.base})).await;
    let req = format!(
        "GET /api/h2c HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\nX-CSRF: 1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
        b.cookie_header()
    );
    let (_conn, head) = raw(bff.port, &req).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let h = &up.last()["headers"];
    assert!(h.get("upgrade").is_none());
    assert!(h.get("http2-settings").is_none());
}

#[actix_web::test]
async fn an_upstream_that_refuses_or_is_unreachable_is_a_json_502() {
    let _g = GAUGE.read().await;
    // A plain HTTP upstream answers 403, not 101.
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let (bff, b) = logged_in(&op, json!({"api_endpoint": up.base})).await;
    let err = refused(&bff, &b, "/api/status/403", Some(&bff.base), &[]).await;
    assert_eq!(err.0, 502);
    assert_eq!(err.1["error"], "upstream_refused_upgrade");
    // Nothing listens there.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (bff, b) = logged_in(&op, json!({"api_endpoint": dead})).await;
    let err = refused(&bff, &b, "/api/x", Some(&bff.base), &[]).await;
    assert_eq!(err.0, 502);
    assert_eq!(err.1["error"], "upstream_unreachable");
}

fn gauge(metrics: &str) -> i64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("bff_websockets_open "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[actix_web::test]
async fn the_open_sockets_gauge_goes_up_and_down() {
    let _g = GAUGE.write().await;
    let mut s = setup().await;
    // Sockets of tests that just ended may still be counting out.
    let mut before = -1;
    for _ in 0..50 {
        before = gauge(&String::from_utf8_lossy(&s.b.get("/metrics").await.body));
        if before == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(before, 0, "no socket open before");
    let mut a = greeted(&s.bff, &s.b, "/api/ws/m1").await;
    let c = greeted(&s.bff, &s.b, "/api/ws/m2").await;
    let during = gauge(&String::from_utf8_lossy(&s.b.get("/metrics").await.body));
    assert_eq!(during, before + 2);
    a.close(None).await.unwrap();
    close_of(&mut a).await;
    drop(c); // gone without a Close
    let mut after = during;
    for _ in 0..50 {
        let text = String::from_utf8_lossy(&s.b.get("/metrics").await.body).to_string();
        after = gauge(&text);
        if after == before {
            assert!(text.contains("bff_websocket_closes_total{reason=\"browser\"}"));
            assert!(text.contains("bff_websocket_closes_total{reason=\"gone\"}"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(after, before, "both sockets counted out");
}

#[actix_web::test]
async fn a_logout_at_another_instance_closes_the_socket_in_redis_mode() {
    use crate::support::process::Redis;
    let _g = GAUGE.read().await;
    let Some(redis) = Redis::start() else { return };
    for patch in [
        json!({"session_store": redis.url()}),
        json!({"shared_store": redis.url()}),
    ] {
        let up = WsUpstream::start();
        let op = FakeOp::start().await;
        let sid = format!("op-session-{}", rand::random::<u32>());
        op.with(|s| s.tweaks.extra_claims.insert("sid".into(), json!(sid)));
        let mut patch = patch;
        patch["api_endpoint"] = json!(up.base);
        // Two instances (in-process, each with its own socket registry) sharing Redis.
        let (a, on_a) = logged_in(&op, patch.clone()).await;
        let b = spawn_bff(&op.issuer, patch.clone()).await;
        let mut ws = greeted(&a, &on_a, "/api/x").await;
        let mut on_b = Browser::new(&b.base);
        on_b.jar = on_a.jar.clone();
        let started = std::time::Instant::now();
        let res = on_b
            .request("POST", "/bff/logout", &[("X-CSRF", "1")], None)
            .await;
        assert_eq!(res.status, 200, "{patch}");
        assert_eq!(
            close_of(&mut ws).await,
            (1008, "session ended".into()),
            "{patch}"
        );
        assert!(started.elapsed() < Duration::from_secs(4), "{patch}");
    }
}

#[actix_web::test]
async fn an_idle_socket_outlives_the_request_and_proxy_deadlines() {
    let _g = GAUGE.read().await;
    let up = WsUpstream::start();
    let op = FakeOp::start().await;
    let (bff, b) = logged_in(
        &op,
        json!({"api_endpoint": up.base, "request_timeout": 1, "proxy_timeout": 1, "body_timeout": 1}),
    )
    .await;
    let mut ws = greeted(&bff, &b, "/api/idle").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    ws.send(Message::text("still here")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "echo still here");
}

#[actix_web::test]
async fn the_token_is_refreshed_at_upgrade_when_due_and_a_refused_refresh_closes_the_socket() {
    let _g = GAUGE.read().await;
    let up = WsUpstream::start();
    let (op, bff, mut b) = refresh_due(&up.base).await;
    let first = op.first_issued("at-").unwrap();
    let (mut ws, headers) = open(&bff, &b, "/api/r", Some(&bff.base), &[])
        .await
        .unwrap();
    assert_eq!(
        op.with(|s| s.counters.refresh),
        1,
        "refreshed before the upgrade"
    );
    let fresh = op.last_issued("at-").unwrap();
    assert_ne!(fresh, first);
    assert_eq!(next_text(&mut ws).await, format!("hello Bearer {fresh}"));
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "set-cookie" && v.starts_with("bff-session")),
        "the 101 carries the re-sealed session"
    );
    for (_, v) in headers.iter().filter(|(n, _)| n == "set-cookie") {
        let c = actix_web::cookie::Cookie::parse(v.clone()).unwrap();
        b.jar.insert(c.name().to_string(), c.value().to_string());
    }
    // The OP refuses the next refresh: the session ends, and so does its socket.
    op.with(|s| s.refresh_error = Some("invalid_grant".into()));
    let res = b
        .request("POST", "/bff/refresh", &[("X-CSRF", "1")], None)
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(close_of(&mut ws).await, (1008, "session ended".into()));
}
