//! What wraps every request before routing, in this order: request id, limits and CSRF,
//! the body deadline, then JSON for bare error answers, metrics and the access log.

pub mod access_log;
pub mod body_deadline;
pub mod csrf;
pub mod limits;
pub mod request_id;

use std::time::Instant;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, ConnectionType, Method};
use actix_web::middleware::Next;
use actix_web::{web, Error};

use crate::error::BffError;
use crate::state::AppState;
use crate::telemetry::{self, Telemetry};
use body_deadline::{is_api, BodyWatch, Held, Holding};

/// An answer of the wrapped service, or one of ours.
type Answer<B> = ServiceResponse<EitherBody<B, BoxBody>>;

/// The one middleware: every concern in its file, called in a fixed order.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    use opentelemetry::context::FutureExt;
    use tracing::Instrument;
    let started = Instant::now();
    let rid = request_id::assign(&req);
    // issue 13: the server span (continuing a valid incoming traceparent), current for
    // everything the request does; its trace id in every log line.
    let otel = match req.app_data::<web::Data<Telemetry>>() {
        Some(t) => telemetry::server_span(t, req.method().as_str(), req.headers()),
        None => opentelemetry::Context::new(),
    };
    let trace_id = telemetry::trace_id(&otel).unwrap_or_default();
    let span = tracing::info_span!("request", request_id = %rid, trace_id = %trace_id);
    let server_span = otel.clone();
    async move {
        let method = req.method().clone();
        let path = req.path().to_string();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let result = admit_and_call(req, next, state.as_ref(), &method, &path).await;
        let (res, watch) = match result {
            Ok(answer) => answer,
            Err(e) => {
                let status = e.as_response_error().status_code().as_u16();
                telemetry::end_server_span(&server_span, method.as_str(), "unknown", status);
                return Err(e);
            }
        };
        let mut res = finish(res, &path, watch);
        request_id::stamp(&mut res, &rid);
        let access_log = state.as_ref().is_some_and(|s| s.config.log.access_log);
        let route = access_log::route_of(&path, &res, state.as_deref().map(|s| &*s.config));
        telemetry::end_server_span(&server_span, method.as_str(), &route, res.status().as_u16());
        access_log::record(&method, &path, &res, started.elapsed(), access_log);
        Ok(res)
    }
    .instrument(span)
    .with_context(otel)
    .await
}

/// The request-level rules that need no handler: limits first, then CSRF.
fn admit(req: &ServiceRequest, state: Option<&web::Data<AppState>>) -> Result<(), BffError> {
    let Some(s) = state else { return Ok(()) };
    limits::check(req, &s.config)?;
    csrf::check(req, &s.config)
}

/// Refuses the request, or holds its body to its deadline and calls the handler.
async fn admit_and_call<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    state: Option<&web::Data<AppState>>,
    method: &Method,
    path: &str,
) -> Result<(Answer<B>, Option<BodyWatch>), Error> {
    if let Err(e) = admit(&req, state) {
        tracing::info!(%method, %path, error = %e, "request refused before routing");
        // A body announced and not read: keep its reader alive until the answer is sent,
        // and close, or actix drains it for as long as the client sends.
        if !body_deadline::announces_body(&req) {
            return Ok((req.error_response(e).map_into_right_body(), None));
        }
        let mut req = req;
        let unread = std::mem::replace(req.parts_mut().1, Payload::None);
        let mut res = req.error_response(e);
        close(&mut res);
        let res = res
            .map_body(|_, b| BoxBody::new(Holding::new(b, unread)))
            .map_into_right_body();
        return Ok((res, None));
    }
    let mut req = req;
    let held = match state {
        Some(s) => body_deadline::hold(&mut req, &s.config).await,
        None => Held::Done,
    };
    Ok(match held {
        Held::Done => (next.call(req).await?.map_into_left_body(), None),
        Held::Streaming(w) => {
            let res = next.call(req).await?;
            (res.map_into_left_body(), Some(w))
        }
        Held::Refused(e, unread) => {
            tracing::info!(%method, %path, error = %e, "request body refused");
            let mut res = req.error_response(e);
            close(&mut res);
            let res = res
                .map_body(|_, b| BoxBody::new(Holding::new(b, unread)))
                .map_into_right_body();
            (res, None)
        }
    })
}

/// Our JSON in place of bare error answers, and an unread upload kept alive until its
/// early answer is sent (so the connection closes).
fn finish<B: MessageBody + 'static>(
    mut res: Answer<B>,
    path: &str,
    watch: Option<BodyWatch>,
) -> Answer<B> {
    if let Some((answer, must_close)) = replacement(&res, path, watch.as_ref()) {
        res = res.into_response(answer).map_into_right_body();
        if must_close {
            close(&mut res);
        }
    }
    // An `/api` answer given before the upload was read whole: keep the upload's
    // reader alive until the answer is sent, so the connection closes.
    if let Some(w) = watch.filter(|w| w.finished_at().is_none()) {
        close(&mut res);
        res = res
            .map_into_boxed_body()
            .map_body(|_, b| BoxBody::new(Holding::new(b, w)))
            .map_into_right_body();
    }
    res
}

/// The answer to send instead of `res`, if any: our JSON for a body that failed (the
/// connection is then closed), and for error answers that actix or a library made
/// itself (plain text or empty; upstream answers under `/api` pass unchanged).
fn replacement<B>(
    res: &ServiceResponse<B>,
    path: &str,
    watch: Option<&BodyWatch>,
) -> Option<(actix_web::HttpResponse, bool)> {
    let status = res.status();
    if let Some(fault) = watch.and_then(BodyWatch::fault) {
        if status.is_client_error() || status.is_server_error() {
            let e = fault.error();
            return Some((actix_web::ResponseError::error_response(&e), true));
        }
        return None;
    }
    if status.as_u16() < 400 {
        return None;
    }
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json || (is_api(path) && res.response().error().is_none()) {
        return None;
    }
    if let Some(e) = res.response().error() {
        tracing::debug!(status = status.as_u16(), error = %e, "error answer replaced by JSON");
    }
    Some((crate::error::for_status(status), false))
}

fn close<B>(res: &mut ServiceResponse<B>) {
    res.response_mut()
        .head_mut()
        .set_connection_type(ConnectionType::Close);
}
