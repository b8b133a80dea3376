//! oidc-bff: a Backend-for-Frontend that runs OpenID Connect for a single-page app and
//! keeps every token server-side, in sealed HTTP-only cookies.

pub mod admin;
pub mod app;
pub mod bff;
pub mod config;
pub mod error;
pub mod metrics;
pub mod middleware;
pub mod oidc;
pub mod proxy;
pub mod session;
pub mod state;
pub mod store;
// issue 13: tracing
pub mod telemetry;
pub mod tls;
pub mod util;

/// Installs the ring crypto providers for rustls and for jsonwebtoken's signatures
/// (`oidc::signing`), idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = oidc::signing::PROVIDER.install_default();
}
