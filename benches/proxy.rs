//! The proxy's per-request work outside the network: path check, routing (one route and
//! ten), upstream URL, and request header rewriting for a typical SPA request.

mod common;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use criterion::{criterion_group, criterion_main, Criterion};
use oidc_bff::proxy::{
    headers::request_headers,
    path::check_path,
    route::{route_for, upstream_url},
};
use serde_json::json;
use std::hint::black_box;

fn browser_headers(cookie_len: usize) -> HeaderMap {
    let mut h = HeaderMap::new();
    let cookie = format!("bff-session={}", "A".repeat(cookie_len));
    for (n, v) in [
        ("host", "localhost:18080"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
        ("accept", "application/json"),
        ("accept-language", "en-US,en;q=0.9"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("referer", "http://localhost:18080/"),
        ("x-csrf", "1"),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-mode", "cors"),
        ("sec-fetch-dest", "empty"),
        ("connection", "keep-alive"),
        ("cookie", cookie.as_str()),
    ] {
        h.append(HeaderName::from_static(n), HeaderValue::from_str(v).unwrap());
    }
    h
}

fn bench(c: &mut Criterion) {
    let one = common::config(json!({}));
    let routes: Vec<serde_json::Value> = (0..9)
        .map(|i| json!({"prefix": format!("/api/service{i}"), "upstream": format!("http://10.0.0.{i}:8080/v1"), "headers": {"X-Api-Key": "k"}}))
        .chain(std::iter::once(json!({"prefix": "/api", "upstream": "http://127.0.0.1:18081"})))
        .collect();
    let ten = common::config(json!({ "routes": routes }));
    let path = "/api/orders/12345/items";
    let long = "/api/catalog/v2/products/electronics/computers/laptops/brand%20x/model-2026/reviews/page/17";

    let mut g = c.benchmark_group("proxy");
    g.bench_function("check_path (short)", |b| {
        b.iter(|| check_path(black_box(path)).unwrap())
    });
    g.bench_function("check_path (12 segments, %-encoded)", |b| {
        b.iter(|| check_path(black_box(long)).unwrap())
    });
    g.bench_function("route_for (1 route)", |b| {
        b.iter(|| {
            route_for(&one.proxy.routes, black_box(path))
                .unwrap()
                .1
                .len()
        })
    });
    g.bench_function("route_for (10 routes, last wins)", |b| {
        b.iter(|| {
            route_for(&ten.proxy.routes, black_box(path))
                .unwrap()
                .1
                .len()
        })
    });
    let (route, rest) = route_for(&one.proxy.routes, path).unwrap();
    g.bench_function("upstream_url", |b| {
        b.iter(|| upstream_url(route, black_box(path), black_box(rest), "page=2&size=50"))
    });
    g.bench_function("check+route+url", |b| {
        b.iter(|| {
            check_path(black_box(path)).unwrap();
            let (r, rest) = route_for(&one.proxy.routes, black_box(path)).unwrap();
            upstream_url(r, path, rest, "page=2")
        })
    });
    for cookie_len in [3_300usize, 12_000] {
        let h = browser_headers(cookie_len);
        g.bench_function(
            format!("request_headers (12 browser headers, {cookie_len}-byte cookie)"),
            |b| {
                b.iter(|| {
                    request_headers(
                        black_box(&h),
                        &oidc_bff::proxy::headers::Hop {
                            peer: Some(std::net::IpAddr::from([127, 0, 0, 1])),
                            trusted: false,
                            proto: "http",
                            host: "localhost:8080",
                        },
                        route,
                        Some(&oidc_bff::proxy::headers::Credentials {
                            authorization: "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig".into(),
                            proof: None,
                        }),
                        "rid-0123456789",
                    )
                    .len()
                })
            },
        );
    }
    g.finish();
}

/// issue 12: the cost of DPoP on a proxied request: one proof (a fresh `jti`, `ath`, one
/// signature) per request, ES256 (P-256) and PS256 (RSA 2048).
fn dpop(c: &mut Criterion) {
    use oidc_bff::oidc::dpop::DpopKey;
    // The signatures as the BFF makes them (ring, `oidc::signing`).
    oidc_bff::install_crypto_provider();
    let mut g = c.benchmark_group("dpop");
    // issue 12: one signature, side by side: jsonwebtoken's RustCrypto backend (parses the
    // key and signs portably each call) and ours (ring, the key parsed once).
    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/keys/");
    let ec =
        jsonwebtoken::EncodingKey::from_ec_pem(&std::fs::read(format!("{keys}ec1.pem")).unwrap())
            .unwrap();
    let rs =
        jsonwebtoken::EncodingKey::from_rsa_pem(&std::fs::read(format!("{keys}rsa1.pem")).unwrap())
            .unwrap();
    use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER as RUST_CRYPTO;
    use jsonwebtoken::Algorithm::{ES256, PS256};
    use oidc_bff::oidc::signing::PROVIDER as RING;
    let msg = [b'x'; 300];
    for (name, provider, alg, key) in [
        ("sign ES256 rust_crypto", &RUST_CRYPTO, ES256, &ec),
        ("sign ES256 ring", &RING, ES256, &ec),
        ("sign PS256 rust_crypto", &RUST_CRYPTO, PS256, &rs),
        ("sign PS256 ring", &RING, PS256, &rs),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                (provider.signer_factory)(&alg, key)
                    .unwrap()
                    .try_sign(black_box(&msg))
                    .unwrap()
                    .len()
            })
        });
    }
    let token = "at-".to_string() + &"x".repeat(40);
    let url = "http://127.0.0.1:9000/orders/7";
    let es = DpopKey::generate().expect("key");
    g.bench_function("proof ES256", |b| {
        b.iter(|| {
            es.proof("GET", black_box(url), Some(&token), None)
                .unwrap()
                .len()
        })
    });
    let rsa = oidc_bff::config::ClientKey::load(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/keys/rsa1.pem"
        )),
        None,
        None,
    )
    .expect("rsa key");
    let ps = DpopKey::from_client_key(&rsa).expect("key");
    g.bench_function("proof PS256", |b| {
        b.iter(|| {
            ps.proof("GET", black_box(url), Some(&token), None)
                .unwrap()
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench, dpop);
criterion_main!(benches);
