//! Not a benchmark: a helper for `bench/run` that re-seals a real session cookie at a
//! chosen size, so the load test can show how cost grows with the cookie. Built as a
//! `[[bench]]` target (harness = false) so it uses the crate's own `Sealer`, `Session`
//! and chunking and never drifts from the cookie format. Run by `cargo bench` without
//! arguments it does nothing.
//!
//!   mint_session --key BASE64 --cookie 'bff-session=…' [--name bff-session]
//!                [--target BYTES] [--age SECONDS] [--idle SECONDS]
//!
//! Opens the session from `--cookie` (the `Cookie` header from a real sign-in), then:
//! * `--target BYTES`: resizes it so the sealed value is at most BYTES long and as
//!   close as it gets: grows by adding a `groups` claim (GUID-like entries, as Entra ID
//!   or Keycloak roles do) to both the claims and the ID token's payload; shrinks by
//!   keeping only the protocol claims and then an HS256-sized ID token (the proxy path
//!   never verifies the stored ID token); the smallest is about 1.2 KB.
//! * `--age SECONDS`: sets `last_seen` that long ago (0 = now). Over 60 s the BFF
//!   re-seals and sends Set-Cookie on every request (the idle window slides).
//!
//! Prints the new `Cookie` header (`name=…` or `name.0=…; name.1=…`) and, on stderr, the
//! sealed size and chunk count.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use oidc_bff::session::chunk::{self, CHUNK_SIZE};
use oidc_bff::session::{Sealer, Session};
use serde_json::{json, Map, Value};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn die(msg: &str) -> ! {
    eprintln!("mint_session: {msg}");
    std::process::exit(2)
}

fn groups(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!(format!(
                    "{:08x}-7d2c-4f1e-9a3b-{:012x}",
                    (i as u64 * 2_654_435_761) as u32,
                    i
                ))
            })
            .collect(),
    )
}

/// `header.payload.signature` with `groups` in the payload (signature kept: it no longer
/// verifies, which the proxy path never checks).
fn pad_jwt(jwt: &str, n: usize, minimal: bool) -> String {
    let mut parts: Vec<String> = jwt.split('.').map(str::to_string).collect();
    if parts.len() != 3 {
        return jwt.to_string();
    }
    let mut payload: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(&parts[1])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if minimal {
        payload.retain(|k, _| PROTOCOL_CLAIMS.contains(&k.as_str()));
        parts[0] = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        parts[2] = URL_SAFE_NO_PAD.encode([0x5au8; 32]);
    }
    if n > 0 {
        payload.insert("groups".into(), groups(n));
    }
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    parts.join(".")
}

const PROTOCOL_CLAIMS: &[&str] = &["iss", "sub", "aud", "exp", "iat", "auth_time", "sid"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(key) = arg(&args, "--key") else {
        return; // `cargo bench` runs every bench target: nothing to do here.
    };
    let key: [u8; 32] = STANDARD
        .decode(key.trim())
        .ok()
        .and_then(|k| k.try_into().ok())
        .unwrap_or_else(|| die("--key must be standard base64 of 32 bytes"));
    let name = arg(&args, "--name").unwrap_or_else(|| "bff-session".into());
    let header = arg(&args, "--cookie").unwrap_or_else(|| die("--cookie is required"));
    let target: Option<usize> =
        arg(&args, "--target").map(|t| t.parse().unwrap_or_else(|_| die("--target: bytes")));
    let age: u64 =
        arg(&args, "--age").map_or(0, |t| t.parse().unwrap_or_else(|_| die("--age: seconds")));
    let idle: u64 = arg(&args, "--idle").map_or(3600, |t| {
        t.parse().unwrap_or_else(|_| die("--idle: seconds"))
    });

    let pairs: Vec<(String, String)> = header
        .split(';')
        .filter_map(|p| {
            p.trim()
                .split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let raw = chunk::join(
        &name,
        |n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()),
        64,
    )
    .unwrap_or_else(|e| die(&format!("cookie: {e}")))
    .unwrap_or_else(|| die(&format!("no {name} cookie in --cookie")));
    let sealer = Sealer::new(&[key]);
    let now = oidc_bff::util::now();
    let (original, _): (Session, u64) = sealer
        .open(&name, &raw, now)
        .unwrap_or_else(|e| die(&format!("cannot open the session: {e}")));

    let mut base = original.clone();
    base.last_seen = now.saturating_sub(age);
    let exp = base.cookie_expiry(idle);
    let seal = |s: &Session| sealer.seal(&name, s, exp);

    let build = |n: usize, minimal_claims: bool, minimal_jwt: bool| {
        let mut s = base.clone();
        if minimal_claims {
            std::sync::Arc::make_mut(&mut s.claims)
                .retain(|k, _| PROTOCOL_CLAIMS.contains(&k.as_str()));
        }
        if n > 0 {
            std::sync::Arc::make_mut(&mut s.claims).insert("groups".into(), groups(n));
        }
        s.id_token = pad_jwt(&base.id_token, n, minimal_jwt);
        s
    };

    let session = match target {
        None => base.clone(),
        Some(t) => {
            // Smallest shape that fits, then as many groups as still fit.
            let shape = [(false, false), (true, false), (true, true)]
                .into_iter()
                .find(|&(c, j)| seal(&build(0, c, j)).len() <= t)
                .unwrap_or_else(|| {
                    eprintln!(
                        "mint_session: {t} bytes is below the smallest session; using the smallest"
                    );
                    (true, true)
                });
            let (mut lo, mut hi) = (0usize, 1usize);
            while seal(&build(hi, shape.0, shape.1)).len() <= t {
                lo = hi;
                hi *= 2;
            }
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if seal(&build(mid, shape.0, shape.1)).len() <= t {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            build(lo, shape.0, shape.1)
        }
    };
    let sealed = seal(&session);
    let parts = chunk::split(&sealed, CHUNK_SIZE);
    let cookie = if parts.len() == 1 {
        format!("{name}={sealed}")
    } else {
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}={p}", chunk::chunk_name(&name, i)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    eprintln!(
        "mint_session: sealed {} bytes in {} cookie(s), Cookie header {} bytes, {} groups",
        sealed.len(),
        parts.len(),
        cookie.len(),
        session
            .claims
            .get("groups")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    );
    println!("{cookie}");
}
