//! The one place where errors become HTTP: JSON `{"error": …}` answers for the `/bff`
//! endpoints, and `/?login_error=CODE` redirects for the OP-facing callback.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::oidc::{IdTokenError, OidcError};
use crate::session::SessionError;

/// Errors of the browser-facing endpoints.
#[derive(Debug, thiserror::Error)]
pub enum BffError {
    #[error("not authenticated")]
    NotAuthenticated,
    #[error("the session has ended")]
    SessionExpired,
    #[error("missing X-CSRF header or foreign Origin")]
    Csrf,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("no such endpoint")]
    NotFound,
    #[error("{0}")]
    TooLarge(&'static str),
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the session has no refresh token")]
    NoRefreshToken,
    #[error("the session has no access token")]
    NoAccessToken,
    #[error("userinfo `sub` differs from the ID token's")]
    UserinfoSubMismatch,
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyError),
    #[error("logout token rejected: {0}")]
    LogoutToken(crate::oidc::logout_token::LogoutTokenError),
    #[error(transparent)]
    Oidc(#[from] OidcError),
    #[error("session could not be stored: {0}")]
    Session(#[from] SessionError),
}

impl BffError {
    /// Status and the stable `error` code of the JSON body.
    pub fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            BffError::NotAuthenticated => (StatusCode::UNAUTHORIZED, "not_authenticated"),
            BffError::SessionExpired => (StatusCode::UNAUTHORIZED, "session_expired"),
            BffError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            BffError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            BffError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            BffError::NoRefreshToken => (StatusCode::CONFLICT, "no_refresh_token"),
            BffError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            BffError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            BffError::TooLarge(_) => (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "too_large"),
            BffError::LogoutToken(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            BffError::NoAccessToken => (StatusCode::CONFLICT, "no_access_token"),
            BffError::UserinfoSubMismatch => (StatusCode::BAD_GATEWAY, "userinfo_sub_mismatch"),
            BffError::Proxy(e) => match e {
                crate::proxy::ProxyError::BadPath => (StatusCode::BAD_REQUEST, "invalid_path"),
                crate::proxy::ProxyError::NoRoute => (StatusCode::NOT_FOUND, "no_route"),
                crate::proxy::ProxyError::Timeout => {
                    (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
                }
                crate::proxy::ProxyError::Connect(_) => {
                    (StatusCode::BAD_GATEWAY, "upstream_unreachable")
                }
                crate::proxy::ProxyError::Upstream(_) => {
                    (StatusCode::BAD_GATEWAY, "upstream_error")
                }
            },
            BffError::Session(_) => (StatusCode::INTERNAL_SERVER_ERROR, "session_error"),
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
            },
        }
    }
}

impl BffError {
    /// The JSON error answer, plus cookies (e.g. the cleared session of an ended session).
    pub fn response_with_cookies(
        &self,
        cookies: crate::session::cookies::CookieSet,
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
        HttpResponse::build(status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({ "error": code, "error_description": self.to_string() }))
    }
}

/// Why a callback did not produce a session. Each maps to a `login_error` code.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("the OP returned error `{0}`")]
    Provider(String),
    #[error("unknown or expired state")]
    InvalidState,
    #[error("state was already used")]
    StateReplayed,
    #[error("iss parameter missing or not our issuer")]
    IssMismatch,
    #[error("no code in the callback")]
    MissingCode,
    #[error("code exchange failed: {0}")]
    TokenExchange(OidcError),
    #[error("no ID token in the token response")]
    MissingIdToken,
    #[error("ID token rejected: {0}")]
    IdToken(IdTokenError),
    #[error("OP metadata not loaded yet")]
    NotReady,
    #[error("session too large for the cookies")]
    Session(SessionError),
    #[error("the session store is unavailable")]
    Store,
}

impl LoginError {
    /// The `login_error` code shown to the SPA.
    pub fn code(&self) -> String {
        match self {
            LoginError::Provider(e) => {
                let ok = !e.is_empty()
                    && e.len() <= 64
                    && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                if ok {
                    e.clone()
                } else {
                    "login_failed".into()
                }
            }
            LoginError::InvalidState => "invalid_state".into(),
            LoginError::StateReplayed => "state_replayed".into(),
            LoginError::IssMismatch => "iss_mismatch".into(),
            LoginError::MissingCode => "missing_code".into(),
            LoginError::TokenExchange(_) => "token_exchange_failed".into(),
            LoginError::MissingIdToken | LoginError::IdToken(_) => "invalid_id_token".into(),
            LoginError::NotReady | LoginError::Store => "temporarily_unavailable".into(),
            LoginError::Session(_) => "session_error".into(),
        }
    }

    /// A bounded label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            LoginError::Provider(_) => "provider_error",
            LoginError::InvalidState => "invalid_state",
            LoginError::StateReplayed => "state_replayed",
            LoginError::IssMismatch => "iss_mismatch",
            LoginError::MissingCode => "missing_code",
            LoginError::TokenExchange(_) => "token_exchange_failed",
            LoginError::MissingIdToken | LoginError::IdToken(_) => "invalid_id_token",
            LoginError::NotReady => "not_ready",
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

/// Answer for bad JSON bodies and query strings (actix extractor errors).
pub fn bad_request(err: impl std::fmt::Display) -> actix_web::Error {
    BffError::BadRequest(err.to_string()).into()
}
