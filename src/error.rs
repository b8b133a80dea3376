//! The one place where errors become HTTP: JSON `{"error": …}` answers for the `/bff`
//! endpoints, and `/?login_error=CODE` redirects for the OP-facing callback.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::oidc::login::CallbackError;
use crate::oidc::OidcError;

/// Why a cookie could not be turned into a session.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum SessionError {
    #[error("cookie is not well-formed")]
    Malformed,
    #[error("cookie was not sealed by any configured key for this name")]
    Unauthentic,
    #[error("cookie has expired")]
    Expired,
    #[error("cookie is too large")]
    TooLarge,
    #[error("session has ended")]
    Ended,
}

/// Why an `/api` request could not be forwarded.
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
    // issue 11: WebSocket
    #[error("this route does not accept WebSocket connections")]
    WebSocketNotAllowed,
    #[error("not a valid WebSocket handshake: {0}")]
    BadHandshake(&'static str),
    #[error("the upstream refused the WebSocket upgrade: {0}")]
    UpgradeRefused(String),
    /// issue 12: the upstream asked for a new DPoP nonce again after one retry.
    #[error("the upstream kept answering use_dpop_nonce")]
    DpopNonce,
}

/// Errors of the browser-facing endpoints.
#[derive(Debug, thiserror::Error)]
pub enum BffError {
    #[error("not authenticated")]
    NotAuthenticated,
    #[error("the session has ended")]
    SessionExpired,
    #[error("missing X-CSRF header or foreign Origin")]
    Csrf,
    /// Bad input, described by a sentence of ours (shown to the client).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Bad input whose detail comes from a library (logged, never shown): the public
    /// sentence, then the detail.
    #[error("bad request: {0} ({1})")]
    Invalid(&'static str, String),
    /// TRACE, TRACK and CONNECT under `/api` (issue 9).
    #[error("this method is not allowed")]
    MethodNotAllowed,
    /// The request body did not arrive in time (`body_timeout`, or `proxy_timeout`
    /// between chunks of an `/api` upload).
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// The request body's framing is broken (bad chunk sizes or extensions).
    #[error("the request body is malformed")]
    MalformedBody,
    #[error("no such endpoint")]
    NotFound,
    /// 431: the request headers, or the `Cookie` header, are too large.
    #[error("{0}")]
    HeadersTooLarge(&'static str),
    /// 413: the request body is larger than its limit.
    #[error("the request body is too large")]
    BodyTooLarge,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the session has no refresh token")]
    NoRefreshToken,
    #[error("the session has no access token")]
    NoAccessToken,
    #[error("userinfo `sub` differs from the ID token's")]
    UserinfoSubMismatch,
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error("logout token rejected: {0}")]
    LogoutToken(crate::oidc::logout_token::LogoutTokenError),
    #[error(transparent)]
    Oidc(#[from] OidcError),
    #[error("session could not be stored: {0}")]
    Session(#[from] SessionError),
    // issue 11: route tokens
    /// The client-credentials grant of a `client` route failed (refused, bad answer,
    /// timeout, unreachable: the log tells them apart).
    #[error("no client token for the route: {0}")]
    ClientToken(OidcError),
    /// The token exchange of a `token_exchange` route failed.
    #[error("the token exchange failed: {0}")]
    TokenExchange(OidcError),
    // issue 13: the admin API
    /// `/admin/…` without the right `Authorization: Bearer <admin_token>` (401 with
    /// `WWW-Authenticate: Bearer`).
    #[error("the admin API needs the admin token as a bearer token")]
    AdminUnauthorized,
}

impl BffError {
    /// Status and the stable `error` code of the JSON body.
    pub fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            BffError::NotAuthenticated => (StatusCode::UNAUTHORIZED, "not_authenticated"),
            BffError::SessionExpired => (StatusCode::UNAUTHORIZED, "session_expired"),
            BffError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            BffError::BadRequest(_) | BffError::Invalid(..) => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            BffError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            BffError::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            BffError::MalformedBody => (StatusCode::BAD_REQUEST, "invalid_body"),
            BffError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            BffError::NoRefreshToken => (StatusCode::CONFLICT, "no_refresh_token"),
            BffError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            BffError::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            BffError::HeadersTooLarge(_) => {
                (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "too_large")
            }
            BffError::LogoutToken(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            BffError::NoAccessToken => (StatusCode::CONFLICT, "no_access_token"),
            BffError::UserinfoSubMismatch => (StatusCode::BAD_GATEWAY, "userinfo_sub_mismatch"),
            BffError::Proxy(e) => match e {
                ProxyError::BadPath => (StatusCode::BAD_REQUEST, "invalid_path"),
                ProxyError::NoRoute => (StatusCode::NOT_FOUND, "no_route"),
                ProxyError::Timeout => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
                ProxyError::Connect(_) => (StatusCode::BAD_GATEWAY, "upstream_unreachable"),
                ProxyError::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream_error"),
                // issue 11: WebSocket
                ProxyError::WebSocketNotAllowed => {
                    (StatusCode::BAD_REQUEST, "websocket_not_allowed")
                }
                ProxyError::BadHandshake(_) => {
                    (StatusCode::BAD_REQUEST, "invalid_websocket_handshake")
                }
                ProxyError::UpgradeRefused(_) => {
                    (StatusCode::BAD_GATEWAY, "upstream_refused_upgrade")
                }
                ProxyError::DpopNonce => (StatusCode::BAD_GATEWAY, "use_dpop_nonce"),
            },
            BffError::Session(_) => (StatusCode::INTERNAL_SERVER_ERROR, "session_error"),
            // issue 11: route tokens
            BffError::ClientToken(_) => (StatusCode::BAD_GATEWAY, "client_token_failed"),
            BffError::TokenExchange(_) => (StatusCode::BAD_GATEWAY, "token_exchange_failed"),
            // issue 13: the admin API
            BffError::AdminUnauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            BffError::Oidc(e) => match e {
                OidcError::NotReady | OidcError::Discovery(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
                }
                OidcError::Timeout => (StatusCode::GATEWAY_TIMEOUT, "op_timeout"),
                OidcError::Network(_) => (StatusCode::BAD_GATEWAY, "op_unreachable"),
                OidcError::Status { .. }
                | OidcError::InvalidResponse(_)
                | OidcError::IdToken(_) => (StatusCode::BAD_GATEWAY, "op_error"),
                OidcError::Unsupported(_) => (StatusCode::NOT_IMPLEMENTED, "not_supported"),
                OidcError::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
                // issue 12
                OidcError::DpopNonce(_) => (StatusCode::BAD_GATEWAY, "use_dpop_nonce"),
                OidcError::Dpop(_) => (StatusCode::INTERNAL_SERVER_ERROR, "dpop_error"),
            },
        }
    }
}

impl BffError {
    /// The short sentence of ours that the client sees as `error_description`. Library
    /// and OS text (connection errors, TLS alerts, serde positions) never appears here;
    /// it goes to the log with the full error.
    pub fn public_message(&self) -> std::borrow::Cow<'static, str> {
        use std::borrow::Cow;
        let fixed: &'static str = match self {
            BffError::BadRequest(s) => return Cow::Owned(s.clone()),
            BffError::Invalid(public, _) => public,
            BffError::HeadersTooLarge(s) => s,
            BffError::LogoutToken(e) => return Cow::Owned(format!("logout token rejected: {e}")),
            BffError::Store(_) => "the session store is unavailable",
            BffError::Session(_) => "the session could not be stored",
            // issue 11: route tokens
            BffError::ClientToken(_) => {
                "the OpenID Provider's token endpoint did not issue a client token for this route"
            }
            BffError::TokenExchange(_) => {
                "the OpenID Provider's token endpoint did not exchange the token"
            }
            BffError::Proxy(ProxyError::BadPath) => {
                "the path is not allowed (dot segments, encoded separators or control characters)"
            }
            BffError::Proxy(ProxyError::NoRoute) => "no route for this path",
            BffError::Proxy(ProxyError::Timeout) => "the upstream did not answer in time",
            BffError::Proxy(ProxyError::Connect(_)) => "the upstream is unreachable",
            BffError::Proxy(ProxyError::Upstream(_)) => "the upstream failed",
            // issue 11: WebSocket
            BffError::Proxy(ProxyError::WebSocketNotAllowed) => {
                "this route does not accept WebSocket connections"
            }
            BffError::Proxy(ProxyError::BadHandshake(s)) => s,
            BffError::Proxy(ProxyError::UpgradeRefused(_)) => {
                "the upstream refused the WebSocket connection"
            }
            BffError::Proxy(ProxyError::DpopNonce) => "the upstream kept answering use_dpop_nonce",
            BffError::Oidc(e) => match e {
                OidcError::NotReady | OidcError::Discovery(_) => {
                    "the OpenID Provider's metadata is not loaded yet"
                }
                OidcError::Network(_) => "could not reach the OpenID Provider",
                OidcError::Timeout => "the OpenID Provider did not answer in time",
                // issue 13: which endpoint, in a sentence of ours (the OP's text is logged).
                OidcError::Status {
                    endpoint, status, ..
                } => {
                    let what = if *status < 500 {
                        "refused the request"
                    } else {
                        "failed"
                    };
                    return Cow::Owned(format!(
                        "{} {what}",
                        crate::oidc::Endpoint::describe(*endpoint)
                    ));
                }
                OidcError::InvalidResponse(_) => "the OpenID Provider's answer is not valid",
                OidcError::IdToken(_) => "the OpenID Provider's ID token was rejected",
                OidcError::Unsupported(_)
                | OidcError::InvalidParameter(_)
                | OidcError::DpopNonce(_) => return Cow::Owned(e.to_string()),
                OidcError::Dpop(_) => "the DPoP proof could not be made",
            },
            // Fixed sentences of ours already. Listed, not matched by `_`, so that a new
            // variant has to decide what it shows.
            BffError::NotAuthenticated
            | BffError::SessionExpired
            | BffError::Csrf
            | BffError::NotFound
            | BffError::BodyTooLarge
            | BffError::NoRefreshToken
            | BffError::NoAccessToken
            | BffError::UserinfoSubMismatch
            | BffError::MethodNotAllowed
            | BffError::BodyTimeout
            | BffError::MalformedBody
            | BffError::AdminUnauthorized => return Cow::Owned(self.to_string()),
        };
        Cow::Borrowed(fixed)
    }

    /// The JSON error answer, plus cookies (e.g. the cleared session of an ended session).
    pub fn response_with_cookies(
        &self,
        cookies: Vec<actix_web::cookie::Cookie<'static>>,
    ) -> HttpResponse {
        let mut res = self.error_response();
        for c in cookies {
            let _ = res.add_cookie(&c);
        }
        res
    }
}

impl ResponseError for BffError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.parts();
        if status.is_server_error() {
            tracing::warn!(error = %self, code, "request failed");
        } else {
            tracing::debug!(error = %self, code, "request refused");
        }
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if matches!(self, BffError::AdminUnauthorized) {
            // RFC 6750 §3: the scheme the admin API expects.
            res.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="oidc-bff admin""#));
        }
        res.json(json!({ "error": code, "error_description": self.public_message() }))
    }
}

/// Why a callback did not produce a session. Each maps to a `login_error` code.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The OP's answer did not sign the user in (`oidc::login`).
    #[error(transparent)]
    Callback(#[from] CallbackError),
    #[error("unknown or expired state")]
    InvalidState,
    #[error("state was already used")]
    StateReplayed,
    #[error("session too large for the cookies")]
    Session(SessionError),
    #[error("the session store is unavailable")]
    Store,
}

impl LoginError {
    /// The `login_error` code shown to the SPA.
    pub fn code(&self) -> String {
        match self {
            LoginError::Callback(c) => match c {
                CallbackError::Provider(e, _) => {
                    let ok = !e.is_empty()
                        && e.len() <= 64
                        && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                    if ok {
                        e.clone()
                    } else {
                        "login_failed".into()
                    }
                }
                CallbackError::IssMismatch => "iss_mismatch".into(),
                CallbackError::MissingCode => "missing_code".into(),
                CallbackError::TokenExchange(_) => "token_exchange_failed".into(),
                CallbackError::MissingIdToken | CallbackError::IdToken(_) => {
                    "invalid_id_token".into()
                }
                CallbackError::NotReady => "temporarily_unavailable".into(),
            },
            LoginError::InvalidState => "invalid_state".into(),
            LoginError::StateReplayed => "state_replayed".into(),
            LoginError::Store => "temporarily_unavailable".into(),
            LoginError::Session(_) => "session_error".into(),
        }
    }

    /// A bounded label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            LoginError::Callback(c) => match c {
                CallbackError::Provider(..) => "provider_error",
                CallbackError::IssMismatch => "iss_mismatch",
                CallbackError::MissingCode => "missing_code",
                CallbackError::TokenExchange(_) => "token_exchange_failed",
                CallbackError::MissingIdToken | CallbackError::IdToken(_) => "invalid_id_token",
                CallbackError::NotReady => "not_ready",
            },
            LoginError::InvalidState => "invalid_state",
            LoginError::StateReplayed => "state_replayed",
            LoginError::Store => "store_unavailable",
            LoginError::Session(_) => "session_error",
        }
    }

    /// The redirect that reports this failure to the SPA.
    pub fn redirect(&self) -> actix_web::HttpResponseBuilder {
        tracing::warn!(reason = %self, code = %self.code(), "login failed");
        let mut res = HttpResponse::Found();
        res.insert_header((header::LOCATION, format!("/?login_error={}", self.code())))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        res
    }
}

/// Answer for bad JSON bodies, forms, query strings and paths (actix extractor errors):
/// a sentence of ours; the extractor's own text (serde positions and the like) is logged.
pub fn bad_request(err: impl std::fmt::Display) -> actix_web::Error {
    BffError::Invalid(
        "the request is malformed (body, query string or path)",
        err.to_string(),
    )
    .into()
}

/// The JSON answer for an error that actix or a library produced itself (plain text or
/// an empty body): the same status, a stable code and a sentence of ours.
pub fn for_status(status: StatusCode) -> HttpResponse {
    let (code, message) = match status.as_u16() {
        400 => ("invalid_request", "the request is malformed"),
        401 => ("not_authenticated", "not authenticated"),
        403 => ("forbidden", "this request is not allowed"),
        404 => ("not_found", "no such resource"),
        405 => ("method_not_allowed", "this method is not allowed here"),
        408 => ("request_timeout", "the request did not arrive in time"),
        411 => ("length_required", "the request needs a Content-Length"),
        413 => ("too_large", "the request body is too large"),
        414 => ("too_large", "the request URI is too long"),
        415 => (
            "unsupported_media_type",
            "this content type is not accepted here",
        ),
        431 => ("too_large", "the request headers are too large"),
        s if s < 500 => ("invalid_request", "the request was refused"),
        503 => ("unavailable", "the service is unavailable"),
        _ => ("internal_error", "the request could not be completed"),
    };
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": code, "error_description": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_messages_carry_no_library_text() {
        let internal = [
            "Connection refused (os error 111)",
            "received corrupt message of type InvalidContentType",
            "expected value at line 1 column 2",
        ];
        let errors = [
            BffError::Proxy(ProxyError::Connect(internal[0].into())),
            BffError::Proxy(ProxyError::Upstream(internal[1].into())),
            BffError::Invalid("the body is not valid JSON", internal[2].into()),
            BffError::Oidc(OidcError::Network(internal[0].into())),
            BffError::Oidc(OidcError::InvalidResponse(internal[2].into())),
            BffError::Oidc(OidcError::Discovery(internal[1].into())),
        ];
        for e in errors {
            let shown = e.public_message();
            for text in internal {
                assert!(!shown.contains(text), "{shown}");
                assert!(!shown.contains("os error"), "{shown}");
            }
            assert!(
                e.to_string().len() > shown.len(),
                "the log keeps the detail: {e}"
            );
        }
        assert_eq!(
            BffError::BadRequest("sid is required".into()).public_message(),
            "sid is required"
        );
    }

    #[test]
    fn an_op_refusal_names_the_endpoint_in_our_words_and_logs_the_ops() {
        let refused = |status, endpoint| {
            BffError::Oidc(OidcError::Status {
                endpoint,
                status,
                error: Some("invalid_grant".into()),
                description: Some("the grant <b>expired</b>".into()),
                detail: None,
            })
        };
        let e = refused(400, Some(crate::oidc::Endpoint::Token));
        assert_eq!(e.parts(), (StatusCode::BAD_GATEWAY, "op_error"));
        assert_eq!(
            e.public_message(),
            "the OpenID Provider's token endpoint refused the request"
        );
        assert!(e.to_string().contains("the grant <b>expired</b>"), "{e}");
        let e = refused(500, Some(crate::oidc::Endpoint::Par));
        assert_eq!(
            e.public_message(),
            "the OpenID Provider's pushed authorization request endpoint failed"
        );
        assert_eq!(
            refused(401, None).public_message(),
            "the OpenID Provider refused the request"
        );
    }
}
