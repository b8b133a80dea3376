//! State that several instances must share: ended sessions, spent `state`s and logout
//! `jti`s, server-side sessions, refresh locks and outcomes. In memory, or in Redis.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub mod expiring;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;

use expiring::ExpiringSet;

/// The shared store failed (Redis down or slow). Requests that need it answer 503.
#[derive(Debug, thiserror::Error)]
#[error("the session store is unavailable: {0}")]
pub struct StoreError(pub String);

type R<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// Where shared state lives. All times are seconds since the epoch.
pub trait SharedState: Send + Sync {
    /// Ends one session id until `until` (its cookie's own expiry).
    fn end_session<'a>(&'a self, id: &'a str, until: u64) -> R<'a, ()>;
    /// Ends every session of OP session `sid` that began at or before `at`.
    fn end_sid<'a>(&'a self, sid: &'a str, at: u64, until: u64) -> R<'a, ()>;
    /// Ends every session of user `sub` that began at or before `at`.
    fn end_sub<'a>(&'a self, sub: &'a str, at: u64, until: u64) -> R<'a, ()>;
    /// Whether a session (id, OP sid, sub, start time) has been ended.
    fn is_ended<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
        created_at: u64,
    ) -> R<'a, bool>;
    /// Records a single-use value (login `state` hash, logout-token `jti`) until `until`;
    /// false when it was already recorded.
    fn first_use<'a>(&'a self, kind: &'static str, key: &'a str, until: u64) -> R<'a, bool>;
    /// Server-side sessions (Redis mode): sealed bytes by session id.
    fn load_session<'a>(&'a self, id: &'a str) -> R<'a, Option<Vec<u8>>>;
    fn save_session<'a>(&'a self, id: &'a str, sealed: Vec<u8>, until: u64) -> R<'a, ()>;
    fn delete_session<'a>(&'a self, id: &'a str) -> R<'a, ()>;
    /// A short exclusive lock; `Some(token)` when acquired.
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> R<'a, Option<String>>;
    /// Releases the lock only if `token` still holds it.
    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> R<'a, ()>;
    /// Short-lived shared values (refresh outcomes).
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> R<'a, ()>;
    fn get<'a>(&'a self, key: &'a str) -> R<'a, Option<Vec<u8>>>;
    /// issue 17: indexes a server-side session under its OP `sid` (if any) and its `sub`
    /// until `until` (its absolute expiry), so logouts can say how many they matched.
    /// Stores that keep no sessions ignore it.
    fn index_session<'a>(
        &'a self,
        _id: &'a str,
        _sid: Option<&'a str>,
        _sub: &'a str,
        _until: u64,
    ) -> R<'a, ()> {
        ready(())
    }
    /// issue 17: ends (deletes) the indexed live server-side sessions of OP session `sid`
    /// (`by_sid`) or of user `sub`, and says how many there were; `None` when sessions
    /// are not indexed here (they live in cookies).
    fn end_indexed<'a>(&'a self, _by_sid: bool, _value: &'a str) -> R<'a, Option<usize>> {
        ready(None)
    }
    /// Readiness: `None` when fine, else what is missing.
    fn check<'a>(&'a self) -> BoxFuture<'a, Option<&'static str>>;
    /// Whether several instances share this store (locks and outcomes matter).
    fn is_shared(&self) -> bool;
}

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

fn ready<'a, T: Send + 'a>(v: T) -> R<'a, T> {
    futures_util::future::ready(Ok(v)).boxed()
}

impl SharedState for MemoryStore {
    fn end_session<'a>(&'a self, id: &'a str, until: u64) -> R<'a, ()> {
        self.ids.insert(id, until, now());
        ready(())
    }
    fn end_sid<'a>(&'a self, sid: &'a str, at: u64, until: u64) -> R<'a, ()> {
        self.sids.insert_value(sid, at, until, now(), true);
        ready(())
    }
    fn end_sub<'a>(&'a self, sub: &'a str, at: u64, until: u64) -> R<'a, ()> {
        self.subs.insert_value(sub, at, until, now(), true);
        ready(())
    }
    fn is_ended<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
        created_at: u64,
    ) -> R<'a, bool> {
        let now = now();
        let ended = self.ids.contains(id, now)
            || sid
                .and_then(|s| self.sids.get(s, now))
                .is_some_and(|at| created_at <= at)
            || self.subs.get(sub, now).is_some_and(|at| created_at <= at);
        ready(ended)
    }
    fn first_use<'a>(&'a self, kind: &'static str, key: &'a str, until: u64) -> R<'a, bool> {
        ready(self.once.insert(&format!("{kind}:{key}"), until, now()))
    }
    fn load_session<'a>(&'a self, id: &'a str) -> R<'a, Option<Vec<u8>>> {
        let now = now();
        let map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        ready(
            map.get(id)
                .filter(|(_, exp)| *exp > now)
                .map(|(v, _)| v.clone()),
        )
    }
    fn save_session<'a>(&'a self, id: &'a str, sealed: Vec<u8>, until: u64) -> R<'a, ()> {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = now();
        map.retain(|_, (_, exp)| *exp > now);
        map.insert(id.to_string(), (sealed, until));
        ready(())
    }
    fn delete_session<'a>(&'a self, id: &'a str) -> R<'a, ()> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        ready(())
    }
    fn try_lock<'a>(&'a self, _key: &'a str, _ttl: Duration) -> R<'a, Option<String>> {
        // One process: the refresher's own per-session mutex is the lock.
        ready(Some(String::new()))
    }
    fn unlock<'a>(&'a self, _key: &'a str, _token: &'a str) -> R<'a, ()> {
        ready(())
    }
    fn put<'a>(&'a self, _key: &'a str, _value: Vec<u8>, _ttl: Duration) -> R<'a, ()> {
        ready(())
    }
    fn get<'a>(&'a self, _key: &'a str) -> R<'a, Option<Vec<u8>>> {
        ready(None)
    }
    fn check<'a>(&'a self) -> BoxFuture<'a, Option<&'static str>> {
        futures_util::future::ready(None).boxed()
    }
    fn is_shared(&self) -> bool {
        false
    }
}

/// Redis: a multiplexed, reconnecting connection with bounded waits.
pub struct RedisStore {
    conn: ConnectionManager,
}

const P: &str = "bff:";

fn err(op: &'static str) -> impl Fn(redis::RedisError) -> StoreError {
    move |e| {
        crate::metrics::get()
            .store_errors
            .with_label_values(&[op])
            .inc();
        StoreError(format!("{op}: {:?}", e.kind()))
    }
}

/// Milliseconds until `until` (at least 1).
fn px(until: u64) -> u64 {
    until.saturating_sub(now()).max(1) * 1000
}

impl RedisStore {
    /// Connects lazily: start-up does not wait for (or fail on) Redis.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|e| e.to_string())?;
        Ok(Self { conn })
    }

    /// Stores `at` at `key` unless a larger one is there (logouts only move forward).
    async fn set_max(
        &self,
        op: &'static str,
        key: String,
        at: u64,
        until: u64,
    ) -> Result<(), StoreError> {
        redis::Script::new(SET_MAX)
            .key(key)
            .arg(at)
            .arg(px(until))
            .invoke_async::<i64>(&mut self.c())
            .await
            .map(|_| ())
            .map_err(err(op))
    }

    fn c(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn set_px(
        &self,
        op: &'static str,
        key: String,
        value: &[u8],
        ms: u64,
        nx: bool,
    ) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("PX").arg(ms);
        if nx {
            cmd.arg("NX");
        }
        let answer: Option<String> = cmd.query_async(&mut self.c()).await.map_err(err(op))?;
        Ok(answer.is_some())
    }
}

/// Keeps the larger of the stored and the new `at`, and the longer expiry.
const SET_MAX: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1";

/// issue 17: adds a session id to an index set, drops members whose session is gone once
/// the set grows, and keeps the set alive as long as its longest-lived session.
const INDEX_ADD: &str = r"
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('SCARD', KEYS[1]) > 32 then
  for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if redis.call('EXISTS', ARGV[3] .. m) == 0 then redis.call('SREM', KEYS[1], m) end
  end
end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1";

/// issue 17: deletes the live sessions of an index set and the set; returns how many.
const INDEX_END: &str = r"
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('DEL', ARGV[1] .. m)
end
redis.call('DEL', KEYS[1])
return n";

const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

impl SharedState for RedisStore {
    fn end_session<'a>(&'a self, id: &'a str, until: u64) -> R<'a, ()> {
        async move {
            self.set_px(
                "end_session",
                format!("{P}ended:id:{id}"),
                b"1",
                px(until),
                false,
            )
            .await
            .map(|_| ())
        }
        .boxed()
    }
    fn end_sid<'a>(&'a self, sid: &'a str, at: u64, until: u64) -> R<'a, ()> {
        self.set_max("end_sid", format!("{P}ended:sid:{sid}"), at, until)
            .boxed()
    }
    fn end_sub<'a>(&'a self, sub: &'a str, at: u64, until: u64) -> R<'a, ()> {
        self.set_max("end_sub", format!("{P}ended:sub:{sub}"), at, until)
            .boxed()
    }
    fn is_ended<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
        created_at: u64,
    ) -> R<'a, bool> {
        async move {
            let keys = vec![
                format!("{P}ended:id:{id}"),
                format!("{P}ended:sid:{}", sid.unwrap_or("")),
                format!("{P}ended:sub:{sub}"),
            ];
            let v: Vec<Option<u64>> = self.c().mget(keys).await.map_err(err("is_ended"))?;
            let ended = v.first().copied().flatten().is_some()
                || (sid.is_some()
                    && v.get(1)
                        .copied()
                        .flatten()
                        .is_some_and(|at| created_at <= at))
                || v.get(2)
                    .copied()
                    .flatten()
                    .is_some_and(|at| created_at <= at);
            Ok(ended)
        }
        .boxed()
    }
    fn first_use<'a>(&'a self, kind: &'static str, key: &'a str, until: u64) -> R<'a, bool> {
        async move {
            self.set_px(
                "first_use",
                format!("{P}once:{kind}:{key}"),
                b"1",
                px(until),
                true,
            )
            .await
        }
        .boxed()
    }
    fn load_session<'a>(&'a self, id: &'a str) -> R<'a, Option<Vec<u8>>> {
        async move {
            self.c()
                .get(format!("{P}session:{id}"))
                .await
                .map_err(err("load_session"))
        }
        .boxed()
    }
    fn save_session<'a>(&'a self, id: &'a str, sealed: Vec<u8>, until: u64) -> R<'a, ()> {
        async move {
            self.set_px(
                "save_session",
                format!("{P}session:{id}"),
                &sealed,
                px(until),
                false,
            )
            .await
            .map(|_| ())
        }
        .boxed()
    }
    fn delete_session<'a>(&'a self, id: &'a str) -> R<'a, ()> {
        async move {
            self.c()
                .del::<_, ()>(format!("{P}session:{id}"))
                .await
                .map_err(err("delete_session"))
        }
        .boxed()
    }
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> R<'a, Option<String>> {
        async move {
            let token = crate::util::random_id(16);
            let got = self
                .set_px(
                    "lock",
                    format!("{P}lock:{key}"),
                    token.as_bytes(),
                    ttl.as_millis() as u64,
                    true,
                )
                .await?;
            Ok(got.then_some(token))
        }
        .boxed()
    }
    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> R<'a, ()> {
        async move {
            redis::Script::new(UNLOCK)
                .key(format!("{P}lock:{key}"))
                .arg(token)
                .invoke_async::<i64>(&mut self.c())
                .await
                .map(|_| ())
                .map_err(err("unlock"))
        }
        .boxed()
    }
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> R<'a, ()> {
        async move {
            self.set_px(
                "put",
                format!("{P}{key}"),
                &value,
                ttl.as_millis() as u64,
                false,
            )
            .await
            .map(|_| ())
        }
        .boxed()
    }
    fn get<'a>(&'a self, key: &'a str) -> R<'a, Option<Vec<u8>>> {
        async move { self.c().get(format!("{P}{key}")).await.map_err(err("get")) }.boxed()
    }
    fn index_session<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
        until: u64,
    ) -> R<'a, ()> {
        async move {
            let mut sets = vec![format!("{P}idx:sub:{sub}")];
            if let Some(sid) = sid {
                sets.push(format!("{P}idx:sid:{sid}"));
            }
            for set in sets {
                redis::Script::new(INDEX_ADD)
                    .key(set)
                    .arg(id)
                    .arg(px(until))
                    .arg(format!("{P}session:"))
                    .invoke_async::<i64>(&mut self.c())
                    .await
                    .map_err(err("index_session"))?;
            }
            Ok(())
        }
        .boxed()
    }
    fn end_indexed<'a>(&'a self, by_sid: bool, value: &'a str) -> R<'a, Option<usize>> {
        async move {
            let kind = if by_sid { "sid" } else { "sub" };
            redis::Script::new(INDEX_END)
                .key(format!("{P}idx:{kind}:{value}"))
                .arg(format!("{P}session:"))
                .invoke_async::<i64>(&mut self.c())
                .await
                .map(|n| Some(n.max(0) as usize))
                .map_err(err("end_indexed"))
        }
        .boxed()
    }
    fn check<'a>(&'a self) -> BoxFuture<'a, Option<&'static str>> {
        async move {
            let pong: Result<String, _> = redis::cmd("PING").query_async(&mut self.c()).await;
            match pong {
                Ok(_) => None,
                Err(_) => Some("redis"),
            }
        }
        .boxed()
    }
    fn is_shared(&self) -> bool {
        true
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
