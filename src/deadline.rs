//! Deadlines on request bodies (issue 9). `request_timeout` only bounds a request's
//! head; this wraps the body stream so that a `/bff/` or callback body must arrive whole
//! within `body_timeout`, and an `/api` upload may not stall longer than `proxy_timeout`
//! between chunks. The wrapper also notes how a body failed (timed out, broken framing,
//! too large), so the answer can say so (408 / 400 / 413 JSON) instead of blaming the
//! upstream.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

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

/// Shared between the wrapped body (which writes) and whoever answers the request
/// (which reads); kept in the request's extensions.
#[derive(Clone, Default)]
pub struct BodyWatch(Arc<AtomicU8>);

impl BodyWatch {
    /// How the body failed, if it did.
    pub fn fault(&self) -> Option<BodyFault> {
        BodyFault::from_code(self.0.load(Ordering::Acquire))
    }

    /// True once the whole body was read.
    pub fn finished(&self) -> bool {
        self.0.load(Ordering::Acquire) == DONE
    }

    fn set(&self, v: u8) {
        let _ = self
            .0
            .compare_exchange(NONE, v, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// The bound a body is held to.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// The whole body within this time of the head.
    Total(Duration),
    /// At most this long without a chunk.
    Idle(Duration),
}

/// A request body with a deadline.
pub struct Deadline {
    inner: Payload,
    sleep: Pin<Box<Sleep>>,
    idle: Option<Duration>,
    last: Instant,
    watch: BodyWatch,
    ended: bool,
}

impl Deadline {
    pub fn new(inner: Payload, limit: Limit, watch: BodyWatch) -> Self {
        let now = Instant::now();
        let (after, idle) = match limit {
            Limit::Total(d) => (d, None),
            Limit::Idle(d) => (d, Some(d)),
        };
        Self {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(now + after)),
            idle,
            last: now,
            watch,
            ended: false,
        }
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if this.idle.is_some() {
                    // Moving the timer on every chunk would cost a timer-wheel update per
                    // chunk; noting the time is enough, the timer catches up when it fires.
                    this.last = Instant::now();
                }
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
            Poll::Pending => {}
        }
        loop {
            if this.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if let Some(idle) = this.idle {
                let due = this.last + idle;
                if due > Instant::now() {
                    this.sleep.as_mut().reset(due);
                    continue;
                }
            }
            this.ended = true;
            this.watch.set(BodyFault::TimedOut.code());
            return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "request body deadline passed",
            )))));
        }
    }
}

/// actix's boxed payload stream (not re-exported by actix-web).
type BoxedStream = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// Replaces `payload` by one held to `limit`; the returned watch tells how it ended.
pub fn wrap(payload: Payload, limit: Limit) -> (Payload, BodyWatch) {
    let watch = BodyWatch::default();
    let stream: BoxedStream =
        Box::pin(Deadline::new(payload, limit, watch.clone()));
    (Payload::from(stream), watch)
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
    async fn total_deadline_cuts_a_slow_body() {
        let (p, watch) = wrap(slow(&[40, 40, 40, 40]), Limit::Total(Duration::from_millis(100)));
        let (n, failed) = drain(p).await;
        assert!(failed && n < 4, "{n}");
        assert_eq!(watch.fault(), Some(BodyFault::TimedOut));
    }

    #[actix_rt::test]
    async fn idle_deadline_allows_steady_chunks_and_cuts_a_stall() {
        let (p, watch) = wrap(
            slow(&[30, 30, 30, 30, 30, 30]),
            Limit::Idle(Duration::from_millis(100)),
        );
        assert_eq!(drain(p).await, (6, false), "180 ms in all, never 100 ms idle");
        assert!(watch.finished() && watch.fault().is_none());
        let (p, watch) = wrap(slow(&[30, 250]), Limit::Idle(Duration::from_millis(100)));
        assert_eq!(drain(p).await, (1, true));
        assert_eq!(watch.fault(), Some(BodyFault::TimedOut));
    }
}
