//! issue 14: a per-worker cache of opened sessions (session cookies, and the sealed copies
//! kept server-side), so the same sealed bytes again skip AES-GCM and JSON; bounded, and
//! never trusted on a hash alone.
//!
//! A slot is picked from a hash of the cookie's last bytes (its GCM tag and nonce, unique
//! per seal), and a hit needs the whole cookie to be byte-for-byte the one that was opened,
//! so a crafted cookie can evict an entry but never read one. The seal's own expiry is
//! checked on every hit; the session's expiry and the ended-session check stay with the
//! caller, made on every request as before.

use std::cell::RefCell;
use std::hash::{BuildHasher, RandomState};

use super::Session;

/// Slots per worker. An entry is about a cookie and a session (3–12 KB each way).
const SLOTS: usize = 256;
/// Cookies longer than this are opened every time (they would crowd the cache).
const MAX_RAW: usize = 16 * 1024;
/// Bytes of the cookie's end that choose its slot.
const TAIL: usize = 48;

struct Entry {
    /// The sealing name (the cookie's, or server-side sessions').
    name: Box<str>,
    raw: Box<str>,
    session: Session,
    /// The seal's expiry (`Sealer::open`'s second value).
    sealed_until: u64,
}

struct Opened {
    slots: Vec<Option<Entry>>,
    hasher: RandomState,
}

thread_local! {
    static OPENED: RefCell<Opened> = RefCell::new(Opened {
        slots: (0..SLOTS).map(|_| None).collect(),
        hasher: RandomState::new(),
    });
}

fn slot(hasher: &RandomState, raw: &str) -> usize {
    let tail = &raw.as_bytes()[raw.len().saturating_sub(TAIL)..];
    (hasher.hash_one(tail) as usize) % SLOTS
}

/// The session opened earlier from exactly `raw` sealed under `name` on this worker,
/// while its seal holds.
pub fn get(name: &str, raw: &str, now: u64) -> Option<(Session, u64)> {
    OPENED.with(|o| {
        let mut o = o.borrow_mut();
        let i = slot(&o.hasher, raw);
        let hit = o.slots[i]
            .as_ref()
            .filter(|e| *e.raw == *raw && *e.name == *name)
            .map(|e| (e.sealed_until > now).then(|| (e.session.clone(), e.sealed_until)));
        match hit {
            Some(Some(found)) => Some(found),
            Some(None) => {
                // Expired: forget it; the caller opens (and refuses) it again.
                o.slots[i] = None;
                None
            }
            None => None,
        }
    })
}

/// Remembers that `raw`, sealed under `name`, opened to `session`.
pub fn put(name: &str, raw: &str, session: &Session, sealed_until: u64) {
    if raw.len() > MAX_RAW {
        return;
    }
    OPENED.with(|o| {
        let mut o = o.borrow_mut();
        let i = slot(&o.hasher, raw);
        o.slots[i] = Some(Entry {
            name: name.into(),
            raw: raw.into(),
            session: session.clone(),
            sealed_until,
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(sub: &str) -> Session {
        serde_json::from_value(serde_json::json!({
            "id": "id", "sub": sub, "claims": {}, "id_token": "t",
            "created_at": 1, "expires_at": 100, "last_seen": 1
        }))
        .unwrap()
    }

    #[test]
    fn hits_need_the_same_bytes_and_a_live_seal() {
        let raw = "x".repeat(3000) + "tag-one";
        assert!(get("c", &raw, 10).is_none());
        put("c", &raw, &session("alice"), 50);
        let (s, until) = get("c", &raw, 10).expect("a hit");
        assert_eq!((s.sub.as_str(), until), ("alice", 50));
        // The same bytes under another sealing name: a miss.
        assert!(get("other", &raw, 10).is_none());
        // Same tail (so the same slot), other bytes: a miss, never alice's session.
        let forged = "y".repeat(3000) + "tag-one";
        assert!(get("c", &forged, 10).is_none());
        // Once the seal has expired the entry is gone.
        assert!(get("c", &raw, 50).is_none());
        assert!(get("c", &raw, 10).is_none());
        // Too large to keep.
        let big = "z".repeat(MAX_RAW + 1);
        put("c", &big, &session("bob"), 50);
        assert!(get("c", &big, 10).is_none());
    }
}
