//! `GET /bff/session` (issue 15): 200 whether or not someone is signed in, with
//! `/bff/user`'s body when signed in; `/bff/user` keeps its 401.

use crate::support::*;
use serde_json::{json, Value};

#[actix_web::test]
async fn signed_out_is_200_is_logged_in_false_and_user_stays_401() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    let res = b.get("/bff/session").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({"isLoggedIn": false}));
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    assert!(res.set_cookies.is_empty(), "{:?}", res.set_cookies);
    // The contract's 401 is unchanged.
    let user = b.get("/bff/user").await;
    assert_eq!(user.status, 401);
    assert_eq!(user.json()["error"], "not_authenticated");
}

#[actix_web::test]
async fn signed_in_is_exactly_the_user_body_plus_is_logged_in() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let user = b.get("/bff/user").await;
    assert_eq!(user.status, 200);
    let session = b.get("/bff/session").await;
    assert_eq!(session.status, 200);
    assert_eq!(session.header("cache-control").as_deref(), Some("no-store"));
    let mut body = session.json();
    assert_eq!(body["isLoggedIn"], Value::Bool(true));
    body.as_object_mut().unwrap().remove("isLoggedIn");
    assert_eq!(body, user.json(), "the same claims and session summary");
    for k in [
        "expiresAt",
        "absoluteExpiresAt",
        "accessTokenExpiresAt",
        "hasAccessToken",
        "hasRefreshToken",
        "scope",
    ] {
        assert!(body["session"].get(k).is_some(), "session.{k} in {body}");
    }
    let text = String::from_utf8_lossy(&session.body);
    assert!(!text.contains("eyJ"), "no token in {text}");
}

#[actix_web::test]
async fn an_ended_or_broken_session_is_logged_out_not_an_error() {
    let (_op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let old = b.jar.clone();
    let res = b.post("/bff/logout", None).await;
    assert_eq!(res.status, 200);
    // The ended session's cookie, replayed.
    b.jar = old;
    let res = b.get("/bff/session").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({"isLoggedIn": false}));
    // A garbage cookie.
    b.jar.insert("bff-session".into(), "garbage".into());
    let res = b.get("/bff/session").await;
    assert_eq!(
        (res.status, res.json()),
        (200, json!({"isLoggedIn": false}))
    );
}

#[actix_web::test]
async fn silent_login_is_offered_when_configured() {
    let (_op, bff) = pair(json!({"silent_login": true})).await;
    let mut b = Browser::new(&bff.base);
    let res = b.get("/bff/session").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        json!({"isLoggedIn": false, "silentLogin": "/bff/silent-login"})
    );
}
