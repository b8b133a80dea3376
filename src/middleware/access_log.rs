//! Metrics and the access log of every request: counts by route and status, latency by
//! area, and one log line with the path only (query strings can carry codes and states).

use std::time::Duration;

use actix_web::dev::ServiceResponse;
use actix_web::http::Method;

fn area_and_route(path: &str, pattern: Option<String>) -> (&'static str, String) {
    if path == "/api" || path.starts_with("/api/") {
        ("api", "/api".to_string())
    } else if path.starts_with("/bff/") {
        ("bff", pattern.unwrap_or_else(|| "/bff/unknown".into()))
    } else {
        ("other", pattern.unwrap_or_else(|| "static".into()))
    }
}

/// issue 13: the route of a request for its server span: for `/api`, the prefix of the
/// route it matched (`/api` when none); else the matched pattern. Never the raw path.
pub fn route_of<B>(
    path: &str,
    res: &ServiceResponse<B>,
    config: Option<&crate::config::Config>,
) -> String {
    let (area, route) = area_and_route(path, res.request().match_pattern());
    if area != "api" {
        return route;
    }
    config
        .and_then(|c| crate::proxy::route::route_for(&c.proxy.routes, path))
        .map_or(route, |(r, _)| r.prefix.clone())
}

/// Counts and logs one finished request. Every request at `access_log: true` (or debug
/// level); server errors always (readiness probes answering 503 while not ready are not
/// errors).
pub fn record<B>(
    method: &Method,
    path: &str,
    res: &ServiceResponse<B>,
    elapsed: Duration,
    access_log: bool,
) {
    let status = res.status().as_u16();
    let (area, route) = area_and_route(path, res.request().match_pattern());
    let m = crate::metrics::get();
    m.requests
        .with_label_values(&[route.as_str(), &status.to_string()])
        .inc();
    m.latency
        .with_label_values(&[area])
        .observe(elapsed.as_secs_f64());
    let ms = elapsed.as_millis() as u64;
    if status >= 500 && !path.starts_with("/healthz") {
        tracing::warn!(%method, %path, status, ms, "request");
    } else if access_log {
        tracing::info!(%method, %path, status, ms, "request");
    } else {
        tracing::debug!(%method, %path, status, ms, "request");
    }
}
