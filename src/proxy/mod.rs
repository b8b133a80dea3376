//! The `/api` reverse proxy: path check and routing, the bearer token (refreshed first
//! when due), streamed bodies both ways, one retry on `invalid_token`.

pub mod client;
mod download;
pub mod headers;
pub mod path;
pub mod route;
// issue 11: WebSocket
mod relay;
pub mod sockets;
// issue 11: route tokens
pub mod token;
pub mod websocket;

use std::time::Duration;

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::http::Method;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use crate::config::{Route, TokenMode};
use crate::error::{BffError, ProxyError};
use crate::middleware::body_deadline::BodyWatch;
use crate::middleware::limits::refused_method;
use crate::session::cookies::CookieSet;
use crate::session::refresh::Fresh;
use crate::session::Session;
use crate::state::{AppState, OpClient};
pub use client::UpstreamClient;
use client::{answer_to_upload, body_error, send_error, UNBOUNDED};
use headers::{
    copy_response_headers, is_invalid_token, public_host, request_headers, wants_dpop_nonce,
    Credentials, Hop,
};
use path::check_path;
use route::{route_for, upstream_url};

/// `/api/*`: checks and routes the path, attaches the session's access token, forwards.
pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    http: web::Data<OpClient>,
    upstream: web::Data<UpstreamClient>,
) -> Result<HttpResponse, BffError> {
    // The guard (`limits::check`) refuses these before routing; checked again here on
    // purpose, so that this handler never forwards them whatever wraps it.
    if refused_method(req.method()) {
        return Err(BffError::MethodNotAllowed);
    }
    let raw_path = req.uri().path();
    check_path(raw_path)?;
    let (route, rest) =
        route_for(&state.config.proxy.routes, raw_path).ok_or(ProxyError::NoRoute)?;
    // issue 11: WebSocket
    if crate::middleware::csrf::wants_websocket(req.headers()) {
        return websocket::forward(req.clone(), payload, &state, &http, &upstream, route, rest)
            .await;
    }
    let (mut session, mut cookies) = match session_for(&req, &state, &http, route).await? {
        Ok(found) => found,
        Err(ended) => return Ok(ended),
    };
    let call = Call::new(
        &req,
        &state,
        &upstream,
        route,
        upstream_url(route, raw_path, rest, req.query_string()),
    );
    // issue 11: route tokens
    let mut sent = token::bearer_for(&state, &http, route, session.as_ref()).await?;
    let dpop = state.provider.dpop();
    let mut res = call
        .send(call.credentials(sent.as_ref(), dpop)?.as_ref(), payload)
        .await?;
    // One retry when an idempotent, bodyless request's token was refused: a client token
    // is dropped and granted again; the user's is refreshed (and exchanged again).
    let retryable = !call.has_body
        && matches!(
            call.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE
        );
    // issue 12: a DPoP-bound token's `use_dpop_nonce` is retried once with the nonce (a
    // request with a body is answered as is: its next request carries the nonce).
    if let (Some(d), Some(s)) = (dpop, sent.as_ref().filter(|s| s.dpop_jkt.is_some())) {
        if wants_dpop_nonce(&res, d, &call.url) && retryable {
            tracing::debug!("dpop: the upstream asked for a nonce; retrying once");
            res = call
                .resend(call.credentials(Some(s), dpop)?.as_ref())
                .await?;
            if wants_dpop_nonce(&res, d, &call.url) {
                return Err(ProxyError::DpopNonce.into());
            }
        }
    }
    if retryable && is_invalid_token(&res) {
        let again = match sent.take() {
            None => None,
            Some(token::Sent {
                token: t,
                kind: token::SentKind::Client(key),
                ..
            }) => {
                tracing::info!(
                    "upstream refused the client token; granting another and retrying once"
                );
                token::drop_client_token(&state, &key, &t).await?;
                token::bearer_for(&state, &http, route, None).await?
            }
            Some(_) => match session.as_mut() {
                None => None,
                Some(s) => {
                    tracing::info!(
                        "upstream refused the access token; refreshing and retrying once"
                    );
                    match state.keep_fresh(&req, &http, s, true).await {
                        Ok(Fresh::Current(c)) => {
                            cookies = c;
                            token::bearer_for(&state, &http, route, Some(s)).await?
                        }
                        Ok(Fresh::Ended(ended)) => return Ok(ended),
                        Err(BffError::NoRefreshToken) => None,
                        Err(e) => return Err(e),
                    }
                }
            },
        };
        if let Some(t) = again {
            res = call
                .resend(call.credentials(Some(&t), dpop)?.as_ref())
                .await?;
            // RFC 9449 8.2: this answer's nonce is the one to send next.
            if let (Some(d), true) = (dpop, t.dpop_jkt.is_some()) {
                d.note(&call.url, res.headers());
            }
        }
    }
    Ok(answer(res, &call.method, cookies, call.timeout))
}

/// The route's session (none, optional or required), freshened; or the "session ended"
/// answer.
async fn session_for(
    req: &HttpRequest,
    state: &AppState,
    http: &OpClient,
    route: &Route,
) -> Result<Result<(Option<Session>, Option<CookieSet>), HttpResponse>, BffError> {
    let mut session: Option<Session> = match route.token {
        // A client route reads no cookie (and slides nothing).
        TokenMode::None | TokenMode::Client => None,
        TokenMode::UserOrNone | TokenMode::UserOrClient => state.sessions.load(req).await.ok(),
        TokenMode::User => Some(state.sessions.load(req).await?),
    };
    let mut cookies = None;
    if let Some(s) = session.as_mut() {
        match state.keep_fresh(req, http, s, false).await? {
            Fresh::Current(c) => cookies = c,
            Fresh::Ended(ended) => return Ok(Err(ended)),
        }
    }
    Ok(Ok((session, cookies)))
}

/// One upstream call of a request: where it goes, what it carries.
struct Call<'a> {
    req: &'a HttpRequest,
    route: &'a Route,
    upstream: &'a UpstreamClient,
    url: String,
    rid: String,
    public_host: String,
    peer: Option<std::net::IpAddr>,
    trusted: bool,
    proto: &'a str,
    method: Method,
    content_length: Option<u64>,
    has_body: bool,
    timeout: Duration,
    body_watch: Option<BodyWatch>,
}

impl<'a> Call<'a> {
    fn new(
        req: &'a HttpRequest,
        state: &'a AppState,
        upstream: &'a UpstreamClient,
        route: &'a Route,
        url: String,
    ) -> Self {
        let peer = req.peer_addr().map(|a| a.ip());
        let content_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        Call {
            req,
            route,
            upstream,
            url,
            rid: crate::middleware::request_id::of(req),
            public_host: public_host(&state.config.server.base_url),
            peer,
            trusted: Hop::is_trusted(&state.config.proxy.trusted_proxies, peer),
            proto: state.config.server.base_url.scheme(),
            method: req.method().clone(),
            content_length,
            has_body: has_body(req, content_length),
            timeout: state.config.proxy.timeout,
            body_watch: req.extensions().get::<BodyWatch>().cloned(),
        }
    }

    /// What `sent` presents to this call's URL: a bearer token, or a DPoP-bound one with a
    /// fresh proof (a new `jti` for every attempt).
    fn credentials(
        &self,
        sent: Option<&token::Sent>,
        dpop: Option<&crate::oidc::dpop::Dpop>,
    ) -> Result<Option<Credentials>, BffError> {
        let Some(sent) = sent else { return Ok(None) };
        let (authorization, proof) = sent
            .presented(dpop)
            .headers(self.method.as_str(), &self.url)?;
        Ok(Some(Credentials {
            authorization,
            proof,
        }))
    }

    /// A bodyless request again (the retries).
    async fn resend(
        &self,
        credentials: Option<&Credentials>,
    ) -> Result<awc::ClientResponse<client::Body>, BffError> {
        self.request(credentials, self.timeout)
            .send()
            .await
            .map_err(|e| send_error(e).into())
    }

    fn request(&self, credentials: Option<&Credentials>, timeout: Duration) -> awc::ClientRequest {
        let hop = Hop {
            peer: self.peer,
            trusted: self.trusted,
            proto: self.proto,
            host: &self.public_host,
        };
        let mut r = self
            .upstream
            .0
            .request(self.method.clone(), &self.url)
            .no_decompress()
            .timeout(timeout);
        for (n, v) in request_headers(self.req.headers(), &hop, self.route, credentials, &self.rid)
        {
            r = r.append_header((n, v));
        }
        r
    }

    /// Sends the request (streaming its body, if any).
    async fn send(
        &self,
        credentials: Option<&Credentials>,
        payload: web::Payload,
    ) -> Result<awc::ClientResponse<client::Body>, BffError> {
        let watch = self.body_watch.as_ref();
        if self.has_body {
            // An upload takes as long as it keeps moving (a stall is cut off by the body's
            // own deadline); the answer is due within `proxy_timeout` after it ends.
            let r = self.request(credentials, UNBOUNDED);
            let send = async {
                match self.content_length {
                    Some(len) => r.send_body(SizedStream::new(len, payload)).await,
                    None => r.send_stream(payload).await,
                }
            };
            answer_to_upload(send, watch, self.timeout).await
        } else {
            self.request(credentials, self.timeout).send().await
        }
        .map_err(|e| body_error(watch).unwrap_or_else(|| send_error(e).into()))
    }
}

/// The browser's answer: the upstream's status, headers and streamed body (cut off when
/// the upstream stalls longer than `proxy_timeout` between chunks), plus our session
/// cookies.
fn answer(
    res: awc::ClientResponse<client::Body>,
    method: &Method,
    cookies: Option<CookieSet>,
    idle: Duration,
) -> HttpResponse {
    let mut out = HttpResponse::build(res.status());
    copy_response_headers(&mut out, res.headers());
    for c in cookies.into_iter().flatten() {
        out.cookie(c);
    }
    let status = res.status();
    let length = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if *method == Method::HEAD || status == 204 || status == 304 || status.is_informational() {
        return out.finish();
    }
    let body = download::Stalls::new(res, idle);
    match length {
        Some(len) => out.body(SizedStream::new(len, body)),
        None => out.streaming(body),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
