//! f17's race, written once: a stale and a new view of one session refresh at the same
//! time against a rotating OP. `refresh_interop` runs it on one BFF, `redis` across two
//! instances sharing a Redis.

use std::time::Duration;

use super::browser::{Browser, Resp};
use super::op::FakeOp;
use super::upstream::Upstream;
use serde_json::Value;

/// The access token a recorded upstream request carried, without `Bearer `.
pub fn bearer(seen: &Value) -> String {
    seen["headers"]["authorization"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("Bearer ")
        .to_string()
}

/// `GET /api/x` with the CSRF header.
pub async fn api(b: &mut Browser) -> Resp {
    b.request("GET", "/api/x", &[("X-CSRF", "1")], None).await
}

/// The access token the upstream got for `GET /api/x` with this browser.
pub async fn token_upstream(b: &mut Browser, up: &Upstream) -> String {
    let res = api(b).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    bearer(&up.last())
}

/// What the race left behind, for the caller's own last checks.
pub struct RaceEnd {
    /// The browser that kept the cookie from before the revoke (on `stale_base`).
    pub stale: Browser,
    /// "stale first" or "new first", for messages.
    pub order: &'static str,
    /// The access token the refreshed and retried upstream call carried.
    pub retried: String,
    /// The one access token both browsers hold afterwards.
    pub token: String,
}

/// `new` is signed in (its BFF uses `up` as `api_endpoint` and `op`, which rotates refresh
/// tokens, and no refresh has happened yet). A second browser on `stale_base` takes its
/// cookies; `new` revokes the access token, which the upstream then refuses. The stale
/// browser's API call (refused, so refreshed and retried) and `new`'s `POST /bff/refresh`
/// run at once, the one `stale_first` names 100 ms ahead, while the OP answers a refresh
/// after 400 ms. Checks: both succeed, the refresh token was spent once, and afterwards
/// both browsers hold one new access token.
pub async fn stale_and_new_refresh_at_once(
    op: &FakeOp,
    up: &Upstream,
    new: &mut Browser,
    stale_base: &str,
    stale_first: bool,
) -> RaceEnd {
    let revoked = token_upstream(new, up).await;
    let mut stale = Browser::new(stale_base);
    stale.jar = new.jar.clone();
    let res = new
        .post("/bff/revoke", Some(r#"{"token":"access_token"}"#))
        .await;
    assert_eq!(res.status, 204);
    up.state
        .lock()
        .unwrap()
        .reject_tokens
        .insert(revoked.clone());
    op.with(|s| s.refresh_delay_ms = 400);

    let later = Duration::from_millis(100);
    let stale_call = async {
        if !stale_first {
            actix_rt::time::sleep(later).await;
        }
        api(&mut stale).await
    };
    let new_call = async {
        if stale_first {
            actix_rt::time::sleep(later).await;
        }
        new.post("/bff/refresh", None).await
    };
    let (s, n) = futures_util::future::join(stale_call, new_call).await;
    let order = if stale_first {
        "stale first"
    } else {
        "new first"
    };
    assert_eq!(
        n.status,
        200,
        "{order}: the new cookie's refresh: {}",
        n.json()
    );
    assert_eq!(
        s.status,
        200,
        "{order}: the stale cookie's refused call, refreshed and retried: {}",
        String::from_utf8_lossy(&s.body)
    );
    assert_eq!(
        op.with(|s| s.counters.refresh),
        1,
        "{order}: the refresh token was spent once"
    );
    let retried = bearer(&up.last());

    op.with(|s| s.refresh_delay_ms = 0);
    let now_new = token_upstream(new, up).await;
    let now_stale = token_upstream(&mut stale, up).await;
    assert_eq!(now_new, now_stale, "{order}: both hold the one new token");
    assert_ne!(now_new, revoked);
    RaceEnd {
        stale,
        order,
        retried,
        token: now_new,
    }
}
