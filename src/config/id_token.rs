//! The `id_token` section: which ID-token algorithms are accepted, the clock skew, and
//! how often an unknown `kid` may re-fetch the JWKS.

use std::time::Duration;

use super::source::Source;
use super::ConfigError;

#[derive(Debug, Clone)]
pub struct IdTokenConfig {
    /// `id_token_signing_algs`: the allow-list (`none` is never accepted).
    pub signing_algs: Vec<jsonwebtoken::Algorithm>,
    /// Allowed clock difference for ID-token (and logout-token) time claims.
    pub clock_skew: Duration,
    pub jwks_min_refetch_interval: Duration,
}

const DEFAULT_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// `fapi2`: under `profile: "fapi2"` the default list is the profile's (PS256, ES256,
/// EdDSA); an explicit list is checked against it with the other profile rules.
pub(super) fn validate(src: &Source, fapi2: bool) -> Result<IdTokenConfig, ConfigError> {
    const KEY: &str = "id_token_signing_algs";
    let defaults: &[&str] = if fapi2 {
        &["PS256", "ES256", "EdDSA"]
    } else {
        DEFAULT_ALGS
    };
    let names = src
        .list(KEY)
        .unwrap_or_else(|| defaults.iter().map(|s| s.to_string()).collect());
    let mut signing_algs = Vec::new();
    for name in names {
        let alg: jsonwebtoken::Algorithm = name
            .parse()
            .map_err(|_| ConfigError::new(KEY, format!("`{name}` is not a supported algorithm")))?;
        signing_algs.push(alg);
    }
    if signing_algs.is_empty() {
        return Err(ConfigError::new(KEY, "must not be empty"));
    }
    Ok(IdTokenConfig {
        signing_algs,
        clock_skew: src.secs("clock_skew", 60, 0)?,
        jwks_min_refetch_interval: src.secs("jwks_min_refetch_interval", 30, 0)?,
    })
}
