//! Sealing and opening a realistic session cookie: one chunk (~3.6 KB sealed, three
//! tokens) and chunked (~12 KB sealed in four cookies, the session padded with 66
//! groups), with and without the request's `Cookie` header parsing in front.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use oidc_bff::session::chunk::{self, CHUNK_SIZE};
use oidc_bff::session::{CookieJar, Sealer, Session};
use std::hint::black_box;

const NAME: &str = "bff-session";

/// The realistic session (one cookie) and one padded to ~12 KB sealed (four cookies).
fn cases(sealer: &Sealer) -> Vec<(String, Session)> {
    [0usize, 66]
        .into_iter()
        .map(|groups| {
            let s = common::session(groups);
            let sealed = sealer.seal(NAME, &s, common::NOW + 3600);
            let n = chunk::split(&sealed, CHUNK_SIZE).len();
            let plural = if n == 1 { "" } else { "s" };
            (
                format!("{:.1}KB-{n}-cookie{plural}", sealed.len() as f64 / 1000.0),
                s,
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let sealer = Sealer::new(&[[7u8; 32]]);
    let rotated = Sealer::new(&[[9u8; 32], [8u8; 32], [7u8; 32]]);
    let config = common::config(serde_json::json!({}));
    let jar = CookieJar::new(&config);
    let now = common::NOW;
    let exp = now + 3600;

    let mut g = c.benchmark_group("session");
    for (label, s) in cases(&sealer) {
        let label = label.as_str();
        let sealed = sealer.seal(NAME, &s, exp);
        let parts = chunk::split(&sealed, CHUNK_SIZE);
        eprintln!(
            "session {label}: sealed {} bytes, {} cookie(s)",
            sealed.len(),
            parts.len()
        );
        g.throughput(Throughput::Bytes(sealed.len() as u64));

        g.bench_with_input(BenchmarkId::new("seal", label), &s, |b, s| {
            b.iter(|| sealer.seal(black_box(NAME), black_box(s), exp))
        });
        g.bench_with_input(BenchmarkId::new("seal+split", label), &s, |b, s| {
            b.iter(|| {
                let sealed = sealer.seal(NAME, black_box(s), exp);
                chunk::split(&sealed, CHUNK_SIZE)
                    .iter()
                    .map(|p| p.len())
                    .sum::<usize>()
            })
        });
        g.bench_with_input(BenchmarkId::new("open", label), &sealed, |b, sealed| {
            b.iter(|| {
                sealer
                    .open::<Session>(NAME, black_box(sealed), now)
                    .unwrap()
            })
        });
        g.bench_with_input(
            BenchmarkId::new("open_bytes(decrypt only)", label),
            &sealed,
            |b, sealed| b.iter(|| sealer.open_bytes(NAME, black_box(sealed)).unwrap()),
        );
        let plain = sealer.open_bytes(NAME, &sealed).unwrap();
        g.bench_with_input(
            BenchmarkId::new("json_parse_only", label),
            &plain,
            |b, plain| {
                b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(plain)).unwrap())
            },
        );
        g.bench_with_input(
            BenchmarkId::new("open(3 keys, sealed by last)", label),
            &sealed,
            |b, sealed| {
                b.iter(|| {
                    rotated
                        .open::<Session>(NAME, black_box(sealed), now)
                        .unwrap()
                })
            },
        );

        // The whole read path of a proxied request: parse the Cookie header (with a few
        // unrelated cookies around), join the chunks, decrypt, deserialize.
        let cookie_header = {
            let mut v: Vec<String> =
                vec!["_ga=GA1.1.123456789.1700000000".into(), "theme=dark".into()];
            if parts.len() == 1 {
                v.push(format!("{NAME}={sealed}"));
            } else {
                for (i, p) in parts.iter().enumerate() {
                    v.push(format!("{}={p}", chunk::chunk_name(NAME, i)));
                }
            }
            v.join("; ")
        };
        g.bench_with_input(
            BenchmarkId::new("request: cookie header -> Session", label),
            &cookie_header,
            |b, h| {
                b.iter(|| {
                    let req = actix_web::test::TestRequest::default()
                        .insert_header(("cookie", h.as_str()))
                        .to_http_request();
                    jar.open_session::<Session>(&req, &sealer, now)
                        .unwrap()
                        .unwrap()
                })
            },
        );
        // The Cookie-header work every proxied request does before a cache hit: the
        // limits' count and size, and finding and joining the session cookie(s).
        let req = actix_web::test::TestRequest::default()
            .insert_header(("cookie", cookie_header.as_str()))
            .to_http_request();
        g.bench_with_input(
            BenchmarkId::new("request: cookie limits + read_session_raw", label),
            &req,
            |b, req| {
                b.iter(|| {
                    oidc_bff::middleware::limits::cookie_limits(
                        black_box(req.headers()),
                        64,
                        16384,
                    )
                    .unwrap();
                    jar.read_session_raw(black_box(req)).unwrap().unwrap()
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("request: build only (baseline)", label),
            &cookie_header,
            |b, h| {
                b.iter(|| {
                    actix_web::test::TestRequest::default()
                        .insert_header(("cookie", h.as_str()))
                        .to_http_request()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
