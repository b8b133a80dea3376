//! `/metrics` after a known sequence of requests (its own binary: the registry is global).

mod support;

use serde_json::json;
use support::upstream::Upstream;
use support::*;

fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .find(|l| {
            let rest = &l[name.len()..];
            (rest.starts_with('{') || rest.starts_with(' '))
                && labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[actix_web::test]
async fn metrics_count_a_known_sequence() {
    let up = Upstream::start();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let routes = json!([
        {"prefix": "/api", "upstream": up.base},
        {"prefix": "/api/dead", "upstream": format!("http://127.0.0.1:{dead_port}")}
    ]);
    let (op, bff) = pair(json!({"routes": routes})).await;
    let mut b = Browser::new(&bff.base);
    assert_eq!(b.login().await.location(), "/");
    assert_eq!(
        b.get("/callback?state=nope").await.location(),
        "/?login_error=invalid_state"
    );
    for _ in 0..3 {
        assert_eq!(
            b.request("GET", "/api/data", &[("X-CSRF", "1")], None)
                .await
                .status,
            200
        );
    }
    assert_eq!(
        b.request("GET", "/api/dead/x", &[("X-CSRF", "1")], None)
            .await
            .status,
        502
    );
    assert_eq!(b.post("/bff/refresh", None).await.status, 200);
    assert_eq!(b.request("GET", "/api/data", &[], None).await.status, 403);

    let res = b.get("/metrics").await;
    assert_eq!(res.status, 200);
    let text = String::from_utf8_lossy(&res.body).to_string();
    assert_eq!(
        value(&text, "bff_logins_total", &[("outcome", "success")]),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "bff_logins_total",
            &[("outcome", "failure"), ("reason", "invalid_state")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "bff_http_requests_total",
            &[("route", "/api"), ("status", "200")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            "bff_http_requests_total",
            &[("route", "/api"), ("status", "502")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "bff_http_requests_total",
            &[("route", "/api"), ("status", "403")]
        ),
        1.0
    );
    assert_eq!(
        value(&text, "bff_upstream_errors_total", &[("kind", "connect")]),
        1.0
    );
    assert_eq!(
        value(&text, "bff_refreshes_total", &[("outcome", "success")]),
        1.0
    );
    assert!(
        value(
            &text,
            "bff_http_request_duration_seconds_count",
            &[("area", "api")]
        ) >= 5.0
    );
    assert_eq!(
        value(
            &text,
            "bff_op_request_duration_seconds_count",
            &[("endpoint", "token")]
        ),
        2.0,
        "code + refresh"
    );
    assert!(
        value(
            &text,
            "bff_op_request_duration_seconds_count",
            &[("endpoint", "discovery")]
        ) >= 1.0
    );
    assert_eq!(op.token_calls(), 1);
    // Every answer carries its request id; the upstream got the same one.
    let res = b
        .request(
            "GET",
            "/api/data",
            &[("X-CSRF", "1"), ("X-Request-Id", "trace-me-1")],
            None,
        )
        .await;
    assert_eq!(res.header("x-request-id").as_deref(), Some("trace-me-1"));
    assert_eq!(up.last()["headers"]["x-request-id"], "trace-me-1");
}
