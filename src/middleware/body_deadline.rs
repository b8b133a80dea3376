//! Deadlines on request bodies (issue 9). `request_timeout` only bounds a request's
//! head. A `/bff/` or callback body is read whole, within `body_timeout`, before the
//! handler runs ([`read_whole`]); an `/api` upload streams through [`Idle`], which cuts it
//! off when it stalls longer than `proxy_timeout` between chunks and notes how a body
//! failed (timed out, broken framing, too large), so the answer can say so (408 / 400 /
//! 413 JSON) instead of blaming the upstream.
//!
//! actix keeps draining a chunked body whose reader was dropped, for as long as the
//! client keeps sending; it closes the connection after the answer only while the reader
//! is alive. So an answer given before its request body was read whole keeps the reader
//! alive until the answer is sent ([`Holding`]): the connection then closes.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::http::{header, Method};
use actix_web::web::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::time::{Instant, Sleep};

use crate::config::Config;
use crate::error::BffError;

/// How a request body failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// The deadline passed (the whole body, or the gap between two chunks).
    TimedOut,
    /// Broken framing: a bad chunk size or extension, a truncated chunk.
    Malformed,
    /// More than the parser's limit.
    TooLarge,
    /// The client went away before the body was complete.
    Incomplete,
}

const NONE: u8 = 0;
const DONE: u8 = 1;

impl BodyFault {
    fn code(self) -> u8 {
        match self {
            BodyFault::TimedOut => 2,
            BodyFault::Malformed => 3,
            BodyFault::TooLarge => 4,
            BodyFault::Incomplete => 5,
        }
    }

    fn from_code(c: u8) -> Option<BodyFault> {
        Some(match c {
            2 => BodyFault::TimedOut,
            3 => BodyFault::Malformed,
            4 => BodyFault::TooLarge,
            5 => BodyFault::Incomplete,
            _ => return None,
        })
    }

    fn of(e: &PayloadError) -> BodyFault {
        match e {
            PayloadError::Overflow => BodyFault::TooLarge,
            PayloadError::Incomplete(_) => BodyFault::Incomplete,
            _ => BodyFault::Malformed,
        }
    }
}

/// The request body, shared between the stream handed on (which reads it) and whoever
/// answers the request (which learns how it ended, and may keep it alive); kept in the
/// request's extensions.
#[derive(Clone)]
pub struct BodyWatch(Rc<WatchState>);

struct WatchState {
    status: Cell<u8>,
    finished_at: Cell<Option<Instant>>,
    /// When a chunk was last handed on (or the watch made).
    progressed_at: Cell<Instant>,
    /// The last poll found no chunk: the body waits on the client (its own deadline
    /// runs), not on whoever reads it.
    waiting: Cell<bool>,
    payload: RefCell<Payload>,
}

impl BodyWatch {
    fn new(payload: Payload) -> Self {
        Self(Rc::new(WatchState {
            status: Cell::new(NONE),
            finished_at: Cell::new(None),
            progressed_at: Cell::new(Instant::now()),
            waiting: Cell::new(false),
            payload: RefCell::new(payload),
        }))
    }

    /// When the body last moved: a chunk handed on, or the watch made.
    pub fn progressed_at(&self) -> Instant {
        self.0.progressed_at.get()
    }

    /// True when the body is being read and waits on the client; false when nobody
    /// polls it (back-pressure: the upstream stopped reading) or it has ended.
    pub fn waiting_on_client(&self) -> bool {
        self.0.waiting.get() && self.0.status.get() == NONE
    }

    /// How the body failed, if it did.
    pub fn fault(&self) -> Option<BodyFault> {
        BodyFault::from_code(self.0.status.get())
    }

    /// When the whole body had been read, if it has.
    pub fn finished_at(&self) -> Option<Instant> {
        self.0.finished_at.get()
    }

    fn set(&self, v: u8) {
        if self.0.status.get() == NONE {
            self.0.status.set(v);
            if v == DONE {
                self.0.finished_at.set(Some(Instant::now()));
            }
        }
    }
}

impl BodyFault {
    /// The answer for a body that failed this way.
    pub fn error(self) -> BffError {
        match self {
            BodyFault::TimedOut => BffError::BodyTimeout,
            BodyFault::TooLarge => BffError::BodyTooLarge,
            BodyFault::Malformed | BodyFault::Incomplete => BffError::MalformedBody,
        }
    }
}

/// A streamed request body that may not stall longer than `idle` between chunks. Only
/// time spent waiting on the client counts: while the upstream applies back-pressure
/// (the body is not polled) the clock does not run.
pub struct Idle {
    watch: BodyWatch,
    sleep: Pin<Box<Sleep>>,
    idle: Duration,
    waiting_since: Option<Instant>,
    ended: bool,
}

impl Stream for Idle {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut *this.watch.0.payload.borrow_mut()).poll_next(cx);
        match polled {
            Poll::Ready(Some(Ok(chunk))) => {
                this.waiting_since = None;
                this.watch.0.waiting.set(false);
                this.watch.0.progressed_at.set(Instant::now());
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(Some(Err(e))) => {
                this.ended = true;
                this.watch.set(BodyFault::of(&e).code());
                return Poll::Ready(Some(Err(e)));
            }
            Poll::Ready(None) => {
                this.ended = true;
                this.watch.set(DONE);
                return Poll::Ready(None);
            }
            Poll::Pending => this.watch.0.waiting.set(true),
        }
        let since = *this.waiting_since.get_or_insert_with(Instant::now);
        let due = since + this.idle;
        // The timer only ever moves later, and only when it fires early: no timer-wheel
        // update per chunk.
        loop {
            if this.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if due > Instant::now() {
                this.sleep.as_mut().reset(due);
                continue;
            }
            this.ended = true;
            this.watch.set(BodyFault::TimedOut.code());
            return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "request body stalled",
            )))));
        }
    }
}

/// actix's boxed payload stream (not re-exported by actix-web).
type BoxedStream = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// Replaces `payload` by one that may not stall longer than `idle`; the returned watch
/// tells how it ended.
pub fn idle(payload: Payload, idle: Duration) -> (Payload, BodyWatch) {
    let watch = BodyWatch::new(payload);
    let stream: BoxedStream = Box::pin(Idle {
        watch: watch.clone(),
        sleep: Box::pin(tokio::time::sleep(idle)),
        idle,
        waiting_since: None,
        ended: false,
    });
    (Payload::from(stream), watch)
}

/// An answer's body that keeps its request's unread body alive until it is sent, so
/// actix closes the connection instead of draining what the client still sends.
pub struct Holding {
    body: BoxBody,
    _request_body: Box<dyn std::any::Any>,
}

impl Holding {
    pub fn new(body: BoxBody, request_body: impl std::any::Any) -> Self {
        Self {
            body,
            _request_body: Box::new(request_body),
        }
    }
}

impl MessageBody for Holding {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// Reads the whole body, at most `limit` bytes, within `within`: the body that a
/// `/bff/` handler then reads from memory.
pub async fn read_whole(
    payload: &mut Payload,
    limit: usize,
    within: Duration,
) -> Result<Bytes, BffError> {
    let read = async {
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| BodyFault::of(&e).error())?;
            if body.len() + chunk.len() > limit {
                return Err(BffError::BodyTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(within, read)
        .await
        .map_err(|_| BffError::BodyTimeout)?
}

/// True for the proxied area (`/api` and below).
pub fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// True when these request headers announce a body (HTTP/1: `Transfer-Encoding`, or a
/// `Content-Length` other than 0).
pub fn has_body_headers(h: &header::HeaderMap) -> bool {
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// True when the request may carry a body: announced over HTTP/1, or over HTTP/2 (which
/// needs no `Content-Length`) any method but GET and HEAD.
pub fn announces_body(req: &ServiceRequest) -> bool {
    has_body_headers(req.headers())
        || (req.version() == actix_web::http::Version::HTTP_2
            && !matches!(*req.method(), Method::GET | Method::HEAD))
}

/// What became of a request's body before the handler ran.
pub enum Held {
    /// No body, or one read whole.
    Done,
    /// An `/api` upload, streaming.
    Streaming(BodyWatch),
    /// Refused (too slow, too large, malformed); the unread rest is kept alive until
    /// the answer is sent, so that the connection closes.
    Refused(BffError, Payload),
}

/// Issue 9: holds the body to its deadline. An `/api` upload streams, and may not
/// stall longer than `proxy_timeout` between chunks; any other body (`/bff/`, the
/// callback) is read here, whole, within `body_timeout` and `max_bff_body`, so that no
/// handler waits on a slow client.
pub async fn hold(req: &mut ServiceRequest, config: &Config) -> Held {
    use actix_web::HttpMessage;
    // HTTP/2 bodies need no Content-Length: any method but GET and HEAD may carry one,
    // read here (`/bff/`) or streamed (`/api`) all the same.
    if !announces_body(req) {
        return Held::Done;
    }
    let mut payload = std::mem::replace(req.parts_mut().1, Payload::None);
    if is_api(req.path()) {
        let (payload, watch) = idle(payload, config.proxy.timeout);
        req.set_payload(payload);
        req.extensions_mut().insert(watch.clone());
        return Held::Streaming(watch);
    }
    let read = read_whole(
        &mut payload,
        config.limits.max_bff_body,
        config.limits.body_timeout,
    )
    .await;
    match read {
        Ok(body) => {
            req.set_payload(Payload::from(body));
            Held::Done
        }
        Err(e) => Held::Refused(e, payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn slow(gaps_ms: &'static [u64]) -> Payload {
        let s = futures_util::stream::iter(gaps_ms.iter().copied()).then(|ms| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, PayloadError>(Bytes::from_static(b"x"))
        });
        Payload::from(Box::pin(s) as BoxedStream)
    }

    async fn drain(mut p: Payload) -> (usize, bool) {
        let mut n = 0;
        while let Some(item) = p.next().await {
            match item {
                Ok(b) => n += b.len(),
                Err(_) => return (n, true),
            }
        }
        (n, false)
    }

    #[actix_rt::test]
    async fn a_whole_body_must_arrive_in_time_and_fit() {
        let r = read_whole(
            &mut slow(&[40, 40, 40, 40]),
            100,
            Duration::from_millis(100),
        )
        .await;
        assert!(matches!(r, Err(BffError::BodyTimeout)), "{r:?}");
        let r = read_whole(&mut slow(&[10, 10, 10]), 100, Duration::from_millis(500)).await;
        assert_eq!(r.unwrap().len(), 3);
        let r = read_whole(&mut slow(&[10, 10, 10]), 2, Duration::from_millis(500)).await;
        assert!(matches!(r, Err(BffError::BodyTooLarge)), "{r:?}");
    }

    #[actix_rt::test]
    async fn idle_deadline_allows_steady_chunks_and_cuts_a_stall() {
        let (p, watch) = idle(slow(&[30, 30, 30, 30, 30, 30]), Duration::from_millis(100));
        assert_eq!(
            drain(p).await,
            (6, false),
            "180 ms in all, never 100 ms idle"
        );
        assert!(watch.finished_at().is_some() && watch.fault().is_none());
        let (p, watch) = idle(slow(&[30, 250]), Duration::from_millis(100));
        assert_eq!(drain(p).await, (1, true));
        assert_eq!(watch.fault(), Some(BodyFault::TimedOut));
    }
}
