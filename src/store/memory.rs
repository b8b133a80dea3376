//! The embedded, per-process store (one instance): ended sessions, spent keys and
//! server-side sessions in expiring in-memory sets.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::{ready, Ended, SharedState, StoreFuture};

fn now() -> u64 {
    crate::util::now()
}

/// The embedded, per-process store.
#[derive(Default)]
pub struct MemoryStore {
    ids: ExpiringSet,
    sids: ExpiringSet,
    subs: ExpiringSet,
    once: ExpiringSet,
    sessions: Mutex<HashMap<String, (Vec<u8>, u64)>>,
}

impl SharedState for MemoryStore {
    fn end_session<'a>(&'a self, id: &'a str, until: u64) -> StoreFuture<'a, ()> {
        self.ids.insert(id, until, now());
        ready(())
    }
    fn end_sid<'a>(&'a self, sid: &'a str, at: u64, until: u64) -> StoreFuture<'a, ()> {
        self.sids.insert_value(sid, at, until, now(), true);
        ready(())
    }
    fn end_sub<'a>(&'a self, sub: &'a str, at: u64, until: u64) -> StoreFuture<'a, ()> {
        self.subs.insert_value(sub, at, until, now(), true);
        ready(())
    }
    fn ended(&self, id: &str, sid: Option<&str>, sub: &str) -> StoreFuture<'_, Ended> {
        let now = now();
        ready(Ended {
            id: self.ids.contains(id, now),
            sid: sid.and_then(|s| self.sids.get(s, now)),
            sub: self.subs.get(sub, now),
        })
    }
    fn first_use(&self, kind: &'static str, key: &str, until: u64) -> StoreFuture<'_, bool> {
        ready(self.once.insert(&format!("{kind}:{key}"), until, now()))
    }
    fn load_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        let now = now();
        let map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        ready(
            map.get(id)
                .filter(|(_, exp)| *exp > now)
                .map(|(v, _)| v.clone()),
        )
    }
    fn save_session<'a>(&'a self, id: &'a str, sealed: Vec<u8>, until: u64) -> StoreFuture<'a, ()> {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = now();
        map.retain(|_, (_, exp)| *exp > now);
        map.insert(id.to_string(), (sealed, until));
        ready(())
    }
    fn delete_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        ready(())
    }
    fn try_lock<'a>(&'a self, _key: &'a str, _ttl: Duration) -> StoreFuture<'a, Option<String>> {
        // One process: the refresher's own per-session mutex is the lock.
        ready(Some(String::new()))
    }
    fn unlock<'a>(&'a self, _key: &'a str, _token: &'a str) -> StoreFuture<'a, ()> {
        ready(())
    }
    fn put<'a>(&'a self, _key: &'a str, _value: Vec<u8>, _ttl: Duration) -> StoreFuture<'a, ()> {
        ready(())
    }
    fn get<'a>(&'a self, _key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        ready(None)
    }
    fn check<'a>(&'a self) -> BoxFuture<'a, Option<&'static str>> {
        futures_util::future::ready(None).boxed()
    }
    fn is_shared(&self) -> bool {
        false
    }
}

/// Keys with an expiry time (seconds since the epoch); expired keys are purged lazily.
#[derive(Default)]
pub struct ExpiringSet {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// key → (expires_at, value)
    map: HashMap<String, (u64, u64)>,
    next_purge_at_len: usize,
}

const MIN_PURGE_LEN: usize = 1024;

impl ExpiringSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key` until `expires_at`. Returns false if it was already present (and live).
    pub fn insert(&self, key: &str, expires_at: u64, now: u64) -> bool {
        self.insert_value(key, 0, expires_at, now, false)
    }

    /// Adds `key` with `value` until `expires_at`; with `replace`, overwrites a live entry
    /// (keeping the larger value). Returns false if a live entry was already present.
    pub fn insert_value(
        &self,
        key: &str,
        value: u64,
        expires_at: u64,
        now: u64,
        replace: bool,
    ) -> bool {
        let mut inner = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if inner.map.len() >= inner.next_purge_at_len.max(MIN_PURGE_LEN) {
            inner.map.retain(|_, (exp, _)| *exp > now);
            inner.next_purge_at_len = inner.map.len() * 2;
        }
        match inner.map.get_mut(key) {
            Some((exp, v)) if *exp > now => {
                if replace {
                    *exp = (*exp).max(expires_at);
                    *v = (*v).max(value);
                }
                false
            }
            _ => {
                inner.map.insert(key.to_string(), (expires_at, value));
                true
            }
        }
    }

    /// The value of a live entry.
    pub fn get(&self, key: &str, now: u64) -> Option<u64> {
        let inner = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        inner
            .map
            .get(key)
            .filter(|(exp, _)| *exp > now)
            .map(|(_, v)| *v)
    }

    /// True when `key` is present and not yet expired.
    pub fn contains(&self, key: &str, now: u64) -> bool {
        self.get(key, now).is_some()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|g| g.map.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn memory_store_revocations_by_id_sid_and_sub() {
        let s = MemoryStore::default();
        let t = now();
        assert!(!s.is_ended("a", Some("sid1"), "u", t).await.unwrap());
        s.end_session("a", t + 100).await.unwrap();
        assert!(s.is_ended("a", None, "u", t).await.unwrap());
        s.end_sid("sid1", t, t + 100).await.unwrap();
        assert!(s.is_ended("b", Some("sid1"), "u", t - 1).await.unwrap());
        assert!(
            !s.is_ended("c", Some("sid1"), "u", t + 1).await.unwrap(),
            "a later session of that sid"
        );
        assert!(!s.is_ended("d", Some("sid2"), "u", t - 1).await.unwrap());
        s.end_sub("u", t, t + 100).await.unwrap();
        assert!(s.is_ended("e", Some("sid2"), "u", t - 1).await.unwrap());
        assert!(!s.is_ended("f", None, "v", t - 1).await.unwrap());
        assert!(s.first_use("jti", "j", t + 100).await.unwrap());
        assert!(!s.first_use("jti", "j", t + 100).await.unwrap());
        assert!(
            s.first_use("state", "j", t + 100).await.unwrap(),
            "kinds are separate"
        );
    }
}

#[cfg(test)]
mod expiring_tests {
    use super::*;

    #[test]
    fn insert_once_until_expiry() {
        let s = ExpiringSet::new();
        assert!(s.insert("a", 10, 0));
        assert!(!s.insert("a", 10, 5));
        assert!(s.contains("a", 9));
        assert!(!s.contains("a", 10));
        assert!(s.insert("a", 20, 10), "expired entries can be reused");
    }

    #[test]
    fn purges_expired_entries() {
        let s = ExpiringSet::new();
        for i in 0..2000 {
            s.insert(&format!("old{i}"), 5, 0);
        }
        for i in 0..3000 {
            s.insert(&format!("new{i}"), 100, 10);
        }
        assert!(s.len() < 5000, "expired entries were purged");
        assert!(s.contains("new2999", 60) && !s.contains("old1", 60));
    }
}
