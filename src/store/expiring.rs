//! In-memory keys that expire, with an optional value: the building block of the
//! embedded store (ended sessions, spent `state`s, seen logout-token `jti`s).

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
