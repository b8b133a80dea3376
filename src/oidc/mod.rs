//! Talking to the OpenID Provider: discovery, JWKS, the authorization request, the token
//! client and ID-token checks. Protocol logic is plain functions; I/O is in `http`.

pub mod authorize;
pub mod backoff;
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
    #[error("the OpenID Provider answered {status} {}", error.as_deref().unwrap_or(""))]
    Status {
        status: u16,
        error: Option<String>,
        /// issue 11: the OP's `error_description`, sanitised (for the log only).
        description: Option<String>,
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
