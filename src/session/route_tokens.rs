//! issue 11: route tokens. One cache with single flight for the tokens routes get from
//! the OP besides the session's own: client-credentials tokens (per grant parameters) and
//! exchanged tokens (per session, access token and route parameters). Shared by every
//! worker of the process; with a shared store (Redis), also across instances: the grant
//! runs under the store's lock and its result is put (sealed) for the others.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Sealer;
use crate::error::BffError;
use crate::oidc::OidcError;
use crate::store::{SharedState, StoreError};
use crate::util::{hex_sha256, now};

/// Which feature a cached token serves (metrics label, error variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client,
    Exchange,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Exchange => "exchange",
        }
    }
}

/// A route token as granted: the token and (issue 12) the thumbprint of the DPoP key it
/// is bound to, when the OP answered `token_type: DPoP`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteToken {
    pub token: String,
    pub dpop_jkt: Option<String>,
}

impl RouteToken {
    pub fn bearer(token: impl Into<String>) -> Self {
        RouteToken {
            token: token.into(),
            dpop_jkt: None,
        }
    }
}

/// A token as cached (sealed in the shared store across instances).
#[derive(Serialize, Deserialize, Clone)]
struct Cached {
    access_token: String,
    /// Seconds since the epoch after which it is not sent any more.
    use_until: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dpop_jkt: Option<String>,
}

impl Cached {
    fn fresh(&self, now: u64) -> bool {
        now < self.use_until
    }

    fn token(&self) -> RouteToken {
        RouteToken {
            token: self.access_token.clone(),
            dpop_jkt: self.dpop_jkt.clone(),
        }
    }
}

/// A failed grant, kept for the requests that waited on it.
#[derive(Clone)]
enum Failure {
    Oidc(Kind, OidcError),
    Store(String),
}

impl Failure {
    fn of(kind: Kind, e: &BffError) -> Failure {
        match e {
            BffError::ClientToken(o) | BffError::TokenExchange(o) | BffError::Oidc(o) => {
                Failure::Oidc(kind, o.clone())
            }
            BffError::Store(s) => Failure::Store(s.0.clone()),
            other => Failure::Store(other.to_string()),
        }
    }

    fn error(&self) -> BffError {
        match self {
            Failure::Oidc(Kind::Client, o) => BffError::ClientToken(o.clone()),
            Failure::Oidc(Kind::Exchange, o) => BffError::TokenExchange(o.clone()),
            Failure::Store(s) => BffError::Store(StoreError(s.clone())),
        }
    }
}

#[derive(Default)]
struct Slot {
    /// Held while one request gets the token (from the shared store or the OP).
    fill: tokio::sync::Mutex<()>,
    value: Mutex<Option<Cached>>,
    /// Counts finished fills.
    gen: AtomicU64,
    /// The last failed fill and its generation.
    failed: Mutex<Option<(u64, Failure)>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Sealing name of cached route tokens in the shared store.
const SEALED: &str = "bff-route-token";
/// How long the fill lock in the shared store lives if its holder dies.
const LOCK_TTL: Duration = Duration::from_secs(10);
/// How long a request waits for another instance's grant before granting anyway.
const LOCK_WAIT: Duration = Duration::from_secs(5);
/// Over this many slots, those with nothing fresh and nobody waiting are dropped.
const MAX_SLOTS: usize = 4096;

/// How a token was got (metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Got {
    /// From this process's cache.
    Cached,
    /// From another instance, through the shared store.
    Shared,
    /// From the OP, by this request.
    Issued,
}

impl Got {
    pub fn label(self) -> &'static str {
        match self {
            Got::Cached => "cached",
            Got::Shared => "shared",
            Got::Issued => "issued",
        }
    }
}

/// How long a token of `life` seconds is sent: until `skew` (at most half its life)
/// before it expires.
pub fn use_for(life: u64, skew: u64) -> u64 {
    life.saturating_sub(skew.min(life / 2))
}

/// The cache of route tokens.
#[derive(Default)]
pub struct RouteTokens {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl RouteTokens {
    fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = locked(&self.slots);
        if slots.len() > MAX_SLOTS {
            let t = now();
            slots.retain(|_, s| {
                Arc::strong_count(s) > 1 || locked(&s.value).as_ref().is_some_and(|c| c.fresh(t))
            });
        }
        slots.entry(key.to_string()).or_default().clone()
    }

    /// The token of `key`: cached and fresh, else the one another instance put, else
    /// `fetch`'s (run by one request at a time per key; a failure is shared only with the
    /// requests that waited on it). `fetch` answers the token and its life in seconds.
    pub async fn get<F>(
        &self,
        key: &str,
        kind: Kind,
        store: &dyn SharedState,
        sealer: &Sealer,
        skew: u64,
        fetch: F,
    ) -> Result<(RouteToken, Got), BffError>
    where
        F: Future<Output = Result<(RouteToken, u64), BffError>>,
    {
        let slot = self.slot(key);
        if let Some(c) = locked(&slot.value).clone().filter(|c| c.fresh(now())) {
            return Ok((c.token(), Got::Cached));
        }
        let noted = slot.gen.load(Ordering::SeqCst);
        let _fill = slot.fill.lock().await;
        if let Some(c) = locked(&slot.value).clone().filter(|c| c.fresh(now())) {
            return Ok((c.token(), Got::Cached));
        }
        if let Some((g, f)) = locked(&slot.failed).clone() {
            if g > noted {
                return Err(f.error());
            }
        }
        let result = self.fill(key, store, sealer, skew, fetch).await;
        let g = slot.gen.fetch_add(1, Ordering::SeqCst) + 1;
        match result {
            Ok((cached, got)) => {
                *locked(&slot.failed) = None;
                let token = cached.token();
                *locked(&slot.value) = Some(cached);
                Ok((token, got))
            }
            Err(e) => {
                *locked(&slot.failed) = Some((g, Failure::of(kind, &e)));
                Err(e)
            }
        }
    }

    /// Gets the token from the shared store or the OP (holding the slot's fill lock).
    async fn fill<F>(
        &self,
        key: &str,
        store: &dyn SharedState,
        sealer: &Sealer,
        skew: u64,
        fetch: F,
    ) -> Result<(Cached, Got), BffError>
    where
        F: Future<Output = Result<(RouteToken, u64), BffError>>,
    {
        if !store.is_shared() {
            let (token, life) = fetch.await?;
            return Ok((cached(token, life, skew), Got::Issued));
        }
        if let Some(c) = shared(store, sealer, key).await? {
            return Ok((c, Got::Shared));
        }
        let lock_key = format!("lock:{key}");
        let deadline = Instant::now() + LOCK_WAIT;
        let lock = loop {
            if let Some(token) = store.try_lock(&lock_key, LOCK_TTL).await? {
                break Some(token);
            }
            if let Some(c) = shared(store, sealer, key).await? {
                return Ok((c, Got::Shared));
            }
            if Instant::now() >= deadline {
                tracing::warn!("route token lock wait timed out; granting without it");
                break None;
            }
            actix_rt::time::sleep(Duration::from_millis(25)).await;
        };
        let result = async {
            if lock.is_some() {
                if let Some(c) = shared(store, sealer, key).await? {
                    return Ok((c, Got::Shared));
                }
            }
            let (token, life) = fetch.await?;
            let c = cached(token, life, skew);
            let ttl = c.use_until.saturating_sub(now()).max(1);
            let sealed = sealer.seal(SEALED, &c, c.use_until);
            store
                .put(key, sealed.into_bytes(), Duration::from_secs(ttl))
                .await?;
            Ok::<_, BffError>((c, Got::Issued))
        }
        .await;
        if let Some(token) = lock {
            if let Err(e) = store.unlock(&lock_key, &token).await {
                tracing::warn!(error = %e, "could not release the route token lock (it expires by itself)");
            }
        }
        result
    }

    /// Drops `key`'s token if it is still `sent` (an upstream refused it), here and in the
    /// shared store.
    pub async fn invalidate(
        &self,
        key: &str,
        sent: &str,
        store: &dyn SharedState,
        sealer: &Sealer,
    ) -> Result<(), BffError> {
        self.drop_token(key, Some(sent), store, sealer).await
    }

    /// Drops `key`'s token whatever it is (its session's access token was replaced, or the
    /// session ended), here and in the shared store.
    pub async fn forget(
        &self,
        key: &str,
        store: &dyn SharedState,
        sealer: &Sealer,
    ) -> Result<(), BffError> {
        self.drop_token(key, None, store, sealer).await
    }

    async fn drop_token(
        &self,
        key: &str,
        only: Option<&str>,
        store: &dyn SharedState,
        sealer: &Sealer,
    ) -> Result<(), BffError> {
        let matches = |c: &Cached| only.is_none_or(|sent| c.access_token == sent);
        let slot = locked(&self.slots).get(key).cloned();
        if let Some(slot) = slot {
            let _fill = slot.fill.lock().await;
            let mut value = locked(&slot.value);
            if value.as_ref().is_some_and(matches) {
                *value = None;
            }
        }
        if only.is_none() {
            // Nobody waits on a forgotten key's slot any more: free it.
            let mut slots = locked(&self.slots);
            if slots.get(key).is_some_and(|s| Arc::strong_count(s) == 1) {
                slots.remove(key);
            }
        }
        if store.is_shared() {
            if let Some(c) = shared(store, sealer, key).await? {
                if matches(&c) {
                    let gone = Cached {
                        access_token: String::new(),
                        use_until: 0,
                        dpop_jkt: None,
                    };
                    let sealed = sealer.seal(SEALED, &gone, now() + 1);
                    store
                        .put(key, sealed.into_bytes(), Duration::from_secs(1))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// How many tokens this process holds.
    #[cfg(test)]
    fn held(&self) -> usize {
        locked(&self.slots)
            .values()
            .filter(|s| locked(&s.value).is_some())
            .count()
    }
}

/// The cache key of an exchanged token: per session, subject (access) token and route
/// parameters. A refresh changes the subject, so the old entry is never found again.
pub fn exchange_key(session_id: &str, subject: &str, params_key: &str) -> String {
    format!(
        "tx:{}",
        hex_sha256(&format!(
            "{session_id}\0{}\0{params_key}",
            hex_sha256(subject)
        ))
    )
}

fn cached(token: RouteToken, life: u64, skew: u64) -> Cached {
    Cached {
        access_token: token.token,
        dpop_jkt: token.dpop_jkt,
        use_until: now() + use_for(life, skew),
    }
}

/// A fresh token another instance put.
async fn shared(
    store: &dyn SharedState,
    sealer: &Sealer,
    key: &str,
) -> Result<Option<Cached>, BffError> {
    let Some(bytes) = store.get(key).await? else {
        return Ok(None);
    };
    let text = String::from_utf8(bytes).unwrap_or_default();
    let t = now();
    Ok(sealer
        .open::<Cached>(SEALED, &text, t)
        .ok()
        .map(|(c, _)| c)
        .filter(|c| c.fresh(t) && !c.access_token.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_forgotten_token_is_fetched_again_and_its_slot_freed() {
        let store = crate::store::memory::MemoryStore::default();
        let sealer = Sealer::new(&[[7u8; 32]]);
        let tokens = RouteTokens::default();
        let key = exchange_key("session-1", "at-1", "params");
        let get = |t: &'static str| {
            tokens.get(&key, Kind::Exchange, &store, &sealer, 30, async move {
                Ok((RouteToken::bearer(t), 300))
            })
        };
        let tx = |t: &str| RouteToken::bearer(t);
        assert_eq!(get("tx-1").await.unwrap(), (tx("tx-1"), Got::Issued));
        assert_eq!(get("tx-2").await.unwrap(), (tx("tx-1"), Got::Cached));
        assert_eq!(tokens.held(), 1);
        tokens.forget(&key, &store, &sealer).await.unwrap();
        assert_eq!(tokens.held(), 0);
        assert!(locked(&tokens.slots).is_empty(), "the slot is freed");
        assert_eq!(get("tx-3").await.unwrap(), (tx("tx-3"), Got::Issued));
        // `invalidate` drops only the token that was refused.
        tokens
            .invalidate(&key, "tx-other", &store, &sealer)
            .await
            .unwrap();
        assert_eq!(tokens.held(), 1);
        tokens
            .invalidate(&key, "tx-3", &store, &sealer)
            .await
            .unwrap();
        assert_eq!(tokens.held(), 0);
    }

    #[test]
    fn exchange_keys_differ_by_session_subject_and_params() {
        let k = exchange_key("s", "at", "p");
        assert_ne!(k, exchange_key("s2", "at", "p"));
        assert_ne!(k, exchange_key("s", "at2", "p"));
        assert_ne!(k, exchange_key("s", "at", "p2"));
        assert!(k.starts_with("tx:") && !k.contains("at"));
    }

    #[test]
    fn skew_is_at_most_half_the_life() {
        assert_eq!(use_for(300, 30), 270);
        assert_eq!(use_for(60, 30), 30);
        assert_eq!(use_for(40, 30), 20);
        assert_eq!(use_for(4, 1), 3);
        assert_eq!(use_for(0, 30), 0);
    }
}
