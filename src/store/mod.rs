//! State that several instances must share: ended sessions, spent `state`s and logout
//! `jti`s, server-side sessions, refresh locks and outcomes. In memory, or in Redis.

use std::time::Duration;

pub mod memory;
pub mod redis;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

/// The shared store failed (Redis down or slow). Requests that need it answer 503.
#[derive(Debug, thiserror::Error)]
#[error("the session store is unavailable: {0}")]
pub struct StoreError(pub String);

/// What every store operation returns.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// The ends a store found for one session: whether its id was ended, and when its OP
/// session (`sid`) and its user (`sub`) were last ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub id: bool,
    pub sid: Option<u64>,
    pub sub: Option<u64>,
}

impl Ended {
    /// Whether these ends cover a session begun at `created_at`: its id was ended, or its
    /// OP session or its user was ended at or after its start.
    pub fn covers(&self, created_at: u64) -> bool {
        self.id
            || self.sid.is_some_and(|at| created_at <= at)
            || self.sub.is_some_and(|at| created_at <= at)
    }
}

/// Where shared state lives. All times are seconds since the epoch.
pub trait SharedState: Send + Sync {
    /// Ends one session id until `until` (its cookie's own expiry).
    fn end_session<'a>(&'a self, id: &'a str, until: u64) -> StoreFuture<'a, ()>;
    /// Ends every session of OP session `sid` that began at or before `at`.
    fn end_sid<'a>(&'a self, sid: &'a str, at: u64, until: u64) -> StoreFuture<'a, ()>;
    /// Ends every session of user `sub` that began at or before `at`.
    fn end_sub<'a>(&'a self, sub: &'a str, at: u64, until: u64) -> StoreFuture<'a, ()>;
    /// What this store holds on the ends of one session id, OP session `sid` and user `sub`.
    fn ended(&self, id: &str, sid: Option<&str>, sub: &str) -> StoreFuture<'_, Ended>;
    /// Whether a session (id, OP sid, sub, start time) has been ended.
    fn is_ended<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
        created_at: u64,
    ) -> StoreFuture<'a, bool> {
        self.ended(id, sid, sub)
            .map(move |ended| ended.map(|e| e.covers(created_at)))
            .boxed()
    }
    /// Records a single-use value (login `state` hash, logout-token `jti`) until `until`;
    /// false when it was already recorded.
    fn first_use(&self, kind: &'static str, key: &str, until: u64) -> StoreFuture<'_, bool>;
    /// Server-side sessions (Redis mode): sealed bytes by session id.
    fn load_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;
    fn save_session<'a>(&'a self, id: &'a str, sealed: Vec<u8>, until: u64) -> StoreFuture<'a, ()>;
    fn delete_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()>;
    /// issue 14: a server-side session and the ends of its id, OP session `sid` and user
    /// `sub`, in one step where the store can (one Redis `MGET`).
    fn load_session_ended<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
    ) -> StoreFuture<'a, (Option<Vec<u8>>, Ended)> {
        async move {
            let bytes = self.load_session(id).await?;
            Ok((bytes, self.ended(id, sid, sub).await?))
        }
        .boxed()
    }
    /// A short exclusive lock; `Some(token)` when acquired.
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<String>>;
    /// Releases the lock only if `token` still holds it.
    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> StoreFuture<'a, ()>;
    /// Short-lived shared values (refresh outcomes).
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()>;
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;
    /// issue 17: indexes a server-side session under its OP `sid` (if any) and its `sub`
    /// until `until` (its absolute expiry), so logouts can say how many they matched.
    /// Stores that keep no sessions ignore it.
    fn index_session<'a>(
        &'a self,
        _id: &'a str,
        _sid: Option<&'a str>,
        _sub: &'a str,
        _until: u64,
    ) -> StoreFuture<'a, ()> {
        ready(())
    }
    /// issue 17: ends (deletes) the indexed live server-side sessions of OP session `sid`
    /// (`by_sid`) or of user `sub`, and says how many there were; `None` when sessions
    /// are not indexed here (they live in cookies).
    fn end_indexed<'a>(&'a self, _by_sid: bool, _value: &'a str) -> StoreFuture<'a, Option<usize>> {
        ready(None)
    }
    /// Readiness: `None` when fine, else what is missing.
    fn check<'a>(&'a self) -> BoxFuture<'a, Option<&'static str>>;
    /// Whether several instances share this store (locks and outcomes matter).
    fn is_shared(&self) -> bool;
}

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;

/// An operation that is already done.
pub(crate) fn ready<'a, T: Send + 'a>(v: T) -> StoreFuture<'a, T> {
    futures_util::future::ready(Ok(v)).boxed()
}
