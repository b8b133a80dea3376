//! The `/api` reverse proxy: path normalisation and routing, header rewriting, the bearer
//! token (refreshed first when due), streamed bodies both ways, one retry on `invalid_token`.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use awc::error::SendRequestError;
use percent_encoding::percent_decode_str;

use crate::config::{Route, TokenMode};
use crate::error::{BffError, ProxyError};
use crate::middleware::limits::refused_method;
use crate::session::refresh::Fresh;
use crate::session::Session;
use crate::state::AppState;
use crate::state::OpClient;

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
/// `..` (encoded or not, and also when path parameters follow: `..;x=1`, `%2e%2e;`,
/// `..%3b` — Tomcat, Jetty and Spring drop what follows `;` and resolve the rest), no
/// separator is percent-encoded (`%2f`, `%5c`), and nothing decodes to a backslash or a
/// control character. Other `;` parameters are forwarded unchanged.
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
        // The part before the first `;` (plain or `%3b`) of the decoded segment.
        let name = decoded.split(|b| *b == b';').next().unwrap_or(&[]);
        if name == b"." || name == b".." {
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
    "x-request-id",
    "content-length",
];

/// Headers that claim something about the client or the original request (its address,
/// scheme, host, port, URL or prefix). Believed only from a peer in `trusted_proxies`;
/// from anyone else they are removed (issue 9). `X-Forwarded-For/-Proto/-Host` are
/// handled apart: the BFF always sends its own.
const CLIENT_CLAIMS: &[&str] = &[
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "x-original-url",
    "x-rewrite-url",
    "x-original-uri",
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-forwarded-prefix",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-forwarded-ssl",
    "x-forwarded-scheme",
    "x-forwarded-protocol",
    "x-url-scheme",
    "front-end-https",
    "x-forwarded",
    "forwarded-for",
    "x-forwarded-for-original",
    "x-original-forwarded-for",
    "x-original-host",
    "x-host",
    "x-http-host-override",
    "x-forwarded-client-cert",
    "x-client-cert",
    "ssl-client-cert",
    "true-client-ip",
    "cf-connecting-ip",
    "cf-connecting-ipv6",
    "fastly-client-ip",
    "akamai-client-ip",
    "x-cluster-client-ip",
    "x-proxyuser-ip",
    "x-envoy-external-address",
    "x-appengine-user-ip",
    "x-azure-clientip",
    "x-azure-socketip",
];

/// What the BFF knows about the hop it received a request on.
pub struct Hop<'a> {
    /// The TCP peer's address.
    pub peer: Option<IpAddr>,
    /// The peer is in `trusted_proxies`.
    pub trusted: bool,
    /// `base_url`'s scheme and `host[:port]`.
    pub proto: &'a str,
    pub host: &'a str,
}

impl Hop<'_> {
    pub fn is_trusted(trusted_proxies: &[ipnet::IpNet], peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|p| {
            let p = p.to_canonical();
            trusted_proxies.iter().any(|n| n.contains(&p))
        })
    }
}

/// `base_url`'s `host[:port]` (the port only when not the scheme's default).
pub fn public_host(base: &url::Url) -> String {
    match (base.host_str(), base.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

fn connection_named(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The upstream request's headers from the browser's. The route's configured headers
/// (and `Ocp-Apim-Subscription-Key` from `subscription_key`) replace any the client sent
/// under those names; forwarding headers follow `hop` (see [`Hop`]).
pub fn request_headers(
    incoming: &HeaderMap,
    hop: &Hop<'_>,
    route: &Route,
    bearer: Option<&str>,
    request_id: &str,
) -> Vec<(HeaderName, HeaderValue)> {
    let named = connection_named(incoming);
    let mut out: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(incoming.len() + 6);
    let mut xff: Option<String> = None;
    let (mut has_proto, mut has_host) = (false, false);
    for (name, value) in incoming.iter() {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || DROPPED_REQUEST.contains(&n)
            || named.iter().any(|c| c == n)
            || route.headers.iter().any(|(owned, _)| owned == name)
        {
            continue;
        }
        match n {
            "x-forwarded-for" => {
                if hop.trusted {
                    if let Ok(v) = value.to_str() {
                        xff = Some(match xff {
                            Some(prev) => format!("{prev}, {v}"),
                            None => v.to_string(),
                        });
                    }
                }
                continue;
            }
            "x-forwarded-proto" | "x-forwarded-host" if !hop.trusted => continue,
            "x-forwarded-proto" => has_proto = true,
            "x-forwarded-host" => has_host = true,
            _ if !hop.trusted && CLIENT_CLAIMS.contains(&n) => continue,
            _ => {}
        }
        out.push((name.clone(), value.clone()));
    }
    if let Some(peer) = hop.peer {
        let peer = peer.to_canonical();
        let v = match xff {
            Some(prev) => format!("{prev}, {peer}"),
            None => peer.to_string(),
        };
        if let Ok(v) = HeaderValue::try_from(v) {
            out.push((HeaderName::from_static("x-forwarded-for"), v));
        }
    }
    if !has_proto {
        if let Ok(v) = HeaderValue::from_str(hop.proto) {
            out.push((HeaderName::from_static("x-forwarded-proto"), v));
        }
    }
    if !has_host {
        if let Ok(v) = HeaderValue::from_str(hop.host) {
            out.push((HeaderName::from_static("x-forwarded-host"), v));
        }
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

/// When the browser's body failed (stalled, broken framing, too large), that is the
/// error, not the upstream's.
fn body_error(watch: Option<&crate::middleware::body_deadline::BodyWatch>) -> Option<BffError> {
    use crate::middleware::body_deadline::BodyFault;
    Some(match watch?.fault()? {
        BodyFault::TimedOut => BffError::BodyTimeout,
        BodyFault::TooLarge => BffError::PayloadTooLarge,
        BodyFault::Malformed | BodyFault::Incomplete => BffError::MalformedBody,
    })
}

/// True when the request carries a body to forward: over HTTP/1 a `Content-Length`
/// above 0 or a `Transfer-Encoding`; over HTTP/2 (no `Transfer-Encoding`, and
/// `Content-Length` optional) any method but GET and HEAD.
fn has_body(req: &HttpRequest, content_length: Option<u64>) -> bool {
    content_length.is_some_and(|n| n > 0)
        || req.headers().contains_key(header::TRANSFER_ENCODING)
        || (req.version() == actix_web::http::Version::HTTP_2
            && content_length.is_none()
            && !matches!(*req.method(), Method::GET | Method::HEAD))
}

/// awc's own bound on an upload (its timeout covers sending the body too).
const UNBOUNDED: Duration = Duration::from_secs(24 * 3600);

/// The upstream's answer to an upload, due within `timeout` after the body ended. While
/// the body is being sent, the call fails with `Timeout` when the body has not moved for
/// `timeout` and is not waiting on the client (whose stalls the body's own deadline
/// cuts off): the upstream stopped reading and back-pressure stopped the body.
async fn answer_to_upload<T>(
    send: impl std::future::Future<Output = Result<T, SendRequestError>>,
    watch: Option<&crate::middleware::body_deadline::BodyWatch>,
    timeout: Duration,
) -> Result<T, SendRequestError> {
    use tokio::time::{timeout_at, Instant};
    let started = Instant::now();
    let mut send = std::pin::pin!(send);
    loop {
        let now = Instant::now();
        let until = match watch {
            None => now + timeout,
            Some(w) if w.fault().is_some() => return Err(SendRequestError::Timeout),
            Some(w) => match w.finished_at() {
                Some(done) => done + timeout,
                None if w.waiting_on_client() => now + timeout,
                None => w.progressed_at().max(started) + timeout,
            },
        };
        if until <= now {
            return Err(SendRequestError::Timeout);
        }
        if let Ok(r) = timeout_at(until, &mut send).await {
            return r;
        }
        if watch.is_none() {
            return Err(SendRequestError::Timeout);
        }
    }
}

pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
    upstream: web::Data<UpstreamClient>,
) -> Result<HttpResponse, BffError> {
    if refused_method(req.method()) {
        return Err(BffError::MethodNotAllowed);
    }
    let raw_path = req.uri().path();
    check_path(raw_path)?;
    let (route, rest) = route_for(&state.config.routes, raw_path).ok_or(ProxyError::NoRoute)?;

    let mut session: Option<Session> = match route.token {
        TokenMode::None => None,
        TokenMode::Optional => state.sessions.load(&req).await.ok(),
        TokenMode::Required => Some(state.sessions.load(&req).await?),
    };
    let mut cookies = None;
    if let Some(s) = session.as_mut() {
        match state.keep_fresh(&req, &http, s, false).await? {
            Fresh::Current(c) => cookies = c,
            Fresh::Ended(ended) => return Ok(ended),
        }
    }

    let url = upstream_url(route, raw_path, rest, req.query_string());
    let rid = crate::middleware::request_id::of(&req);
    let peer = req.peer_addr().map(|a| a.ip());
    let public_host = public_host(&state.config.base_url);
    let hop = Hop {
        peer,
        trusted: Hop::is_trusted(&state.config.trusted_proxies, peer),
        proto: state.config.base_url.scheme(),
        host: &public_host,
    };
    let body_watch = {
        use actix_web::HttpMessage;
        req.extensions()
            .get::<crate::middleware::body_deadline::BodyWatch>()
            .cloned()
    };
    let method = req.method().clone();
    let content_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let has_body = has_body(&req, content_length);
    let timeout = state.config.proxy_timeout;

    let build = |bearer: Option<&str>, timeout: Duration| {
        let mut r = upstream
            .0
            .request(method.clone(), &url)
            .no_decompress()
            .timeout(timeout);
        for (n, v) in request_headers(req.headers(), &hop, route, bearer, &rid) {
            r = r.append_header((n, v));
        }
        r
    };

    let bearer = session.as_ref().and_then(|s| s.access_token.clone());
    let mut res = if has_body {
        // An upload takes as long as it keeps moving (a stall is cut off by the body's
        // own deadline); the answer is due within `proxy_timeout` after it ends.
        let r = build(bearer.as_deref(), UNBOUNDED);
        let send = async {
            match content_length {
                Some(len) => r.send_body(SizedStream::new(len, payload)).await,
                None => r.send_stream(payload).await,
            }
        };
        answer_to_upload(send, body_watch.as_ref(), timeout).await
    } else {
        build(bearer.as_deref(), timeout).send().await
    }
    .map_err(|e| body_error(body_watch.as_ref()).unwrap_or_else(|| send_error(e).into()))?;

    // One refresh and one retry when an idempotent, bodyless request's token was refused.
    let retryable = !has_body
        && matches!(
            method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE
        );
    if retryable && bearer.is_some() && is_invalid_token(&res) {
        if let Some(s) = session.as_mut() {
            tracing::info!("upstream refused the access token; refreshing and retrying once");
            match state.keep_fresh(&req, &http, s, true).await {
                Ok(Fresh::Current(c)) => {
                    cookies = c;
                    res = build(s.access_token.as_deref(), timeout)
                        .send()
                        .await
                        .map_err(send_error)?;
                }
                Ok(Fresh::Ended(ended)) => return Ok(ended),
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
    fn dot_segments_hidden_by_path_parameters_are_rejected() {
        for bad in [
            "/api/b/..;/a/echo",
            "/api/..;x=1/a",
            "/api/%2e%2e;/a",
            "/api/..%3b/a",
            "/api/..%3B/a",
            "/api/.;/a",
            "/api/%2E;/a",
            "/api/.%3bjsessionid=1",
            "/api/..;",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        for ok in [
            "/api/a;v=1/b",
            "/api/items;color=red;size=m",
            "/api/..x;y",
            "/api/;/x",
            "/api/a.;b",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn which_requests_forward_a_body() {
        use actix_web::http::Version;
        use actix_web::test::TestRequest;
        let req = |m: Method, v: Version, h: Option<(&str, &str)>| {
            let mut r = TestRequest::default().method(m).version(v);
            if let Some(h) = h {
                r = r.insert_header(h);
            }
            r.to_http_request()
        };
        let cl = |r: &HttpRequest| {
            r.headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        let cases = [
            (Method::POST, Version::HTTP_2, None, true),
            (Method::PUT, Version::HTTP_2, None, true),
            (Method::DELETE, Version::HTTP_2, None, true),
            (
                Method::POST,
                Version::HTTP_2,
                Some(("content-length", "0")),
                false,
            ),
            (
                Method::POST,
                Version::HTTP_2,
                Some(("content-length", "5")),
                true,
            ),
            (Method::GET, Version::HTTP_2, None, false),
            (Method::HEAD, Version::HTTP_2, None, false),
            (Method::POST, Version::HTTP_11, None, false),
            (
                Method::POST,
                Version::HTTP_11,
                Some(("content-length", "5")),
                true,
            ),
            (
                Method::POST,
                Version::HTTP_11,
                Some(("transfer-encoding", "chunked")),
                true,
            ),
        ];
        for (m, v, h, want) in cases {
            let r = req(m.clone(), v, h);
            assert_eq!(has_body(&r, cl(&r)), want, "{m} {v:?} {h:?}");
        }
    }

    #[test]
    fn trust_is_by_peer_address() {
        let nets: Vec<ipnet::IpNet> =
            vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(Hop::is_trusted(&nets, ip("10.2.3.4")));
        assert!(Hop::is_trusted(&nets, ip("::ffff:10.2.3.4")), "IPv4-mapped");
        assert!(Hop::is_trusted(&nets, ip("::1")));
        assert!(!Hop::is_trusted(&nets, ip("11.0.0.1")));
        assert!(!Hop::is_trusted(&nets, None));
        assert!(!Hop::is_trusted(&[], ip("127.0.0.1")));
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
        let hop = Hop {
            peer: Some("127.0.0.1".parse().unwrap()),
            trusted: false,
            proto: "https",
            host: "bff.example:8443",
        };
        let out = request_headers(&h, &hop, &r, Some("tok"), "rid-1");
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
        // Issue 9: an untrusted peer's X-Forwarded-For is dropped; X-Forwarded-Host is
        // `base_url`'s, never the `Host` header.
        assert_eq!(get("x-forwarded-for"), vec!["127.0.0.1"]);
        assert_eq!(get("x-forwarded-proto"), vec!["https"]);
        assert_eq!(get("x-forwarded-host"), vec!["bff.example:8443"]);
        assert_eq!(get("x-request-id"), vec!["rid-1"]);
        assert_eq!(get("x-key"), vec!["k"]);
        assert_eq!(get("accept"), vec!["application/json"]);
    }
}
