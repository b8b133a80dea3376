//! Metrics and the access log of every request: counts by route and status, latency by
//! area, and one log line with the path only (query strings can carry codes and states).

use std::borrow::Cow;
use std::time::Duration;

use actix_web::dev::ServiceResponse;
use actix_web::http::Method;

/// The area of a request and its metrics route: `/api` for every `/api` request (no
/// pattern looked up), else the pattern it matched.
fn area_and_route<B>(path: &str, res: &ServiceResponse<B>) -> (Area, Cow<'static, str>) {
    if path == "/api" || path.starts_with("/api/") {
        return (Area::Api, Cow::Borrowed("/api"));
    }
    let pattern = res.request().match_pattern().map(Cow::Owned);
    if path.starts_with("/bff/") {
        (Area::Bff, pattern.unwrap_or(Cow::Borrowed("/bff/unknown")))
    } else {
        (Area::Other, pattern.unwrap_or(Cow::Borrowed("static")))
    }
}

pub use crate::metrics::Area;

/// issue 13: the route of a request for its server span: for `/api`, the prefix of the
/// route it matched (`/api` when none); else the matched pattern. Never the raw path.
fn span_route(
    path: &str,
    area: Area,
    route: &str,
    config: Option<&crate::config::Config>,
) -> String {
    if area != Area::Api {
        return route.to_string();
    }
    config
        .and_then(|c| crate::proxy::route::route_for(&c.proxy.routes, path))
        .map_or_else(|| route.to_string(), |(r, _)| r.prefix.clone())
}

/// Ends the request's server span, counts and logs one finished request. Every request
/// at `access_log: true` (or debug level); server errors always (readiness probes
/// answering 503 while not ready are not errors).
pub fn record<B>(
    method: &Method,
    path: &str,
    res: &ServiceResponse<B>,
    elapsed: Duration,
    config: Option<&crate::config::Config>,
    server_span: &opentelemetry::Context,
) {
    let status = res.status();
    let (area, route) = area_and_route(path, res);
    crate::telemetry::end_server_span(
        server_span,
        method.as_str(),
        || span_route(path, area, &route, config),
        status.as_u16(),
    );
    let m = crate::metrics::get();
    m.count_request(&route, status);
    m.latency_of(area).observe(elapsed.as_secs_f64());
    let access_log = config.is_some_and(|c| c.log.access_log);
    let (status, ms) = (status.as_u16(), elapsed.as_millis() as u64);
    if status >= 500 && !path.starts_with("/healthz") {
        tracing::warn!(%method, %path, status, ms, "request");
    } else if access_log {
        tracing::info!(%method, %path, status, ms, "request");
    } else {
        tracing::debug!(%method, %path, status, ms, "request");
    }
}
