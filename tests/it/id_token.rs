//! Each ID-token rule of OIDC Core 3.1.3.7 has its own failing case, plus key rotation
//! (unknown `kid` → one JWKS re-fetch) and its rate limit.

use crate::support::*;
use serde_json::json;

async fn login_with(tweaks: Tweaks) -> String {
    let (op, bff) = pair(json!({})).await;
    op.tweak(tweaks);
    let mut b = Browser::new(&bff.base);
    let res = b.login().await;
    if res.location() != "/" {
        assert!(
            !b.jar.contains_key("bff-session"),
            "failed login must not leave a session"
        );
        assert_eq!(b.get("/bff/user").await.status, 401);
    }
    res.location()
}

const REJECTED: &str = "/?login_error=invalid_id_token";

#[actix_web::test]
async fn a_correct_token_is_accepted() {
    assert_eq!(login_with(Tweaks::default()).await, "/");
}

// One test a rule: a login whose ID token has each of the tweaks is refused.
macro_rules! refused {
    ($($name:ident: $($tweaks:expr),+;)*) => {$(
        #[actix_web::test]
        async fn $name() {
            $(assert_eq!(login_with($tweaks).await, REJECTED, "{}", stringify!($tweaks));)+
        }
    )*};
}

refused! {
    bad_signature: Tweaks { sign_with: Some(SigningKey::rsa("rsa_rogue", "key-1")), ..Default::default() };
    alg_none: Tweaks { alg_none: true, ..Default::default() };
    hs256_signed_with_client_secret_is_not_allow_listed_by_default:
        Tweaks { hs256_secret: Some(CLIENT_SECRET.into()), ..Default::default() };
    wrong_iss: Tweaks { iss: Some("https://evil.example".into()), ..Default::default() };
    wrong_aud: Tweaks { aud: Some(json!("someone-else")), ..Default::default() };
    expired: Tweaks { exp_offset: Some(-3600), ..Default::default() };
    iat_in_the_future_or_too_old:
        Tweaks { iat_offset: Some(3600), ..Default::default() },
        Tweaks { iat_offset: Some(-7200), exp_offset: Some(600), ..Default::default() };
    nonce_mismatch_or_missing:
        Tweaks { nonce: Some("other-nonce".into()), ..Default::default() },
        Tweaks { omit_nonce: true, ..Default::default() };
    missing_sub: Tweaks { omit_sub: true, ..Default::default() };
    missing_id_token: Tweaks { no_id_token: true, ..Default::default() };
}

#[actix_web::test]
async fn several_audiences_need_azp() {
    let aud = Some(json!([CLIENT_ID, "other"]));
    assert_eq!(
        login_with(Tweaks {
            aud: aud.clone(),
            ..Default::default()
        })
        .await,
        REJECTED
    );
    let ok = Tweaks {
        aud: aud.clone(),
        azp: Some(CLIENT_ID.into()),
        ..Default::default()
    };
    assert_eq!(login_with(ok).await, "/");
    let wrong = Tweaks {
        aud,
        azp: Some("other".into()),
        ..Default::default()
    };
    assert_eq!(login_with(wrong).await, REJECTED);
}

#[actix_web::test]
async fn es256_keys_work_too() {
    let (op, bff) = pair(json!({})).await;
    let ec = SigningKey::ec("ec1", "ec-1");
    op.with(|s| {
        s.signing = ec.clone();
        s.published = vec![ec];
    });
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
}

#[actix_web::test]
async fn unknown_kid_triggers_one_refetch_then_rotation_works() {
    let (op, bff) = pair(json!({"jwks_min_refetch_interval": 0})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(op.jwks_calls(), 1);
    // Second login: cached keys, no fetch.
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(op.jwks_calls(), 1, "JWKS is cached");
    // The OP rotates to a new key.
    let k2 = SigningKey::rsa("rsa2", "key-2");
    op.with(|s| {
        s.signing = k2.clone();
        s.published = vec![k2];
    });
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(op.jwks_calls(), 2, "exactly one re-fetch for the new kid");
    // A token naming a kid the OP never published: one re-fetch, then rejection.
    op.tweak(Tweaks {
        sign_with: Some(SigningKey::rsa("rsa_rogue", "never-published")),
        ..Default::default()
    });
    assert_eq!(b.login().await.location(), REJECTED);
    assert_eq!(op.jwks_calls(), 3);
}

#[actix_web::test]
async fn refetch_is_rate_limited() {
    let (op, bff) = pair(json!({"jwks_min_refetch_interval": 300})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    op.tweak(Tweaks {
        sign_with: Some(SigningKey::rsa("rsa_rogue", "unknown-kid")),
        ..Default::default()
    });
    for _ in 0..3 {
        assert_eq!(b.login().await.location(), REJECTED);
    }
    // issue 13: the first unknown kid re-fetches (the first fetch does not count), the
    // others within the interval do not.
    assert_eq!(
        op.jwks_calls(),
        2,
        "unknown kids within the interval do not hammer the OP"
    );
}

/// issue 13: the OP rotates its key right after the BFF fetched the JWKS (as the RP
/// conformance test `oidcc-client-test-signing-key-rotation` does): the next login, with
/// the default `jwks_min_refetch_interval` of 30 s, follows at once.
#[actix_web::test]
async fn a_key_rotated_right_after_the_first_fetch_is_followed_at_once() {
    let op = FakeOp::start().await;
    op.with(|s| s.quirks.rotate_after_jwks = Some(SigningKey::rsa("rsa2", "key-2")));
    let bff = spawn_bff(&op.issuer, json!({"jwks_min_refetch_interval": null})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(op.jwks_calls(), 1);
    assert_eq!(op.with(|s| s.signing.kid.clone()), "key-2", "rotated");
    assert_eq!(b.login().await.location(), "/", "the new kid is followed");
    assert_eq!(op.jwks_calls(), 2);
}

/// issue 13: 20 ID tokens with random unknown kids within the interval cause at most one
/// JWKS fetch after the first.
#[actix_web::test]
async fn random_unknown_kids_cause_at_most_one_refetch_per_interval() {
    let op = FakeOp::start().await;
    let bff = spawn_bff(&op.issuer, json!({"jwks_min_refetch_interval": null})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(op.jwks_calls(), 1);
    for i in 0..20 {
        op.tweak(Tweaks {
            sign_with: Some(SigningKey::rsa(
                "rsa_rogue",
                &format!("random-{i}-{}", rand::random::<u32>()),
            )),
            ..Default::default()
        });
        assert_eq!(b.login().await.location(), REJECTED, "{i}");
    }
    assert_eq!(op.jwks_calls(), 2, "one re-fetch for 20 unknown kids");
    // The OP's real key still works without a fetch.
    op.tweak(Tweaks::default());
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(op.jwks_calls(), 2);
}
