//! issue 12: the OpenID Foundation's `fapi2-security-profile-final-client-test-plan`,
//! module by module, against the fake OP with the BFF in `profile: "fapi2"` (DPoP, PAR,
//! private_key_jwt with the issuer as audience, an ES256 OP). The README's FAPI 2.0 table
//! names these tests; each is named after the plan's module.

use crate::support::upstream::Upstream;
use crate::support::*;
use serde_json::{json, Value};

fn key_path(name: &str) -> String {
    format!(
        "{}/tests/support/keys/{name}.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The profile's settings: DPoP with the test EC key, PAR, private_key_jwt.
fn fapi2_settings(up: &Upstream) -> Value {
    json!({
        "profile": "fapi2",
        "dpop": true,
        "dpop_private_key": key_path("ec1"),
        "send_parameters_via": "par",
        "client_secret": null,
        "token_endpoint_auth_method": "private_key_jwt",
        "client_private_key": key_path(CLIENT_KEY_FILE),
        "api_endpoint": up.base,
    })
}

/// A FAPI 2.0 fake OP (ES256 ID tokens, assertions with the issuer as audience), an
/// upstream that checks DPoP proofs as a resource server, and the BFF in front of them.
async fn fapi2() -> (FakeOp, Upstream, TestBff) {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    let key = SigningKey::ec("ec1", "ec-1");
    op.with(|s| {
        s.signing = key.clone();
        s.published = vec![key];
    });
    op.accept_assertion_aud(AudRule::Issuer);
    let bff = spawn_bff(&op.issuer, fapi2_settings(&up)).await;
    (op, up, bff)
}

async fn api(b: &mut Browser) -> Resp {
    b.request("GET", "/api/accounts", &[("X-CSRF", "1")], None)
        .await
}

/// Asserts a signed-in session whose `/api` call reached the upstream with a DPoP token
/// and a proof that verified there.
async fn assert_dpop_session(b: &mut Browser, up: &Upstream) {
    let res = api(b).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let auth = up.last_values("authorization");
    assert!(
        auth.first().is_some_and(|a| a.starts_with("DPoP ")),
        "{auth:?}"
    );
    assert!(!up.state.lock().unwrap().dpop.proofs.is_empty());
}

/// A login whose callback is refused: no session, and the error code.
async fn refused_login(b: &mut Browser) -> String {
    let location = b.login().await.location();
    assert!(!b.jar.contains_key("bff-session"), "no session: {location}");
    assert_eq!(b.get("/bff/user").await.status, 401);
    location
}

#[actix_web::test]
async fn happy_path() {
    // With nonces demanded by the OP (token and PAR) and by the resource server.
    let (op, up, bff) = fapi2().await;
    op.with(|s| s.dpop.nonce = Some("op-nonce-1".into()));
    up.state.lock().unwrap().dpop.nonce = Some("rs-nonce-1".into());
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_dpop_session(&mut b, &up).await;
    assert!(op.with(|s| s.dpop.nonce_demands) >= 1);
    assert!(up.state.lock().unwrap().dpop.nonce_demands >= 1);
    // Everything a FAPI 2.0 client must do, as the OP saw it.
    op.with(|s| {
        assert_eq!(s.last_authorize_via, "par");
        assert!(s.dpop.proofs.iter().any(|(p, _)| p == "/par"));
        assert!(s.dpop.proofs.iter().any(|(p, _)| p == "/token"));
    });
    assert!(op
        .assertion_auds("/token")
        .iter()
        .all(|a| *a == json!(op.issuer)));
}

#[actix_web::test]
async fn happy_path_no_dpop_nonce() {
    let (op, up, bff) = fapi2().await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_dpop_session(&mut b, &up).await;
    assert_eq!(op.with(|s| s.dpop.nonce_demands), 0);
}

#[actix_web::test]
async fn discovery_issuer_mismatch() {
    let up = Upstream::start();
    let op = FakeOp::start().await;
    op.with(|s| {
        s.discovery_overrides
            .insert("issuer".into(), json!("https://impostor.example"));
    });
    let bff = start_bff_on(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        &op.issuer,
        fapi2_settings(&up),
    );
    actix_rt::time::sleep(std::time::Duration::from_millis(1200)).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.get("/healthz").await.status, 503);
    let res = b
        .request("POST", "/bff/login", &[("X-CSRF", "1")], None)
        .await;
    assert!(res.status >= 500 || res.status == 409, "{}", res.status);
    assert_eq!(op.with(|s| s.counters.par + s.counters.authorize), 0);
}

// One test a module: the ID token of the code exchange deviates, and the login is refused.
macro_rules! id_token_refused {
    ($($name:ident: $tweak:expr;)*) => {$(
        #[actix_web::test]
        async fn $name() {
            let (op, _up, bff) = fapi2().await;
            op.tweak($tweak);
            let mut b = Browser::new(&bff.base);
            assert_eq!(refused_login(&mut b).await, "/?login_error=invalid_id_token");
            assert_eq!(op.token_calls(), 1, "the code was exchanged once");
        }
    )*};
}

id_token_refused! {
    invalid_iss: Tweaks { iss: Some("https://evil.example".into()), ..Default::default() };
    invalid_aud: Tweaks { aud: Some(json!("someone-else")), ..Default::default() };
    invalid_secondary_aud: Tweaks { aud: Some(json!([CLIENT_ID, "untrusted"])), ..Default::default() };
    invalid_null_alg: Tweaks { alg_none: true, ..Default::default() };
    invalid_alternate_alg: Tweaks { sign_with: Some(SigningKey::rsa("rsa1", "ec-1")), ..Default::default() };
    invalid_expired_exp: Tweaks { exp_offset: Some(-3600), ..Default::default() };
    invalid_missing_exp: Tweaks { omit: vec!["exp"], ..Default::default() };
    invalid_missing_aud: Tweaks { omit: vec!["aud"], ..Default::default() };
    invalid_missing_iss: Tweaks { omit: vec!["iss"], ..Default::default() };
    invalid_nonce: Tweaks { nonce: Some("other-nonce".into()), ..Default::default() };
    invalid_missing_nonce: Tweaks { omit_nonce: true, ..Default::default() };
}

#[actix_web::test]
async fn invalid_alternate_alg_even_when_the_op_publishes_the_rsa_key() {
    // The RS256 key is in the OP's JWKS, so only the profile's algorithm list refuses it.
    let (op, _up, bff) = fapi2().await;
    let rsa = SigningKey::rsa("rsa1", "key-1");
    op.with(|s| {
        s.published.push(rsa.clone());
        s.signing = rsa;
    });
    let mut b = Browser::new(&bff.base);
    assert_eq!(
        refused_login(&mut b).await,
        "/?login_error=invalid_id_token"
    );
}

#[actix_web::test]
async fn valid_aud_as_array() {
    let (op, up, bff) = fapi2().await;
    op.tweak(Tweaks {
        aud: Some(json!([CLIENT_ID])),
        ..Default::default()
    });
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_dpop_session(&mut b, &up).await;
}

#[actix_web::test]
async fn invalid_authorization_response_iss() {
    let (op, _up, bff) = fapi2().await;
    op.with(|s| s.iss_override = Some("https://evil.example".into()));
    let mut b = Browser::new(&bff.base);
    assert_eq!(refused_login(&mut b).await, "/?login_error=iss_mismatch");
    assert_eq!(op.token_calls(), 0, "the code is never exchanged");
}

#[actix_web::test]
async fn remove_authorization_response_iss() {
    // Refused even when the OP does not advertise the parameter: the profile needs it.
    let (op, _up, bff) = fapi2().await;
    op.with(|s| {
        s.send_iss = false;
        s.discovery_overrides.insert(
            "authorization_response_iss_parameter_supported".into(),
            json!(false),
        );
    });
    let mut b = Browser::new(&bff.base);
    assert_eq!(refused_login(&mut b).await, "/?login_error=iss_mismatch");
    assert_eq!(op.token_calls(), 0, "the code is never exchanged");
}

/// The callback URL with its `state` replaced (`Some`) or removed (`None`).
fn with_state(callback: &str, state: Option<&str>) -> String {
    let mut url = url::Url::parse(callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "state")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = url.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
    }
    format!("{}?{}", url.path(), url.query().unwrap_or(""))
}

#[actix_web::test]
async fn ensure_authorization_response_with_invalid_state_fails() {
    let (op, _up, bff) = fapi2().await;
    let mut b = Browser::new(&bff.base);
    let callback = b.authorize("/").await;
    let res = b.get(&with_state(&callback, Some("not-the-state"))).await;
    assert_eq!(res.location(), "/?login_error=invalid_state");
    assert!(!b.jar.contains_key("bff-session"));
    assert_eq!(op.token_calls(), 0);
}

#[actix_web::test]
async fn ensure_authorization_response_with_invalid_missing_state_fails() {
    let (op, _up, bff) = fapi2().await;
    let mut b = Browser::new(&bff.base);
    let callback = b.authorize("/").await;
    let res = b.get(&with_state(&callback, None)).await;
    assert!(
        res.location().starts_with("/?login_error="),
        "{}",
        res.location()
    );
    assert!(!b.jar.contains_key("bff-session"));
    assert_eq!(op.token_calls(), 0);
}

#[actix_web::test]
async fn token_endpoint_response_without_expires_in() {
    let (op, up, bff) = fapi2().await;
    op.with(|s| s.omit_expires_in = true);
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_dpop_session(&mut b, &up).await;
    assert_dpop_session(&mut b, &up).await;
    assert_eq!(
        op.with(|s| s.counters.refresh),
        0,
        "no refresh without a reason"
    );
}

#[actix_web::test]
async fn token_type_case_insensitivity() {
    let (op, up, bff) = fapi2().await;
    op.with(|s| s.dpop.token_type = Some("dPoP".into()));
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_dpop_session(&mut b, &up).await;
}

#[actix_web::test]
async fn rs_dpop_auth_scheme_case_insensitivity() {
    // The resource server's use_dpop_nonce challenge spells the scheme `dpop`.
    let (_op, up, bff) = fapi2().await;
    {
        let mut s = up.state.lock().unwrap();
        s.dpop.nonce = Some("rs-nonce".into());
        s.dpop.scheme = Some("dpop");
    }
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_dpop_session(&mut b, &up).await;
    assert_eq!(up.state.lock().unwrap().dpop.nonce_demands, 1);
}

#[actix_web::test]
async fn refresh_token_test() {
    // The resource server refuses every token until the client has refreshed twice; the
    // OP rotates refresh tokens, so the second refresh must use the first one's new token.
    let (op, up, bff) = fapi2().await;
    op.with(|s| s.rotate_refresh_tokens = true);
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    up.state.lock().unwrap().reject_next = 3;
    // 401, refresh, 401 again: the answer goes back to the SPA (one retry per request).
    assert_eq!(api(&mut b).await.status, 401);
    assert_eq!(op.with(|s| s.counters.refresh), 1);
    // The next call: 401, the second refresh (with the rotated token), then 200.
    assert_dpop_session(&mut b, &up).await;
    op.with(|s| {
        assert_eq!(s.counters.refresh, 2);
        assert_eq!(
            s.live_refresh_tokens.len(),
            1,
            "each rotation spent the old one"
        );
    });
    let auth = up.last_values("authorization");
    let token = auth[0].trim_start_matches("DPoP ").to_string();
    assert!(
        op.with(|s| s.dpop.bound.contains_key(&token)),
        "the refreshed token is bound"
    );
}

/// A self-signed client certificate and its key, written to a temporary folder.
fn client_cert() -> (std::path::PathBuf, String, String) {
    let dir = std::env::temp_dir().join(format!("bff-alias-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = rcgen::generate_simple_self_signed(vec!["oidc-bff-test".to_string()]).unwrap();
    let (cert, key) = (dir.join("client.pem"), dir.join("client-key.pem"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    let s = |p: &std::path::Path| p.to_string_lossy().into_owned();
    (dir.clone(), s(&cert), s(&key))
}

#[actix_web::test]
async fn happy_path_with_mtls_endpoint_aliases() {
    // RFC 8705 5 / FAPI 2.0 5.3.2.1: with a client certificate, every back-channel call
    // goes to the OP's mutual-TLS alias; without one, to the plain endpoints.
    let op = FakeOp::start().await;
    let i = op.issuer.clone();
    op.with(|s| {
        s.discovery_overrides.insert(
            "mtls_endpoint_aliases".into(),
            json!({
                "token_endpoint": format!("{i}/mtls/token"),
                "pushed_authorization_request_endpoint": format!("{i}/mtls/par"),
                "userinfo_endpoint": format!("{i}/mtls/userinfo"),
                "revocation_endpoint": format!("{i}/mtls/revoke"),
                "introspection_endpoint": format!("{i}/mtls/introspect"),
            }),
        );
    });
    let paths = |op: &FakeOp| -> Vec<String> {
        op.with(|s| s.trace_headers.iter().map(|(p, _, _)| p.clone()).collect())
    };
    let run = |patch: Value| {
        let issuer = op.issuer.clone();
        async move {
            let bff = spawn_bff(&issuer, patch).await;
            let mut b = Browser::new(&bff.base);
            assert_eq!(b.login().await.location(), "/");
            assert_eq!(b.get("/bff/userinfo").await.status, 200);
            let res = b
                .request("POST", "/bff/introspect", &[("X-CSRF", "1")], None)
                .await;
            assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
            let res = b
                .request("POST", "/bff/logout", &[("X-CSRF", "1")], None)
                .await;
            assert!(res.status < 400, "{}", res.status);
        }
    };
    let (dir, cert, key) = client_cert();
    run(json!({"send_parameters_via": "par", "client_tls_cert": cert, "client_tls_key": key}))
        .await;
    let with_cert = paths(&op);
    for p in [
        "/mtls/par",
        "/mtls/token",
        "/mtls/userinfo",
        "/mtls/introspect",
        "/mtls/revoke",
    ] {
        assert!(with_cert.iter().any(|x| x == p), "{p} in {with_cert:?}");
    }
    for p in ["/par", "/token", "/userinfo", "/introspect", "/revoke"] {
        assert!(
            !with_cert.iter().any(|x| x == p),
            "{p} not in {with_cert:?}"
        );
    }
    op.with(|s| s.trace_headers.clear());
    run(json!({"send_parameters_via": "par"})).await;
    let without = paths(&op);
    assert!(without.iter().any(|x| x == "/token"), "{without:?}");
    assert!(
        !without.iter().any(|x| x.starts_with("/mtls/")),
        "{without:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_test_the_readme_fapi_tables_name_exists() {
    // The README's FAPI 2.0 tables cite tests by name (`file::name`, or a bare name in
    // the plan table, which means this file); each must be a test function here.
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let start = readme.find("### FAPI 2.0").expect("a FAPI 2.0 section");
    let end = start + readme[start..].find("### DPoP and mutual TLS").unwrap();
    let section = &readme[start..end];
    let source = |file: &str| {
        let it = format!("{root}/tests/it/{file}.rs");
        std::fs::read_to_string(&it).unwrap_or_default()
    };
    let lib = |name: &str| {
        [
            "src/oidc/dpop.rs",
            "src/config/tests/sender.rs",
            "src/config/tests/mod.rs",
        ]
        .iter()
        .any(|f| {
            std::fs::read_to_string(format!("{root}/{f}"))
                .unwrap()
                .contains(&format!("fn {name}("))
        })
    };
    let mut checked = 0;
    for row in section.lines().filter(|l| l.starts_with('|')) {
        let last = row.trim_end_matches('|').rsplit('|').next().unwrap_or("");
        for cited in last.split('`').skip(1).step_by(2) {
            let (file, name) = match cited.rsplit_once("::") {
                Some((f, n)) => (f.rsplit("::").next().unwrap(), n),
                None => ("fapi_plan", cited),
            };
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                continue;
            }
            let found = source(file).contains(&format!("fn {name}("))
                || source(file).contains(&format!("    {name}: "))
                || lib(name);
            assert!(found, "README cites `{cited}`, which is not a test");
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} citations found");
}
