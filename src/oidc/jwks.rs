//! The OP's signing keys: fetched on first use, cached, and re-fetched once (rate-limited)
//! when a token names a `kid` the cache does not know (key rotation).

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use serde_json::Value;

use super::{http, OidcError};

#[derive(Default)]
pub struct JwksCache {
    keys: RwLock<Option<Arc<Vec<Jwk>>>>,
    /// issue 13: re-fetches caused by unknown `kid`s, and only those.
    unknown_kid: Mutex<RefetchLimiter>,
    fetch_lock: tokio::sync::Mutex<()>,
}

/// issue 13: at most one re-fetch per interval for tokens naming an unknown `kid`,
/// counted from the last re-fetch such a token caused (never from the first fetch at
/// start-up or any other), so a key rotated right after start-up is followed at once and
/// random `kid`s cannot turn into a fetch storm.
#[derive(Debug, Default)]
pub struct RefetchLimiter {
    last: Option<Instant>,
}

impl RefetchLimiter {
    /// Whether a re-fetch would be allowed at `now` (without taking it).
    pub fn allows(&self, now: Instant, interval: Duration) -> bool {
        self.last
            .is_none_or(|t| now.saturating_duration_since(t) >= interval)
    }

    /// Takes the re-fetch if allowed at `now`.
    pub fn acquire(&mut self, now: Instant, interval: Duration) -> bool {
        let ok = self.allows(now, interval);
        if ok {
            self.last = Some(now);
        }
        ok
    }
}

/// Parses a JWK Set, skipping keys we cannot use (unknown types, encryption keys).
pub fn parse_jwks(doc: &Value) -> Result<Vec<Jwk>, OidcError> {
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| OidcError::InvalidResponse("JWKS has no `keys` array".into()))?;
    Ok(keys
        .iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .filter(|k| !matches!(k.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter(|k| jsonwebtoken::DecodingKey::from_jwk(k).is_ok())
        .collect())
}

fn has_kid(keys: &[Jwk], kid: &str) -> bool {
    keys.iter().any(|k| k.common.key_id.as_deref() == Some(kid))
}

impl JwksCache {
    fn current(&self) -> Option<Arc<Vec<Jwk>>> {
        self.keys.read().ok().and_then(|g| g.clone())
    }

    fn refetch_allowed(&self, interval: Duration) -> bool {
        self.unknown_kid
            .lock()
            .map(|l| l.allows(Instant::now(), interval))
            .unwrap_or(false)
    }

    fn take_refetch(&self, interval: Duration) -> bool {
        self.unknown_kid
            .lock()
            .map(|mut l| l.acquire(Instant::now(), interval))
            .unwrap_or(false)
    }

    async fn fetch(
        &self,
        client: &awc::Client,
        jwks_uri: &str,
    ) -> Result<Arc<Vec<Jwk>>, OidcError> {
        let doc: Value = {
            let _timer = crate::metrics::get().op_call("jwks");
            http::get_json(client, jwks_uri)
                .await
                .map_err(|e| e.at(super::Endpoint::Jwks))?
        };
        let keys = Arc::new(parse_jwks(&doc)?);
        if let Ok(mut g) = self.keys.write() {
            *g = Some(keys.clone());
        }
        tracing::debug!(count = keys.len(), "JWKS fetched");
        Ok(keys)
    }

    /// Keys to verify a token whose header names `kid`. Fetches on first use; on an
    /// unknown `kid` re-fetches at most once per `min_interval` (see [`RefetchLimiter`]).
    pub async fn keys_for(
        &self,
        client: &awc::Client,
        jwks_uri: &str,
        kid: Option<&str>,
        min_interval: Duration,
    ) -> Result<Arc<Vec<Jwk>>, OidcError> {
        let known = |keys: &[Jwk]| kid.is_none_or(|k| has_kid(keys, k));
        if let Some(keys) = self.current() {
            if known(&keys) || !self.refetch_allowed(min_interval) {
                return Ok(keys);
            }
        }
        let _guard = self.fetch_lock.lock().await;
        // Another request may have fetched while we waited.
        if let Some(keys) = self.current() {
            if known(&keys) || !self.take_refetch(min_interval) {
                return Ok(keys);
            }
            tracing::info!("token names an unknown signing key; re-fetching the JWKS");
        }
        self.fetch(client, jwks_uri).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn skips_unusable_keys() {
        let doc = json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": "sXch", "e": "AQAB", "use": "sig"},
            {"kty": "RSA", "kid": "b", "n": "sXch", "e": "AQAB", "use": "enc"},
            {"kty": "weird", "kid": "c"}
        ]});
        let keys = parse_jwks(&doc).unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.common.key_id.clone()).collect();
        assert_eq!(kids, vec![Some("a".to_string())]);
        assert!(has_kid(&keys, "a") && !has_kid(&keys, "b"));
        assert!(parse_jwks(&json!({"nokeys": 1})).is_err());
    }

    #[test]
    fn the_first_unknown_kid_refetches_at_once_then_one_per_interval() {
        let interval = Duration::from_secs(30);
        let start = Instant::now();
        let mut l = RefetchLimiter::default();
        // Nothing caused a re-fetch yet (the first fetch does not count): allowed at once.
        assert!(l.allows(start, interval));
        assert!(l.acquire(start, interval));
        // Random kids within the interval: refused, and refusals do not move the window.
        for s in [0, 1, 10, 29] {
            assert!(!l.acquire(start + Duration::from_secs(s), interval), "{s}");
        }
        assert!(l.acquire(start + interval, interval));
        assert!(!l.allows(start + interval + Duration::from_secs(29), interval));
        assert!(l.allows(start + interval * 2, interval));
        // interval 0: every unknown kid may re-fetch.
        let mut l = RefetchLimiter::default();
        assert!(l.acquire(start, Duration::ZERO) && l.acquire(start, Duration::ZERO));
    }
}
