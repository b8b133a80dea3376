//! issue 11: the WebSocket frame relay, once both sides are open: frames both ways as they
//! come, closes passed on, 1009/1002 faults, and the end of the socket's session.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_ws::{CloseCode, CloseReason, Item, Message, ProtocolError};
use awc::ws::Frame;
use bytestring::ByteString;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Mutex;

use super::sockets::Registered;
use crate::session::Session;
use crate::state::AppState;

/// How long the second half of a close handshake (or a last write) may take.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How often a socket checks the shared store for its session having ended on another
/// instance (only with a shared store; this instance's own ends arrive at once).
pub const SHARED_CHECK_EVERY: Duration = Duration::from_secs(2);

/// The upstream connection, as awc's ws client opens it.
pub(super) type Upstream = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;
type UpTx = Rc<Mutex<SplitSink<Upstream, Message>>>;

/// What tells a socket that its session is over, besides [`Sockets`]: the session's own
/// absolute end, and (shared store) the ended-marker other instances set.
pub(super) struct Watch {
    session: Option<Session>,
    store: Option<Arc<dyn crate::store::SharedState>>,
}

impl Watch {
    pub(super) fn new(state: &AppState, session: Option<&Session>) -> Self {
        Watch {
            session: session.cloned().map(|mut s| {
                // Only who it is and when it ends are kept; no token.
                s.access_token = None;
                s.refresh_token = None;
                s.id_token = String::new();
                s.claims = Default::default();
                s
            }),
            store: state.store.is_shared().then(|| state.store.clone()),
        }
    }

    /// Resolves when the session has ended (never, for a socket without a session).
    async fn ended(&self, registered: &Registered) {
        let Some(s) = &self.session else {
            return std::future::pending().await;
        };
        let now = crate::util::now();
        let expiry = tokio::time::sleep(Duration::from_secs(s.expires_at.saturating_sub(now)));
        let shared = async {
            let Some(store) = &self.store else {
                return std::future::pending().await;
            };
            loop {
                tokio::time::sleep(SHARED_CHECK_EVERY).await;
                match store
                    .is_ended(&s.id, s.sid.as_deref(), &s.sub, s.created_at)
                    .await
                {
                    Ok(true) => return,
                    Ok(false) => {}
                    Err(e) => tracing::debug!(error = %e, "websocket: could not check the session"),
                }
            }
        };
        tokio::select! {
            _ = registered.ended.notified() => {}
            _ = expiry => {}
            _ = shared => {}
        }
    }
}

/// How one direction of the relay ended.
#[derive(Debug)]
enum End {
    /// A Close frame arrived (and was passed on).
    Closed,
    /// The connection went away without a Close.
    Gone,
    /// The side this direction writes to could not be written to.
    WriteFailed,
    /// The peer broke the protocol, or a message was too large: both sides are closed
    /// with this code.
    Fault(CloseCode, &'static str, &'static str),
}

/// Tracks fragmented messages: their order, and their size against the limit.
struct Fragments {
    limit: usize,
    open: Option<usize>,
}

impl Fragments {
    fn new(limit: usize) -> Self {
        Fragments { limit, open: None }
    }

    /// Checks one data frame: a whole message (`None`) or a fragment.
    fn check(&mut self, item: Option<&Item>, len: usize) -> Result<(), End> {
        let too_big = End::Fault(CloseCode::Size, "message too big", "too_big");
        let order = End::Fault(
            CloseCode::Protocol,
            "fragments out of order",
            "protocol_error",
        );
        match item {
            None if self.open.is_some() => Err(order),
            None if len > self.limit => Err(too_big),
            None => Ok(()),
            Some(Item::FirstText(_) | Item::FirstBinary(_)) => {
                if self.open.is_some() {
                    return Err(order);
                }
                if len > self.limit {
                    return Err(too_big);
                }
                self.open = Some(len);
                Ok(())
            }
            Some(Item::Continue(_) | Item::Last(_)) => {
                let Some(so_far) = self.open else {
                    return Err(order);
                };
                let total = so_far.saturating_add(len);
                if total > self.limit {
                    return Err(too_big);
                }
                self.open = if matches!(item, Some(Item::Last(_))) {
                    None
                } else {
                    Some(total)
                };
                Ok(())
            }
        }
    }
}

fn item_len(item: &Item) -> usize {
    match item {
        Item::FirstText(b) | Item::FirstBinary(b) | Item::Continue(b) | Item::Last(b) => b.len(),
    }
}

fn fault_of(e: &ProtocolError) -> End {
    match e {
        ProtocolError::Overflow => End::Fault(CloseCode::Size, "message too big", "too_big"),
        ProtocolError::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            End::Fault(CloseCode::Invalid, "text is not UTF-8", "protocol_error")
        }
        ProtocolError::Io(_) => End::Gone,
        _ => End::Fault(CloseCode::Protocol, "invalid frame", "protocol_error"),
    }
}

/// Browser → upstream, frame by frame.
async fn browser_to_upstream(
    mut from: actix_ws::MessageStream,
    to: UpTx,
    limit: usize,
    write_wait: Duration,
) -> End {
    let mut msg = Fragments::new(limit);
    loop {
        let m = match from.recv().await {
            None => return End::Gone,
            Some(Err(e)) => return fault_of(&e),
            Some(Ok(m)) => m,
        };
        let close = matches!(m, Message::Close(_));
        let checked = match &m {
            Message::Text(t) => msg.check(None, t.len()),
            Message::Binary(b) => msg.check(None, b.len()),
            Message::Continuation(i) => msg.check(Some(i), item_len(i)),
            _ => Ok(()),
        };
        if let Err(end) = checked {
            return end;
        }
        if matches!(m, Message::Nop) {
            continue;
        }
        let sent = tokio::time::timeout(write_wait, async { to.lock().await.send(m).await }).await;
        if !matches!(sent, Ok(Ok(()))) {
            return End::WriteFailed;
        }
        if close {
            return End::Closed;
        }
    }
}

/// Upstream → browser, frame by frame.
async fn upstream_to_browser(
    mut from: SplitStream<Upstream>,
    mut to: actix_ws::Session,
    limit: usize,
    write_wait: Duration,
) -> End {
    let mut msg = Fragments::new(limit);
    loop {
        let frame = match from.next().await {
            None => return End::Gone,
            Some(Err(e)) => return fault_of(&e),
            Some(Ok(f)) => f,
        };
        let (m, checked) = match frame {
            Frame::Text(b) => {
                let checked = msg.check(None, b.len());
                match ByteString::try_from(b) {
                    Ok(t) => (Message::Text(t), checked),
                    Err(_) => {
                        return End::Fault(
                            CloseCode::Invalid,
                            "text is not UTF-8",
                            "protocol_error",
                        )
                    }
                }
            }
            Frame::Binary(b) => {
                let checked = msg.check(None, b.len());
                (Message::Binary(b), checked)
            }
            Frame::Continuation(i) => {
                let checked = msg.check(Some(&i), item_len(&i));
                (Message::Continuation(i), checked)
            }
            Frame::Ping(b) => (Message::Ping(b), Ok(())),
            Frame::Pong(b) => (Message::Pong(b), Ok(())),
            Frame::Close(r) => (Message::Close(r), Ok(())),
        };
        if let Err(end) = checked {
            return end;
        }
        let close = matches!(m, Message::Close(_));
        let sent = tokio::time::timeout(write_wait, to.send(m)).await;
        if !matches!(sent, Ok(Ok(()))) {
            return End::WriteFailed;
        }
        if close {
            return End::Closed;
        }
    }
}

fn reason(code: CloseCode, text: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code,
        description: Some(text.to_string()),
    })
}

/// Sends a Close to the browser and to the upstream (each bounded by [`CLOSE_WAIT`]).
async fn close_both(
    browser: &actix_ws::Session,
    upstream: &UpTx,
    to_browser: Option<CloseReason>,
    to_upstream: Option<CloseReason>,
) {
    let b = browser.clone();
    let _ = tokio::time::timeout(CLOSE_WAIT, b.close(to_browser)).await;
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        let mut up = upstream.lock().await;
        let _ = up.send(Message::Close(to_upstream)).await;
        let _ = up.close().await;
    })
    .await;
}

/// Relays frames both ways until a close, a fault, or the end of the session.
pub(super) async fn relay(
    to_browser: actix_ws::Session,
    from_browser: actix_ws::MessageStream,
    upstream: Upstream,
    limit: usize,
    registered: Registered,
    watch: Watch,
) {
    let started = std::time::Instant::now();
    let (up_tx, up_rx) = upstream.split();
    let up_tx: UpTx = Rc::new(Mutex::new(up_tx));
    // A peer that takes longer than this to accept one frame is taken as gone.
    let write_wait = Duration::from_secs(30);
    let mut b2u = std::pin::pin!(browser_to_upstream(
        from_browser,
        up_tx.clone(),
        limit,
        write_wait
    ));
    let mut u2b = std::pin::pin!(upstream_to_browser(
        up_rx,
        to_browser.clone(),
        limit,
        write_wait
    ));
    let ended = watch.ended(&registered);
    let first = tokio::select! {
        e = &mut b2u => First::Browser(e),
        e = &mut u2b => First::Upstream(e),
        _ = ended => First::SessionEnded,
    };
    let why = finish(first, &to_browser, &up_tx, b2u, u2b).await;
    crate::metrics::get()
        .websocket_closes
        .with_label_values(&[why])
        .inc();
    tracing::info!(
        reason = why,
        seconds = started.elapsed().as_secs(),
        "websocket closed"
    );
    drop(registered);
}

/// What ended the relay first.
enum First {
    Browser(End),
    Upstream(End),
    SessionEnded,
}

/// Closes what is still open after `first`, and says why (the metric's reason).
async fn finish(
    first: First,
    to_browser: &actix_ws::Session,
    up_tx: &UpTx,
    b2u: std::pin::Pin<&mut impl std::future::Future<Output = End>>,
    u2b: std::pin::Pin<&mut impl std::future::Future<Output = End>>,
) -> &'static str {
    match first {
        // A Close passed on: let the other direction carry the answer back; a side that
        // does not answer in time gets a Close of ours.
        First::Browser(End::Closed) => {
            if tokio::time::timeout(CLOSE_WAIT, u2b).await.is_err() {
                let _ = tokio::time::timeout(CLOSE_WAIT, to_browser.clone().close(None)).await;
            }
            "browser"
        }
        First::Upstream(End::Closed) => {
            if tokio::time::timeout(CLOSE_WAIT, b2u).await.is_err() {
                let _ = tokio::time::timeout(CLOSE_WAIT, async {
                    let _ = up_tx.lock().await.close().await;
                })
                .await;
            }
            "upstream"
        }
        First::Browser(End::Fault(code, text, why))
        | First::Upstream(End::Fault(code, text, why)) => {
            close_both(to_browser, up_tx, reason(code, text), reason(code, text)).await;
            why
        }
        // The browser's connection ended, or could not be written to.
        First::Browser(End::Gone) | First::Upstream(End::WriteFailed) => {
            close_both(
                to_browser,
                up_tx,
                None,
                reason(CloseCode::Away, "the browser went away"),
            )
            .await;
            "gone"
        }
        // The upstream's connection ended, or could not be written to.
        First::Upstream(End::Gone) | First::Browser(End::WriteFailed) => {
            close_both(
                to_browser,
                up_tx,
                reason(CloseCode::Away, "the upstream went away"),
                None,
            )
            .await;
            "gone"
        }
        First::SessionEnded => {
            close_both(
                to_browser,
                up_tx,
                reason(CloseCode::Policy, "session ended"),
                reason(CloseCode::Away, "session ended"),
            )
            .await;
            "session_ended"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::web::Bytes;

    #[test]
    fn fragments_are_counted_and_ordered() {
        let b = || Bytes::from_static(b"");
        let mut m = Fragments::new(10);
        assert!(m.check(None, 10).is_ok());
        assert!(matches!(
            m.check(None, 11),
            Err(End::Fault(CloseCode::Size, ..))
        ));
        assert!(m.check(Some(&Item::FirstText(b())), 4).is_ok());
        assert!(m.check(Some(&Item::Continue(b())), 4).is_ok());
        assert!(matches!(
            m.check(None, 1),
            Err(End::Fault(CloseCode::Protocol, ..))
        ));
        assert!(matches!(
            m.check(Some(&Item::Last(b())), 3),
            Err(End::Fault(CloseCode::Size, ..))
        ));
        let mut m = Fragments::new(10);
        assert!(matches!(
            m.check(Some(&Item::Continue(b())), 1),
            Err(End::Fault(CloseCode::Protocol, ..))
        ));
        assert!(m.check(Some(&Item::FirstBinary(b())), 5).is_ok());
        assert!(m.check(Some(&Item::Last(b())), 5).is_ok());
        assert!(m.check(None, 1).is_ok(), "the message ended");
    }
}
