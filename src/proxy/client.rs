//! The upstream HTTP client: one keep-alive pool per worker, uploads that may take as
//! long as they keep moving, and send errors told apart for metrics and answers.

use std::time::Duration;

use awc::error::SendRequestError;

use crate::error::{BffError, ProxyError};

/// The body type of an upstream answer.
pub type Body = actix_web::dev::Decompress<actix_web::dev::Payload>;

/// The awc client for upstreams, one per worker (a keep-alive pool per upstream).
pub struct UpstreamClient(pub awc::Client);

impl UpstreamClient {
    pub fn new(tls: std::sync::Arc<rustls::ClientConfig>, connect_timeout: Duration) -> Self {
        let connector = awc::Connector::new()
            .rustls_0_23(tls)
            .timeout(connect_timeout)
            .limit(0)
            .conn_keep_alive(Duration::from_secs(30));
        Self(
            awc::Client::builder()
                .connector(connector)
                .disable_redirects()
                // issue 12: a refused WebSocket upgrade's headers (its DPoP nonce demand).
                .wrap(super::websocket::RefusalTap)
                // issue 13: traceparent and a client span on every upstream request.
                .wrap(crate::telemetry::Traced(crate::telemetry::Peer::Upstream))
                .no_default_headers()
                .timeout(Duration::from_secs(24 * 3600))
                .finish(),
        )
    }
}

pub(crate) fn send_error(e: SendRequestError) -> ProxyError {
    let (kind, err) = match e {
        SendRequestError::Timeout => ("timeout", ProxyError::Timeout),
        SendRequestError::Connect(c) => ("connect", ProxyError::Connect(c.to_string())),
        other => ("other", ProxyError::Upstream(other.to_string())),
    };
    crate::metrics::get()
        .upstream_errors
        .with_label_values(&[kind])
        .inc();
    err
}

/// When the browser's body failed (stalled, broken framing, too large), that is the
/// error, not the upstream's.
pub(crate) fn body_error(
    watch: Option<&crate::middleware::body_deadline::BodyWatch>,
) -> Option<BffError> {
    Some(watch?.fault()?.error())
}

/// awc's own bound on an upload (its timeout covers sending the body too).
pub(crate) const UNBOUNDED: Duration = Duration::from_secs(24 * 3600);

/// The upstream's answer to an upload, due within `timeout` after the body ended. While
/// the body is being sent, the call fails with `Timeout` when the body has not moved for
/// `timeout` and is not waiting on the client (whose stalls the body's own deadline
/// cuts off): the upstream stopped reading and back-pressure stopped the body.
pub(crate) async fn answer_to_upload<T>(
    send: impl std::future::Future<Output = Result<T, SendRequestError>>,
    watch: Option<&crate::middleware::body_deadline::BodyWatch>,
    timeout: Duration,
) -> Result<T, SendRequestError> {
    use tokio::time::{timeout_at, Instant};
    let started = Instant::now();
    let mut send = std::pin::pin!(send);
    loop {
        let now = Instant::now();
        let until = match watch {
            None => now + timeout,
            Some(w) if w.fault().is_some() => return Err(SendRequestError::Timeout),
            Some(w) => match w.finished_at() {
                Some(done) => done + timeout,
                None if w.waiting_on_client() => now + timeout,
                None => w.progressed_at().max(started) + timeout,
            },
        };
        if until <= now {
            return Err(SendRequestError::Timeout);
        }
        if let Ok(r) = timeout_at(until, &mut send).await {
            return r;
        }
        if watch.is_none() {
            return Err(SendRequestError::Timeout);
        }
    }
}
