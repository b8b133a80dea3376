//! 100 MB up and down through the proxy with flat memory. Its own test binary, so the
//! process's RSS is not shared with other tests running in parallel.

mod support;

use serde_json::{json, Value};
use support::upstream::Upstream;
use support::*;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[actix_web::test]
async fn hundred_megabytes_stream_both_ways_with_flat_memory() {
    use futures_util::StreamExt;
    let up = Upstream::start();
    let (_op, bff) = pair(json!({"api_endpoint": up.base})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .finish();
    let base_rss = rss_kb();

    // Download.
    let mut res = client
        .get(format!("{}/api/big/100", bff.base))
        .insert_header(("Cookie", b.cookie_header()))
        .insert_header(("X-CSRF", "1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut total = 0usize;
    let mut peak = 0u64;
    while let Some(chunk) = res.next().await {
        total += chunk.unwrap().len();
        peak = peak.max(rss_kb());
    }
    assert_eq!(total, 100 << 20);

    // Upload, with a Content-Length (sized stream).
    let chunk = actix_web::web::Bytes::from(vec![b'y'; 1 << 20]);
    let body =
        futures_util::stream::iter((0..100).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let mut res = client
        .post(format!("{}/api/upload", bff.base))
        .insert_header(("Cookie", b.cookie_header()))
        .insert_header(("X-CSRF", "1"))
        .insert_header(("Content-Length", (100u64 << 20).to_string()))
        .send_body(actix_web::body::SizedStream::new(100 << 20, body))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["received"], 100u64 << 20);
    assert_eq!(up.state.lock().unwrap().bytes_received, 100 << 20);
    peak = peak.max(rss_kb());
    // BFF, upstream and client share this process: 100 MB buffered anywhere would show.
    let growth_mb = peak.saturating_sub(base_rss) / 1024;
    assert!(
        growth_mb < 40,
        "memory grew by {growth_mb} MB while streaming 200 MB"
    );
}
