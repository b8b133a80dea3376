//! Unit tests of the whole configuration: defaults, each bad key named, environment
//! overrides, routes, secrets kept out of `Debug`, limits refused rather than clamped.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use super::*;

mod sender;
mod source;

fn base() -> Value {
    json!({
        "issuer": "https://op.example",
        "client_id": "c",
        "client_secret": "s",
        "base_url": "https://localhost:5443"
    })
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// `base()` with `patch` merged in, and `env`.
fn build(patch: Value, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut v = base();
    if let (Value::Object(m), Value::Object(p)) = (&mut v, patch) {
        m.extend(p);
    }
    Config::from_value(v, &env(vars))
}

fn exposed(secret: &Option<Secret<String>>) -> Option<&str> {
    secret.as_ref().map(|s| s.expose().as_str())
}

fn ok(patch: Value) -> Config {
    build(patch, &[]).expect("valid config")
}

fn err(patch: Value, vars: &[(&str, &str)]) -> ConfigError {
    build(patch, vars).expect_err("should fail")
}

#[test]
fn defaults_are_sane() {
    let c = ok(json!({}));
    assert_eq!(
        c.client.redirect_uri.as_str(),
        "https://localhost:5443/callback"
    );
    assert_eq!(c.client.callback_path, "/callback");
    assert_eq!(c.server.listen, "127.0.0.1:5443");
    assert!(c.server.secure_cookies && c.server.https && c.provider.verify_ssl);
    assert!(c.session.ephemeral_key);
    assert_eq!(c.server.origin, "https://localhost:5443");
}

#[test]
fn each_bad_key_is_named() {
    assert_eq!(
        Config::from_value(json!({}), &BTreeMap::new())
            .unwrap_err()
            .key,
        "issuer"
    );
    type Case<'a> = (Value, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (json!({"issuer": "not a url"}), &[], "issuer"),
        (json!({"issuer": "http://op.example"}), &[], "issuer"),
        (json!({"scope": "profile"}), &[], "scope"),
        (
            json!({"verify_ssl_server": "yes"}),
            &[],
            "verify_ssl_server",
        ),
        (
            json!({"send_parameters_via": "carrier pigeon"}),
            &[],
            "send_parameters_via",
        ),
        (json!({"cookie_keys": ["short"]}), &[], "cookie_keys"),
        (json!({"cookie_keys": ["AAAA"]}), &[], "cookie_keys"),
        (json!({"base_url": "http://bff.example"}), &[], "base_url"),
        (
            json!({"redirect_uri": "https://evil.example/cb"}),
            &[],
            "redirect_uri",
        ),
        (json!({"tls_cert": "/nonexistent.pem"}), &[], "tls_key"),
        (json!({"ca_file": "/nonexistent.pem"}), &[], "ca_file"),
        (json!({"listen": "nowhere"}), &[], "listen"),
        (
            json!({"session_store": "memcached://x"}),
            &[],
            "session_store",
        ),
        (json!({"client_secret": null}), &[], "client_secret"),
        (
            json!({"id_token_signing_algs": ["none"]}),
            &[],
            "id_token_signing_algs",
        ),
        (json!({}), &[("BFF_DEBUG", "maybe")], "debug"),
        (
            json!({}),
            &[("BFF_SESSION_LIFETIME", "-1")],
            "session_lifetime",
        ),
    ];
    for (patch, vars, key) in cases {
        assert_eq!(err(patch.clone(), vars).key, *key, "{patch} {vars:?}");
    }
}

#[test]
fn message_is_one_line_naming_the_key() {
    let line = err(json!({"cookie_keys": ["AAAA"]}), &[]).to_string();
    assert!(
        line.contains("`cookie_keys`") && !line.contains('\n'),
        "{line}"
    );
}

#[test]
fn environment_overrides_file() {
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let key2 = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let keys = format!("{key},{key2}");
    let c = build(
        json!({}),
        &[
            ("BFF_CLIENT_SECRET", "from-env"),
            ("BFF_COOKIE_KEYS", &keys),
            ("BFF_DEBUG", "true"),
            ("BFF_SESSION_IDLE_TIMEOUT", "120"),
        ],
    )
    .unwrap();
    assert_eq!(exposed(&c.client.secret), Some("from-env"));
    assert_eq!(c.session.cookie_keys.expose(), &vec![[7u8; 32], [9u8; 32]]);
    assert!(c.log.debug && !c.session.ephemeral_key);
    assert_eq!(c.session.idle_timeout, Duration::from_secs(120));
}

#[test]
fn routes_default_and_explicit() {
    let mut patch = json!({"api_endpoint": "https://api.example/v1", "subscription_key": "k"});
    let c = ok(patch.clone());
    assert_eq!(c.proxy.routes.len(), 1);
    assert_eq!(c.proxy.routes[0].prefix, "/api");
    assert_eq!(
        c.proxy.routes[0].headers[0].0.as_str(),
        "ocp-apim-subscription-key"
    );
    patch["routes"] = json!([
        {"prefix": "/api", "upstream": "https://a.example"},
        {"prefix": "/api/orders/", "upstream": "https://orders.example", "token": "optional", "strip_prefix": false}
    ]);
    let c = ok(patch);
    assert_eq!(
        c.proxy.routes[0].prefix, "/api/orders",
        "longest prefix first"
    );
    assert_eq!(c.proxy.routes[0].token, TokenMode::UserOrNone);
    assert!(!c.proxy.routes[0].strip_prefix);
}

// issue 11: WebSocket
#[test]
fn websocket_settings() {
    let routes = json!([
        {"prefix": "/api", "upstream": "https://a.example"},
        {"prefix": "/api/plain", "upstream": "https://b.example", "websocket": false}
    ]);
    let c = ok(json!({"routes": routes}));
    assert!(!c.proxy.routes[0].websocket && c.proxy.routes[1].websocket);
    assert_eq!(c.limits.websocket_max_message, 1024 * 1024);
    let c = ok(json!({"websocket_max_message": 4096}));
    assert_eq!(c.limits.websocket_max_message, 4096);
    for bad in [json!(0), json!(124), json!(64u64 * 1024 * 1024 + 1)] {
        let e = err(json!({"websocket_max_message": bad}), &[]);
        assert_eq!(e.key, "websocket_max_message");
    }
    let bad_route = json!([{"prefix": "/api", "upstream": "https://a.example", "websocket": "no"}]);
    assert_eq!(err(json!({"routes": bad_route}), &[]).key, "routes");
}

#[test]
fn plain_http_rules() {
    let c = ok(json!({"base_url": "http://localhost:8080"}));
    assert!(!c.server.https && c.server.secure_cookies);
    let c = ok(json!({"base_url": "http://bff.internal", "insecure_http": true}));
    assert!(!c.server.secure_cookies);
}

#[test]
fn unknown_keys_are_reported_not_fatal() {
    let c = ok(json!({"client_sercet": "typo"}));
    assert_eq!(c.unknown_keys, vec!["client_sercet".to_string()]);
}

/// The IP networks `trusted_proxies` was read as.
fn trusted(c: &Config) -> Vec<String> {
    c.proxy
        .trusted_proxies
        .iter()
        .map(|n| n.to_string())
        .collect()
}

// Issue 9 review: peers are compared as IPv4 when IPv4-mapped, so mapped entries are
// taken as the IPv4 address or network they name.
#[test]
fn ipv4_mapped_trusted_proxies_are_ipv4() {
    let c = ok(json!({"trusted_proxies": ["::ffff:10.1.2.3", "::ffff:192.168.0.0/112", "::/0"]}));
    assert_eq!(trusted(&c), ["10.1.2.3/32", "192.168.0.0/16", "::/0"]);
    let peer = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
    let is_trusted = |p| crate::proxy::headers::Hop::is_trusted(&c.proxy.trusted_proxies, p);
    assert!(is_trusted(peer("10.1.2.3")));
    assert!(is_trusted(peer("::ffff:10.1.2.3")));
    assert!(is_trusted(peer("192.168.7.7")));
    assert!(!is_trusted(peer("10.1.2.4")));
}

// Issue 9 (the proxy edge).
#[test]
fn trusted_proxies_and_body_timeout() {
    let c = ok(json!({}));
    assert!(c.proxy.trusted_proxies.is_empty());
    assert_eq!(c.limits.body_timeout, Duration::from_secs(10));
    let c = ok(json!({
        "trusted_proxies": ["127.0.0.1", "10.1.2.3/8", "::1", "fd00::/8"],
        "body_timeout": 3
    }));
    assert_eq!(
        trusted(&c),
        ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"]
    );
    assert_eq!(c.limits.body_timeout, Duration::from_secs(3));
    let c = build(
        json!({}),
        &[("BFF_TRUSTED_PROXIES", "192.168.0.0/16, 2001:db8::1")],
    )
    .unwrap();
    assert_eq!(c.proxy.trusted_proxies.len(), 2);
    for bad in [
        json!(["10.0.0.0/33"]),
        json!(["proxy.example"]),
        json!("10.0.0.1"),
    ] {
        assert_eq!(
            err(json!({ "trusted_proxies": bad }), &[]).key,
            "trusted_proxies"
        );
    }
    assert_eq!(err(json!({"body_timeout": 0}), &[]).key, "body_timeout");
}

// issue 17
#[test]
fn client_assertion_audience_values_and_the_fapi2_hook() {
    use AssertionAudience::*;
    let get = |patch: Value, vars: &[(&str, &str)]| {
        build(patch, vars).map(|c| c.client.assertion_audience)
    };
    assert_eq!(get(json!({}), &[]), Ok(TokenEndpoint));
    for (text, want) in [
        ("token_endpoint", TokenEndpoint),
        ("issuer", Issuer),
        ("endpoint", Endpoint),
    ] {
        assert_eq!(
            get(json!({"client_assertion_audience": text}), &[]),
            Ok(want)
        );
        assert_eq!(
            get(json!({}), &[("BFF_CLIENT_ASSERTION_AUDIENCE", text)]),
            Ok(want)
        );
    }
    let e = err(json!({"client_assertion_audience": "Issuer"}), &[]);
    assert_eq!(e.key, "client_assertion_audience");
    // profile fapi2 (issue 12) forces the issuer.
    assert_eq!(AssertionAudience::parse(None, true), Ok(Issuer));
    assert_eq!(AssertionAudience::parse(Some("issuer"), true), Ok(Issuer));
    assert_eq!(
        AssertionAudience::parse(Some("endpoint"), true)
            .unwrap_err()
            .key,
        "client_assertion_audience"
    );
}

#[test]
fn shared_store_follows_session_store() {
    let redis = "redis://127.0.0.1:6379/";
    for patch in [
        json!({"session_store": redis}),
        json!({"session_store": redis, "shared_store": "memory"}),
    ] {
        let c = ok(patch);
        assert!(c.server_sessions());
        assert_eq!(exposed(&c.store.url), Some(redis));
    }
    let c = ok(json!({"shared_store": redis}));
    assert!(!c.server_sessions());
    assert_eq!(exposed(&c.store.url), Some(redis));
    assert!(ok(json!({})).store.url.is_none());
    for bad in ["memcached://x", "cookie"] {
        assert_eq!(err(json!({"shared_store": bad}), &[]).key, "shared_store");
    }
    assert_eq!(
        err(json!({"session_store": "memory"}), &[]).key,
        "session_store"
    );
}

/// `Config` derives `Debug`: no secret-bearing setting may show in it.
#[test]
fn debug_prints_no_secret() {
    let cookie_key = [0xabu8; 32];
    let cookie_key_text = base64::engine::general_purpose::STANDARD.encode(cookie_key);
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": "k1",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
    });
    let c = ok(json!({
        "client_secret": "client-secret-4711",
        "cookie_keys": [cookie_key_text],
        "client_registration_file": "/tmp/registration.json",
        "registration_initial_access_token": "initial-token-4711",
        "shared_store": "redis://:store-password-4711@127.0.0.1:6379/",
        "api_endpoint": "https://api.example",
        "subscription_key": "subscription-4711",
        "client_private_jwk": jwk,
    }));
    let text = format!("{c:?}");
    let bytes = format!("{:?}", cookie_key.to_vec());
    let bytes = &bytes[1..bytes.len() - 1];
    for secret in [
        "client-secret-4711",
        cookie_key_text.as_str(),
        bytes,
        "initial-token-4711",
        "store-password-4711",
        "subscription-4711",
        "jpsQnnGQmL",
    ] {
        assert!(!text.contains(secret), "Debug shows {secret}: {text}");
    }
    assert!(text.contains("Secret([redacted])"), "{text}");
    assert!(
        text.contains("ocp-apim-subscription-key"),
        "header names stay"
    );
}

/// Limits below their floor (or above their ceiling) are refused naming the key, not
/// silently raised; the bounds themselves are accepted.
#[test]
fn out_of_range_limits_are_refused() {
    let cases = [
        ("max_bff_body", 1023, 1024, None),
        ("max_cookies", 7, 8, None),
        ("max_cookie_header", 4095, 4096, None),
        ("max_header_bytes", 4095, 4096, None),
        ("store_timeout_ms", 49, 50, Some((10_000, 10_001))),
    ];
    for (key, below, floor, ceiling) in cases {
        let e = err(json!({ key: below }), &[]);
        assert_eq!(e.key, key);
        assert!(e.to_string().contains(&floor.to_string()), "{e}");
        let env_name = format!("BFF_{}", key.to_ascii_uppercase());
        assert_eq!(err(json!({}), &[(&env_name, &below.to_string())]).key, key);
        ok(json!({ key: floor }));
        if let Some((max, above)) = ceiling {
            ok(json!({ key: max }));
            assert_eq!(err(json!({ key: above }), &[]).key, key);
        }
    }
    let c = ok(json!({"max_bff_body": 1024, "max_cookies": 8, "store_timeout_ms": 10_000}));
    assert_eq!(c.limits.max_bff_body, 1024);
    assert_eq!(c.limits.max_cookies, 8);
    assert_eq!(c.store.timeout, Duration::from_millis(10_000));
}

// issue 11: route tokens, resource indicators
#[test]
fn route_token_types_and_grant_params() {
    let c = ok(json!({"routes": [
        {"prefix": "/api/a", "upstream": "https://a.example", "token": "client",
         "scope": "api:read", "resource": ["urn:x:a", "urn:x:b"], "audience": "aud-1"},
        {"prefix": "/api/b", "upstream": "https://b.example",
         "token_exchange": {"scope": "s2", "requested_token_type": "urn:ietf:params:oauth:token-type:jwt"},
         "resource": "urn:x:r"},
        {"prefix": "/api/c", "upstream": "https://c.example", "token": "required"},
        {"prefix": "/api/d", "upstream": "https://d.example", "token": "optional"},
        {"prefix": "/api/e", "upstream": "https://e.example", "token": "user_or_client"}
    ], "resource": "https://login.example/api"}));
    let r = |p: &str| c.proxy.routes.iter().find(|r| r.prefix == p).unwrap();
    assert_eq!(r("/api/a").token, TokenMode::Client);
    let cc = r("/api/a").client.clone().unwrap();
    assert_eq!(cc.resource, vec!["urn:x:a", "urn:x:b"]);
    assert_eq!(cc.audience.as_deref(), Some("aud-1"));
    let ex = r("/api/b").exchange.clone().unwrap();
    assert_eq!(r("/api/b").token, TokenMode::User);
    assert_eq!(ex.scope.as_deref(), Some("s2"));
    assert_eq!(ex.resource, vec!["urn:x:r"]);
    assert!(r("/api/b").client.is_none());
    assert_eq!(r("/api/c").token, TokenMode::User);
    assert_eq!(r("/api/d").token, TokenMode::UserOrNone);
    assert!(r("/api/e").client.is_some());
    assert_eq!(c.client.resource, vec!["https://login.example/api"]);
    let c = build(json!({}), &[("BFF_RESOURCE", "urn:a,urn:b")]).unwrap();
    assert_eq!(c.client.resource, vec!["urn:a", "urn:b"]);
}

#[test]
fn route_token_errors_name_the_route() {
    let route = |extra: Value| {
        let mut r = json!({"prefix": "/api/x", "upstream": "https://x.example"});
        if let (Value::Object(m), Value::Object(p)) = (&mut r, extra) {
            m.extend(p);
        }
        err(json!({ "routes": [r] }), &[])
    };
    let cases = [
        (json!({"token": "app"}), "route 0: token `app` is not user, user_or_none, none, client or user_or_client"),
        (json!({"token": "none", "token_exchange": true}), "route 0: token_exchange needs a user token (token user, user_or_none or user_or_client)"),
        (json!({"token": "client", "token_exchange": true}), "route 0: token_exchange needs a user token"),
        (json!({"scope": "a"}), "route 0: scope, resource and audience apply to client tokens and token exchange only"),
        (json!({"token": "client", "resource": "not absolute"}), "route 0: resource `not absolute` is not an absolute URI"),
        (json!({"token": "client", "resource": "https://a.example/#x"}), "must not have a fragment"),
        (json!({"token": "client", "resource": []}), "must not be an empty list"),
        (json!({"token": "client", "resource": ["urn:a", "urn:a"]}), "resource `urn:a` appears twice"),
        (json!({"token": "client", "scope": "a\"b"}), "scope has an invalid character"),
        (json!({"token": "client", "audience": "a b"}), "audience must not be empty or contain spaces"),
        (json!({"token_exchange": {"aud": "x"}}), "token_exchange: unknown key `aud`"),
        (json!({"token_exchange": {"requested_token_type": "jwt"}}), "token_exchange.requested_token_type is not an absolute URI"),
    ];
    for (extra, want) in cases {
        let e = route(extra.clone());
        assert_eq!(e.key, "routes", "{extra}");
        assert!(
            e.message.starts_with(want) || e.message.contains(want),
            "{extra}: {}",
            e.message
        );
    }
    let e = err(json!({"resource": ["urn:a", "rel"]}), &[]);
    assert_eq!(e.key, "resource");
    assert!(
        e.message.contains("`rel` is not an absolute URI"),
        "{}",
        e.message
    );
    let e = err(json!({"resource": 5}), &[]);
    assert_eq!(e.key, "resource");
}

// issue 13
#[test]
fn client_secret_basic_encoding_is_form_or_raw() {
    use crate::config::BasicEncoding::*;
    let get =
        |patch: Value, vars: &[(&str, &str)]| build(patch, vars).map(|c| c.client.basic_encoding);
    assert_eq!(get(json!({}), &[]), Ok(Form));
    assert_eq!(
        get(json!({"client_secret_basic_encoding": "raw"}), &[]),
        Ok(Raw)
    );
    assert_eq!(
        get(json!({"client_secret_basic_encoding": "form"}), &[]),
        Ok(Form)
    );
    assert_eq!(
        get(json!({}), &[("BFF_CLIENT_SECRET_BASIC_ENCODING", "raw")]),
        Ok(Raw)
    );
    for bad in [json!("RAW"), json!("none"), json!(1)] {
        let e = err(json!({ "client_secret_basic_encoding": bad }), &[]);
        assert_eq!(e.key, "client_secret_basic_encoding");
    }
}

// issue 13: the admin API's token.
#[test]
fn admin_token_needs_the_admin_listener_and_a_sound_value() {
    let token = "0123456789abcdef0123456789abcdef";
    let c = ok(json!({"admin_listen": "127.0.0.1:9090", "admin_token": token}));
    assert_eq!(exposed(&c.server.admin_token), Some(token));
    assert!(ok(json!({"admin_listen": "127.0.0.1:9090"}))
        .server
        .admin_token
        .is_none());
    let from_env = build(
        json!({"admin_listen": "127.0.0.1:9090"}),
        &[("BFF_ADMIN_TOKEN", token)],
    )
    .expect("valid");
    assert_eq!(exposed(&from_env.server.admin_token), Some(token));
    let e = err(json!({"admin_token": token}), &[]);
    assert_eq!(e.key, "admin_token");
    assert!(e.message.contains("admin_listen"), "{e}");
    let short = &token[..31];
    let spaced = format!("{} {}", &token[..16], &token[16..]);
    let long = "a".repeat(513);
    for bad in [
        short,
        spaced.as_str(),
        long.as_str(),
        "ümlaut-0123456789abcdef0123456789ab",
    ] {
        let e = err(
            json!({"admin_listen": "127.0.0.1:9090", "admin_token": bad}),
            &[],
        );
        assert_eq!(e.key, "admin_token", "{bad}");
        assert!(!e.to_string().contains(bad), "the value is not echoed: {e}");
    }
}
