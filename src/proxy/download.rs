//! The upstream's answer body on its way to the browser: cut off when the upstream stalls
//! longer than `proxy_timeout` between chunks (every wait has a deadline), however long
//! a steadily moving download takes in all.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

/// A body stream that may not keep the browser waiting longer than `idle` for its next
/// chunk. Only time spent waiting on the upstream counts: while the browser reads slowly
/// (the body is not polled) the clock does not run.
pub struct Stalls<S> {
    inner: S,
    sleep: Pin<Box<Sleep>>,
    idle: Duration,
    waiting_since: Option<Instant>,
    ended: bool,
}

impl<S> Stalls<S> {
    pub fn new(inner: S, idle: Duration) -> Self {
        Stalls {
            inner,
            sleep: Box::pin(tokio::time::sleep(idle)),
            idle,
            waiting_since: None,
            ended: false,
        }
    }
}

impl<S> Stream for Stalls<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.waiting_since = None;
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(other) => {
                this.ended = true;
                return Poll::Ready(other);
            }
            Poll::Pending => {}
        }
        let due = *this.waiting_since.get_or_insert_with(Instant::now) + this.idle;
        // The timer moves only when it fires early: no timer update per chunk.
        loop {
            if this.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if due > Instant::now() {
                this.sleep.as_mut().reset(due);
                continue;
            }
            this.ended = true;
            tracing::warn!(
                secs = this.idle.as_secs_f64(),
                "the upstream's answer stalled longer than proxy_timeout; closing the connection"
            );
            return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "upstream answer stalled",
            )))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// Chunks that each arrive after the given delay (ms).
    fn paced(delays: &'static [u64]) -> impl Stream<Item = Result<Bytes, PayloadError>> + Unpin {
        Box::pin(futures_util::stream::iter(delays).then(|ms| async move {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            Ok(Bytes::from_static(b"x"))
        }))
    }

    #[actix_web::test]
    async fn steady_chunks_pass_however_long_in_all() {
        let s = Stalls::new(paced(&[60, 60, 60, 60, 60]), Duration::from_millis(150));
        let got: Vec<_> = s.collect().await;
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|c| c.is_ok()));
    }

    #[actix_web::test]
    async fn a_stall_ends_the_body_with_an_error_once() {
        let started = Instant::now();
        let mut s = Stalls::new(paced(&[10, 500]), Duration::from_millis(100));
        assert!(s.next().await.is_some_and(|c| c.is_ok()));
        assert!(s.next().await.is_some_and(|c| c.is_err()));
        assert!(s.next().await.is_none());
        assert!(started.elapsed() < Duration::from_millis(400));
    }
}
