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

/// Where shared state lives. All times are seconds since the epoch.
pub trait SharedState: Send + Sync {
    /// Ends one session id until `until` (its cookie's own expiry).
    fn end_session<'a>(&'a self, id: &'a str, until: u64) -> StoreFuture<'a, ()>;
    /// Ends every session of OP session `sid` that began at or before `at`.
    fn end_sid<'a>(&'a self, sid: &'a str, at: u64, until: u64) -> StoreFuture<'a, ()>;
    /// Ends every session of user `sub` that began at or before `at`.
    fn end_sub<'a>(&'a self, sub: &'a str, at: u64, until: u64) -> StoreFuture<'a, ()>;
    /// Whether a session (id, OP sid, sub, start time) has been ended.
    fn is_ended<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
        created_at: u64,
    ) -> StoreFuture<'a, bool>;
    /// Records a single-use value (login `state` hash, logout-token `jti`) until `until`;
    /// false when it was already recorded.
    fn first_use<'a>(
        &'a self,
        kind: &'static str,
        key: &'a str,
        until: u64,
    ) -> StoreFuture<'a, bool>;
    /// Server-side sessions (Redis mode): sealed bytes by session id.
    fn load_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;
    fn save_session<'a>(&'a self, id: &'a str, sealed: Vec<u8>, until: u64) -> StoreFuture<'a, ()>;
    fn delete_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()>;
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
