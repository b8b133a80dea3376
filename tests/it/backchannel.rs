//! Back-Channel Logout 1.0: a valid logout token ends the matching sessions at once; each
//! rejection (§2.6) has its own failing case and changes nothing.

use crate::support::*;
use serde_json::{json, Value};

/// A logout token for the fake OP's default session (`sid` op-session-1, `sub`
/// user-123), with `patch` applied (a `null` removes a claim).
fn logout_token(op: &FakeOp, patch: Value, typ: Option<&str>, key: Option<SigningKey>) -> String {
    let mut token = LogoutToken::new(op)
        .claims(json!({"sid": "op-session-1", "sub": "user-123"}))
        .claims(patch)
        .typ(typ);
    if let Some(key) = key {
        token = token.signed_with(key);
    }
    token.encode()
}

async fn post_token(b: &mut Browser, token: &str) -> Resp {
    send_logout_token(&b.base, token).await
}

#[actix_web::test]
async fn a_valid_logout_token_ends_the_op_session_at_once() {
    let (op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let mut other_user = Browser::new(&bff.base);
    op.with(|s| {
        s.tweaks
            .extra_claims
            .insert("sid".into(), json!("op-session-2"))
    });
    other_user.login().await;
    op.with(|s| s.tweaks.extra_claims.clear());
    assert_eq!(b.get("/bff/user").await.status, 200);

    let res = post_token(
        &mut b,
        &logout_token(&op, json!({}), Some("logout+jwt"), None),
    )
    .await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    let user = b.get("/bff/user").await;
    assert_eq!(user.status, 401, "the session of that sid ended");
    assert_eq!(
        other_user.get("/bff/user").await.status,
        200,
        "another OP session is untouched"
    );
    // A new login (a new OP session) works again.
    op.with(|s| {
        s.tweaks
            .extra_claims
            .insert("sid".into(), json!("op-session-3"))
    });
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(b.get("/bff/user").await.status, 200);
}

#[actix_web::test]
async fn sub_only_tokens_end_every_session_of_the_user() {
    let (op, bff) = pair(json!({})).await;
    let mut b1 = Browser::new(&bff.base);
    let mut b2 = Browser::new(&bff.base);
    b1.login().await;
    b2.login().await;
    let res = post_token(
        &mut b1,
        &logout_token(&op, json!({"sid": null}), Some("JWT"), None),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(b1.get("/bff/user").await.status, 401);
    assert_eq!(b2.get("/bff/user").await.status, 401);
}

#[actix_web::test]
async fn each_rejection_is_400_and_changes_nothing() {
    let (op, bff) = pair(json!({})).await;
    let mut b = Browser::new(&bff.base);
    b.login().await;
    let replayed = logout_token(&op, json!({"sid": "some-other-sid"}), None, None);
    assert_eq!(post_token(&mut b, &replayed).await.status, 200);
    let now = now();
    let cases: Vec<(&str, String)> = vec![
        (
            "bad signature",
            logout_token(
                &op,
                json!({}),
                None,
                Some(SigningKey::rsa("rsa_rogue", "key-1")),
            ),
        ),
        (
            "wrong aud",
            logout_token(&op, json!({"aud": "someone-else"}), None, None),
        ),
        (
            "wrong iss",
            logout_token(&op, json!({"iss": "https://evil.example"}), None, None),
        ),
        (
            "old iat",
            logout_token(&op, json!({"iat": now - 3600, "exp": now + 60}), None, None),
        ),
        (
            "future iat",
            logout_token(&op, json!({"iat": now + 3600}), None, None),
        ),
        (
            "missing iat",
            logout_token(&op, json!({"iat": null}), None, None),
        ),
        ("replayed jti", replayed),
        (
            "missing jti",
            logout_token(&op, json!({"jti": null}), None, None),
        ),
        (
            "missing events",
            logout_token(&op, json!({"events": null}), None, None),
        ),
        (
            "wrong event",
            logout_token(&op, json!({"events": {"urn:other": {}}}), None, None),
        ),
        (
            "nonce present",
            logout_token(&op, json!({"nonce": "n"}), None, None),
        ),
        (
            "neither sid nor sub",
            logout_token(&op, json!({"sid": null, "sub": null}), None, None),
        ),
        (
            "expired",
            logout_token(&op, json!({"exp": now - 600}), None, None),
        ),
        (
            "wrong typ",
            logout_token(&op, json!({}), Some("at+jwt"), None),
        ),
        ("not a JWT", "garbage".into()),
    ];
    for (name, token) in cases {
        let res = post_token(&mut b, &token).await;
        assert_eq!(res.status, 400, "{name}");
        let v: Value = serde_json::from_slice(&res.body).unwrap();
        assert_eq!(v["error"], "invalid_request", "{name}");
        assert_eq!(
            b.get("/bff/user").await.status,
            200,
            "{name}: the session must survive"
        );
    }
    // No logout_token at all.
    let client = awc::Client::default();
    let res = client
        .post(format!("{}/bff/backchannel-logout", bff.base))
        .send_body("x=1")
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}
