//! The outgoing HTTP client: rustls with the system roots plus `ca_file` (or, loudly,
//! no verification), no redirects, timeouts, bounded bodies, OAuth error parsing.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use awc::error::{JsonPayloadError, SendRequestError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::OidcError;
use crate::config::Config;
use crate::telemetry::{Peer, Traced};

/// Largest JSON answer accepted from the OP.
pub const MAX_JSON: usize = 1 << 20;

/// Builds the TLS client configuration for the OP and upstreams.
pub fn tls_client_config(config: &Config) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let mut tls = if config.provider.verify_ssl {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = &config.provider.ca_file {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("ca_file: {e}"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("ca_file: {e}"))?;
            if certs.is_empty() {
                return Err("ca_file: no certificate in file".into());
            }
            for cert in certs {
                roots.add(cert).map_err(|e| format!("ca_file: {e}"))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

/// `verify_ssl_server: false`: accepts any certificate (signatures still checked).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An awc client for start-up (discovery, dynamic registration): one per worker thread,
/// awc clients are not `Send`.
pub fn build_client(tls: Arc<ClientConfig>, timeout: Duration) -> awc::Client {
    build_traced_client(
        tls,
        timeout,
        Rc::new(|url: &str| {
            if url.ends_with(WELL_KNOWN) {
                "discovery"
            } else {
                "registration"
            }
        }),
    )
}

/// The OP client of the running BFF; its spans name the endpoint of `provider`'s
/// metadata each request goes to.
pub fn build_op_client(
    tls: Arc<ClientConfig>,
    timeout: Duration,
    provider: Arc<super::Provider>,
) -> awc::Client {
    build_traced_client(
        tls,
        timeout,
        Rc::new(move |url: &str| endpoint_name(provider.metadata().ok().as_deref(), url)),
    )
}

/// issue 13: every request carries a `traceparent` and gets a client span (the awc
/// middleware `telemetry::Traced`), named by `names`.
fn build_traced_client(
    tls: Arc<ClientConfig>,
    timeout: Duration,
    names: Rc<dyn Fn(&str) -> &'static str>,
) -> awc::Client {
    let connector = awc::Connector::new()
        .rustls_0_23(tls)
        .timeout(timeout)
        .limit(256);
    awc::Client::builder()
        .connector(connector)
        .timeout(timeout)
        .disable_redirects()
        .wrap(Traced(Peer::Op(names)))
        .add_default_header((
            "User-Agent",
            concat!("oidc-bff/", env!("CARGO_PKG_VERSION")),
        ))
        .finish()
}

const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// issue 13: which OP endpoint `url` (without its query) is, for span names.
pub fn endpoint_name(meta: Option<&super::discovery::Metadata>, url: &str) -> &'static str {
    if url.ends_with(WELL_KNOWN) {
        return "discovery";
    }
    let Some(m) = meta else { return "op" };
    let is = |e: Option<&str>| e.is_some_and(|e| e.split('?').next() == Some(url));
    [
        ("token", Some(m.token_endpoint.as_str())),
        ("jwks", Some(m.jwks_uri.as_str())),
        ("par", m.pushed_authorization_request_endpoint.as_deref()),
        ("userinfo", m.userinfo_endpoint.as_deref()),
        ("introspection", m.introspection_endpoint.as_deref()),
        ("revocation", m.revocation_endpoint.as_deref()),
        ("registration", m.registration_endpoint.as_deref()),
    ]
    .into_iter()
    .find(|(_, e)| is(*e))
    .map_or("op", |(name, _)| name)
}

pub fn send_error(e: SendRequestError) -> OidcError {
    match e {
        SendRequestError::Timeout => OidcError::Timeout,
        other => OidcError::Network(other.to_string()),
    }
}

#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
    // issue 11: logged with failed grants.
    error_description: Option<serde_json::Value>,
}

/// The OAuth `error` code of an error answer, when it is a short printable token (an
/// OP's text never reaches a log line or a message unchecked), and its
/// `error_description` made safe for a log line (at most 256 characters, control
/// characters as spaces).
fn provider_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(e) = serde_json::from_slice::<OAuthError>(body) else {
        return (None, None);
    };
    let error = e
        .error
        .filter(|e| e.len() <= 64 && e.bytes().all(|b| b.is_ascii_graphic()));
    let description = match e.error_description {
        Some(serde_json::Value::String(d)) => Some(sanitise(&d)),
        _ => None,
    };
    (error, description)
}

/// At most 256 characters, control characters as spaces.
pub fn sanitise(text: &str) -> String {
    text.chars()
        .take(256)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Reads a JSON answer; non-2xx answers become `OidcError::Status` with the OAuth `error`.
pub async fn read_json<T, S>(mut res: awc::ClientResponse<S>) -> Result<T, OidcError>
where
    T: DeserializeOwned,
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let status = res.status();
    if !status.is_success() {
        let body = res.body().limit(64 * 1024).await.unwrap_or_default();
        let (error, description) = provider_error(&body);
        return Err(OidcError::Status {
            status: status.as_u16(),
            error,
            description,
        });
    }
    res.json::<T>().limit(MAX_JSON).await.map_err(|e| match e {
        JsonPayloadError::Deserialize(d) => OidcError::InvalidResponse(d.to_string()),
        other => OidcError::InvalidResponse(other.to_string()),
    })
}

/// GET a JSON document.
pub async fn get_json<T: DeserializeOwned>(
    client: &awc::Client,
    url: &str,
) -> Result<T, OidcError> {
    let res = client
        .get(url)
        .insert_header(("Accept", "application/json"))
        .send()
        .await
        .map_err(send_error)?;
    read_json(res).await
}

/// Sends a prepared request with a form body.
pub async fn send_form<T: DeserializeOwned>(
    req: awc::ClientRequest,
    form: &[(&str, &str)],
) -> Result<T, OidcError> {
    let res = req
        .insert_header(("Accept", "application/json"))
        .send_form(&form)
        .await
        .map_err(send_error)?;
    read_json(res).await
}

/// Sends a prepared request with a form body and expects no particular answer body.
pub async fn send_form_no_content(
    req: awc::ClientRequest,
    form: &[(&str, &str)],
) -> Result<(), OidcError> {
    let mut res = req.send_form(&form).await.map_err(send_error)?;
    let status = res.status();
    let body = res.body().limit(64 * 1024).await.unwrap_or_default();
    if status.is_success() {
        return Ok(());
    }
    let (error, description) = provider_error(&body);
    Err(OidcError::Status {
        status: status.as_u16(),
        error,
        description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_calls_are_named_by_the_endpoint_they_go_to() {
        let meta: super::super::discovery::Metadata = serde_json::from_value(serde_json::json!({
            "issuer": "https://op",
            "authorization_endpoint": "https://op/auth",
            "token_endpoint": "https://op/token",
            "jwks_uri": "https://op/jwks",
            "userinfo_endpoint": "https://op/me",
            "pushed_authorization_request_endpoint": "https://op/request",
            "introspection_endpoint": "https://op/token/introspection",
            "revocation_endpoint": "https://op/token/revocation?v=1",
        }))
        .unwrap();
        let m = Some(&meta);
        assert_eq!(endpoint_name(m, "https://op/token"), "token");
        assert_eq!(endpoint_name(m, "https://op/me"), "userinfo");
        assert_eq!(endpoint_name(m, "https://op/request"), "par");
        assert_eq!(endpoint_name(m, "https://op/jwks"), "jwks");
        assert_eq!(
            endpoint_name(m, "https://op/token/introspection"),
            "introspection"
        );
        assert_eq!(
            endpoint_name(m, "https://op/token/revocation"),
            "revocation"
        );
        assert_eq!(endpoint_name(m, "https://op/elsewhere"), "op");
        assert_eq!(
            endpoint_name(None, "https://op/.well-known/openid-configuration"),
            "discovery"
        );
        assert_eq!(endpoint_name(None, "https://op/token"), "op");
    }
}
