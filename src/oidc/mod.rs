//! Talking to the OpenID Provider: discovery, JWKS, the authorization request, the token
//! client and ID-token checks. Protocol logic is plain functions; I/O is in `http`.

pub mod authorize;
pub mod backoff;
pub mod challenge;
// issue 11: route tokens
pub mod client_credentials;
pub mod discovery;
// issue 12: DPoP building blocks (not wired yet)
pub mod dpop;
pub mod http;
pub mod id_token;
pub mod jwks;
pub mod login;
pub mod logout;
pub mod logout_token;
pub mod registration;
pub mod signing;
pub mod token;
pub mod token_exchange;

pub use discovery::{Metadata, Provider};
pub use id_token::IdTokenError;

/// Errors of the OIDC layer. Messages never contain a token, code or secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OidcError {
    #[error("the OpenID Provider's metadata is not loaded yet")]
    NotReady,
    #[error("could not reach the OpenID Provider: {0}")]
    Network(String),
    #[error("the OpenID Provider did not answer in time")]
    Timeout,
    #[error("{} answered {status}{}", Endpoint::describe(*endpoint), http::error_detail(error, description, detail))]
    Status {
        /// issue 13: which endpoint answered (set by the caller with [`OidcError::at`]).
        endpoint: Option<Endpoint>,
        status: u16,
        error: Option<String>,
        /// issue 11: the OP's `error_description`, sanitised (for the log only).
        description: Option<String>,
        /// issue 13: an answer that is not an OAuth error (empty, HTML, text): its content
        /// type and first characters, sanitised (for the log only).
        detail: Option<String>,
    },
    #[error("the OpenID Provider's answer is not valid: {0}")]
    InvalidResponse(String),
    #[error("discovery failed: {0}")]
    Discovery(String),
    #[error("ID token rejected: {0}")]
    IdToken(#[from] IdTokenError),
    #[error("the OpenID Provider does not offer {0}")]
    Unsupported(&'static str),
    #[error("invalid parameter `{0}`")]
    InvalidParameter(&'static str),
    /// issue 12: the server (named) asked for a new DPoP nonce again after one retry.
    #[error("{0} kept answering use_dpop_nonce")]
    DpopNonce(&'static str),
    #[error("DPoP: {0}")]
    Dpop(#[from] dpop::DpopError),
}

/// issue 13: the OP endpoint a request went to, named in the log and in the 502 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Par,
    Userinfo,
    Introspection,
    Revocation,
    Jwks,
    Discovery,
    Registration,
}

impl Endpoint {
    /// "token endpoint", "PAR endpoint", …
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Token => "token endpoint",
            Endpoint::Par => "pushed authorization request endpoint",
            Endpoint::Userinfo => "userinfo endpoint",
            Endpoint::Introspection => "introspection endpoint",
            Endpoint::Revocation => "revocation endpoint",
            Endpoint::Jwks => "JWKS endpoint",
            Endpoint::Discovery => "discovery endpoint",
            Endpoint::Registration => "registration endpoint",
        }
    }

    /// "the OpenID Provider's token endpoint", or "the OpenID Provider" when unknown.
    pub fn describe(endpoint: Option<Endpoint>) -> std::borrow::Cow<'static, str> {
        match endpoint {
            Some(e) => format!("the OpenID Provider's {}", e.name()).into(),
            None => "the OpenID Provider".into(),
        }
    }
}

impl OidcError {
    /// issue 13: names the endpoint an error answer came from (kept if already named).
    pub fn at(self, endpoint: Endpoint) -> Self {
        match self {
            OidcError::Status {
                endpoint: None,
                status,
                error,
                description,
                detail,
            } => OidcError::Status {
                endpoint: Some(endpoint),
                status,
                error,
                description,
                detail,
            },
            other => other,
        }
    }
}
