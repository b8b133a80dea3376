//! Several instances behave as one: two oidc-bff processes sharing cookie keys and a real
//! redis-server. Sessions move between them, logouts reach both, one refresh grant for
//! concurrent requests across both, Redis faults give 503 and recover. Skipped (with a
//! message) when redis-server is not installed; scripts/test installs it.

use std::time::{Duration, Instant};

use crate::support::process::{Proc, Redis};
use crate::support::race::{bearer, stale_and_new_refresh_at_once};
use crate::support::upstream::Upstream;
use crate::support::*;
use serde_json::{json, Value};

/// One more BFF process sharing the cookie keys of the others.
async fn instance(op: &FakeOp, mut patch: Value) -> Proc {
    patch["cookie_keys"] = json!([cookie_key(5)]);
    Proc::start(&op.issuer, patch).await
}

/// The same cookies, another instance.
fn move_to(b: &Browser, base: &str) -> Browser {
    let mut other = Browser::new(base);
    other.jar = b.jar.clone();
    other
}

fn modes(redis: &Redis) -> [(&'static str, Value); 2] {
    [
        ("redis sessions", json!({"session_store": redis.url()})),
        (
            "cookie sessions + shared redis",
            json!({"shared_store": redis.url()}),
        ),
    ]
}

async fn post_logout_token(base: &str, op: &FakeOp, sid: &str) -> u16 {
    let token = LogoutToken::new(op).claims(json!({"sid": sid})).encode();
    send_logout_token(base, &token).await.status
}

#[actix_web::test]
async fn sessions_and_logouts_are_shared_between_instances() {
    let Some(redis) = Redis::start() else { return };
    for (mode, patch) in modes(&redis) {
        let op = FakeOp::start().await;
        // Each mode its own OP sessions: the Redis server is shared between the modes.
        let sid = format!("op-session-{}", rand::random::<u32>());
        op.with(|s| s.tweaks.extra_claims.insert("sid".into(), json!(sid)));
        let a = instance(&op, patch.clone()).await;
        let b_inst = instance(&op, patch.clone()).await;
        let mut on_a = Browser::new(&a.base);
        assert_eq!(on_a.login().await.location(), "/", "{mode}");
        let mut on_b = move_to(&on_a, &b_inst.base);
        assert_eq!(
            on_b.get("/bff/user").await.status,
            200,
            "{mode}: a session made on A works on B"
        );
        assert_eq!(post_logout_token(&a.base, &op, &sid).await, 200, "{mode}");
        assert_eq!(
            on_b.get("/bff/user").await.status,
            401,
            "{mode}: logout at A ends it on B at once"
        );
        assert_eq!(on_a.get("/bff/user").await.status, 401, "{mode}");
        // Logout at one instance, replayed cookie at the other.
        op.with(|s| {
            s.tweaks
                .extra_claims
                .insert("sid".into(), json!(format!("{sid}-2")))
        });
        let mut on_a = Browser::new(&a.base);
        on_a.login().await;
        // The cookies as they were before the logout, at B.
        let mut thief = move_to(&on_a, &b_inst.base);
        assert_eq!(on_a.post("/bff/logout", None).await.status, 200);
        assert_eq!(
            thief.get("/bff/user").await.status,
            401,
            "{mode}: ended at A, ended on B"
        );
    }
}

#[actix_web::test]
async fn large_tokens_need_no_chunks_in_redis_mode_and_survive_a_restart() {
    let Some(redis) = Redis::start() else { return };
    let op = FakeOp::start().await;
    op.with(|s| s.access_token_padding = 20_000);
    let patch = json!({"session_store": redis.url()});
    let a = instance(&op, patch.clone()).await;
    let mut b = Browser::new(&a.base);
    assert_eq!(b.login().await.location(), "/");
    assert!(
        b.jar.contains_key("bff-session") && !b.jar.keys().any(|k| k.starts_with("bff-session.")),
        "{:?}",
        b.jar.keys()
    );
    assert!(
        b.jar["bff-session"].len() < 300,
        "the cookie carries only an id"
    );
    drop(a);
    let a2 = instance(&op, patch).await;
    let mut again = move_to(&b, &a2.base);
    assert_eq!(
        again.get("/bff/user").await.status,
        200,
        "no session data lost by a BFF restart"
    );
}

#[actix_web::test]
async fn concurrent_expired_token_requests_across_instances_cause_one_grant() {
    let Some(redis) = Redis::start() else { return };
    for (mode, patch) in modes(&redis) {
        let op = FakeOp::start().await;
        op.with(|s| {
            s.access_token_ttl = 5;
            s.refresh_delay_ms = 300;
        });
        let mut p = patch.clone();
        p["refresh_skew"] = json!(30);
        let a = instance(&op, p.clone()).await;
        let b = instance(&op, p).await;
        let mut first = Browser::new(&a.base);
        first.login().await;
        let cookie = first.cookie_header();
        let urls = (0..10).map(|i| {
            let base = if i % 2 == 0 { &a.base } else { &b.base };
            format!("{base}/bff/userinfo")
        });
        let statuses = get_all_at_once(urls, &[("Cookie", &cookie)]).await;
        assert_eq!(statuses, vec![200; 10], "{mode}");
        assert_eq!(
            op.with(|s| s.counters.refresh),
            1,
            "{mode}: one grant across both instances"
        );
    }
}

#[actix_web::test]
async fn redis_down_gives_quick_503s_and_service_resumes() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let op = FakeOp::start().await;
    let a = instance(
        &op,
        json!({"session_store": redis.url(), "store_timeout_ms": 300}),
    )
    .await;
    let mut b = Browser::new(&a.base);
    b.login().await;
    redis.down();
    let started = Instant::now();
    let res = b.get("/bff/user").await;
    assert_eq!(res.status, 503);
    assert_eq!(res.json()["error"], "store_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded wait: {:?}",
        started.elapsed()
    );
    let health = b.get("/healthz").await;
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["missing"], json!(["redis"]));
    assert_eq!(b.get("/healthz/live").await.status, 200);
    let metrics = String::from_utf8_lossy(&b.get("/metrics").await.body).to_string();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("bff_store_errors_total{") && !l.ends_with(" 0")),
        "store errors are counted:\n{metrics}"
    );
    let login = b.get("/bff/login").await;
    assert_eq!(login.status, 302, "starting a login needs no store");
    redis.up();
    let mut ok = false;
    for _ in 0..100 {
        if b.get("/healthz").await.status == 200 {
            ok = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "readiness came back by itself");
    // Redis restarted empty: the old session is gone, a new login works.
    let mut fresh = Browser::new(&a.base);
    assert_eq!(fresh.login().await.location(), "/");
    assert_eq!(fresh.get("/bff/user").await.status, 200);
}

// issue 17: an OP that does not rotate refresh tokens, two instances on one Redis.
#[actix_web::test]
async fn without_rotation_concurrent_api_calls_share_one_grant_and_explicit_refreshes_all_reach_the_op(
) {
    let Some(redis) = Redis::start() else { return };
    let up = Upstream::start();
    for (mode, patch) in modes(&redis) {
        let op = FakeOp::start().await;
        op.without_refresh_token_rotation();
        op.with(|s| {
            s.access_token_ttl = 5;
            s.refresh_delay_ms = 300;
        });
        let mut p = patch.clone();
        p["refresh_skew"] = json!(30);
        p["api_endpoint"] = json!(up.base);
        let a = instance(&op, p.clone()).await;
        let b = instance(&op, p).await;
        let mut first = Browser::new(&a.base);
        first.login().await;
        op.with(|s| s.access_token_ttl = 300);
        up.state.lock().unwrap().seen.clear();
        let cookie = first.cookie_header();
        let urls = (0..10).map(|i| {
            let base = if i % 2 == 0 { &a.base } else { &b.base };
            format!("{base}/api/n/{i}")
        });
        let statuses = get_all_at_once(urls, &[("Cookie", &cookie), ("X-CSRF", "1")]).await;
        assert_eq!(statuses, vec![200; 10], "{mode}");
        assert_eq!(
            op.with(|s| s.counters.refresh),
            1,
            "{mode}: one grant across both instances"
        );
        let seen: std::collections::HashSet<String> =
            up.state.lock().unwrap().seen.iter().map(bearer).collect();
        assert_eq!(seen.len(), 1, "{mode}: one new token for all ten");

        // Explicit refreshes, alternating instances, each right after the last: every
        // one reaches the OP and brings a new access token upstream.
        let mut on = [Browser::new(&a.base), Browser::new(&b.base)];
        on[0].jar = first.jar.clone();
        // Take up the cookie of the shared refresh (in cookie mode each answer set one).
        assert_eq!(
            on[0]
                .request("GET", "/api/warm", &[("X-CSRF", "1")], None)
                .await
                .status,
            200
        );
        let mut tokens = vec![bearer(&up.last())];
        for i in 0..3 {
            let (x, y) = (i % 2, (i + 1) % 2);
            let res = on[x].post("/bff/refresh", None).await;
            assert_eq!(res.status, 200, "{mode}: refresh {i}");
            assert_eq!(
                op.with(|s| s.counters.refresh),
                2 + i,
                "{mode}: refresh {i} reached the OP"
            );
            on[y].jar = on[x].jar.clone();
            let res = on[y]
                .request("GET", "/api/after", &[("X-CSRF", "1")], None)
                .await;
            assert_eq!(res.status, 200, "{mode}");
            tokens.push(bearer(&up.last()));
            on[x].jar = on[y].jar.clone();
        }
        let distinct: std::collections::HashSet<&String> = tokens.iter().collect();
        assert_eq!(distinct.len(), 4, "{mode}: {tokens:?}");
    }
}

// f17: with a rotating OP, one refresh token is spent once across instances, also when
// the two requests carry it under different views of one session: the cookie from before
// `POST /bff/revoke` of the access token (on instance a; the upstream refuses its token,
// so it forces a refresh) and the one from after it (`POST /bff/refresh` on instance b).
#[actix_web::test]
async fn a_stale_and_a_new_cookie_on_two_instances_spend_a_rotated_refresh_token_once() {
    let Some(redis) = Redis::start() else { return };
    let up = Upstream::start();
    for stale_first in [true, false] {
        let op = FakeOp::start().await; // rotates refresh tokens
        let p = json!({"shared_store": redis.url(), "api_endpoint": up.base});
        let a = instance(&op, p.clone()).await;
        let b = instance(&op, p).await;
        let mut new = Browser::new(&b.base);
        new.login().await;
        let end = stale_and_new_refresh_at_once(&op, &up, &mut new, &a.base, stale_first).await;
        let (mut stale, order) = (end.stale, end.order);
        // The session lives on with the rotated refresh token, on either instance.
        assert_eq!(
            stale.post("/bff/refresh", None).await.status,
            200,
            "{order}"
        );
        assert_eq!(op.with(|s| s.counters.refresh), 2, "{order}");
    }
}

// issue 11: route tokens
#[actix_web::test]
async fn client_token_one_grant_across_instances() {
    let Some(redis) = Redis::start() else { return };
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| s.grants.delay_ms = 300);
    let routes =
        json!([{"prefix": "/api/app", "upstream": format!("{}/app", up.base), "token": "client"}]);
    let patch = json!({"shared_store": redis.url(), "routes": routes});
    let a = instance(&op, patch.clone()).await;
    let b = instance(&op, patch).await;
    let urls = (0..100).map(|i| {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        format!("{base}/api/app/{i}")
    });
    let statuses = get_all_at_once(urls, &[("X-CSRF", "1")]).await;
    assert_eq!(statuses, vec![200; 100]);
    assert_eq!(
        op.with(|s| s.grants.client_credentials),
        1,
        "one grant across both instances"
    );
    let token = op.with(|s| s.grants.cc_tokens[0].clone());
    let seen = up.state.lock().unwrap().seen.clone();
    assert!(seen
        .iter()
        .all(|r| r["headers"]["authorization"] == format!("Bearer {token}")));
}

#[actix_web::test]
async fn exchange_single_flight_across_instances() {
    let Some(redis) = Redis::start() else { return };
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| s.grants.delay_ms = 300);
    let routes =
        json!([{"prefix": "/api/x", "upstream": format!("{}/x", up.base), "token_exchange": true}]);
    let patch = json!({"session_store": redis.url(), "routes": routes});
    let a = instance(&op, patch.clone()).await;
    let b = instance(&op, patch).await;
    let mut first = Browser::new(&a.base);
    first.login().await;
    let cookie = first.cookie_header();
    let urls = (0..40).map(|i| {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        format!("{base}/api/x/{i}")
    });
    let statuses = get_all_at_once(urls, &[("X-CSRF", "1"), ("Cookie", &cookie)]).await;
    assert_eq!(statuses, vec![200; 40]);
    assert_eq!(
        op.with(|s| s.grants.exchange),
        1,
        "one exchange across both instances"
    );
}
