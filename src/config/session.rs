//! The `session` section: cookie keys and SameSite, lifetimes, how many cookie chunks a
//! session may span, and where sessions live (`session_store`).

use std::time::Duration;

use base64::Engine;

use super::secret::Secret;
use super::source::Source;
use super::ConfigError;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// `cookie_keys`: the first seals, all open.
    pub cookie_keys: Secret<Vec<[u8; 32]>>,
    /// True when no key was configured and one was generated for this process.
    pub ephemeral_key: bool,
    /// `cookie_same_site` of the session cookie.
    pub same_site: SameSite,
    /// `session_lifetime`: absolute.
    pub lifetime: Duration,
    pub idle_timeout: Duration,
    /// How long a started login may take.
    pub login_timeout: Duration,
    /// Refresh the access token this long before it expires.
    pub refresh_skew: Duration,
    pub max_cookie_chunks: usize,
    /// `session_store: redis://…`: sessions live in Redis; the cookie holds only an id.
    pub server_side: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
}

/// A store setting: `local` (the in-process choice: `None`) or a usable Redis URL.
pub(super) fn redis_url(
    key: &str,
    text: Option<String>,
    local: &str,
) -> Result<Option<String>, ConfigError> {
    match text {
        None => Ok(None),
        Some(u) if u == local => Ok(None),
        Some(u) if u.starts_with("redis://") || u.starts_with("rediss://") => {
            redis::Client::open(u.as_str())
                .map_err(|e| ConfigError::new(key, format!("not a usable Redis URL: {e}")))?;
            Ok(Some(u))
        }
        Some(other) => Err(ConfigError::new(
            key,
            format!("`{other}` is not `{local}` or a redis:// URL"),
        )),
    }
}

/// The section, and `session_store`'s Redis URL (the shared store's default).
pub(super) fn validate(src: &Source) -> Result<(SessionConfig, Option<String>), ConfigError> {
    let redis_url = redis_url("session_store", src.str("session_store"), "cookie")?;
    let (cookie_keys, ephemeral_key) = cookie_keys(src)?;
    let same_site = src.str("cookie_same_site").map(|s| s.to_ascii_lowercase());
    let config = SessionConfig {
        cookie_keys: Secret::new(cookie_keys),
        ephemeral_key,
        same_site: super::one_of(
            "cookie_same_site",
            same_site.as_deref(),
            &[("strict", SameSite::Strict), ("lax", SameSite::Lax)],
        )?,
        lifetime: src.secs("session_lifetime", 8 * 3600, 60)?,
        idle_timeout: src.secs("session_idle_timeout", 3600, 60)?,
        login_timeout: src.secs("login_timeout", 600, 30)?,
        refresh_skew: src.secs("refresh_skew", 30, 0)?,
        max_cookie_chunks: src.bounded("max_cookie_chunks", 8, (1, 32), "cookies")?,
        server_side: redis_url.is_some(),
    };
    Ok((config, redis_url))
}

fn cookie_keys(src: &Source) -> Result<(Vec<[u8; 32]>, bool), ConfigError> {
    const KEY: &str = "cookie_keys";
    let Some(list) = src.list(KEY) else {
        return Ok((vec![rand::random::<[u8; 32]>()], true));
    };
    if list.is_empty() {
        return Err(ConfigError::new(KEY, "must not be an empty list"));
    }
    let mut keys = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| ConfigError::new(KEY, format!("entry {i} is not standard base64")))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            ConfigError::new(KEY, format!("entry {i} must decode to exactly 32 bytes"))
        })?;
        keys.push(key);
    }
    Ok((keys, false))
}
