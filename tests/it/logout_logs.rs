//! issue 17: OP-initiated logouts say what they did. The log line names the `iss` and the
//! `sid` or `sub` now refused, never "sessions ended" when nothing is known to have
//! matched; in Redis session mode it says how many live sessions matched; metrics count
//! matched and unmatched logouts; a missing `sid` with front-channel logout in use is
//! warned about once. The binary runs as a child process so its log is the test's to read.

use crate::support::process::{Proc, Redis};
use crate::support::*;
use serde_json::{json, Value};

fn logout_token(op: &FakeOp, by: Value) -> String {
    LogoutToken::new(op)
        .claims(by)
        .typ(Some("logout+jwt"))
        .encode()
}

async fn back_channel(base: &str, op: &FakeOp, by: Value) -> u16 {
    send_logout_token(base, &logout_token(op, by)).await.status
}

/// A back-channel logout by one claim (`{"sid": …}` or `{"sub": …}`) is taken (200) and
/// logged in one line naming that claim: that line.
async fn back_channel_line(bff: &Proc, op: &FakeOp, by: Value) -> String {
    assert_eq!(back_channel(&bff.base, op, by.clone()).await, 200, "{by}");
    let (claim, value) = by
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("one claim");
    let named = format!("{claim}=\"{}\"", value.as_str().unwrap_or_default());
    let lines = bff.lines_with(&named).await;
    assert_eq!(lines.len(), 1, "{}", bff.logs());
    lines[0].clone()
}

async fn front_channel(b: &mut Browser, op: &FakeOp, sid: &str) -> u16 {
    b.get(&format!(
        "/bff/frontchannel-logout?iss={}&sid={}",
        urlencode(&op.issuer),
        urlencode(sid)
    ))
    .await
    .status
}

async fn metric(b: &mut Browser, channel: &str, outcome: &str) -> u64 {
    let text = String::from_utf8_lossy(&b.get("/metrics").await.body).to_string();
    let prefix = format!("bff_logouts_total{{channel=\"{channel}\",outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|n| n.trim().parse().unwrap())
        .unwrap_or(0)
}

fn with_sid(op: &FakeOp, sid: &str) {
    op.with(|s| s.tweaks.extra_claims.insert("sid".into(), json!(sid)));
}

#[actix_web::test]
async fn a_logout_that_matches_nothing_ends_nothing_and_says_so() {
    let op = FakeOp::start().await;
    let bff = Proc::start(&op.issuer, json!({})).await;
    let mut b = Browser::new(&bff.base);
    with_sid(&op, "op-session-live");
    assert_eq!(b.login().await.location(), "/");

    // The OP puts the user id in `sid`: it matches no session.
    assert_eq!(front_channel(&mut b, &op, "user-42").await, 200);
    assert_eq!(
        back_channel(&bff.base, &op, json!({"sid": "nobody"})).await,
        200
    );
    assert_eq!(b.get("/bff/user").await.status, 200, "nothing ended");

    let logs = bff.logs();
    assert!(!logs.contains("sessions ended"), "no false claim:\n{logs}");
    let iss = format!("iss=\"{}\"", op.issuer);
    for (channel, sid) in [("frontchannel", "user-42"), ("backchannel", "nobody")] {
        let lines = bff.lines_with(&format!("channel=\"{channel}\"")).await;
        assert_eq!(lines.len(), 1, "{channel}: one line:\n{logs}");
        let line = &lines[0];
        assert!(line.contains("logout recorded"), "{line}");
        assert!(line.contains(&iss), "names the iss: {line}");
        assert!(
            line.contains(&format!("sid=\"{sid}\"")),
            "names the sid: {line}"
        );
        assert!(
            line.contains("not known"),
            "says what it does not know: {line}"
        );
        assert_eq!(metric(&mut b, channel, "unknown").await, 1, "{channel}");
    }
    // A matching one (cookie sessions: the BFF cannot count them, and does not claim).
    assert_eq!(front_channel(&mut b, &op, "op-session-live").await, 200);
    assert_eq!(b.get("/bff/user").await.status, 401, "that sid now ends");
    // By sub, named as such.
    let line = back_channel_line(&bff, &op, json!({"sub": "user-9"})).await;
    assert!(line.contains("sessions of this sub"), "{line}");
    assert!(!bff.logs().contains("at-"), "no token in the log");
}

#[actix_web::test]
async fn in_redis_session_mode_logouts_say_how_many_sessions_matched() {
    let Some(redis) = Redis::start() else { return };
    let op = FakeOp::start().await;
    let bff = Proc::start(&op.issuer, json!({"session_store": redis.url()})).await;
    let mut a1 = Browser::new(&bff.base);
    let mut a2 = Browser::new(&bff.base);
    let mut c = Browser::new(&bff.base);
    with_sid(&op, "sid-a");
    a1.login().await;
    a2.login().await;
    with_sid(&op, "sid-c");
    c.login().await;

    let line = back_channel_line(&bff, &op, json!({"sid": "sid-z"})).await;
    assert!(line.contains("matched=0"), "{line}");
    assert!(line.contains("no live session matched"), "{line}");
    assert_eq!(metric(&mut c, "backchannel", "unmatched").await, 1);
    for b in [&mut a1, &mut a2, &mut c] {
        assert_eq!(b.get("/bff/user").await.status, 200, "nothing ended");
    }

    let line = back_channel_line(&bff, &op, json!({"sid": "sid-a"})).await;
    assert!(line.contains("matched=2"), "{line}");
    assert!(line.contains("2 live session(s) ended"), "{line}");
    assert_eq!(metric(&mut c, "backchannel", "matched").await, 1);
    assert_eq!(a1.get("/bff/user").await.status, 401);
    assert_eq!(a2.get("/bff/user").await.status, 401);
    assert_eq!(c.get("/bff/user").await.status, 200);

    // Front channel, counted the same way; the second time nothing is left.
    for (n, outcome) in [(1, "matched"), (0, "unmatched")] {
        let mut anon = Browser::new(&bff.base);
        assert_eq!(front_channel(&mut anon, &op, "sid-c").await, 200);
        let lines = bff.lines_with("sid=\"sid-c\"").await;
        assert!(
            lines.iter().any(|l| l.contains(&format!("matched={n}"))),
            "{lines:?}"
        );
        assert_eq!(metric(&mut anon, "frontchannel", outcome).await, 1);
    }
    assert_eq!(c.get("/bff/user").await.status, 401);
}

const WARNING: &str = "ID tokens carry no `sid`";

#[actix_web::test]
async fn the_missing_sid_warning_appears_once_when_the_op_does_front_channel_logout() {
    let op = FakeOp::start().await;
    op.with(|s| {
        s.discovery_overrides
            .insert("frontchannel_logout_supported".into(), json!(true))
    });
    let bff = Proc::start(&op.issuer, json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    assert!(
        !bff.logs().contains(WARNING),
        "ID tokens with sid: no warning"
    );
    op.with(|s| s.tweaks.omit_sid = true);
    for _ in 0..3 {
        let mut b = Browser::new(&bff.base);
        assert_eq!(b.login().await.location(), "/");
    }
    let lines = bff.lines_with(WARNING).await;
    assert_eq!(lines.len(), 1, "once:\n{}", bff.logs());
    assert!(lines[0].contains("WARN"), "{}", lines[0]);
    assert!(
        lines[0].contains("back-channel logout by `sub`"),
        "{}",
        lines[0]
    );
}

#[actix_web::test]
async fn without_the_op_saying_so_the_first_front_channel_request_brings_the_warning() {
    let op = FakeOp::start().await;
    op.with(|s| s.tweaks.omit_sid = true);
    let bff = Proc::start(&op.issuer, json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    assert!(!bff.logs().contains(WARNING), "not known to be in use yet");
    assert_eq!(front_channel(&mut b, &op, "user-123").await, 200);
    assert_eq!(b.get("/bff/user").await.status, 200, "unreachable by sid");
    let mut again = Browser::new(&bff.base);
    again.login().await;
    assert_eq!(front_channel(&mut again, &op, "user-123").await, 200);
    assert_eq!(bff.lines_with(WARNING).await.len(), 1, "{}", bff.logs());
}
