//! The `/api` reverse proxy: path normalisation and routing, header rewriting, the bearer
//! token (refreshed first when due), streamed bodies both ways, one retry on `invalid_token`.

use std::time::Duration;

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use awc::error::SendRequestError;
use percent_encoding::percent_decode_str;

use crate::app::AppState;
use crate::bff::{current_session, save, slide, Http};
use crate::config::{Route, TokenMode};
use crate::error::BffError;
use crate::session::Session;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("the path is not allowed (dot segments, encoded separators or control characters)")]
    BadPath,
    #[error("no route for this path")]
    NoRoute,
    #[error("the upstream did not answer in time")]
    Timeout,
    #[error("the upstream is unreachable: {0}")]
    Connect(String),
    #[error("the upstream failed: {0}")]
    Upstream(String),
}

/// The awc client for upstreams, one per worker (a keep-alive pool per upstream).
pub struct UpstreamClient(pub awc::Client);

impl UpstreamClient {
    pub fn new(tls: std::sync::Arc<rustls::ClientConfig>, connect_timeout: Duration) -> Self {
        let connector = awc::Connector::new()
            .rustls_0_23(tls)
            .timeout(connect_timeout)
            .limit(0)
            .conn_keep_alive(Duration::from_secs(30));
        Self(
            awc::Client::builder()
                .connector(connector)
                .disable_redirects()
                .no_default_headers()
                .timeout(Duration::from_secs(24 * 3600))
                .finish(),
        )
    }
}

/// Accepts a raw (still percent-encoded) request path only when no segment is `.` or
/// `..` (encoded or not), no separator is percent-encoded (`%2f`, `%5c`), and nothing
/// decodes to a backslash or a control character.
pub fn check_path(raw: &str) -> Result<(), ProxyError> {
    if !raw.starts_with('/') {
        return Err(ProxyError::BadPath);
    }
    for segment in raw.split('/') {
        let decoded = percent_decode_str(segment).collect::<Vec<u8>>();
        let lower = segment.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%00") {
            return Err(ProxyError::BadPath);
        }
        if decoded == b"." || decoded == b".." {
            return Err(ProxyError::BadPath);
        }
        if decoded.iter().any(|b| *b == b'\\' || b.is_ascii_control()) {
            return Err(ProxyError::BadPath);
        }
    }
    Ok(())
}

/// The longest-prefix route for `path`, and what follows the prefix (`""` or `/…`).
pub fn route_for<'a>(routes: &'a [Route], path: &'a str) -> Option<(&'a Route, &'a str)> {
    routes.iter().find_map(|r| {
        let rest = path.strip_prefix(r.prefix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some((r, rest))
    })
}

/// The upstream URL: the route's base path, then the remainder (or the whole path when
/// the prefix is kept), then the query. It always stays under the upstream's base.
pub fn upstream_url(route: &Route, path: &str, rest: &str, query: &str) -> String {
    let base = &route.upstream;
    let base_path = base.path().trim_end_matches('/');
    let tail = if route.strip_prefix { rest } else { path };
    let mut url = String::with_capacity(64 + tail.len() + query.len());
    url.push_str(base.scheme());
    url.push_str("://");
    url.push_str(base.host_str().unwrap_or(""));
    if let Some(port) = base.port() {
        url.push(':');
        url.push_str(&port.to_string());
    }
    url.push_str(base_path);
    if tail.is_empty() {
        url.push('/');
    } else {
        url.push_str(tail);
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Headers never forwarded in either direction (RFC 9110 7.6.1 hop-by-hop, and more).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
];

/// Request headers the browser sends that never reach an upstream.
const DROPPED_REQUEST: &[&str] = &[
    "cookie",
    "authorization",
    "host",
    "x-csrf",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-request-id",
    "content-length",
];

fn connection_named(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The upstream request's headers from the browser's.
pub fn request_headers(
    incoming: &HeaderMap,
    peer: Option<&str>,
    proto: &str,
    route: &Route,
    bearer: Option<&str>,
    request_id: &str,
) -> Vec<(HeaderName, HeaderValue)> {
    let named = connection_named(incoming);
    let mut out: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(incoming.len() + 6);
    let mut xff: Option<String> = None;
    for (name, value) in incoming.iter() {
        let n = name.as_str();
        if n == "x-forwarded-for" {
            if let Ok(v) = value.to_str() {
                xff = Some(match xff {
                    Some(prev) => format!("{prev}, {v}"),
                    None => v.to_string(),
                });
            }
            continue;
        }
        if HOP_BY_HOP.contains(&n) || DROPPED_REQUEST.contains(&n) || named.iter().any(|c| c == n) {
            continue;
        }
        out.push((name.clone(), value.clone()));
    }
    if let Some(peer) = peer {
        let v = match xff {
            Some(prev) => format!("{prev}, {peer}"),
            None => peer.to_string(),
        };
        if let Ok(v) = HeaderValue::try_from(v) {
            out.push((HeaderName::from_static("x-forwarded-for"), v));
        }
    }
    out.push((
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_str(proto).unwrap_or(HeaderValue::from_static("https")),
    ));
    if let Some(host) = incoming.get(header::HOST) {
        out.push((HeaderName::from_static("x-forwarded-host"), host.clone()));
    }
    if let Ok(v) = HeaderValue::try_from(request_id) {
        out.push((HeaderName::from_static("x-request-id"), v));
    }
    for (n, v) in &route.headers {
        out.push((n.clone(), v.clone()));
    }
    if let Some(token) = bearer {
        if let Ok(v) = HeaderValue::try_from(format!("Bearer {token}")) {
            out.push((header::AUTHORIZATION, v));
        }
    }
    out
}

/// True for an upstream answer that says the bearer token is no good.
fn is_invalid_token(res: &awc::ClientResponse<impl Sized>) -> bool {
    res.status() == 401
        && res
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.trim_start().to_ascii_lowercase().starts_with("bearer")
                    && v.contains("invalid_token")
            })
}

fn send_error(e: SendRequestError) -> ProxyError {
    let (kind, err) = match e {
        SendRequestError::Timeout => ("timeout", ProxyError::Timeout),
        SendRequestError::Connect(c) => ("connect", ProxyError::Connect(c.to_string())),
        other => ("other", ProxyError::Upstream(other.to_string())),
    };
    crate::metrics::get()
        .upstream_errors
        .with_label_values(&[kind])
        .inc();
    err
}

pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    http: web::Data<Http>,
    upstream: web::Data<UpstreamClient>,
) -> Result<HttpResponse, BffError> {
    let raw_path = req.uri().path();
    check_path(raw_path)?;
    let (route, rest) = route_for(&state.config.routes, raw_path).ok_or(ProxyError::NoRoute)?;

    let mut session: Option<Session> = match route.token {
        TokenMode::None => None,
        TokenMode::Optional => current_session(&req, &state).await.ok(),
        TokenMode::Required => Some(current_session(&req, &state).await?),
    };
    let mut cookies = None;
    if let Some(s) = session.as_mut() {
        match state
            .refresher
            .ensure_fresh(&state, &http.0, s, false)
            .await
        {
            Ok(true) => cookies = Some(save(&req, &state, s).await?),
            Ok(false) => cookies = slide(&req, &state, s).await?,
            Err(BffError::SessionExpired) => {
                return Ok(BffError::SessionExpired
                    .response_with_cookies(state.cookies.clear_session(&req)))
            }
            Err(e) => return Err(e),
        }
    }

    let url = upstream_url(route, raw_path, rest, req.query_string());
    let rid = {
        use actix_web::HttpMessage;
        req.extensions()
            .get::<crate::bff::csrf::RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| crate::bff::csrf::request_id(req.headers()))
    };
    let peer = req.peer_addr().map(|a| a.ip().to_string());
    let proto = state.config.base_url.scheme();
    let method = req.method().clone();
    let content_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let has_body = content_length.is_some_and(|n| n > 0)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let timeout = state.config.proxy_timeout;

    let build = |bearer: Option<&str>| {
        let mut r = upstream
            .0
            .request(method.clone(), &url)
            .no_decompress()
            .timeout(timeout);
        for (n, v) in request_headers(req.headers(), peer.as_deref(), proto, route, bearer, &rid) {
            r = r.append_header((n, v));
        }
        r
    };

    let bearer = session.as_ref().and_then(|s| s.access_token.clone());
    let mut res = if has_body {
        let r = build(bearer.as_deref());
        match content_length {
            Some(len) => r.send_body(SizedStream::new(len, payload)).await,
            None => r.send_stream(payload).await,
        }
    } else {
        build(bearer.as_deref()).send().await
    }
    .map_err(send_error)?;

    // One refresh and one retry when an idempotent, bodyless request's token was refused.
    let retryable = !has_body
        && matches!(
            method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE
        );
    if retryable && bearer.is_some() && is_invalid_token(&res) {
        if let Some(s) = session.as_mut() {
            tracing::info!("upstream refused the access token; refreshing and retrying once");
            match state.refresher.ensure_fresh(&state, &http.0, s, true).await {
                Ok(_) => {
                    cookies = Some(save(&req, &state, s).await?);
                    res = build(s.access_token.as_deref())
                        .send()
                        .await
                        .map_err(send_error)?;
                }
                Err(BffError::SessionExpired) => {
                    return Ok(BffError::SessionExpired
                        .response_with_cookies(state.cookies.clear_session(&req)))
                }
                Err(BffError::NoRefreshToken) => {}
                Err(e) => return Err(e),
            }
        }
    }

    let mut out = HttpResponse::build(res.status());
    let named = connection_named(res.headers());
    for (name, value) in res.headers().iter() {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || n == "set-cookie"
            || n == "content-length"
            || named.iter().any(|c| c == n)
        {
            continue;
        }
        out.append_header((name.clone(), value.clone()));
    }
    for c in cookies.into_iter().flatten() {
        out.cookie(c);
    }
    let status = res.status();
    let length = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if method == Method::HEAD || status == 204 || status == 304 || status.is_informational() {
        return Ok(out.finish());
    }
    Ok(match length {
        Some(len) => out.body(SizedStream::new(len, res)),
        None => out.streaming(res),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(prefix: &str, upstream: &str, strip: bool) -> Route {
        Route {
            prefix: prefix.into(),
            upstream: url::Url::parse(upstream).unwrap(),
            token: TokenMode::Required,
            strip_prefix: strip,
            headers: vec![(
                HeaderName::from_static("x-key"),
                HeaderValue::from_static("k"),
            )],
        }
    }

    #[test]
    fn traversal_forms_are_rejected() {
        for bad in [
            "/api/../etc",
            "/api/%2e%2e/x",
            "/api/%2E%2E/x",
            "/api/.%2e/x",
            "/api/a%2fb",
            "/api/a%2F..%2Fb",
            "/api/a%5c..",
            "/api/a\\b",
            "/api/./x",
            "/api/%00",
            "/api/a%0ab",
            "relative",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        for ok in [
            "/api",
            "/api/",
            "/api/data",
            "/api/a.b/..c/c..",
            "/api/%20x",
            "/api/%e2%9c%93",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn longest_prefix_wins_and_stays_under_the_base() {
        let routes = vec![
            route("/api/orders", "https://orders.example:8443/v2/", true),
            route("/api", "https://api.example", true),
        ];
        let (r, rest) = route_for(&routes, "/api/orders/7").unwrap();
        assert_eq!(
            upstream_url(r, "/api/orders/7", rest, "a=1"),
            "https://orders.example:8443/v2/7?a=1"
        );
        let (r, rest) = route_for(&routes, "/api/ordersx").unwrap();
        assert_eq!(
            upstream_url(r, "/api/ordersx", rest, ""),
            "https://api.example/ordersx"
        );
        let (r, rest) = route_for(&routes, "/api").unwrap();
        assert_eq!(upstream_url(r, "/api", rest, ""), "https://api.example/");
        assert!(route_for(&routes, "/apix").is_none());
        let keep = route("/api", "https://api.example/base", false);
        assert_eq!(
            upstream_url(&keep, "/api/x", "/x", ""),
            "https://api.example/base/api/x"
        );
    }

    #[test]
    fn header_rewriting() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("cookie", "bff-session=secret"),
            ("authorization", "Bearer browser"),
            ("connection", "keep-alive, x-secret"),
            ("x-secret", "1"),
            ("keep-alive", "5"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "x"),
            ("x-forwarded-for", "10.0.0.1"),
            ("accept", "application/json"),
            ("host", "bff.example"),
            ("x-csrf", "1"),
        ] {
            h.append(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        let r = route("/api", "https://api.example", true);
        let out = request_headers(&h, Some("127.0.0.1"), "https", &r, Some("tok"), "rid-1");
        let get = |n: &str| {
            out.iter()
                .filter(|(k, _)| k.as_str() == n)
                .map(|(_, v)| v.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        for gone in [
            "cookie",
            "connection",
            "x-secret",
            "keep-alive",
            "te",
            "upgrade",
            "proxy-authorization",
            "host",
            "x-csrf",
        ] {
            assert!(get(gone).is_empty(), "{gone} must be removed");
        }
        assert_eq!(get("authorization"), vec!["Bearer tok"]);
        assert_eq!(get("x-forwarded-for"), vec!["10.0.0.1, 127.0.0.1"]);
        assert_eq!(get("x-forwarded-proto"), vec!["https"]);
        assert_eq!(get("x-forwarded-host"), vec!["bff.example"]);
        assert_eq!(get("x-request-id"), vec!["rid-1"]);
        assert_eq!(get("x-key"), vec!["k"]);
        assert_eq!(get("accept"), vec!["application/json"]);
    }
}
