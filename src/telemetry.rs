//! Tracing (issue 13): W3C trace context in and out, the server span of each request, the
//! client spans of the calls the BFF makes (upstream, OP, Redis), and their OTLP export.
//!
//! Every [`crate::app::Application`] has its own [`Telemetry`] (tracer provider and, with
//! `otlp_endpoint`, a batch exporter): no global tracer, so several BFFs in one process
//! (the tests) keep their spans apart. The request's OpenTelemetry [`Context`] (its server
//! span, and the `Telemetry` as a context value) is carried with the request's future
//! (`FutureExt::with_context`), so a call made anywhere below (awc middleware [`Traced`],
//! the Redis connection) finds its parent with `Context::current()`.
//! Attributes are chosen here, never copied from a request: no token, cookie, code,
//! state, query string or secret can reach them.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use actix_http::RequestHeadType;
use actix_service::Service;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use awc::error::SendRequestError;
use awc::{ConnectRequest, ConnectResponse};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{
    SpanBuilder, SpanContext, SpanKind, Status, TraceContextExt, TraceFlags, Tracer,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, IdGenerator, RandomIdGenerator, Sampler, SdkTracer,
    SdkTracerProvider, SpanData, SpanExporter,
};
use opentelemetry_sdk::Resource;

use crate::config::LogConfig;

/// How long one export may take (retries included) before it counts as failed.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often queued spans are exported (spans reach the collector within ~1 s + export).
pub const EXPORT_DELAY: Duration = Duration::from_secs(1);
/// Spans kept waiting for export; past it new spans are dropped, never waited for.
pub const QUEUE_SIZE: usize = 2048;

/// One application's tracer (and exporter). Cheap to clone.
#[derive(Clone)]
pub struct Telemetry(Arc<Inner>);

struct Inner {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    /// Spans go somewhere (`otlp_endpoint`). Without, requests and calls only carry trace
    /// context: ids, flags and state, with no span recorded (issue 14: a recorded span
    /// that nobody exports costs its attributes, names and allocations on every request).
    exporting: bool,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Telemetry")
    }
}

impl Telemetry {
    /// The tracer of `log`'s settings: spans exported to `otlp_endpoint` over OTLP/HTTP
    /// (protobuf, with `tls` for https), or kept nowhere without it (trace context is
    /// still propagated).
    pub fn new(log: &LogConfig, tls: &Arc<rustls::ClientConfig>) -> Result<Self, String> {
        let resource = Resource::builder_empty()
            .with_attribute(KeyValue::new("service.name", log.service_name.clone()))
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let mut builder = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        if let Some(base) = &log.otlp_endpoint {
            let exporter = Counted::new(otlp_exporter(base, tls)?);
            builder = builder.with_span_processor(
                BatchSpanProcessor::builder(exporter)
                    .with_batch_config(batch_config())
                    .build(),
            );
        }
        let provider = builder.build();
        let tracer = provider.tracer("oidc-bff");
        Ok(Self(Arc::new(Inner {
            provider,
            tracer,
            exporting: log.otlp_endpoint.is_some(),
        })))
    }

    /// A context for work outside any request (discovery at start): its calls start
    /// traces of their own.
    pub fn root(&self) -> Context {
        Context::new().with_value(self.clone())
    }

    /// Exports what is queued and stops the exporter (at shutdown). Blocks up to the
    /// export timeout: call it off the async runtime's thread.
    pub fn shutdown(&self) {
        if let Err(e) = self.0.provider.shutdown_with_timeout(EXPORT_TIMEOUT * 2) {
            tracing::warn!(error = %e, "trace export at shutdown failed");
        }
    }
}

/// `<base>/v1/traces`, without a doubled slash.
pub fn traces_url(base: &url::Url) -> String {
    format!("{}/v1/traces", base.as_str().trim_end_matches('/'))
}

fn otlp_exporter(
    base: &url::Url,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<opentelemetry_otlp::SpanExporter, String> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let tls = (**tls).clone();
    // reqwest's blocking client starts a runtime of its own: build it off ours.
    let client = std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(EXPORT_TIMEOUT)
            .connect_timeout(EXPORT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
    })
    .join()
    .map_err(|_| "cannot start the trace export client".to_string())?
    .map_err(|e| format!("cannot build the trace export client: {e}"))?;
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(traces_url(base))
        .with_timeout(EXPORT_TIMEOUT)
        .with_http_client(client)
        .build()
        .map_err(|e| e.to_string())
}

/// Bounded queue, 1 s delay (unless `OTEL_BSP_SCHEDULE_DELAY` says otherwise); the
/// exporter's own timeout bounds each export.
fn batch_config() -> opentelemetry_sdk::trace::BatchConfig {
    let mut b = BatchConfigBuilder::default()
        .with_max_queue_size(QUEUE_SIZE)
        .with_max_export_batch_size(512);
    if std::env::var_os("OTEL_BSP_SCHEDULE_DELAY").is_none() {
        b = b.with_scheduled_delay(EXPORT_DELAY);
    }
    b.build()
}

/// An exporter whose failures are counted (`bff_trace_export_failures_total`) and logged
/// once per run of failures (and once when exports work again).
#[derive(Debug)]
struct Counted<E> {
    inner: E,
    failing: AtomicBool,
    failures: AtomicU64,
}

impl<E> Counted<E> {
    fn new(inner: E) -> Self {
        Self {
            inner,
            failing: AtomicBool::new(false),
            failures: AtomicU64::new(0),
        }
    }

    /// Whether this failure starts a run of failures (and so is logged).
    fn failed(&self) -> bool {
        crate::metrics::get().trace_export_failures.inc();
        self.failures.fetch_add(1, Ordering::Relaxed);
        !self.failing.swap(true, Ordering::Relaxed)
    }

    /// How many failures a run that has just ended had (0: there was none).
    fn succeeded(&self) -> u64 {
        if self.failing.swap(false, Ordering::Relaxed) {
            self.failures.swap(0, Ordering::Relaxed)
        } else {
            0
        }
    }
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                let n = self.succeeded();
                if n > 0 {
                    tracing::info!(failed_exports = n, "trace export works again");
                }
            }
            Err(e) => {
                if self.failed() {
                    tracing::warn!(error = %e, spans, "trace export failed (spans dropped; logged once until an export succeeds)");
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeadersMut<'a>(&'a mut HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// The caller's trace context when its `traceparent` is valid (exactly one, version 00,
/// trace and parent ids not all zero; `tracestate` only then), else none: the request
/// then starts a new trace and nothing of the client's is forwarded.
pub fn incoming(headers: &HeaderMap) -> Option<SpanContext> {
    let mut all = headers.get_all("traceparent");
    let first = all.next()?;
    if all.next().is_some() || !well_formed(first.as_bytes()) {
        return None;
    }
    let cx = TraceContextPropagator::new().extract(&Headers(headers));
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

/// Version 00's exact shape, `00-<32 hex>-<16 hex>-<2 hex>` in lower case (the
/// propagator, lenient for future versions, takes shorter ids too); the propagator then
/// checks the ids are not all zero.
fn well_formed(tp: &[u8]) -> bool {
    let hex = |b: &[u8]| b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    tp.len() == 55
        && tp.starts_with(b"00-")
        && tp[35] == b'-'
        && tp[52] == b'-'
        && hex(&tp[3..35])
        && hex(&tp[36..52])
        && hex(&tp[53..55])
}

/// The server span of a request (`method`, the `route` pattern is set when it ends),
/// child of a valid incoming `traceparent`; the returned context carries `telemetry`.
pub fn server_span(telemetry: &Telemetry, method: &str, headers: &HeaderMap) -> Context {
    if !telemetry.0.exporting {
        return Context::new()
            .with_remote_span_context(context_only(incoming(headers).as_ref()))
            .with_value(telemetry.clone());
    }
    let parent = match incoming(headers) {
        Some(sc) => Context::new().with_remote_span_context(sc),
        None => Context::new(),
    };
    let span = telemetry.0.tracer.build_with_context(
        SpanBuilder::from_name(format!("{method} request"))
            .with_kind(SpanKind::Server)
            .with_attributes([KeyValue::new("http.request.method", method.to_string())]),
        &parent,
    );
    parent.with_span(span).with_value(telemetry.clone())
}

/// A span context that records nothing: a child of `parent` (its trace, flags and
/// state, a new span id), or the start of a trace of its own (not sampled).
fn context_only(parent: Option<&SpanContext>) -> SpanContext {
    let ids = RandomIdGenerator::default();
    match parent {
        Some(p) => SpanContext::new(
            p.trace_id(),
            ids.new_span_id(),
            p.trace_flags(),
            false,
            p.trace_state().clone(),
        ),
        None => SpanContext::new(
            ids.new_trace_id(),
            ids.new_span_id(),
            TraceFlags::default(),
            false,
            Default::default(),
        ),
    }
}

/// Ends the server span of `cx` with its route (a pattern or `/api` route prefix, never
/// the raw path) and status.
pub fn end_server_span(cx: &Context, method: &str, route: &str, status: u16) {
    let span = cx.span();
    if !span.is_recording() {
        return;
    }
    span.update_name(format!("{method} {route}"));
    span.set_attribute(KeyValue::new("http.route", route.to_string()));
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status),
    ));
    if status >= 500 {
        span.set_status(Status::error(format!("status {status}")));
    }
    span.end();
}

/// The 32-hex trace id of the current context (for log lines), if any.
pub fn trace_id(cx: &Context) -> Option<String> {
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// An event on the current request's span (login finished, refresh, logout).
pub fn event(name: &'static str, attributes: &[(&'static str, &str)]) {
    Context::map_current(|cx| {
        if !cx.span().is_recording() {
            return;
        }
        cx.span().add_event(
            name,
            attributes
                .iter()
                .map(|(k, v)| KeyValue::new(*k, v.to_string()))
                .collect(),
        );
    });
}

/// A client span, child of the current context's span; ended when dropped.
pub struct ClientSpan {
    cx: Context,
    ended: bool,
}

impl ClientSpan {
    /// Starts a client span under the current context. Without a tracer there (work
    /// outside any request or root context) the context is a fresh, unsampled one, so
    /// the call still carries a `traceparent` of its own.
    pub fn start(name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) -> Self {
        Self::start_lazy(|| (name.into(), attributes))
    }

    /// [`ClientSpan::start`] with the name and attributes made only when the span is
    /// recorded (not without `otlp_endpoint`).
    pub fn start_lazy(what: impl FnOnce() -> (Cow<'static, str>, Vec<KeyValue>)) -> Self {
        let parent = Context::current();
        let cx = match parent.get::<Telemetry>() {
            Some(t) if !t.0.exporting => {
                let sc = parent.span().span_context().clone();
                Context::new()
                    .with_remote_span_context(context_only(Some(&sc).filter(|c| c.is_valid())))
            }
            Some(t) => {
                let (name, attributes) = what();
                let span = t.0.tracer.build_with_context(
                    SpanBuilder::from_name(name)
                        .with_kind(SpanKind::Client)
                        .with_attributes(attributes),
                    &parent,
                );
                parent.with_span(span)
            }
            None => {
                let ids = RandomIdGenerator::default();
                Context::new().with_remote_span_context(SpanContext::new(
                    ids.new_trace_id(),
                    ids.new_span_id(),
                    TraceFlags::default(),
                    false,
                    Default::default(),
                ))
            }
        };
        Self { cx, ended: false }
    }

    /// Sets `traceparent` (and `tracestate` when there is one) in `headers`, replacing
    /// whatever was there.
    pub fn inject(&self, headers: &mut HeaderMap) {
        headers.remove("traceparent");
        headers.remove("tracestate");
        TraceContextPropagator::new().inject_context(&self.cx, &mut HeadersMut(headers));
        if headers.get("tracestate").is_some_and(|v| v.is_empty()) {
            headers.remove("tracestate");
        }
    }

    /// The span's id (hex), as the callee sees it as its parent.
    pub fn span_id(&self) -> String {
        self.cx.span().span_context().span_id().to_string()
    }

    pub fn attribute(&self, kv: KeyValue) {
        self.cx.span().set_attribute(kv);
    }

    /// Ends the span with the answer's status.
    pub fn status(mut self, status: u16) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if status >= 500 {
            span.set_status(Status::error(format!("status {status}")));
        }
        span.end();
        self.ended = true;
    }

    /// Ends the span as failed, with a short fixed `kind` (never an error's text).
    pub fn failed(mut self, kind: &'static str) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new("error.type", kind));
        span.set_status(Status::error(kind));
        span.end();
        self.ended = true;
    }

    /// Ends the span as done.
    pub fn ok(mut self) {
        self.cx.span().end();
        self.ended = true;
    }
}

impl Drop for ClientSpan {
    fn drop(&mut self) {
        if !self.ended {
            let span = self.cx.span();
            span.set_attribute(KeyValue::new("error.type", "cancelled"));
            span.set_status(Status::error("cancelled"));
            span.end();
        }
    }
}

/// Who an awc client talks to, for its spans' names and attributes.
#[derive(Clone)]
pub enum Peer {
    /// The OP; the function names the endpoint of a URL (without query): `token`, `par`…
    Op(Rc<dyn Fn(&str) -> &'static str>),
    /// An upstream API behind `/api`.
    Upstream,
}

/// awc middleware: a client span per request the client sends (WebSocket handshakes
/// included), and its `traceparent` on the request.
pub struct Traced(pub Peer);

impl<S> awc::middleware::Transform<S, ConnectRequest> for Traced
where
    S: Service<ConnectRequest, Response = ConnectResponse, Error = SendRequestError>,
{
    type Transform = TracedService<S>;

    fn new_transform(self, service: S) -> Self::Transform {
        TracedService {
            service,
            peer: self.0,
        }
    }
}

pub struct TracedService<S> {
    service: S,
    peer: Peer,
}

/// The span of one outgoing request: its name and attributes from the URL's scheme,
/// host and port (no path, no query) and who the peer is.
fn outgoing_span(peer: &Peer, method: &str, uri: &awc::http::Uri, websocket: bool) -> ClientSpan {
    ClientSpan::start_lazy(|| outgoing_span_parts(peer, method, uri, websocket))
}

fn outgoing_span_parts(
    peer: &Peer,
    method: &str,
    uri: &awc::http::Uri,
    websocket: bool,
) -> (Cow<'static, str>, Vec<KeyValue>) {
    let scheme = uri.scheme_str().unwrap_or("http");
    let port = uri
        .port_u16()
        .unwrap_or(if matches!(scheme, "https" | "wss") {
            443
        } else {
            80
        });
    let mut attributes = vec![
        KeyValue::new("http.request.method", method.to_string()),
        KeyValue::new("server.address", uri.host().unwrap_or("").to_string()),
        KeyValue::new("server.port", i64::from(port)),
        KeyValue::new("url.scheme", scheme.to_string()),
    ];
    let name = match peer {
        Peer::Op(named) => {
            let without_query = format!(
                "{scheme}://{}{}",
                uri.authority().map_or("", |a| a.as_str()),
                uri.path()
            );
            let endpoint = named(&without_query);
            attributes.push(KeyValue::new("bff.peer", "op"));
            attributes.push(KeyValue::new("bff.op.endpoint", endpoint));
            format!("OP {endpoint}")
        }
        Peer::Upstream => {
            attributes.push(KeyValue::new("bff.peer", "upstream"));
            if websocket {
                attributes.push(KeyValue::new("bff.websocket", true));
            }
            format!("upstream {method}")
        }
    };
    (name.into(), attributes)
}

impl<S> Service<ConnectRequest> for TracedService<S>
where
    S: Service<ConnectRequest, Response = ConnectResponse, Error = SendRequestError>,
{
    type Response = ConnectResponse;
    type Error = SendRequestError;
    type Future = TracedCall<S::Future>;

    actix_service::forward_ready!(service);

    fn call(&self, req: ConnectRequest) -> Self::Future {
        let (req, span) = match req {
            ConnectRequest::Client(head, body, addr) => {
                let mut head = match head {
                    RequestHeadType::Owned(h) => h,
                    RequestHeadType::Rc(h, extra) => {
                        let mut h = (*h).clone();
                        for (k, v) in extra.iter().flat_map(|e| e.iter()) {
                            h.headers.insert(k.clone(), v.clone());
                        }
                        h
                    }
                };
                let span = outgoing_span(&self.peer, head.method.as_str(), &head.uri, false);
                span.inject(&mut head.headers);
                (
                    ConnectRequest::Client(RequestHeadType::Owned(head), body, addr),
                    span,
                )
            }
            ConnectRequest::Tunnel(mut head, addr) => {
                let span = outgoing_span(&self.peer, head.method.as_str(), &head.uri, true);
                span.inject(&mut head.headers);
                (ConnectRequest::Tunnel(head, addr), span)
            }
        };
        TracedCall {
            fut: Box::pin(self.service.call(req)),
            span: Some(span),
        }
    }
}

/// The call's future: ends its span with the answer's status or the failure.
pub struct TracedCall<F> {
    fut: Pin<Box<F>>,
    span: Option<ClientSpan>,
}

impl<F> Future for TracedCall<F>
where
    F: Future<Output = Result<ConnectResponse, SendRequestError>>,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let out = std::task::ready!(self.fut.as_mut().poll(cx));
        if let Some(span) = self.span.take() {
            match &out {
                Ok(ConnectResponse::Client(res)) => span.status(res.status().as_u16()),
                Ok(ConnectResponse::Tunnel(head, _)) => span.status(head.status.as_u16()),
                Err(SendRequestError::Timeout) => span.failed("timeout"),
                Err(SendRequestError::Connect(_)) => span.failed("connect"),
                Err(_) => span.failed("send"),
            }
        }
        Poll::Ready(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_continued_with_its_tracestate() {
        let sc = incoming(&headers(&[("traceparent", VALID), ("tracestate", "v=1")])).unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled());
        assert_eq!(sc.trace_state().header(), "v=1");
    }

    #[test]
    fn invalid_traceparents_are_not_continued() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
            "garbage",
            "",
        ] {
            assert!(
                incoming(&headers(&[("traceparent", bad)])).is_none(),
                "{bad}"
            );
        }
        // Two traceparents: which one? Neither.
        let two = headers(&[("traceparent", VALID), ("traceparent", VALID)]);
        assert!(incoming(&two).is_none());
    }

    fn telemetry() -> Telemetry {
        Telemetry::new(
            &LogConfig {
                debug: false,
                json: false,
                access_log: false,
                otlp_endpoint: None,
                service_name: "t".into(),
            },
            &Arc::new(
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
            ),
        )
        .unwrap()
    }

    #[test]
    fn a_client_span_replaces_what_the_request_carried() {
        let t = telemetry();
        let incoming = headers(&[("traceparent", VALID), ("tracestate", "v=1")]);
        let cx = server_span(&t, "GET", &incoming);
        let _attached = cx.clone().attach();
        let span = ClientSpan::start("c", vec![]);
        let mut out = headers(&[("traceparent", "00-garbage"), ("tracestate", "evil=1")]);
        span.inject(&mut out);
        let tp = out
            .get("traceparent")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parts[2], span.span_id());
        assert_ne!(parts[2], "00f067aa0ba902b7");
        assert_eq!(parts[3], "01");
        assert_eq!(out.get("tracestate").unwrap(), "v=1");
        span.ok();
    }

    #[test]
    fn an_unsampled_trace_stays_unsampled() {
        let t = telemetry();
        let unsampled = VALID.replace("-01", "-00");
        let cx = server_span(&t, "GET", &headers(&[("traceparent", &unsampled)]));
        assert!(!cx.span().span_context().is_sampled());
        assert!(!cx.span().is_recording(), "not exported");
        let _attached = cx.attach();
        let span = ClientSpan::start("c", vec![]);
        let mut out = HeaderMap::new();
        span.inject(&mut out);
        let tp = out
            .get("traceparent")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{tp}"
        );
        assert!(tp.ends_with("-00"), "{tp}");
    }

    #[test]
    fn without_a_tracer_a_call_still_gets_a_fresh_traceparent() {
        let span = ClientSpan::start("c", vec![]);
        let mut out = headers(&[("tracestate", "evil=1")]);
        span.inject(&mut out);
        let tp = out.get("traceparent").unwrap().to_str().unwrap();
        assert!(incoming(&headers(&[("traceparent", tp)])).is_some(), "{tp}");
        assert!(out.get("tracestate").is_none());
    }

    #[test]
    fn traces_url_appends_the_signal_path() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(traces_url(&u("http://c:4318")), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url(&u("http://c:4318/otel/")),
            "http://c:4318/otel/v1/traces"
        );
    }
}
