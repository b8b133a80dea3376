//! The Redis store (several instances): one multiplexed, reconnecting connection with
//! bounded waits; small Lua scripts where a check and a write must be one step.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::AsyncCommands;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::{Ended, SharedState, StoreError, StoreFuture};

fn now() -> u64 {
    crate::util::now()
}

/// Redis: a multiplexed, reconnecting connection with bounded waits.
pub struct RedisStore {
    conn: ConnectionManager,
}

const KEY_PREFIX: &str = "bff:";

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
fn ttl_ms(until: u64) -> u64 {
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
            .arg(ttl_ms(until))
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map(|_| ())
            .map_err(err(op))
    }

    fn conn(&self) -> Traced {
        Traced(self.conn.clone())
    }

    /// `SET key value PX ms`, with `nx` only if `key` is not there; whether it was set.
    async fn set_with_ttl(
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
        let answer: Option<String> = cmd.query_async(&mut self.conn()).await.map_err(err(op))?;
        Ok(answer.is_some())
    }

    /// `SET key value PX ms`, overwriting.
    async fn set(
        &self,
        op: &'static str,
        key: String,
        value: &[u8],
        ms: u64,
    ) -> Result<(), StoreError> {
        self.set_with_ttl(op, key, value, ms, false)
            .await
            .map(|_| ())
    }

    /// `GET key`.
    async fn get_bytes(
        &self,
        op: &'static str,
        key: String,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn().get(key).await.map_err(err(op))
    }
}

/// The keys that record the ends of a session id, an OP session and a user.
fn ended_keys(id: &str, sid: Option<&str>, sub: &str) -> [String; 3] {
    [
        format!("{KEY_PREFIX}ended:id:{id}"),
        format!("{KEY_PREFIX}ended:sid:{}", sid.unwrap_or("")),
        format!("{KEY_PREFIX}ended:sub:{sub}"),
    ]
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
    fn end_session<'a>(&'a self, id: &'a str, until: u64) -> StoreFuture<'a, ()> {
        let key = format!("{KEY_PREFIX}ended:id:{id}");
        async move { self.set("end_session", key, b"1", ttl_ms(until)).await }.boxed()
    }
    fn end_sid<'a>(&'a self, sid: &'a str, at: u64, until: u64) -> StoreFuture<'a, ()> {
        self.set_max("end_sid", format!("{KEY_PREFIX}ended:sid:{sid}"), at, until)
            .boxed()
    }
    fn end_sub<'a>(&'a self, sub: &'a str, at: u64, until: u64) -> StoreFuture<'a, ()> {
        self.set_max("end_sub", format!("{KEY_PREFIX}ended:sub:{sub}"), at, until)
            .boxed()
    }
    fn ended(&self, id: &str, sid: Option<&str>, sub: &str) -> StoreFuture<'_, Ended> {
        let keys = ended_keys(id, sid, sub).to_vec();
        let has_sid = sid.is_some();
        async move {
            let v: Vec<Option<u64>> = self.conn().mget(keys).await.map_err(err("is_ended"))?;
            let at = |i: usize| v.get(i).copied().flatten();
            Ok(Ended {
                id: at(0).is_some(),
                sid: at(1).filter(|_| has_sid),
                sub: at(2),
            })
        }
        .boxed()
    }
    fn first_use(&self, kind: &'static str, key: &str, until: u64) -> StoreFuture<'_, bool> {
        let key = format!("{KEY_PREFIX}once:{kind}:{key}");
        async move {
            self.set_with_ttl("first_use", key, b"1", ttl_ms(until), true)
                .await
        }
        .boxed()
    }
    fn load_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.get_bytes("load_session", format!("{KEY_PREFIX}session:{id}"))
            .boxed()
    }
    fn save_session<'a>(&'a self, id: &'a str, sealed: Vec<u8>, until: u64) -> StoreFuture<'a, ()> {
        let key = format!("{KEY_PREFIX}session:{id}");
        async move { self.set("save_session", key, &sealed, ttl_ms(until)).await }.boxed()
    }
    fn delete_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        async move {
            self.conn()
                .del::<_, ()>(format!("{KEY_PREFIX}session:{id}"))
                .await
                .map_err(err("delete_session"))
        }
        .boxed()
    }
    fn load_session_ended<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
    ) -> StoreFuture<'a, (Option<Vec<u8>>, Ended)> {
        let [a, b, c] = ended_keys(id, sid, sub);
        let keys = [format!("{KEY_PREFIX}session:{id}"), a, b, c];
        async move {
            let mut v: Vec<Option<Vec<u8>>> =
                self.conn().mget(&keys).await.map_err(err("load_session"))?;
            v.resize(keys.len(), None);
            let at = |i: usize| -> Option<u64> {
                std::str::from_utf8(v[i].as_deref()?).ok()?.parse().ok()
            };
            let ended = Ended {
                id: v[1].is_some(),
                sid: at(2).filter(|_| sid.is_some()),
                sub: at(3),
            };
            Ok((v.swap_remove(0), ended))
        }
        .boxed()
    }
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<String>> {
        async move {
            let token = crate::util::random_id(16);
            let got = self
                .set_with_ttl(
                    "lock",
                    format!("{KEY_PREFIX}lock:{key}"),
                    token.as_bytes(),
                    ttl.as_millis() as u64,
                    true,
                )
                .await?;
            Ok(got.then_some(token))
        }
        .boxed()
    }
    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> StoreFuture<'a, ()> {
        async move {
            redis::Script::new(UNLOCK)
                .key(format!("{KEY_PREFIX}lock:{key}"))
                .arg(token)
                .invoke_async::<i64>(&mut self.conn())
                .await
                .map(|_| ())
                .map_err(err("unlock"))
        }
        .boxed()
    }
    fn put<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()> {
        let key = format!("{KEY_PREFIX}{key}");
        async move { self.set("put", key, &value, ttl.as_millis() as u64).await }.boxed()
    }
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.get_bytes("get", format!("{KEY_PREFIX}{key}")).boxed()
    }
    fn index_session<'a>(
        &'a self,
        id: &'a str,
        sid: Option<&'a str>,
        sub: &'a str,
        until: u64,
    ) -> StoreFuture<'a, ()> {
        async move {
            let mut sets = vec![format!("{KEY_PREFIX}idx:sub:{sub}")];
            if let Some(sid) = sid {
                sets.push(format!("{KEY_PREFIX}idx:sid:{sid}"));
            }
            for set in sets {
                redis::Script::new(INDEX_ADD)
                    .key(set)
                    .arg(id)
                    .arg(ttl_ms(until))
                    .arg(format!("{KEY_PREFIX}session:"))
                    .invoke_async::<i64>(&mut self.conn())
                    .await
                    .map_err(err("index_session"))?;
            }
            Ok(())
        }
        .boxed()
    }
    fn end_indexed<'a>(&'a self, by_sid: bool, value: &'a str) -> StoreFuture<'a, Option<usize>> {
        async move {
            let kind = if by_sid { "sid" } else { "sub" };
            redis::Script::new(INDEX_END)
                .key(format!("{KEY_PREFIX}idx:{kind}:{value}"))
                .arg(format!("{KEY_PREFIX}session:"))
                .invoke_async::<i64>(&mut self.conn())
                .await
                .map(|n| Some(n.max(0) as usize))
                .map_err(err("end_indexed"))
        }
        .boxed()
    }
    fn check<'a>(&'a self) -> BoxFuture<'a, Option<&'static str>> {
        async move {
            let pong: Result<String, _> = redis::cmd("PING").query_async(&mut self.conn()).await;
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

/// issue 13: the connection with a client span per command (its name only: no key, no
/// value) under the current request's span.
struct Traced(ConnectionManager);

/// A command's name (`GET`, `EVALSHA`…), when it is a plain word.
fn command_name(cmd: &redis::Cmd) -> String {
    match cmd.args_iter().next() {
        Some(redis::Arg::Simple(name))
            if !name.is_empty() && name.len() <= 32 && name.iter().all(u8::is_ascii_alphabetic) =>
        {
            String::from_utf8_lossy(name).to_ascii_uppercase()
        }
        _ => "COMMAND".into(),
    }
}

fn command_span(name: String) -> crate::telemetry::ClientSpan {
    use opentelemetry::KeyValue;
    crate::telemetry::ClientSpan::start_lazy(|| {
        (
            format!("redis {name}").into(),
            vec![
                KeyValue::new("db.system.name", "redis"),
                KeyValue::new("db.operation.name", name),
            ],
        )
    })
}

fn end(span: crate::telemetry::ClientSpan, ok: bool) {
    if ok {
        span.ok()
    } else {
        span.failed("redis")
    }
}

impl redis::aio::ConnectionLike for Traced {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        let span = command_span(command_name(cmd));
        let call = self.0.req_packed_command(cmd);
        Box::pin(async move {
            let answer = call.await;
            end(span, answer.is_ok());
            answer
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        let span = command_span("PIPELINE".into());
        let call = self.0.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let answer = call.await;
            end(span, answer.is_ok());
            answer
        })
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::command_name;

    #[test]
    fn only_the_command_word_is_kept() {
        let mut set = redis::cmd("set");
        set.arg("bff:secret-key").arg("value");
        assert_eq!(command_name(&set), "SET");
        assert_eq!(command_name(&redis::cmd("EVALSHA")), "EVALSHA");
        assert_eq!(command_name(&redis::cmd("x:y")), "COMMAND");
    }
}
