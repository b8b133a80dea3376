//! In-memory keys that expire (spent login `state`s, ended sessions, seen logout-token
//! `jti`s), and the session revocation store behind the `Revocations` trait.

use std::collections::HashMap;
use std::sync::Mutex;

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
        let inner = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        inner.map.get(key).is_some_and(|(exp, _)| *exp > now)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|g| g.map.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where ended sessions are remembered, so an ended session stops working at once
/// (in memory here; a shared store can implement the same trait).
pub trait Revocations: Send + Sync {
    /// Ends one session id until `until` (its cookie's own expiry).
    fn end_session(&self, id: &str, until: u64, now: u64);
    /// Ends every session of OP session `sid` that began at or before `at`.
    fn end_sid(&self, sid: &str, at: u64, until: u64, now: u64);
    /// Ends every session of user `sub` that began at or before `at`.
    fn end_sub(&self, sub: &str, at: u64, until: u64, now: u64);
    /// Whether a session (id, OP sid, sub, start time) has been ended.
    fn is_ended(&self, id: &str, sid: Option<&str>, sub: &str, created_at: u64, now: u64) -> bool;
    /// Records a logout token's `jti`; false when it was seen before (a replay).
    fn first_use_of_jti(&self, jti: &str, until: u64, now: u64) -> bool;
}

/// The embedded, per-process revocation store.
#[derive(Default)]
pub struct MemoryRevocations {
    ids: ExpiringSet,
    sids: ExpiringSet,
    subs: ExpiringSet,
    jtis: ExpiringSet,
}

impl Revocations for MemoryRevocations {
    fn end_session(&self, id: &str, until: u64, now: u64) {
        self.ids.insert(id, until, now);
    }
    fn end_sid(&self, sid: &str, at: u64, until: u64, now: u64) {
        self.sids.insert_value(sid, at, until, now, true);
    }
    fn end_sub(&self, sub: &str, at: u64, until: u64, now: u64) {
        self.subs.insert_value(sub, at, until, now, true);
    }
    fn is_ended(&self, id: &str, sid: Option<&str>, sub: &str, created_at: u64, now: u64) -> bool {
        self.ids.contains(id, now)
            || sid
                .and_then(|s| self.sids.get(s, now))
                .is_some_and(|at| created_at <= at)
            || self.subs.get(sub, now).is_some_and(|at| created_at <= at)
    }
    fn first_use_of_jti(&self, jti: &str, until: u64, now: u64) -> bool {
        self.jtis.insert(jti, until, now)
    }
}

#[cfg(test)]
mod tests {
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
    fn revocations_by_id_sid_and_sub() {
        let r = MemoryRevocations::default();
        assert!(!r.is_ended("a", Some("sid1"), "u", 100, 100));
        r.end_session("a", 200, 100);
        assert!(r.is_ended("a", None, "u", 100, 150));
        assert!(
            !r.is_ended("a", None, "u", 100, 200),
            "forgotten at the cookie's expiry"
        );
        r.end_sid("sid1", 120, 500, 120);
        assert!(r.is_ended("b", Some("sid1"), "u", 110, 130));
        assert!(
            !r.is_ended("c", Some("sid1"), "u", 121, 130),
            "a later session of that sid"
        );
        assert!(!r.is_ended("d", Some("sid2"), "u", 110, 130));
        r.end_sub("u", 140, 500, 140);
        assert!(r.is_ended("e", Some("sid2"), "u", 139, 150));
        assert!(!r.is_ended("f", None, "v", 139, 150));
        assert!(r.first_use_of_jti("j", 300, 100));
        assert!(!r.first_use_of_jti("j", 300, 101));
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
