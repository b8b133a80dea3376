//! In-memory set of keys that expire: spent login `state`s and ended session ids.
//! Entries live until the cookie that could carry them would have expired.

use std::collections::HashMap;
use std::sync::Mutex;

/// Keys with an expiry time (seconds since the epoch); expired keys are purged lazily.
#[derive(Default)]
pub struct ExpiringSet {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, u64>,
    next_purge_at_len: usize,
}

const MIN_PURGE_LEN: usize = 1024;

impl ExpiringSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key` until `expires_at`. Returns false if it was already present (and live).
    pub fn insert(&self, key: &str, expires_at: u64, now: u64) -> bool {
        let mut inner = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if inner.map.len() >= inner.next_purge_at_len.max(MIN_PURGE_LEN) {
            inner.map.retain(|_, exp| *exp > now);
            inner.next_purge_at_len = inner.map.len() * 2;
        }
        match inner.map.get(key) {
            Some(exp) if *exp > now => false,
            _ => {
                inner.map.insert(key.to_string(), expires_at);
                true
            }
        }
    }

    /// True when `key` is present and not yet expired.
    pub fn contains(&self, key: &str, now: u64) -> bool {
        let inner = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        inner.map.get(key).is_some_and(|exp| *exp > now)
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
