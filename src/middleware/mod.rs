//! What wraps every request before routing, in order: request id, limits, body deadline,
//! CSRF, and metrics with the access log.

pub mod request_id;
