//! issue 11: the open proxied WebSockets of this process, by session, so that a session
//! that ends closes its sockets at once. [`Watched`] wraps the shared store: every way a
//! session ends (logout, refresh refused, back-channel/front-channel/admin logout) goes
//! through `end_session`, `end_sid` or `end_sub`, which then also closes the matching
//! sockets here. Other instances (Redis mode) learn it from the shared ended-marker,
//! which each socket checks periodically (see `relay::Watch`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::Notify;

use crate::session::Session;
use crate::store::{Ended, SharedState, StoreFuture};

/// Who a socket belongs to.
struct Owner {
    id: String,
    sid: Option<String>,
    sub: String,
    created_at: u64,
    ended: Arc<Notify>,
}

/// The open sockets of this process.
#[derive(Default)]
pub struct Sockets {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Owner>>,
}

/// A registered socket: its "session ended" signal; unregistered (and the gauge
/// lowered) when dropped.
pub struct Registered {
    sockets: Arc<Sockets>,
    key: u64,
    pub ended: Arc<Notify>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.sockets.lock().remove(&self.key);
        crate::metrics::get().websockets_open.dec();
    }
}

impl Sockets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Owner>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a socket of `session` (or of no session: it is then never ended here).
    pub fn register(self: &Arc<Self>, session: Option<&Session>) -> Registered {
        let ended = Arc::new(Notify::new());
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(s) = session {
            self.lock().insert(
                key,
                Owner {
                    id: s.id.clone(),
                    sid: s.sid.clone(),
                    sub: s.sub.clone(),
                    created_at: s.created_at,
                    ended: ended.clone(),
                },
            );
        }
        crate::metrics::get().websockets_open.inc();
        Registered {
            sockets: self.clone(),
            key,
            ended,
        }
    }

    /// How many sockets of sessions are registered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Signals every socket whose owner `matches`.
    fn end_where(&self, matches: impl Fn(&Owner) -> bool) {
        let map = self.lock();
        for owner in map.values().filter(|o| matches(o)) {
            owner.ended.notify_one();
        }
    }

    pub fn end_id(&self, id: &str) {
        self.end_where(|o| o.id == id);
    }

    /// Sockets of OP session `sid` whose session began at or before `at`.
    pub fn end_sid(&self, sid: &str, at: u64) {
        self.end_where(|o| o.sid.as_deref() == Some(sid) && o.created_at <= at);
    }

    /// Sockets of user `sub` whose session began at or before `at`.
    pub fn end_sub(&self, sub: &str, at: u64) {
        self.end_where(|o| o.sub == sub && o.created_at <= at);
    }
}

/// The shared store, telling [`Sockets`] about every session it ends.
pub struct Watched {
    inner: Arc<dyn SharedState>,
    sockets: Arc<Sockets>,
}

impl Watched {
    pub fn wrap(inner: Arc<dyn SharedState>, sockets: Arc<Sockets>) -> Arc<dyn SharedState> {
        Arc::new(Watched { inner, sockets })
    }
}

// Every method is forwarded explicitly (none left to the trait's defaults).
impl SharedState for Watched {
    fn end_session<'a>(&'a self, id: &'a str, until: u64) -> StoreFuture<'a, ()> {
        async move {
            let r = self.inner.end_session(id, until).await;
            self.sockets.end_id(id);
            r
        }
        .boxed()
    }
    fn end_sid<'a>(&'a self, sid: &'a str, at: u64, until: u64) -> StoreFuture<'a, ()> {
        async move {
            let r = self.inner.end_sid(sid, at, until).await;
            self.sockets.end_sid(sid, at);
            r
        }
        .boxed()
    }
    fn end_sub<'a>(&'a self, sub: &'a str, at: u64, until: u64) -> StoreFuture<'a, ()> {
        async move {
            let r = self.inner.end_sub(sub, at, until).await;
            self.sockets.end_sub(sub, at);
            r
        }
        .boxed()
    }
    fn ended(&self, id: &str, sid: Option<&str>, sub: &str) -> StoreFuture<'_, Ended> {
        self.inner.ended(id, sid, sub)
    }
    fn is_ended<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
        created_at: u64,
    ) -> StoreFuture<'a, bool> {
        self.inner.is_ended(id, sid, sub, created_at)
    }
    fn first_use(&self, kind: &'static str, key: &str, until: u64) -> StoreFuture<'_, bool> {
        self.inner.first_use(kind, key, until)
    }
    fn load_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.inner.load_session(id)
    }
    fn save_session<'a>(&'a self, id: &'a str, sealed: Vec<u8>, until: u64) -> StoreFuture<'a, ()> {
        self.inner.save_session(id, sealed, until)
    }
    fn delete_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        self.inner.delete_session(id)
    }
    fn load_session_ended<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
    ) -> StoreFuture<'a, (Option<Vec<u8>>, Ended)> {
        self.inner.load_session_ended(id, sid, sub)
    }
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<String>> {
        self.inner.try_lock(key, ttl)
    }
    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> StoreFuture<'a, ()> {
        self.inner.unlock(key, token)
    }
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()> {
        self.inner.put(key, value, ttl)
    }
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn index_session<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
        until: u64,
    ) -> StoreFuture<'a, ()> {
        self.inner.index_session(id, sid, sub, until)
    }
    fn end_indexed<'a>(&'a self, by_sid: bool, value: &'a str) -> StoreFuture<'a, Option<usize>> {
        self.inner.end_indexed(by_sid, value)
    }
    fn check<'a>(&'a self) -> BoxFuture<'a, Option<&'static str>> {
        self.inner.check()
    }
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn session(id: &str, sid: Option<&str>, sub: &str, created_at: u64) -> Session {
        serde_json::from_value(serde_json::json!({
            "id": id, "sub": sub, "sid": sid, "claims": {}, "id_token": "x",
            "created_at": created_at, "expires_at": created_at + 3600, "last_seen": created_at,
        }))
        .unwrap()
    }

    async fn signalled(r: &Registered) -> bool {
        tokio::time::timeout(Duration::from_millis(20), r.ended.notified())
            .await
            .is_ok()
    }

    #[actix_rt::test]
    async fn ending_sessions_through_the_store_signals_their_sockets() {
        let sockets = Arc::new(Sockets::default());
        let store = Watched::wrap(Arc::new(MemoryStore::default()), sockets.clone());
        let a = sockets.register(Some(&session("a", Some("op-1"), "alice", 100)));
        let b = sockets.register(Some(&session("b", Some("op-2"), "bob", 100)));
        let later = sockets.register(Some(&session("c", Some("op-2"), "bob", 300)));
        let anonymous = sockets.register(None);
        assert_eq!(sockets.len(), 3, "anonymous sockets are not registered");

        store
            .end_session("a", crate::util::now() + 3600)
            .await
            .unwrap();
        assert!(signalled(&a).await);
        assert!(!signalled(&b).await);

        store
            .end_sid("op-2", 200, crate::util::now() + 3600)
            .await
            .unwrap();
        assert!(signalled(&b).await);
        assert!(!signalled(&later).await, "began after the logout");

        store
            .end_sub("bob", 400, crate::util::now() + 3600)
            .await
            .unwrap();
        assert!(signalled(&later).await);
        assert!(!signalled(&anonymous).await);
        assert!(store.is_ended("a", None, "alice", 100).await.unwrap());

        drop((a, b, later));
        assert!(sockets.is_empty());
    }
}
