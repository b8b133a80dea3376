//! OpenID Provider metadata: fetched from `/.well-known/openid-configuration` at start
//! with retry and backoff, checked (exact `issuer`), and shared with the JWKS cache.

use std::sync::{Arc, RwLock};

use serde::Deserialize;

use super::id_token::{self, Expectations};
use super::jwks::JwksCache;
use super::logout_token::{self, Logout, LogoutTokenError};
use super::{http, OidcError};
use crate::config::{is_loopback_host, Config};

/// The parts of the OP's metadata the BFF uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<String>,
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    /// issue 17: whether the OP does Front-Channel Logout (for the missing-`sid` warning).
    #[serde(default)]
    pub frontchannel_logout_supported: bool,
    /// issue 12: RFC 8705 5: the endpoints to use with a client certificate.
    #[serde(default)]
    pub mtls_endpoint_aliases: Option<MtlsAliases>,
    /// issue 12: RFC 9449 5.1: the proof algorithms the OP accepts.
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
}

/// `mtls_endpoint_aliases` (RFC 8705 5): the endpoints a client using mutual TLS calls
/// instead (those we call).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MtlsAliases {
    pub token_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub pushed_authorization_request_endpoint: Option<String>,
}

impl Metadata {
    /// issue 12: with a client certificate, the OP's mTLS aliases replace the endpoints
    /// they name (RFC 8705 5). The authorization and end-session endpoints are the
    /// browser's and stay.
    pub fn use_mtls_aliases(&mut self) {
        let Some(a) = self.mtls_endpoint_aliases.take() else {
            return;
        };
        if let Some(u) = a.token_endpoint {
            self.token_endpoint = u;
        }
        for (alias, slot) in [
            (a.revocation_endpoint, &mut self.revocation_endpoint),
            (a.introspection_endpoint, &mut self.introspection_endpoint),
            (a.userinfo_endpoint, &mut self.userinfo_endpoint),
            (
                a.pushed_authorization_request_endpoint,
                &mut self.pushed_authorization_request_endpoint,
            ),
        ] {
            if alias.is_some() {
                *slot = alias;
            }
        }
    }
}

impl Metadata {
    /// Checks the document against the configured issuer (OIDC Discovery 4.3).
    pub fn check(&self, config: &Config) -> Result<(), OidcError> {
        if self.issuer != config.provider.issuer {
            return Err(OidcError::Discovery(format!(
                "metadata issuer `{}` differs from the configured `{}`",
                self.issuer, config.provider.issuer
            )));
        }
        for (name, url) in [
            ("authorization_endpoint", Some(&self.authorization_endpoint)),
            ("token_endpoint", Some(&self.token_endpoint)),
            ("jwks_uri", Some(&self.jwks_uri)),
            ("userinfo_endpoint", self.userinfo_endpoint.as_ref()),
            ("end_session_endpoint", self.end_session_endpoint.as_ref()),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
            (
                "introspection_endpoint",
                self.introspection_endpoint.as_ref(),
            ),
            // issue 12: PAR carries the whole authorization request and client credentials.
            (
                "pushed_authorization_request_endpoint",
                self.pushed_authorization_request_endpoint.as_ref(),
            ),
        ] {
            let Some(url) = url else { continue };
            let parsed = url::Url::parse(url)
                .map_err(|_| OidcError::Discovery(format!("{name} is not a URL")))?;
            let host = parsed.host_str().unwrap_or("");
            let ok =
                parsed.scheme() == "https" || (parsed.scheme() == "http" && is_loopback_host(host));
            if !ok {
                return Err(OidcError::Discovery(format!("{name} must be https")));
            }
        }
        if let Some(methods) = &self.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(OidcError::Discovery(
                    "the OP does not support PKCE S256".into(),
                ));
            }
        }
        // issue 12: a proof the OP would refuse on every token request is a setting to
        // change, said once here rather than as `invalid_dpop_proof` at every login.
        if let (Some(keys), Some(algs)) =
            (&config.sender.dpop, &self.dpop_signing_alg_values_supported)
        {
            let alg = keys
                .first()
                .map_or(jsonwebtoken::Algorithm::ES256, |k| k.alg);
            let name = format!("{alg:?}");
            if !algs.contains(&name) {
                return Err(OidcError::Discovery(format!(
                    "the OP's dpop_signing_alg_values_supported ({}) does not list {name}, the algorithm of the DPoP key (dpop_private_key / dpop_private_jwk): use a key it accepts (EC P-256 signs ES256, RSA PS256)",
                    algs.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// The OP as the BFF knows it: metadata once discovered, and its signing keys.
#[derive(Default)]
pub struct Provider {
    metadata: RwLock<Option<Arc<Metadata>>>,
    pub jwks: JwksCache,
    /// issue 12: the DPoP keys and nonces, with `dpop: true`.
    pub dpop: Option<super::dpop::Dpop>,
}

impl Provider {
    pub fn new(dpop: Option<super::dpop::Dpop>) -> Self {
        Provider {
            dpop,
            ..Self::default()
        }
    }

    pub fn dpop(&self) -> Option<&super::dpop::Dpop> {
        self.dpop.as_ref()
    }

    /// issue 12: the thumbprint a token just issued with `token_type: DPoP` is bound to.
    pub fn bound_jkt(&self, dpop_bound: bool) -> Option<String> {
        self.dpop
            .as_ref()
            .filter(|_| dpop_bound)
            .map(|d| d.signer().jkt().to_string())
    }

    pub fn metadata(&self) -> Result<Arc<Metadata>, OidcError> {
        match self.metadata.read() {
            Ok(guard) => guard.clone().ok_or(OidcError::NotReady),
            Err(_) => Err(OidcError::NotReady),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.metadata().is_ok()
    }

    pub fn set_metadata(&self, meta: Metadata) {
        if let Ok(mut guard) = self.metadata.write() {
            *guard = Some(Arc::new(meta));
        }
    }
}

impl Provider {
    /// The expectations every OP-signed JWT for this client must meet.
    fn expectations<'a>(
        config: &'a Config,
        nonce: Option<&'a str>,
        max_age: Option<u64>,
    ) -> Expectations<'a> {
        Expectations {
            issuer: &config.provider.issuer,
            client_id: &config.client.id,
            nonce,
            now: crate::util::now(),
            skew: config.id_token.clock_skew.as_secs(),
            algs: &config.id_token.signing_algs,
            client_secret: config.client.secret.as_ref().map(|s| s.expose().as_str()),
            max_age,
            max_iat_age: MAX_IAT_AGE,
        }
    }

    /// The OP's keys for a token (fetching, or re-fetching on an unknown `kid`).
    async fn keys_for_token(
        &self,
        client: &awc::Client,
        config: &Config,
        token: &str,
    ) -> Result<Arc<Vec<jsonwebtoken::jwk::Jwk>>, OidcError> {
        let meta = self.metadata()?;
        let (_, kid) = id_token::header(token, &config.id_token.signing_algs)?;
        self.jwks
            .keys_for(
                client,
                &meta.jwks_uri,
                kid.as_deref(),
                config.id_token.jwks_min_refetch_interval,
            )
            .await
    }

    /// Verifies an ID token against the OP's keys and the configured expectations.
    pub async fn verify_id_token(
        &self,
        client: &awc::Client,
        config: &Config,
        token: &str,
        nonce: Option<&str>,
        max_age: Option<u64>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, OidcError> {
        let keys = self.keys_for_token(client, config, token).await?;
        Ok(id_token::verify(
            token,
            &keys,
            &Self::expectations(config, nonce, max_age),
        )?)
    }

    /// Verifies a back-channel logout token (all but `jti` freshness).
    pub async fn verify_logout_token(
        &self,
        client: &awc::Client,
        config: &Config,
        token: &str,
    ) -> Result<Result<Logout, LogoutTokenError>, OidcError> {
        let keys = match self.keys_for_token(client, config, token).await {
            Ok(k) => k,
            Err(OidcError::IdToken(e)) => return Ok(Err(e.into())),
            Err(e) => return Err(e),
        };
        Ok(logout_token::verify(
            token,
            &keys,
            &Self::expectations(config, None, None),
            logout_token::LOGOUT_TOKEN_WINDOW,
        ))
    }
}

/// Oldest ID token `iat` accepted.
const MAX_IAT_AGE: u64 = 600;

/// The discovery URL for an issuer (OIDC Discovery 4.1).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Fetches and checks the metadata once.
pub async fn discover(client: &awc::Client, config: &Config) -> Result<Metadata, OidcError> {
    let _timer = crate::metrics::get().op_call("discovery");
    let mut meta: Metadata = http::get_json(client, &discovery_url(&config.provider.issuer))
        .await
        .map_err(|e| e.at(super::Endpoint::Discovery))?;
    if config.sender.tls_client.is_some() {
        meta.use_mtls_aliases();
    }
    meta.check(config)?;
    Ok(meta)
}

/// Retries discovery with exponential backoff (0.5 s doubling to 30 s) until it succeeds.
/// Runs on the actix runtime (awc is not `Send`).
pub async fn discover_until_ready(
    provider: Arc<Provider>,
    client: awc::Client,
    config: Arc<Config>,
) {
    let mut backoff = super::backoff::Backoff::default();
    let mut attempt = 1u32;
    loop {
        match discover(&client, &config).await {
            Ok(meta) => {
                tracing::info!(issuer = %meta.issuer, attempt, "discovery succeeded");
                provider.set_metadata(meta);
                return;
            }
            Err(e) => {
                tracing::warn!(attempt, retry_in_ms = backoff.delay().as_millis() as u64, error = %e, "discovery failed; retrying");
            }
        }
        backoff.wait().await;
        attempt += 1;
    }
}
