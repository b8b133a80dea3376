//! issue 11: WebSocket through `/api`. An `Upgrade: websocket` request is checked (route
//! allows it, a valid handshake, the session), the upstream connection is opened first
//! (`ws`/`wss`, the route's token and the usual header rules, within the proxy
//! deadlines) so a refusal is a JSON 502 and not an upgrade, then the browser is
//! answered 101 with the upstream's subprotocol and frames are relayed both ways as they
//! come (fragments passed on, not gathered into messages).
//!
//! Closes: a Close from either side is passed to the other (code and reason) and the
//! close handshake completes end to end, within [`relay::CLOSE_WAIT`](super::relay::CLOSE_WAIT). A message above
//! `websocket_max_message` closes both sides with 1009, an invalid frame with 1002
//! (1007 for text that is not UTF-8), and nothing of it is forwarded. A session that ends
//! closes its sockets: the browser gets 1008 "session ended", the upstream 1001.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_service::Service;
use actix_web::http::header::{self, HeaderMap, HeaderName};
use actix_web::http::{Method, Version};
use actix_web::{web, HttpRequest, HttpResponse};

use super::headers::{request_headers, Credentials};
use super::relay::{relay, Upstream, Watch};
use super::route::upstream_url;
use super::sockets::Sockets;
use super::{session_for, Call, UpstreamClient};
use crate::config::Route;
use crate::error::{BffError, ProxyError};
use crate::state::{AppState, OpClient};
use awc::error::SendRequestError;
use awc::{ConnectRequest, ConnectResponse};

/// Request headers of the browser's handshake that belong to that one hop: the upstream
/// handshake makes its own, and extensions (compression) are not offered upstream
/// because frames are relayed as they are.
const HANDSHAKE_ONLY: &[&str] = &[
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-accept",
];

/// `/api/…` with `Upgrade: websocket`.
pub(super) async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: &AppState,
    http: &OpClient,
    upstream: &UpstreamClient,
    route: &Route,
    rest: &str,
) -> Result<HttpResponse, BffError> {
    if !route.websocket {
        return Err(ProxyError::WebSocketNotAllowed.into());
    }
    check_handshake(&req)?;
    let (session, cookies) = match session_for(&req, state, http, route).await? {
        Ok(found) => found,
        Err(ended) => return Ok(ended),
    };
    let http_url = upstream_url(route, req.path(), rest, req.query_string());
    let url = ws_url(http_url.clone());
    let call = Call::new(&req, state, upstream, route, url);
    let limit = state.config.limits.websocket_max_message;
    // issue 11: route tokens
    let sent = super::token::bearer_for(state, http, route, session.as_ref()).await?;
    let presented = sent.as_ref().map(|s| s.presented(state.provider.dpop()));
    let (protocol, up) = connect(&call, presented, &http_url, limit, state).await?;
    let protocols: Vec<&str> = protocol.as_deref().into_iter().collect();
    let (mut res, to_browser, from_browser) =
        actix_ws::handle_with_protocols(&req, payload, &protocols)
            .map_err(|_| ProxyError::BadHandshake("the WebSocket handshake is not valid"))?;
    for c in cookies.into_iter().flatten() {
        let _ = res.add_cookie(&c);
    }
    let sockets = req
        .app_data::<web::Data<Sockets>>()
        .map(|s| s.clone().into_inner())
        .unwrap_or_default();
    let registered = sockets.register(session.as_ref());
    let watch = Watch::new(state, session.as_ref());
    tracing::info!(route = %route.prefix, "websocket opened");
    let from_browser = from_browser.max_frame_size(limit);
    actix_rt::spawn(relay(
        to_browser,
        from_browser,
        up,
        limit,
        registered,
        watch,
    ));
    Ok(res)
}

/// A request that asks for a WebSocket must be a proper one: GET over HTTP/1.1 with
/// `Connection: upgrade`, `Sec-WebSocket-Version: 13` and a key.
fn check_handshake(req: &HttpRequest) -> Result<(), ProxyError> {
    if req.method() != Method::GET {
        return Err(ProxyError::BadHandshake(
            "a WebSocket handshake must be a GET request",
        ));
    }
    if req.version() != Version::HTTP_11 {
        return Err(ProxyError::BadHandshake(
            "a WebSocket handshake needs HTTP/1.1",
        ));
    }
    if !super::headers::connection_named(req.headers())
        .iter()
        .any(|c| c == "upgrade")
    {
        return Err(ProxyError::BadHandshake(
            "a WebSocket handshake needs Connection: upgrade",
        ));
    }
    let h = |n: HeaderName| req.headers().get(n).and_then(|v| v.to_str().ok());
    if h(header::SEC_WEBSOCKET_VERSION).map(str::trim) != Some("13") {
        return Err(ProxyError::BadHandshake(
            "the WebSocket handshake needs Sec-WebSocket-Version: 13",
        ));
    }
    let key_ok = h(header::SEC_WEBSOCKET_KEY).is_some_and(|k| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(k.trim())
            .is_ok_and(|b| b.len() == 16)
    });
    if !key_ok {
        return Err(ProxyError::BadHandshake(
            "the WebSocket handshake needs a valid Sec-WebSocket-Key",
        ));
    }
    Ok(())
}

/// `http(s)://…` → `ws(s)://…` (the upstream base of a route is an http(s) URL).
fn ws_url(url: String) -> String {
    if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        url
    }
}

/// Opens the upstream WebSocket within the proxy's deadlines; its chosen subprotocol.
/// A DPoP-bound token goes with a fresh proof for the handshake's GET of the http(s) URL
/// (issue 12); a refusal asking `use_dpop_nonce` with a new `DPoP-Nonce` is retried once
/// with it (a handshake has no body), and a second such demand is 502 `use_dpop_nonce`.
async fn connect(
    call: &Call<'_>,
    presented: Option<crate::oidc::token::Presented<'_>>,
    http_url: &str,
    limit: usize,
    state: &AppState,
) -> Result<(Option<String>, Upstream), BffError> {
    let dpop = match presented {
        Some(crate::oidc::token::Presented::Dpop { dpop, .. }) => Some(dpop),
        _ => None,
    };
    let mut retried = false;
    // One deadline for the handshake, its retry included.
    let deadline = tokio::time::Instant::now()
        + state.config.proxy.connect_timeout
        + state.config.proxy.timeout;
    loop {
        let credentials = match &presented {
            None => None,
            Some(p) => {
                let (authorization, proof) = p.headers("GET", http_url)?;
                Some(Credentials {
                    authorization,
                    proof,
                })
            }
        };
        let (answer, refusal) = REFUSAL
            .scope(RefCell::new(None), async {
                let answer = attempt(call, credentials.as_ref(), limit, deadline).await;
                (answer, REFUSAL.with(|r| r.borrow_mut().take()))
            })
            .await;
        match (answer, dpop) {
            (Ok((res, framed)), _) => {
                // RFC 9449 8.2: a nonce may come with a success too.
                if let Some(dpop) = dpop {
                    dpop.note(http_url, res.headers());
                }
                return Ok((subprotocol(&res), framed));
            }
            (Err(e), None) => return Err(connect_error(e)),
            (Err(e), Some(dpop)) => {
                let wants = refusal.as_ref().is_some_and(|(status, h)| {
                    super::headers::dpop_nonce_demanded(*status, h, dpop, http_url)
                });
                if !wants {
                    return Err(connect_error(e));
                }
                if retried {
                    return Err(ProxyError::DpopNonce.into());
                }
                tracing::debug!("dpop: the WebSocket upstream asked for a nonce; retrying once");
                retried = true;
            }
        }
    }
}

type Connected = (awc::ClientResponse, Upstream);

/// One upstream handshake.
async fn attempt(
    call: &Call<'_>,
    credentials: Option<&Credentials>,
    limit: usize,
    deadline: tokio::time::Instant,
) -> Result<Connected, awc::error::WsClientError> {
    let hop = super::headers::Hop {
        peer: call.peer,
        trusted: call.trusted,
        proto: call.proto,
        host: &call.public_host,
    };
    let mut ws = call.upstream.0.ws(call.url.as_str()).max_frame_size(limit);
    for (n, v) in request_headers(call.req.headers(), &hop, call.route, credentials, &call.rid) {
        if !HANDSHAKE_ONLY.contains(&n.as_str()) {
            ws = ws.header(n, v);
        }
    }
    match tokio::time::timeout_at(deadline, ws.connect()).await {
        Err(_) => Err(awc::error::SendRequestError::Timeout.into()),
        Ok(answer) => answer,
    }
}

fn subprotocol(res: &awc::ClientResponse) -> Option<String> {
    res.headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

tokio::task_local! {
    /// The headers of the answer that refused this task's upgrade: awc's error keeps
    /// only the status, and a DPoP nonce demand is in the headers.
    static REFUSAL: RefCell<Option<(u16, HeaderMap)>>;
}

/// awc middleware on the upstream client: keeps the headers of a refused upgrade (an
/// answer other than 101 to a WebSocket handshake) for [`connect`], within its scope.
pub struct RefusalTap;

impl<S> awc::middleware::Transform<S, ConnectRequest> for RefusalTap
where
    S: Service<ConnectRequest, Response = ConnectResponse, Error = SendRequestError>,
    S::Future: Unpin,
{
    type Transform = RefusalTapService<S>;

    fn new_transform(self, service: S) -> Self::Transform {
        RefusalTapService { service }
    }
}

pub struct RefusalTapService<S> {
    service: S,
}

impl<S> Service<ConnectRequest> for RefusalTapService<S>
where
    S: Service<ConnectRequest, Response = ConnectResponse, Error = SendRequestError>,
    S::Future: Unpin,
{
    type Response = ConnectResponse;
    type Error = SendRequestError;
    type Future = Tapped<S::Future>;

    actix_service::forward_ready!(service);

    fn call(&self, req: ConnectRequest) -> Self::Future {
        Tapped(self.service.call(req))
    }
}

pub struct Tapped<F>(F);

impl<F> Future for Tapped<F>
where
    F: Future<Output = Result<ConnectResponse, SendRequestError>> + Unpin,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let out = std::task::ready!(Pin::new(&mut self.0).poll(cx));
        if let Ok(ConnectResponse::Tunnel(head, _)) = &out {
            if head.status != actix_web::http::StatusCode::SWITCHING_PROTOCOLS {
                let _ = REFUSAL.try_with(|r| {
                    *r.borrow_mut() = Some((head.status.as_u16(), head.headers.clone()))
                });
            }
        }
        Poll::Ready(out)
    }
}

fn upstream_failed(kind: &'static str, e: ProxyError) -> BffError {
    crate::metrics::get()
        .upstream_errors
        .with_label_values(&[kind])
        .inc();
    e.into()
}

fn connect_error(e: awc::error::WsClientError) -> BffError {
    use awc::error::{SendRequestError, WsClientError};
    match e {
        WsClientError::SendRequest(SendRequestError::Timeout) => {
            upstream_failed("timeout", ProxyError::Timeout)
        }
        WsClientError::SendRequest(SendRequestError::Connect(c)) => {
            upstream_failed("connect", ProxyError::Connect(c.to_string()))
        }
        WsClientError::SendRequest(other) => {
            upstream_failed("other", ProxyError::Upstream(other.to_string()))
        }
        // The upstream answered, but not with a valid upgrade.
        other => {
            let detail = match &other {
                WsClientError::InvalidResponseStatus(s) => format!("status {}", s.as_u16()),
                o => o.to_string(),
            };
            upstream_failed("websocket_refused", ProxyError::UpgradeRefused(detail))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_urls() {
        assert_eq!(ws_url("http://a:1/x?y".into()), "ws://a:1/x?y");
        assert_eq!(ws_url("https://a/x".into()), "wss://a/x");
    }
}
