//! The server side of TLS: rustls from `tls_cert`/`tls_key`, or a self-signed localhost
//! certificate generated at start when `base_url` is https and none is configured.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

use crate::config::{ConfigError, TlsFiles};

/// Loads the configured certificate, or generates one for localhost.
pub fn server_config(files: Option<&TlsFiles>) -> Result<ServerConfig, ConfigError> {
    server_config_with(files, None)
}

/// `server_config`, asking for client certificates checked by `clients` when given (the
/// demo API's mutual TLS, issue 12).
pub fn server_config_with(
    files: Option<&TlsFiles>,
    clients: Option<std::sync::Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<ServerConfig, ConfigError> {
    let (certs, key) = match files {
        Some(f) => {
            let certs = CertificateDer::pem_file_iter(&f.cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    ConfigError::new("tls_cert", format!("cannot read PEM certificates: {e}"))
                })?;
            if certs.is_empty() {
                return Err(ConfigError::new("tls_cert", "no certificate in the file"));
            }
            let key = PrivateKeyDer::from_pem_file(&f.key).map_err(|e| {
                ConfigError::new("tls_key", format!("cannot read a PEM private key: {e}"))
            })?;
            (certs, key)
        }
        None => {
            let names = vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
            ];
            let generated = rcgen::generate_simple_self_signed(names).map_err(|e| {
                ConfigError::new("tls_cert", format!("cannot generate a certificate: {e}"))
            })?;
            tracing::warn!("no tls_cert configured: using a self-signed certificate for localhost");
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                generated.signing_key.serialize_der(),
            ));
            (vec![generated.cert.der().clone()], key)
        }
    };
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::new("tls_cert", e.to_string()))?;
    let builder = match clients {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(certs, key)
        .map_err(|e| ConfigError::new("tls_key", format!("does not match the certificate: {e}")))
}
