//! ID-token validation (OIDC Core 3.1.3.7) with the JWKS already cached: RS256 with the
//! test key, one key and five keys in the set, and the parts it is made of.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, DecodingKey};
use oidc_bff::oidc::id_token::{self, Expectations};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let now = common::NOW;
    let nonce = "n-0S6_WzA2Mj";
    let token = common::sign(&common::id_claims(now, nonce, 0), "key-1");
    let big = common::sign(&common::id_claims(now, nonce, 120), "key-1");
    let one = vec![common::rsa_jwk("key-1")];
    // Five keys, the right one last (rotation overlap on a busy OP).
    let five: Vec<_> = (2..=5)
        .map(|i| common::rsa_jwk(&format!("key-{i}")))
        .chain(one.clone())
        .collect();
    let algs = [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ];
    let exp = Expectations {
        issuer: common::ISSUER,
        client_id: common::CLIENT_ID,
        nonce: Some(nonce),
        now,
        skew: 60,
        algs: &algs,
        client_secret: None,
        max_age: None,
        max_iat_age: 600,
    };
    id_token::verify(&token, &one, &exp).expect("the bench token verifies");
    eprintln!(
        "id_token: {} bytes, padded {} bytes",
        token.len(),
        big.len()
    );

    let mut g = c.benchmark_group("id_token");
    g.bench_function("verify RS256 (1 key in JWKS)", |b| {
        b.iter(|| id_token::verify(black_box(&token), &one, &exp).unwrap())
    });
    g.bench_function("verify RS256 (5 keys, kid match)", |b| {
        b.iter(|| id_token::verify(black_box(&token), &five, &exp).unwrap())
    });
    g.bench_function("verify RS256 padded (120 groups)", |b| {
        b.iter(|| id_token::verify(black_box(&big), &one, &exp).unwrap())
    });
    g.bench_function("part: header()", |b| {
        b.iter(|| id_token::header(black_box(&token), &algs).unwrap())
    });
    g.bench_function("part: DecodingKey::from_jwk (per call today)", |b| {
        b.iter(|| DecodingKey::from_jwk(black_box(&one[0])).unwrap())
    });
    let key = DecodingKey::from_jwk(&one[0]).unwrap();
    let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
    v.set_issuer(&[common::ISSUER]);
    v.set_audience(&[common::CLIENT_ID]);
    v.leeway = 60;
    v.validate_exp = false;
    g.bench_function("part: jsonwebtoken::decode with a prepared key", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
                black_box(&token),
                &key,
                &v,
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
