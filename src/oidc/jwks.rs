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
    last_fetch: Mutex<Option<Instant>>,
    fetch_lock: tokio::sync::Mutex<()>,
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

    fn fetched_within(&self, interval: Duration) -> bool {
        self.last_fetch
            .lock()
            .ok()
            .and_then(|g| *g)
            .is_some_and(|t| t.elapsed() < interval)
    }

    async fn fetch(
        &self,
        client: &awc::Client,
        jwks_uri: &str,
    ) -> Result<Arc<Vec<Jwk>>, OidcError> {
        if let Ok(mut g) = self.last_fetch.lock() {
            *g = Some(Instant::now());
        }
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
    /// unknown `kid` re-fetches at most once per `min_interval`.
    pub async fn keys_for(
        &self,
        client: &awc::Client,
        jwks_uri: &str,
        kid: Option<&str>,
        min_interval: Duration,
    ) -> Result<Arc<Vec<Jwk>>, OidcError> {
        if let Some(keys) = self.current() {
            let known = kid.is_none_or(|k| has_kid(&keys, k));
            if known || self.fetched_within(min_interval) {
                return Ok(keys);
            }
        }
        let _guard = self.fetch_lock.lock().await;
        // Another request may have fetched while we waited.
        if let Some(keys) = self.current() {
            let known = kid.is_none_or(|k| has_kid(&keys, k));
            if known || self.fetched_within(min_interval) {
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
}
