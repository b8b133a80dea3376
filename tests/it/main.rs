//! The integration tests, one binary: each module is one area of the contract, and
//! `support` (the fake OP, upstream, BFF, browser, child process and token helpers) is
//! compiled once for all of them.
//!
//! Only tests that must own their process stay in binaries of their own: `streaming`
//! (measures this process's RSS), `metrics` and `admin_metrics` (read the process-wide
//! metrics registry), `leaks` (installs the global tracing subscriber).

#[path = "../support/mod.rs"]
mod support;

mod admin;
mod assertion_audience;
mod backchannel;
mod cli;
mod demo_op;
mod dpop;
mod edge;
mod fapi;
mod fapi_plan;
mod hostile;
mod https;
mod id_token;
// issue 13: interop aids
mod interop;
mod lifecycle;
// LemonLDAP::NG, an OP with back-channel logout
mod llng_op;
mod login;
mod login_cookie;
mod logout;
mod logout_logs;
mod properties;
mod proxy;
mod redis;
mod refresh_interop;
mod registration;
// issue 11: route tokens
mod route_tokens;
mod session;
mod session_status;
mod sidecar;
mod standards;
// issue 13: django-oauth-toolkit, a third OP
mod third_op;
mod tokens;
// issue 13
mod tracing;
mod user_claims;
// issue 11
mod websocket;
