//! Prometheus metrics: requests by route and status, latency for `/bff` and `/api`, logins
//! and refreshes by outcome, upstream errors, OP call latency, store errors. One registry.

use std::sync::LazyLock;
use std::time::Instant;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub logins: IntCounterVec,
    pub refreshes: IntCounterVec,
    pub upstream_errors: IntCounterVec,
    pub op_latency: HistogramVec,
    pub store_errors: IntCounterVec,
    /// issue 17: front- and back-channel logouts by whether they matched a live session.
    pub logouts: IntCounterVec,
    // issue 11: WebSocket
    /// Open proxied WebSocket connections.
    pub websockets_open: IntGauge,
    /// Closed proxied WebSocket connections by reason.
    pub websocket_closes: IntCounterVec,
    // issue 11: route tokens
    pub route_tokens: IntCounterVec,
    /// issue 13: span batches the OTLP exporter could not deliver.
    pub trace_export_failures: IntCounter,
    // issue 13: the admin API
    /// Admin API requests by endpoint and outcome.
    pub admin_requests: IntCounterVec,
}

const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    let _ = registry.register(Box::new(c.clone()));
    c
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()),
        labels,
    )
    .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    let _ = registry.register(Box::new(h.clone()));
    h
}

impl Metrics {
    fn new() -> Self {
        let r = Registry::new();
        Self {
            requests: counter(
                &r,
                "bff_http_requests_total",
                "HTTP requests by route and status",
                &["route", "status"],
            ),
            latency: histogram(
                &r,
                "bff_http_request_duration_seconds",
                "Request latency by area (bff, api, other)",
                &["area"],
            ),
            logins: counter(
                &r,
                "bff_logins_total",
                "Completed callbacks by outcome and failure reason",
                &["outcome", "reason"],
            ),
            refreshes: counter(
                &r,
                "bff_refreshes_total",
                "Refresh-token grants by outcome",
                &["outcome"],
            ),
            upstream_errors: counter(
                &r,
                "bff_upstream_errors_total",
                "Proxy failures by kind",
                &["kind"],
            ),
            op_latency: histogram(
                &r,
                "bff_op_request_duration_seconds",
                "Calls to the OpenID Provider by endpoint",
                &["endpoint"],
            ),
            store_errors: counter(
                &r,
                "bff_store_errors_total",
                "Shared-store (Redis) errors by operation",
                &["operation"],
            ),
            // issue 17
            logouts: counter(
                &r,
                "bff_logouts_total",
                "OP-initiated and admin logouts by channel (backchannel, frontchannel, admin) and outcome (matched, unmatched, unknown: sessions live in cookies)",
                &["channel", "outcome"],
            ),
            // issue 11: WebSocket
            websockets_open: {
                let g = IntGauge::new("bff_websockets_open", "Open proxied WebSocket connections")
                    .unwrap_or_else(|e| panic!("metric bff_websockets_open: {e}"));
                let _ = r.register(Box::new(g.clone()));
                g
            },
            websocket_closes: counter(
                &r,
                "bff_websocket_closes_total",
                "Closed proxied WebSocket connections by reason (browser, upstream, session_ended, too_big, protocol_error, gone)",
                &["reason"],
            ),
            // issue 11: route tokens
            route_tokens: counter(
                &r,
                "bff_route_tokens_total",
                "Route tokens by kind (client, exchange) and outcome (issued, cached, shared, refused, error)",
                &["kind", "outcome"],
            ),
            trace_export_failures: {
                let c = IntCounter::new(
                    "bff_trace_export_failures_total",
                    "Span batches the OTLP exporter could not deliver (dropped)",
                )
                .unwrap_or_else(|e| panic!("metric bff_trace_export_failures_total: {e}"));
                let _ = r.register(Box::new(c.clone()));
                c
            },
            // issue 13: the admin API
            admin_requests: counter(
                &r,
                "bff_admin_requests_total",
                "Admin API requests by endpoint (sessions_end, config, other) and outcome (ok, unauthorized, invalid_request, error)",
                &["endpoint", "outcome"],
            ),
            registry: r,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Times an OP call.
    pub fn op_call(&self, endpoint: &'static str) -> OpTimer {
        OpTimer {
            endpoint,
            started: Instant::now(),
        }
    }
}

pub struct OpTimer {
    endpoint: &'static str,
    started: Instant,
}

impl Drop for OpTimer {
    fn drop(&mut self) {
        get()
            .op_latency
            .with_label_values(&[self.endpoint])
            .observe(self.started.elapsed().as_secs_f64());
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn get() -> &'static Metrics {
    &METRICS
}

/// `GET /metrics`.
pub async fn endpoint() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .insert_header(("Cache-Control", "no-store"))
        .body(get().render())
}
