//! Dynamic client registration (RFC 7591 / OIDC Registration 1.0): when no `client_id` is
//! configured, register once at start-up and keep the credentials in the operator's file.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{http, Metadata, OidcError};
use crate::config::{ClientAuth, Config, Secret};

/// What the registration file holds.
#[derive(Serialize, Deserialize)]
pub struct Registered {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
}

/// The client metadata we register: our redirect and logout URIs, the code flow, the
/// client authentication method (with our public key for `private_key_jwt`).
pub fn client_metadata(config: &Config) -> serde_json::Value {
    let base = config.server.base_url.as_str().trim_end_matches('/');
    let auth = config.client.auth_method.unwrap_or(ClientAuth::Basic);
    let mut meta = json!({
        "client_name": "oidc-bff",
        "application_type": "web",
        "redirect_uris": [config.client.redirect_uri.as_str()],
        "post_logout_redirect_uris": [config.client.post_logout_redirect_uri.as_str()],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": auth.name(),
        "scope": config.client.scope,
        "backchannel_logout_uri": format!("{base}/bff/backchannel-logout"),
        "backchannel_logout_session_required": true,
        "frontchannel_logout_uri": format!("{base}/bff/frontchannel-logout"),
        "frontchannel_logout_session_required": true,
    });
    if let Some(jwk) = registered_jwk(config) {
        meta["token_endpoint_auth_signing_alg"] = jwk["alg"].clone();
        meta["jwks"] = json!({ "keys": [jwk] });
    }
    meta
}

/// The public key registered for `private_key_jwt`.
fn registered_jwk(config: &Config) -> Option<serde_json::Value> {
    if config.client.auth_method != Some(ClientAuth::PrivateKeyJwt) {
        return None;
    }
    config.client.key.as_ref()?.public_jwk()
}

/// Reads earlier credentials; `Ok(None)` when the file does not exist yet.
pub fn load(path: &Path) -> Result<Option<Registered>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} is not a registration file: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes the credentials, readable by the owner only.
pub fn save(path: &Path, registered: &Registered) -> Result<(), String> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let text = serde_json::to_vec_pretty(registered).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(&tmp)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    file.write_all(&text).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// POSTs our metadata to the registration endpoint.
pub async fn register(
    client: &awc::Client,
    meta: &Metadata,
    config: &Config,
) -> Result<Registered, OidcError> {
    let endpoint = meta
        .registration_endpoint
        .as_deref()
        .ok_or(OidcError::Unsupported("dynamic client registration"))?;
    let mut req = client
        .post(endpoint)
        .insert_header(("Accept", "application/json"));
    if let Some(token) = config
        .client
        .registration
        .as_ref()
        .and_then(|r| r.initial_access_token.as_ref())
        .map(|t| t.expose())
    {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let res = req
        .send_json(&client_metadata(config))
        .await
        .map_err(http::send_error)?;
    let registered: Registered = http::read_json(res)
        .await
        .map_err(|e| e.at(super::Endpoint::Registration))?;
    if registered.client_id.is_empty() {
        return Err(OidcError::InvalidResponse(
            "registration answered no client_id".into(),
        ));
    }
    Ok(registered)
}

/// Fills `client_id`/`client_secret` from the file, or registers (retrying discovery and
/// registration with backoff while the OP is unreachable) and saves the answer.
pub async fn ensure_registered(config: &mut Config, client: &awc::Client) -> Result<(), String> {
    let Some(reg) = config.client.registration.clone() else {
        return Ok(());
    };
    if !config.client.id.is_empty() {
        return Ok(());
    }
    if config.client.auth_method == Some(ClientAuth::PrivateKeyJwt)
        && registered_jwk(config).is_none()
    {
        return Err("the client key's public half cannot be registered; use an RSA or P-256 key, or set client_id".into());
    }
    let registered = match load(&reg.file)? {
        Some(r) => {
            tracing::info!(file = %reg.file.display(), "using the registered client from the registration file");
            r
        }
        None => {
            let mut backoff = super::backoff::Backoff::default();
            loop {
                let attempt = async {
                    let meta = super::discovery::discover(client, config).await?;
                    register(client, &meta, config).await
                };
                match attempt.await {
                    Ok(r) => break r,
                    Err(OidcError::Unsupported(what)) => {
                        return Err(format!("the OP does not offer {what}; set client_id"))
                    }
                    Err(OidcError::Status { status, error, .. }) if status < 500 => {
                        return Err(format!(
                            "registration refused: {status} {}",
                            error.unwrap_or_default()
                        ))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in_ms = backoff.delay().as_millis() as u64, "dynamic registration failed; retrying");
                        backoff.wait().await;
                    }
                }
            }
        }
    };
    save(&reg.file, &registered)?;
    tracing::info!(file = %reg.file.display(), "client registered");
    config.client.id = registered.client_id.clone();
    if config.client.secret.is_none() {
        config.client.secret = registered.client_secret.clone().map(Secret::new);
    }
    Ok(())
}
