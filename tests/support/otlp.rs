//! issue 13: an OTLP/HTTP trace receiver for the tests: `POST /v1/traces` with protobuf,
//! decoded with opentelemetry-proto; keeps every body as received and the spans.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;

/// One exported span, ids in hex.
#[derive(Clone, Debug)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_id: String,
    pub name: String,
    /// OTLP's `SpanKind`: 2 server, 3 client.
    pub kind: i32,
    pub attributes: BTreeMap<String, String>,
    /// Event names with their attributes.
    pub events: Vec<(String, BTreeMap<String, String>)>,
    /// The resource's `service.name`.
    pub service: String,
    /// Start and end, in nanoseconds since the Unix epoch.
    pub start_ns: u64,
    pub end_ns: u64,
}

impl Span {
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_ns.saturating_sub(self.start_ns))
    }
}

pub const SERVER: i32 = 2;
pub const CLIENT: i32 = 3;

#[derive(Default)]
struct Received {
    bodies: Vec<Vec<u8>>,
    spans: Vec<Span>,
    bad: Vec<String>,
}

pub struct Otlp {
    /// The base URL to give as `otlp_endpoint`.
    pub base: String,
    state: Arc<Mutex<Received>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => s.clone(),
        Some(Any::IntValue(i)) => i.to_string(),
        Some(Any::BoolValue(b)) => b.to_string(),
        Some(Any::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn map(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), text(&kv.value)))
        .collect()
}

async fn traces(
    state: web::Data<Arc<Mutex<Received>>>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.bodies.push(body.to_vec());
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != "application/x-protobuf" {
        s.bad.push(format!("content-type {content_type:?}"));
        return HttpResponse::UnsupportedMediaType().finish();
    }
    let decoded = match ExportTraceServiceRequest::decode(body.as_ref()) {
        Ok(d) => d,
        Err(e) => {
            s.bad.push(format!("undecodable: {e}"));
            return HttpResponse::BadRequest().finish();
        }
    };
    for rs in decoded.resource_spans {
        let resource = map(&rs.resource.map(|r| r.attributes).unwrap_or_default());
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for ss in rs.scope_spans {
            for sp in ss.spans {
                s.spans.push(Span {
                    trace_id: hex(&sp.trace_id),
                    span_id: hex(&sp.span_id),
                    parent_id: hex(&sp.parent_span_id),
                    name: sp.name.clone(),
                    kind: sp.kind,
                    attributes: map(&sp.attributes),
                    events: sp
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), map(&e.attributes)))
                        .collect(),
                    service: service.clone(),
                    start_ns: sp.start_time_unix_nano,
                    end_ns: sp.end_time_unix_nano,
                });
            }
        }
    }
    // An empty ExportTraceServiceResponse.
    HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .finish()
}

impl Otlp {
    pub fn start() -> Otlp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(Received::default()));
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 << 20))
                .route("/v1/traces", web::post().to(traces))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_rt::spawn(server);
        Otlp {
            base: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    pub fn spans(&self) -> Vec<Span> {
        let s = self.state.lock().unwrap();
        assert!(s.bad.is_empty(), "bad exports: {:?}", s.bad);
        s.spans.clone()
    }

    /// Every body received, as one byte string (for the absence of secrets).
    pub fn raw(&self) -> Vec<u8> {
        self.state.lock().unwrap().bodies.concat()
    }

    /// The spans of `trace_id`, once `done` says they are all there (or after `within`).
    pub async fn trace(
        &self,
        trace_id: &str,
        within: Duration,
        done: impl Fn(&[Span]) -> bool,
    ) -> Vec<Span> {
        let started = Instant::now();
        loop {
            let spans: Vec<Span> = self
                .spans()
                .into_iter()
                .filter(|s| s.trace_id == trace_id)
                .collect();
            if done(&spans) || started.elapsed() >= within {
                return spans;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The one span of `spans` named `name` (panics listing them otherwise).
pub fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "one span {name:?} in {:#?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    found[0]
}

/// A random valid `traceparent` (sampled) and its trace and parent ids.
pub fn traceparent() -> (String, String, String) {
    let trace: String = (0..16)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let parent: String = (0..8)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    (format!("00-{trace}-{parent}-01"), trace, parent)
}

/// `traceparent`'s parts: version, trace id, parent id, flags.
pub fn parts(traceparent: &str) -> Vec<String> {
    traceparent.split('-').map(str::to_string).collect()
}
