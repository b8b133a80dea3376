//! Test support, compiled once into the `it` test binary (and into the few binaries that
//! must run alone). `use support::*` brings the everyday names.
//!
//! - `op`: the in-process fake OpenID Provider and its modes.
//! - `upstream`: a fake upstream API behind the proxy.
//! - `bff`: settings, and the BFF served in the test's own runtime.
//! - `browser`: the cookie-keeping client.
//! - `process`: the built binary as a child process (logs to a file), redis-server, ports,
//!   temporary folders, waiting until ready.
//! - `dot_op`: django-oauth-toolkit's OP (a Django project under `dot_op/`) in a test.
//! - `llng_op`: LemonLDAP::NG's portal as an OP (Debian packages, `llng_op/`) in a test.
//! - `race`: f17's stale-and-new-cookie refresh race, shared by `refresh_interop` and `redis`.
//! - `tokens`: ID and logout tokens as an OP makes them.
//! - `ws_upstream`: a real WebSocket upstream (tungstenite).
//! - `otlp`: an OTLP/HTTP trace receiver that decodes what the BFF exports.
#![allow(dead_code)]

pub mod bff;
pub mod browser;
pub mod demo_op; // issue 11: the real demo OP (node demo/op/server.mjs) in a test
pub mod dot_op; // issue 13: django-oauth-toolkit, a third OP (tests/support/dot_op/)
pub mod dpop; // issue 12: a DPoP proof verifier, as servers run one
pub mod llng_op; // LemonLDAP::NG, an OP with back-channel logout (tests/support/llng_op/)
pub mod op;
// issue 13: an OTLP/HTTP trace receiver
pub mod otlp;
pub mod process;
pub mod race;
pub mod tokens;
pub mod upstream;
// issue 11: a real WebSocket upstream
pub mod ws_upstream;

// Not every binary that compiles `support` uses every name.
#[allow(unused_imports)]
pub use {bff::*, browser::*, op::*, tokens::*};
