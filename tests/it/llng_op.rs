//! The BFF against a fourth, independently written OP with OIDC Back-Channel Logout:
//! LemonLDAP::NG's portal (Perl), from Debian packages (tests/support/llng_op/): login
//! (code + PKCE S256, client_secret_basic, RS256) through its real login form, userinfo,
//! introspection, refresh, then the session ended *at the OP* (its own logout,
//! `GET /?logout=1`): LemonLDAP::NG posts a logout token to `/bff/backchannel-logout`
//! and the BFF session is gone; and RP-initiated logout through `/bff/logout`. Fails (not
//! skips) when it is not installed, unless `SKIP_LLNG_OP=1`.
//!
//! Quirks met, each pinned by an assertion below that fails if LemonLDAP::NG changes:
//! - **Debian 12's lemonldap-ng 2.16 has no back-channel logout as an OP**: its
//!   discovery says `backchannel_logout_supported: false` and its logout code reads
//!   `# TODO #1194` where the logout token would be sent. Debian 13's 2.21 sends it;
//!   install.sh unpacks those (Perl-only) packages, run by Debian 12's Perl modules.
//! - The logout token is posted *synchronously* during the OP's logout request: when
//!   `GET /?logout=1` answers, the BFF has already recorded the logout.
//! - Logging out at the OP does not end its offline tokens: the access token stays
//!   active at introspection afterwards (the refresh token is an "offline" one, issued
//!   because the client may, `oidcRPMetaDataOptionsAllowOffline`). So without
//!   back-channel logout the BFF session would have lived on.
//! - It grants `offline_access` (a refresh token comes) but leaves it out of the
//!   token response's `scope` (`openid profile email`), and does not list it in
//!   `scopes_supported`.
//! - The ID token carries no profile or email claims (`name`, `email`,
//!   `preferred_username` only at userinfo), though those scopes were granted.
//! - No `iss` on the authorization response (RFC 9207), but a `session_state`.
//! - No `revocation_endpoint` in discovery (the BFF answers 501 to `/bff/revoke`).
//!   `id_token_signing_alg_values_supported` lists `none` and HS256 beside RS256; PKCE
//!   offers `plain`.
//! - Refresh does not revoke the previous access token, nor does the refresh token
//!   rotate (`oidcRPMetaDataOptionsRefreshTokenRotation` is off by default): the
//!   second refresh works with the same one.
//! - RP-initiated logout: the BFF's default logout page POSTs a form from a sandboxed
//!   page, which carries no OP cookie (SameSite=Lax on a cross-site POST). Without its
//!   cookie LemonLDAP::NG redirects to `post_logout_redirect_uri?state=…` at once *and
//!   leaves its SSO session alive* (the next login is silent). With
//!   `end_session_method: "get"` the cookie comes along, and it asks the user to confirm
//!   ("Do you want to logout?", a form with a one-time `confirm` token), then ends its
//!   session, posts a logout token to the BFF too, and redirects with the `state`.
//! - Its session cookie `lemonldap` is set with `domain=.127.0.0.1` and `HttpOnly=1`.
//! - plackup's default server (HTTP::Server::PSGI) reset the connection of the BFF's
//!   token request ("Connection reset by peer"); Debian's starman serves it.

use std::net::TcpListener;
use std::time::Instant;

use serde_json::{json, Value};

use crate::support::demo_op::bearer_of;
use crate::support::dot_op::{form_action, hidden_inputs};
use crate::support::llng_op::*;
use crate::support::upstream::Upstream;
use crate::support::*;

const BACKCHANNEL_LINE: &str = "OIDC back channel: user dwho unlogged from bff";

/// A listener for the BFF first: the OP's client URIs need its origin.
fn bff_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    (listener, origin)
}

async fn api_get(b: &mut Browser, path: &str) -> Resp {
    b.request("GET", path, &[("X-CSRF", "1")], None).await
}

fn body(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

/// The access token the upstream saw on a fresh `/api` call.
async fn current_bearer(b: &mut Browser, up: &Upstream) -> String {
    let res = api_get(b, "/api/whoami").await;
    assert_eq!(res.status, 200, "{}", body(&res));
    bearer_of(&up.last()).expect("the upstream got a bearer token")
}

#[actix_web::test]
async fn llng_op_login_refresh_then_backchannel_logout_from_the_op() {
    let (listener, origin) = bff_listener();
    let Some(op) = LlngOp::start(&origin).await else {
        return;
    };
    assert!(op.version.starts_with("2.21."), "{}", op.version);
    // Its quirks, as its discovery document states them.
    let meta = &op.meta;
    assert_eq!(meta["backchannel_logout_supported"], true, "{meta}");
    assert_eq!(meta["backchannel_logout_session_supported"], true, "{meta}");
    assert!(meta.get("revocation_endpoint").is_none(), "{meta}");
    assert!(
        meta.get("authorization_response_iss_parameter_supported")
            .is_none(),
        "{meta}"
    );
    assert_eq!(
        meta["code_challenge_methods_supported"],
        json!(["plain", "S256"]),
        "{meta}"
    );
    let algs = meta["id_token_signing_alg_values_supported"].to_string();
    assert!(
        algs.contains("\"none\"") && algs.contains("\"RS256\""),
        "{algs}"
    );
    assert!(
        !meta["scopes_supported"]
            .to_string()
            .contains("offline_access"),
        "{meta}"
    );

    let up = Upstream::start();
    let patch = op.bff_patch(json!({
        "routes": [{"prefix": "/api", "upstream": format!("{}/v1", up.base)}],
    }));
    let bff = spawn_bff_on(listener, &op.issuer, patch).await;

    // Login through the portal's form. No `iss` on the callback; a `session_state`.
    let (mut b, agent, callback) = op.sign_in(&bff.base, LLNG_USER).await;
    assert_eq!(query_param(&callback, "iss"), None, "{callback}");
    assert!(
        query_param(&callback, "session_state").is_some(),
        "{callback}"
    );
    assert_eq!(agent.cookie_names(), ["lemonldap"]);
    let session = b.get("/bff/session").await.json();
    assert_eq!(session["isLoggedIn"], true, "{session}");
    let claims = &session["claims"];
    assert_eq!(claims["sub"], LLNG_USER, "{session}");
    assert_eq!(claims["iss"], op.issuer.as_str(), "{session}");
    for absent in ["name", "email", "preferred_username"] {
        assert!(claims.get(absent).is_none(), "{absent}: {session}");
    }
    // offline_access was granted (a refresh token) but is not in the answer's scope.
    assert_eq!(session["session"]["hasRefreshToken"], true, "{session}");
    assert_eq!(
        session["session"]["scope"], "openid profile email",
        "{session}"
    );
    // The profile claims come from userinfo.
    let info = b.get("/bff/userinfo").await;
    assert_eq!(info.status, 200, "{}", body(&info));
    assert_eq!(
        info.json(),
        json!({"sub": "dwho", "name": "Doctor Who", "email": "dwho@badwolf.org",
               "preferred_username": "dwho"})
    );

    // The upstream gets the access token; the OP knows it.
    let first = current_bearer(&mut b, &up).await;
    let intro = b.post("/bff/introspect", None).await;
    assert_eq!(intro.status, 200, "{}", body(&intro));
    let intro = intro.json();
    assert_eq!(intro["active"], true, "{intro}");
    assert_eq!(intro["client_id"], LLNG_CLIENT_ID, "{intro}");
    assert_eq!(intro["sub"], LLNG_USER, "{intro}");
    assert!(
        !intro.to_string().contains(&first),
        "no token in the answer"
    );
    let res = b
        .post("/bff/revoke", Some(r#"{"token":"refresh_token"}"#))
        .await;
    assert_eq!(res.status, 501, "no revocation endpoint: {}", body(&res));

    // Refresh, twice: a new access token each time; the old one stays active, and the
    // refresh token does not rotate (the BFF keeps what it has).
    let mut before = first.clone();
    for round in 0..2 {
        let res = b.post("/bff/refresh", None).await;
        assert_eq!(res.status, 200, "refresh {round}: {}", body(&res));
        assert_eq!(res.json()["hasRefreshToken"], true, "{}", body(&res));
        let after = current_bearer(&mut b, &up).await;
        assert_ne!(after, before, "refresh {round} got a new access token");
        assert_eq!(op.introspect(&before).await["active"], true);
        before = after;
    }
    let current = before;
    assert_eq!(
        b.get("/bff/user").await.json()["claims"]["sub"],
        LLNG_USER,
        "the refreshed ID token names the same user"
    );
    assert!(!op.logs().contains(BACKCHANNEL_LINE), "{}", op.logs());

    // The user logs out at the OP (its portal's logout link), not at the BFF.
    let started = Instant::now();
    let res = agent
        .request(&format!("{}/?logout=1", op.issuer), None)
        .await;
    let at_op = started.elapsed();
    assert_eq!(res.status, 200, "{}", body(&res));
    assert!(
        agent.cookie_names().is_empty(),
        "{:?}",
        agent.cookie_names()
    );
    // The logout token was posted, and accepted, before the OP answered.
    let logs = op.logs();
    assert!(logs.contains(BACKCHANNEL_LINE), "{logs}");
    assert!(!logs.contains("unable to unlog"), "{logs}");
    // So the BFF's very next answer already says signed out: no waiting.
    let started = Instant::now();
    assert_eq!(
        b.get("/bff/session").await.json(),
        json!({"isLoggedIn": false}),
        "the BFF session ended with the OP's logout"
    );
    eprintln!(
        "LemonLDAP::NG logout incl. back-channel: {at_op:?}; BFF says signed out {:?} later",
        started.elapsed()
    );
    assert_eq!(b.get("/bff/user").await.status, 401);
    let res = api_get(&mut b, "/api/whoami").await;
    assert_eq!(res.status, 401, "{}", body(&res));
    let res = b.post("/bff/refresh", None).await;
    assert_eq!(res.status, 401, "{}", body(&res));
    // What back-channel logout bought: the OP's logout left the offline access token
    // active, so the BFF session would have gone on using it.
    assert_eq!(op.introspect(&current).await["active"], true);
    // Signing in again needs the password again.
    let login = Browser::new(&bff.base)
        .get("/bff/login?returnUrl=%2F")
        .await
        .location();
    let page = agent.request(&login, None).await;
    assert_eq!(page.status, 200, "{}", body(&page));
    assert!(body(&page).contains("id=\"lform\""), "{}", body(&page));
    bff.stop().await;
}

/// `/bff/logout` at LemonLDAP::NG: its end-session endpoint needs its session cookie.
/// A cross-site form POST (the BFF's default page) arrives without it: LemonLDAP::NG
/// returns to the BFF at once and its SSO session lives on. A GET (`end_session_method:
/// "get"`) brings the cookie: a confirmation page, then the OP's logout, which also
/// posts a logout token to the BFF.
#[actix_web::test]
async fn llng_op_rp_initiated_logout() {
    let (listener, origin) = bff_listener();
    let Some(op) = LlngOp::start(&origin).await else {
        return;
    };
    let patch = op.bff_patch(json!({"end_session_method": "get"}));
    let bff = spawn_bff_on(listener, &op.issuer, patch).await;
    let (mut b, agent, _) = op.sign_in(&bff.base, "rtyler").await;

    // 1. What the default POST page does, by hand: the end-session parameters as a form,
    //    without the OP's cookie (a cross-site POST from a sandboxed page).
    let end = end_session_url(&mut b).await;
    assert_eq!(b.get("/bff/user").await.status, 401, "ended at the BFF");
    let form: Vec<(String, String)> = url::Url::parse(&end)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let state = query_param(&end, "state").expect("a state");
    assert!(query_param(&end, "id_token_hint").is_some(), "{end}");
    let action = end.split('?').next().unwrap().to_string();
    assert_eq!(action, format!("{}/oauth2/logout", op.issuer));
    let res = op.agent().request(&action, Some(form)).await;
    assert_eq!(res.status, 302, "{}", body(&res));
    assert_eq!(res.location(), format!("{origin}/?state={state}"));
    // ... and the OP's session lives on: the next login is silent.
    let mut b = Browser::new(&bff.base);
    let login = b.get("/bff/login?returnUrl=%2F").await.location();
    let res = agent.request(&login, None).await;
    assert_eq!(res.status, 302, "no login form: {}", body(&res));
    let callback = res.location();
    assert!(
        callback.starts_with(&format!("{origin}/callback?")),
        "{callback}"
    );
    assert_eq!(b.get(&callback).await.status, 302);
    assert_eq!(b.get("/bff/user").await.status, 200);
    assert!(!op.logs().contains("user rtyler unlogged"), "{}", op.logs());

    // 2. By GET, as the browser navigates with `end_session_method: "get"`: the cookie
    //    comes along; LemonLDAP::NG asks to confirm.
    let end = end_session_url(&mut b).await;
    let state = query_param(&end, "state").expect("a state");
    let page = agent.request(&end, None).await;
    assert_eq!(page.status, 200, "{}", body(&page));
    let html = body(&page);
    assert!(html.contains("Do you want to logout?"), "{html}");
    assert_eq!(form_action(&html, "form").as_deref(), Some("#"));
    let fields = hidden_inputs(&html);
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert!(names.contains(&"confirm"), "{names:?}");
    assert!(names.contains(&"id_token_hint"), "{names:?}");
    // "Accept" submits the hidden fields to the page's own URL.
    let res = agent.request(&end, Some(fields)).await;
    assert_eq!(res.status, 302, "{}", body(&res));
    assert_eq!(res.location(), format!("{origin}/?state={state}"));
    assert!(
        agent.cookie_names().is_empty(),
        "{:?}",
        agent.cookie_names()
    );
    // It sent the BFF a logout token for this session too (already ended there).
    let logs = op.logs();
    assert!(logs.contains("user rtyler unlogged from bff"), "{logs}");
    assert!(!logs.contains("unable to unlog"), "{logs}");
    assert_eq!(b.get("/bff/user").await.status, 401);
    assert_eq!(
        b.get("/bff/session").await.json(),
        json!({"isLoggedIn": false})
    );
    // Now the next login needs the password.
    let login = Browser::new(&bff.base)
        .get("/bff/login?returnUrl=%2F")
        .await
        .location();
    let page = agent.request(&login, None).await;
    assert!(body(&page).contains("id=\"lform\""), "{}", body(&page));
    bff.stop().await;
}

/// `POST /bff/logout`, then its page `/bff/logout/end`, which (with `end_session_method:
/// "get"`) redirects to the OP's end-session endpoint: that URL.
async fn end_session_url(b: &mut Browser) -> String {
    let res = b.post("/bff/logout", None).await;
    assert_eq!(res.status, 200, "{}", body(&res));
    let v: Value = res.json();
    let logout_url = v["logoutUrl"].as_str().expect("a logoutUrl").to_string();
    let page = b.get(&logout_url).await;
    assert_eq!(page.status, 302, "{}", body(&page));
    page.location()
}
