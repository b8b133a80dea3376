//! The `store` section: the shared state (ended sessions, spent `state`s, logout `jti`s,
//! refresh locks): in memory, or Redis, and the bound on every call to it.

use std::time::Duration;

use super::secret::Secret;
use super::source::Source;
use super::ConfigError;

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `shared_store`'s Redis URL (by default `session_store`'s); `None`: in memory, per
    /// process.
    pub url: Option<Secret<String>>,
    /// Bound on every shared-store call (`store_timeout_ms`).
    pub timeout: Duration,
}

/// `session_redis`: `session_store`'s Redis URL, the default of `shared_store`.
pub(super) fn validate(
    src: &Source,
    session_redis: Option<&str>,
) -> Result<StoreConfig, ConfigError> {
    let url = super::session::redis_url("shared_store", src.str("shared_store"), "memory")?
        .or_else(|| session_redis.map(str::to_string))
        .map(Secret::new);
    // issue 10: out of 50..=10000 is refused (it was silently clamped).
    let ms = src.bounded("store_timeout_ms", 500, (50, 10_000), "milliseconds")?;
    Ok(StoreConfig {
        url,
        timeout: Duration::from_millis(ms as u64),
    })
}
