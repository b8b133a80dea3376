//! The `sender` section (issue 12): sender-constrained tokens and the FAPI 2.0 profile:
//! `profile`, `dpop` with its proof keys, and the client's TLS certificate for mutual TLS.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use super::client_key::ClientKey;
use super::source::Source;
use super::ConfigError;

/// `profile`: the plain product, or the FAPI 2.0 Security Profile's client rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Default,
    Fapi2,
}

#[derive(Debug, Clone)]
pub struct SenderConfig {
    pub profile: Profile,
    /// `dpop: true`: the proof keys (`dpop_private_jwk` as a list: the first signs new
    /// proofs; the others still sign for tokens bound to them until those are refreshed).
    /// `Some(empty)`: a key generated per process.
    pub dpop: Option<Vec<ClientKey>>,
    /// `client_tls_cert` / `client_tls_key`: the certificate shown to the OP (mutual TLS)
    /// and to https upstreams. Checked to match here, loaded again by the TLS client.
    pub tls_client: Option<ClientTls>,
}

#[derive(Debug, Clone)]
pub struct ClientTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl SenderConfig {
    pub fn fapi2(&self) -> bool {
        self.profile == Profile::Fapi2
    }
}

impl ClientTls {
    /// The certificate chain and its private key, checked to belong together.
    pub fn load(
        &self,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ConfigError> {
        load_identity(&self.cert, &self.key)
    }
}

pub(super) fn validate(src: &Source) -> Result<SenderConfig, ConfigError> {
    let profile = super::one_of(
        "profile",
        src.str("profile").as_deref(),
        &[("default", Profile::Default), ("fapi2", Profile::Fapi2)],
    )?;
    Ok(SenderConfig {
        profile,
        dpop: dpop_keys(src)?,
        tls_client: tls_client(src)?,
    })
}

fn dpop_keys(src: &Source) -> Result<Option<Vec<ClientKey>>, ConfigError> {
    const JWK: &str = "dpop_private_jwk";
    const PEM: &str = "dpop_private_key";
    let keys = match (src.json(JWK), src.path(PEM)) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                JWK,
                "set dpop_private_jwk or dpop_private_key, not both",
            ))
        }
        (Some(jwk), None) => {
            // A JWK, JWK text, or a list of them (rotation: the first signs).
            let list = match jwk {
                Value::Array(list) if list.is_empty() => {
                    return Err(ConfigError::new(JWK, "the list is empty"))
                }
                Value::Array(list) => list,
                one => vec![one],
            };
            list.iter()
                .map(|jwk| ClientKey::jwk_for(JWK, jwk, None, None)?.for_dpop(JWK))
                .collect::<Result<Vec<_>, _>>()?
        }
        (None, Some(path)) => vec![ClientKey::pem_for(PEM, &path, None, None)?.for_dpop(PEM)?],
        (None, None) => Vec::new(),
    };
    match src.flag("dpop") {
        Some(true) => Ok(Some(keys)),
        _ if !keys.is_empty() => Err(ConfigError::new(
            "dpop",
            "must be true when a DPoP key is set",
        )),
        _ => Ok(None),
    }
}

fn tls_client(src: &Source) -> Result<Option<ClientTls>, ConfigError> {
    match (src.path("client_tls_cert"), src.path("client_tls_key")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::new(
            "client_tls_key",
            "is required with client_tls_cert",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            "client_tls_cert",
            "is required with client_tls_key",
        )),
        (Some(cert), Some(key)) => {
            load_identity(&cert, &key)?;
            Ok(Some(ClientTls { cert, key }))
        }
    }
}

fn load_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ConfigError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|_| {
            ConfigError::new(
                "client_tls_cert",
                format!("cannot read PEM certificates from {}", cert.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(ConfigError::new(
            "client_tls_cert",
            "no certificate in the file",
        ));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|_| {
        ConfigError::new(
            "client_tls_key",
            format!("cannot read a PEM private key from {}", key.display()),
        )
    })?;
    let provider = rustls::crypto::ring::default_provider();
    rustls::sign::CertifiedKey::from_der(certs.clone(), private.clone_key(), &provider)
        .map_err(|_| ConfigError::new("client_tls_key", "is not the key of client_tls_cert"))?;
    Ok((certs, private))
}

/// Cross-section rules of `profile: "fapi2"` (FAPI 2.0 Security Profile §5.3.2): each
/// broken one stops start-up naming its key.
pub(super) fn check_fapi2(config: &super::Config) -> Result<(), ConfigError> {
    use super::{ClientAuth, ParamsVia};
    if !config.sender.fapi2() {
        return Ok(());
    }
    const WHY: &str = "under profile fapi2";
    if config.provider.params_via != ParamsVia::Par {
        return Err(ConfigError::new(
            "send_parameters_via",
            format!("must be par {WHY}"),
        ));
    }
    if config.client.secret.is_some() {
        return Err(ConfigError::new(
            "client_secret",
            format!("is not allowed {WHY} (use private_key_jwt or mutual TLS)"),
        ));
    }
    match config.client.auth_method {
        Some(
            ClientAuth::PrivateKeyJwt
            | ClientAuth::TlsClientAuth
            | ClientAuth::SelfSignedTlsClientAuth,
        ) => {}
        _ => {
            return Err(ConfigError::new(
                "token_endpoint_auth_method",
                format!(
                    "must be private_key_jwt, tls_client_auth or self_signed_tls_client_auth {WHY}"
                ),
            ))
        }
    }
    if let Some(k) = config
        .client
        .key
        .as_ref()
        .filter(|k| !FAPI2_ALGS.contains(&k.alg))
    {
        return Err(ConfigError::new(
            "client_signing_alg",
            format!("{:?} is not allowed {WHY} (PS256, ES256, EdDSA)", k.alg),
        ));
    }
    // §5.4.1: RSA keys of at least 2048 bits (our EC keys are P-256, above the 224 minimum).
    let keys = config
        .client
        .key
        .iter()
        .chain(config.sender.dpop.iter().flatten());
    if let Some((k, bits)) = keys
        .filter_map(|k| k.rsa_bits().map(|b| (k, b)))
        .find(|(_, b)| *b < 2048)
    {
        return Err(ConfigError::new(
            k.setting,
            format!("an RSA key of {bits} bits is too short {WHY} (at least 2048)"),
        ));
    }
    if config.sender.dpop.is_none() && config.sender.tls_client.is_none() {
        return Err(ConfigError::new(
            "dpop",
            format!("must be true (or client_tls_cert set for mutual TLS) {WHY}"),
        ));
    }
    if let Some(alg) = config
        .id_token
        .signing_algs
        .iter()
        .find(|a| !FAPI2_ALGS.contains(a))
    {
        return Err(ConfigError::new(
            "id_token_signing_algs",
            format!("{alg:?} is not allowed {WHY} (PS256, ES256, EdDSA)"),
        ));
    }
    if !config.provider.verify_ssl {
        return Err(ConfigError::new(
            "verify_ssl_server",
            format!("must be true {WHY}"),
        ));
    }
    Ok(())
}

/// The ID-token algorithms FAPI 2.0 allows (§5.4.1): the default under the profile.
pub const FAPI2_ALGS: [jsonwebtoken::Algorithm; 3] = [
    jsonwebtoken::Algorithm::PS256,
    jsonwebtoken::Algorithm::ES256,
    jsonwebtoken::Algorithm::EdDSA,
];

/// Rules between this section and others: mutual TLS needs the certificate; a generated
/// DPoP key cannot serve several instances (each would bind tokens to its own key).
pub(super) fn check_sender(config: &super::Config) -> Result<(), ConfigError> {
    if let Some(m) = config.client.auth_method.filter(|m| m.is_mtls()) {
        if config.sender.tls_client.is_none() {
            return Err(ConfigError::new(
                "client_tls_cert",
                format!("is required for {}", m.name()),
            ));
        }
    }
    let shared = config.store.url.is_some() || config.server_sessions();
    if config.sender.dpop.as_ref().is_some_and(Vec::is_empty) && shared {
        return Err(ConfigError::new(
            "dpop_private_jwk",
            "is required with a shared store (every instance must sign with the same DPoP key)",
        ));
    }
    Ok(())
}
