//! issue 17: refresh with OPs that do not rotate refresh tokens. Every refresh that is
//! asked for reaches the OP; single flight shares a finished refresh only with requests
//! that still carry the access token it replaced; an answer without `refresh_token` keeps
//! the old one; a refreshed ID token is validated (OIDC Core §12.2).

use std::collections::HashSet;

use crate::support::race::{api, bearer, stale_and_new_refresh_at_once, token_upstream};
use crate::support::upstream::Upstream;
use crate::support::*;
use serde_json::{json, Value};

fn refreshes(op: &FakeOp) -> usize {
    op.with(|s| s.counters.refresh)
}

async fn setup(patch: Value) -> (FakeOp, Upstream, TestBff, Browser) {
    setup_with(patch, 300).await
}

/// A non-rotating OP whose login answer's access token lives `ttl` seconds.
async fn setup_with(patch: Value, ttl: u64) -> (FakeOp, Upstream, TestBff, Browser) {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.without_refresh_token_rotation();
    op.with(|s| s.access_token_ttl = ttl);
    let mut p = json!({"api_endpoint": up.base});
    for (k, v) in patch.as_object().unwrap() {
        p[k] = v.clone();
    }
    let bff = spawn_bff(&op.issuer, p).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    (op, up, bff, b)
}

#[actix_web::test]
async fn three_explicit_refreshes_are_three_grants_and_three_new_access_tokens() {
    let (op, up, _bff, mut b) = setup(json!({})).await;
    let mut tokens = vec![token_upstream(&mut b, &up).await];
    for i in 1..=3 {
        let res = b.post("/bff/refresh", None).await;
        assert_eq!(res.status, 200, "{}", res.json());
        assert_eq!(
            res.json()["hasRefreshToken"],
            true,
            "an answer without refresh_token keeps the old one"
        );
        assert_eq!(refreshes(&op), i, "refresh {i} reached the OP");
        tokens.push(token_upstream(&mut b, &up).await);
    }
    let distinct: HashSet<&String> = tokens.iter().collect();
    assert_eq!(
        distinct.len(),
        4,
        "the login's token and three new ones upstream: {tokens:?}"
    );
    // The OP still knows only the one refresh token of the login: it was kept and used.
    assert_eq!(op.with(|s| s.live_refresh_tokens.len()), 1);
    assert_eq!(
        b.get("/bff/user").await.json()["session"]["hasRefreshToken"],
        true
    );
}

#[actix_web::test]
async fn ten_concurrent_api_calls_after_expiry_cause_one_grant() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.without_refresh_token_rotation();
    op.with(|s| {
        s.access_token_ttl = 5;
        s.refresh_delay_ms = 300;
    });
    let bff = spawn_bff(
        &op.issuer,
        json!({"api_endpoint": up.base, "workers": 2, "refresh_skew": 30}),
    )
    .await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let login_token = op.with(|s| s.issued_tokens[0].clone());
    let cookie = b.cookie_header();
    let urls = (0..10).map(|i| format!("{}/api/call/{i}", bff.base));
    let statuses = get_all_at_once(urls, &[("Cookie", &cookie), ("X-CSRF", "1")]).await;
    assert_eq!(statuses, vec![200; 10]);
    assert_eq!(refreshes(&op), 1, "single flight: one grant for ten calls");
    let seen: HashSet<String> = up.state.lock().unwrap().seen.iter().map(bearer).collect();
    assert_eq!(seen.len(), 1, "all ten carried the one new token: {seen:?}");
    assert!(
        !seen.contains(&login_token),
        "the expired token was replaced"
    );
}

#[actix_web::test]
async fn an_explicit_refresh_right_after_an_automatic_one_reaches_the_op() {
    let (op, up, _bff, mut b) = setup_with(json!({"refresh_skew": 30}), 5).await;
    // The login's token is due; the ones after it are not.
    op.with(|s| s.access_token_ttl = 300);
    let before_auto = b.jar.clone();
    let login_token = op.with(|s| s.issued_tokens[0].clone());
    let auto = api(&mut b).await;
    assert_eq!(auto.status, 200);
    assert_eq!(refreshes(&op), 1, "the proxy refreshed the due token");
    let after_auto = bearer(&up.last());
    assert_ne!(after_auto, login_token);

    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 200);
    assert_eq!(refreshes(&op), 2, "the explicit refresh reached the OP");
    let after_explicit = token_upstream(&mut b, &up).await;
    assert_ne!(after_explicit, after_auto, "a new access token upstream");
    assert_eq!(refreshes(&op), 2);

    // A request whose cookie predates the automatic refresh (it still carries the token
    // that refresh replaced) shares that refresh's result: no grant, its token.
    let mut stale = Browser::new(&b.base);
    stale.jar = before_auto;
    assert_eq!(api(&mut stale).await.status, 200);
    assert_eq!(refreshes(&op), 2, "shared, not a new grant");
    assert_eq!(bearer(&up.last()), after_auto);
}

#[actix_web::test]
async fn a_session_without_an_access_token_refreshes_every_time() {
    // After /bff/revoke the session holds no access token: twice in a row.
    let (op, up, _bff, mut b) = setup(json!({})).await;
    let mut revoked = Vec::new();
    for i in 1..=2 {
        let current = token_upstream(&mut b, &up).await;
        let res = b
            .post("/bff/revoke", Some(r#"{"token":"access_token"}"#))
            .await;
        assert_eq!(res.status, 204);
        revoked.push(current);
        assert_eq!(b.post("/bff/refresh", None).await.status, 200);
        assert_eq!(refreshes(&op), i, "refresh {i} reached the OP");
        let now = token_upstream(&mut b, &up).await;
        assert!(!revoked.contains(&now), "never a revoked token again");
        let active = b.post("/bff/introspect", None).await.json();
        assert_eq!(active["active"], true, "the OP says the new token is live");
    }
}

#[actix_web::test]
async fn a_refreshed_id_token_must_keep_iss_sub_and_aud() {
    let (op, _up, _bff, mut b) = setup(json!({})).await;
    op.with(|s| s.id_token_on_refresh = true);
    let claims = b.get("/bff/user").await.json()["claims"].clone();
    let mut other_sub = serde_json::Map::new();
    other_sub.insert("sub".into(), json!("someone-else"));
    let bad = [
        (
            "another issuer",
            Tweaks {
                iss: Some("http://127.0.0.1:1".into()),
                ..Default::default()
            },
        ),
        (
            "another audience",
            Tweaks {
                aud: Some(json!("another-client")),
                ..Default::default()
            },
        ),
        (
            "another subject",
            Tweaks {
                extra_claims: other_sub,
                ..Default::default()
            },
        ),
    ];
    for (i, (what, tweak)) in bad.into_iter().enumerate() {
        op.tweak(tweak);
        let res = b.post("/bff/refresh", None).await;
        assert_eq!(res.status, 502, "{what}: refused");
        assert_eq!(refreshes(&op), i + 1, "{what}: it did reach the OP");
        let user = b.get("/bff/user").await;
        assert_eq!(user.status, 200, "{what}: the session is kept");
        assert_eq!(user.json()["claims"], claims, "{what}: claims unchanged");
    }
    // A correct one is taken.
    let mut renamed = serde_json::Map::new();
    renamed.insert("name".into(), json!("Renamed"));
    op.tweak(Tweaks {
        extra_claims: renamed,
        ..Default::default()
    });
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
    assert_eq!(b.get("/bff/user").await.json()["claims"]["name"], "Renamed");
}

// f17: with a rotating OP, one refresh token is spent once, also when two requests carry
// it under different views of one session: the cookie from before `POST /bff/revoke` of
// the access token (its upstream call is refused, so it forces a refresh) and the one
// from after it (`POST /bff/refresh`). Both orders; both requests run at the same time.
#[actix_web::test]
async fn a_stale_and_a_new_cookie_refreshing_at_once_spend_a_rotated_refresh_token_once() {
    for stale_first in [true, false] {
        let up = Upstream::start();
        let op = FakeOp::start().await; // rotates refresh tokens
        let bff = spawn_bff(&op.issuer, json!({"api_endpoint": up.base})).await;
        let mut new = Browser::new(&bff.base);
        assert_eq!(new.login().await.location(), "/");
        let end = stale_and_new_refresh_at_once(&op, &up, &mut new, &bff.base, stale_first).await;
        let order = end.order;
        assert_eq!(end.retried, end.token, "{order}: the retry carried it too");
        // The session lives on with the rotated refresh token.
        assert_eq!(new.post("/bff/refresh", None).await.status, 200, "{order}");
        assert_eq!(refreshes(&op), 2, "{order}");
    }
}
