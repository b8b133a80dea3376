//! issue 13: the effective settings as JSON for `GET /admin/config`, built from the typed
//! `Config` and keyed by the ONE key table, with every key the table marks secret redacted.
//!
//! Every key of the table has a line below (a test checks it). A key marked `secret` is
//! never shown as it is: whole secrets are `"[redacted]"` (or `null` when unset), and the
//! few whose shape is useful (Redis URLs, routes) are shown with their secret parts
//! replaced. `Secret` has no `Serialize`, so a secret-bearing field cannot reach the view
//! through [`View::shown`]; [`View::secret`] takes it and refuses a key the table does not
//! mark secret.

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::source::{lookup, KEYS};
use super::{
    AssertionAudience, BasicEncoding, ClientAuth, Config, EndSessionMethod, GrantParams, ParamsVia,
    Profile, Route, SameSite, Secret, TokenMode,
};

/// What a redacted value reads as.
pub const REDACTED: &str = "[redacted]";

/// The settings in force, by key: `{"settings": {key: value…}, "unknown_keys": […]}`.
pub fn redacted(config: &Config) -> Value {
    let mut v = View::default();
    fill(&mut v, config);
    let mut settings = v.0;
    // A key without a line here (a test forbids it) is not guessed at.
    for key in KEYS {
        settings
            .entry(key.name)
            .or_insert_with(|| json!("[not shown]"));
    }
    json!({
        "settings": settings,
        "unknown_keys": config.unknown_keys,
    })
}

#[derive(Default)]
struct View(Map<String, Value>);

impl View {
    fn is_secret(name: &str) -> bool {
        // A name outside the table is treated as secret: nothing unknown is shown.
        lookup(name).is_none_or(|k| k.secret)
    }

    /// A value that is not secret. A key the table marks secret is redacted anyway.
    fn shown(&mut self, name: &str, value: impl Serialize) {
        debug_assert!(!Self::is_secret(name), "`{name}` is secret: use `secret`");
        let value = if Self::is_secret(name) {
            json!(REDACTED)
        } else {
            serde_json::to_value(value).unwrap_or(Value::Null)
        };
        self.0.insert(name.to_string(), value);
    }

    /// A secret: `"[redacted]"` when set, `null` when not.
    fn secret<T>(&mut self, name: &str, value: Option<&Secret<T>>) {
        self.set(name, value.is_some());
    }

    /// A secret known only to be set (`true`) or not.
    fn set(&mut self, name: &str, is_set: bool) {
        assert!(
            Self::is_secret(name),
            "`{name}` holds a secret: mark its row `secret(…)` in the key table"
        );
        let value = if is_set { json!(REDACTED) } else { Value::Null };
        self.0.insert(name.to_string(), value);
    }

    /// A secret key's value with its secret parts already replaced by `[redacted]`.
    fn partly(&mut self, name: &str, value: Value) {
        assert!(
            Self::is_secret(name),
            "`{name}` holds a secret: mark its row `secret(…)` in the key table"
        );
        self.0.insert(name.to_string(), value);
    }
}

fn secs(d: std::time::Duration) -> u64 {
    d.as_secs()
}

fn alg(a: jsonwebtoken::Algorithm) -> String {
    format!("{a:?}")
}

/// A URL with its password (and any query values) replaced; an unparsable one whole.
pub fn redact_url(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return REDACTED.to_string();
    };
    if url.password().is_some() && url.set_password(Some("redacted")).is_err() {
        return REDACTED.to_string();
    }
    if url.query().is_some() {
        let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let mut pairs = url.query_pairs_mut();
        pairs.clear();
        for name in names {
            pairs.append_pair(&name, "redacted");
        }
    }
    url.to_string()
}

fn grant(g: &GrantParams) -> Value {
    json!({
        "scope": g.scope,
        "resource": g.resource,
        "audience": g.audience,
        "requested_token_type": g.requested_token_type,
    })
}

fn token_mode(t: TokenMode) -> &'static str {
    match t {
        TokenMode::User => "user",
        TokenMode::UserOrNone => "user_or_none",
        TokenMode::None => "none",
        TokenMode::Client => "client",
        TokenMode::UserOrClient => "user_or_client",
    }
}

/// A route: header values (API keys) redacted, the upstream without user info.
fn route(r: &Route) -> Value {
    let headers: Map<String, Value> = r
        .headers
        .iter()
        .map(|(n, _)| (n.as_str().to_string(), json!(REDACTED)))
        .collect();
    json!({
        "prefix": r.prefix,
        "upstream": r.base,
        "token": token_mode(r.token),
        "strip_prefix": r.strip_prefix,
        "headers": headers,
        "websocket": r.websocket,
        "client": r.client.as_ref().map(grant),
        "token_exchange": r.exchange.as_ref().map(grant),
    })
}

fn fill(v: &mut View, c: &Config) {
    let given = c.given.expose();
    let (p, s, cl, id, se, st, l, lg, px) = (
        &c.provider,
        &c.server,
        &c.client,
        &c.id_token,
        &c.session,
        &c.store,
        &c.limits,
        &c.log,
        &c.proxy,
    );
    // provider
    v.shown("issuer", &p.issuer);
    v.shown("verify_ssl_server", p.verify_ssl);
    v.shown("ca_file", &p.ca_file);
    v.shown(
        "send_parameters_via",
        match p.params_via {
            ParamsVia::Query => "query",
            ParamsVia::RequestObject => "request_object",
            ParamsVia::Par => "par",
        },
    );
    v.shown("http_timeout", secs(p.http_timeout));
    v.shown("silent_login", p.silent_login);
    v.shown(
        "end_session_method",
        match p.end_session_method {
            EndSessionMethod::Post => "post",
            EndSessionMethod::Get => "get",
        },
    );
    // server
    v.shown("base_url", s.base_url.as_str());
    v.shown("allowed_origins", &s.allowed_origins);
    v.shown(
        "insecure_http",
        given.get("insecure_http").and_then(Value::as_bool) == Some(true),
    );
    v.shown("listen", &s.listen);
    v.shown("tls_cert", s.tls.as_ref().map(|t| &t.cert));
    v.shown("tls_key", s.tls.as_ref().map(|t| &t.key));
    v.shown("admin_listen", &s.admin_listen);
    v.secret("admin_token", s.admin_token.as_ref());
    v.shown("spa_dir", &s.spa_dir);
    v.shown("workers", s.workers);
    v.shown("shutdown_grace", secs(s.shutdown_grace));
    // client
    v.shown("client_id", &cl.id);
    v.secret("client_secret", cl.secret.as_ref());
    v.shown("scope", &cl.scope);
    v.shown("redirect_uri", cl.redirect_uri.as_str());
    v.shown(
        "post_logout_redirect_uri",
        cl.post_logout_redirect_uri.as_str(),
    );
    v.shown(
        "token_endpoint_auth_method",
        cl.auth_method.map(ClientAuth::name),
    );
    // The key file's path is shown (its contents never are); the JWK is the key itself.
    v.shown("client_private_key", given.get("client_private_key"));
    v.set(
        "client_private_jwk",
        given.contains_key("client_private_jwk"),
    );
    v.shown(
        "client_key_id",
        cl.key.as_ref().and_then(|k| k.kid.as_ref()),
    );
    v.shown("client_signing_alg", cl.key.as_ref().map(|k| alg(k.alg)));
    v.shown("request_object_signing_alg", cl.request_object_alg.map(alg));
    v.shown(
        "client_assertion_audience",
        match cl.assertion_audience {
            AssertionAudience::TokenEndpoint => "token_endpoint",
            AssertionAudience::Issuer => "issuer",
            AssertionAudience::Endpoint => "endpoint",
        },
    );
    v.shown(
        "client_registration_file",
        cl.registration.as_ref().map(|r| &r.file),
    );
    v.secret(
        "registration_initial_access_token",
        cl.registration
            .as_ref()
            .and_then(|r| r.initial_access_token.as_ref()),
    );
    v.shown("resource", &cl.resource);
    v.shown(
        "client_secret_basic_encoding",
        match cl.basic_encoding {
            BasicEncoding::Form => "form",
            BasicEncoding::Raw => "raw",
        },
    );
    // id_token
    v.shown(
        "id_token_signing_algs",
        id.signing_algs.iter().map(|a| alg(*a)).collect::<Vec<_>>(),
    );
    v.shown("clock_skew", secs(id.clock_skew));
    v.shown(
        "jwks_min_refetch_interval",
        secs(id.jwks_min_refetch_interval),
    );
    // session and store
    v.set("cookie_keys", !se.ephemeral_key);
    let store_url = st.url.as_ref().map(|u| json!(redact_url(u.expose())));
    v.partly(
        "session_store",
        match (&store_url, se.server_side) {
            (Some(u), true) => u.clone(),
            _ => json!("cookie"),
        },
    );
    v.partly("shared_store", store_url.unwrap_or_else(|| json!("memory")));
    v.shown(
        "cookie_same_site",
        match se.same_site {
            SameSite::Strict => "strict",
            SameSite::Lax => "lax",
        },
    );
    v.shown("session_lifetime", secs(se.lifetime));
    v.shown("session_idle_timeout", secs(se.idle_timeout));
    v.shown("login_timeout", secs(se.login_timeout));
    v.shown("refresh_skew", secs(se.refresh_skew));
    v.shown("max_cookie_chunks", se.max_cookie_chunks);
    v.shown("store_timeout_ms", st.timeout.as_millis() as u64);
    // limits
    v.shown("max_bff_body", l.max_bff_body);
    v.shown("max_cookies", l.max_cookies);
    v.shown("max_cookie_header", l.max_cookie_header);
    v.shown("max_header_bytes", l.max_header_bytes);
    v.shown("request_timeout", secs(l.request_timeout));
    v.shown("body_timeout", secs(l.body_timeout));
    v.shown("websocket_max_message", l.websocket_max_message);
    // log
    v.shown("debug", lg.debug);
    v.shown("log_format", if lg.json { "json" } else { "text" });
    v.shown("access_log", lg.access_log);
    // tracing (issue 13): the collector URL has no credentials (validated).
    v.shown(
        "otlp_endpoint",
        lg.otlp_endpoint.as_ref().map(url::Url::as_str),
    );
    v.shown("otel_service_name", lg.service_name.as_str());
    // sender-constrained tokens (issue 12): key files by path, the JWK is the key itself.
    let sd = &c.sender;
    v.shown(
        "profile",
        match sd.profile {
            Profile::Default => "default",
            Profile::Fapi2 => "fapi2",
        },
    );
    v.shown("dpop", sd.dpop.is_some());
    v.set("dpop_private_jwk", given.contains_key("dpop_private_jwk"));
    v.shown("dpop_private_key", given.get("dpop_private_key"));
    v.shown("client_tls_cert", sd.tls_client.as_ref().map(|t| &t.cert));
    v.shown("client_tls_key", sd.tls_client.as_ref().map(|t| &t.key));
    // proxy: `api_endpoint` and `subscription_key` are folded into `routes`.
    v.partly(
        "api_endpoint",
        given
            .get("api_endpoint")
            .and_then(Value::as_str)
            .map(|u| json!(redact_url(u)))
            .unwrap_or(Value::Null),
    );
    v.set("subscription_key", given.contains_key("subscription_key"));
    v.partly(
        "routes",
        Value::Array(px.routes.iter().map(route).collect()),
    );
    v.shown("proxy_connect_timeout", secs(px.connect_timeout));
    v.shown("proxy_timeout", secs(px.timeout));
    v.shown(
        "trusted_proxies",
        px.trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every secret the settings below hold, as written.
    const MARKERS: &[&str] = &[
        "client-secret-4711",
        "initial-token-4711",
        "store-password-4711",
        "subscription-4711",
        "route-header-4711",
        "admin-token-4711-0123456789abcdefghij",
        "api-password-4711",
        // the private JWK's `d`
        "jpsQnnGQmL",
    ];

    fn settings(extra: Value) -> Value {
        let cookie_key =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0xabu8; 32]);
        let mut v = json!({
            "issuer": "https://op.example",
            "client_id": "c",
            "client_secret": "client-secret-4711",
            "base_url": "https://localhost:5443",
            "cookie_keys": [cookie_key],
            "client_registration_file": "/tmp/registration.json",
            "registration_initial_access_token": "initial-token-4711",
            "api_endpoint": "https://user:api-password-4711@api.example/v1",
            "subscription_key": "subscription-4711",
            "client_private_jwk": {
                "kty": "EC", "crv": "P-256", "kid": "k1",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
            },
            "token_endpoint_auth_method": "private_key_jwt",
            // The same key as DPoP proof key: its `d` must not appear there either.
            "dpop": true,
            "dpop_private_jwk": {
                "kty": "EC", "crv": "P-256", "kid": "k1",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
            },
            "routes": [{"prefix": "/api/other", "upstream": "https://other.example",
                        "headers": {"x-api-key": "route-header-4711"}}],
            "admin_listen": "127.0.0.1:0",
            "admin_token": "admin-token-4711-0123456789abcdefghij",
        });
        if let (Value::Object(m), Value::Object(p)) = (&mut v, extra) {
            m.extend(p);
        }
        v
    }

    fn view(extra: Value) -> Value {
        let c = Config::from_value(settings(extra), &BTreeMap::new()).expect("valid");
        redacted(&c)
    }

    #[test]
    fn every_key_of_the_table_has_its_line() {
        let v = view(json!({}));
        let shown = v["settings"].as_object().unwrap();
        for key in KEYS {
            assert!(shown.contains_key(key.name), "{} missing", key.name);
            assert_ne!(shown[key.name], json!("[not shown]"), "{}", key.name);
        }
        assert_eq!(shown.len(), KEYS.len(), "only the table's keys");
    }

    #[test]
    fn no_secret_value_appears_and_every_secret_key_is_redacted() {
        for extra in [
            json!({"shared_store": "redis://:store-password-4711@127.0.0.1:6379/"}),
            json!({"session_store": "redis://u:store-password-4711@127.0.0.1:6379/?password=store-password-4711"}),
        ] {
            let v = view(extra);
            let text = v.to_string();
            let cookie_key =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0xabu8; 32]);
            for secret in MARKERS.iter().copied().chain([cookie_key.as_str()]) {
                assert!(!text.contains(secret), "{secret} shown: {text}");
            }
            let shown = &v["settings"];
            for key in KEYS.iter().filter(|k| k.secret) {
                let value = shown[key.name].to_string();
                assert!(
                    value.contains("[redacted]")
                        || value.contains("redacted@")
                        || shown[key.name] == json!("cookie")
                        || shown[key.name] == json!("memory"),
                    "{}: {value}",
                    key.name
                );
            }
            // What is useful stays.
            assert_eq!(shown["client_id"], "c");
            assert_eq!(shown["routes"][0]["headers"]["x-api-key"], REDACTED);
            assert_eq!(
                shown["api_endpoint"],
                "https://user:redacted@api.example/v1"
            );
            assert_eq!(shown["client_key_id"], "k1");
            assert_eq!(shown["admin_listen"], "127.0.0.1:0");
            assert_eq!(shown["dpop"], true);
            assert_eq!(shown["dpop_private_jwk"], REDACTED);
            assert_eq!(shown["client_secret_basic_encoding"], "form");
        }
    }

    #[test]
    fn unset_secrets_are_null_and_defaults_are_shown() {
        let c = Config::from_value(
            json!({"issuer": "https://op.example", "client_id": "c", "client_secret": "s"}),
            &BTreeMap::new(),
        )
        .expect("valid");
        let v = redacted(&c);
        let s = &v["settings"];
        assert_eq!(s["client_secret"], REDACTED);
        for k in [
            "admin_token",
            "cookie_keys",
            "client_private_jwk",
            "subscription_key",
            "registration_initial_access_token",
            "api_endpoint",
        ] {
            assert_eq!(s[k], Value::Null, "{k}");
        }
        assert_eq!(s["session_store"], "cookie");
        assert_eq!(s["shared_store"], "memory");
        assert_eq!(s["session_lifetime"], 8 * 3600);
        assert_eq!(s["base_url"], "https://localhost:5443/");
        assert_eq!(s["log_format"], "text");
    }

    #[test]
    fn redis_urls_lose_their_password_and_query_values() {
        assert_eq!(
            redact_url("redis://:pw@host:6379/0"),
            "redis://:redacted@host:6379/0"
        );
        assert_eq!(redact_url("rediss://host/"), "rediss://host/");
        assert_eq!(
            redact_url("redis://host/?password=x&db=1"),
            "redis://host/?password=redacted&db=redacted"
        );
        assert_eq!(redact_url("not a url"), REDACTED);
    }

    #[test]
    #[should_panic(expected = "mark its row")]
    fn a_secret_of_an_unmarked_key_is_refused() {
        View::default().secret("client_id", Some(&Secret::new("x".to_string())));
    }
}
