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
    let builder = if config.provider.verify_ssl {
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
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    };
    // issue 12: mutual TLS (RFC 8705): the client certificate, shown to the OP and to
    // https upstreams alike, so certificate-bound tokens are accepted there.
    let mut tls = match &config.sender.tls_client {
        None => builder.with_no_client_auth(),
        Some(files) => {
            let (certs, key) = files.load().map_err(|e| e.to_string())?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|_| "client_tls_key: is not the key of client_tls_cert".to_string())?
        }
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
    error: Option<serde_json::Value>,
    // issue 11: logged with failed grants.
    error_description: Option<serde_json::Value>,
}

/// Longest OP text (`error_description`, the start of a non-OAuth body) in a log line.
pub const MAX_OP_TEXT: usize = 200;

/// What a refused answer said, made safe for a log line: the OAuth `error` code when it
/// is a short printable token (an OP's text never reaches a log line or a message
/// unchecked), its `error_description` sanitised, and (issue 13) for an answer that is
/// not an OAuth error at all (empty, HTML, plain text) its content type and first
/// characters.
fn provider_error(
    content_type: &str,
    body: Option<&[u8]>,
) -> (Option<String>, Option<String>, Option<String>) {
    let parsed = body.and_then(|b| serde_json::from_slice::<OAuthError>(b).ok());
    let error = parsed
        .as_ref()
        .and_then(|e| e.error.as_ref())
        .and_then(serde_json::Value::as_str)
        .filter(|e| !e.is_empty() && e.len() <= 64 && e.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string);
    let description = match parsed.and_then(|e| e.error_description) {
        Some(serde_json::Value::String(d)) => Some(sanitise(&d)),
        _ => None,
    };
    let detail = error.is_none().then(|| not_oauth(content_type, body));
    (error, description, detail)
}

/// issue 13: an error answer that is not an OAuth error, described for the log.
fn not_oauth(content_type: &str, body: Option<&[u8]>) -> String {
    let content_type = if content_type.is_empty() {
        "no content type".to_string()
    } else {
        sanitise(content_type)
    };
    let Some(body) = body else {
        return format!("{content_type}, body unreadable or over {ERROR_BODY_LIMIT} bytes");
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return format!("{content_type}, empty body");
    }
    let head = &body[..body.len().min(4 * MAX_OP_TEXT)];
    let text = sanitise(&String::from_utf8_lossy(head));
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{content_type}, {} bytes: {text:?}", body.len())
}

/// At most [`MAX_OP_TEXT`] characters, control characters as spaces.
pub fn sanitise(text: &str) -> String {
    text.chars()
        .take(MAX_OP_TEXT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// issue 13: what follows the status in an `OidcError::Status` log text: the OAuth
/// `error` and `error_description`, or what the answer was instead.
pub fn error_detail(
    error: &Option<String>,
    description: &Option<String>,
    detail: &Option<String>,
) -> String {
    let mut out = String::new();
    if let Some(e) = error {
        out.push(' ');
        out.push_str(e);
    }
    if let Some(d) = description {
        out.push_str(&format!(" (error_description: {d:?})"));
    }
    if let Some(d) = detail {
        out.push_str(&format!(", not an OAuth error: {d}"));
    }
    out
}

/// Largest error answer body read.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Form fields whose values are secrets or one-time values: an OP's error text that
/// repeats one of them (a debug page dumping the request) gets `[redacted]` instead.
const HIDDEN_FIELDS: &[&str] = &[
    "code",
    "code_verifier",
    "refresh_token",
    "token",
    "subject_token",
    "actor_token",
    "client_secret",
    "client_assertion",
    "id_token_hint",
    "request",
    "state",
    "nonce",
];

/// issue 13: the values of a request that must not come back into the log through the
/// OP's error text: the secret form fields (as sent and form-encoded) and the
/// `Authorization` credentials (as sent, and a Basic secret decoded).
pub fn hidden_values(req: &awc::ClientRequest, form: &[(&str, &str)]) -> Vec<String> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut out = Vec::new();
    for (k, v) in form {
        if HIDDEN_FIELDS.contains(k) {
            out.push(v.to_string());
            out.push(enc(v));
        }
    }
    // issue 12: an OP may echo the DPoP proof it refuses.
    if let Some(proof) = req.headers().get("dpop").and_then(|v| v.to_str().ok()) {
        out.push(proof.to_string());
    }
    let auth = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some((scheme, credentials)) = auth.and_then(|a| a.split_once(' ')) {
        out.push(credentials.to_string());
        if scheme.eq_ignore_ascii_case("basic") {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(credentials)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            if let Some((_, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                out.push(secret.to_string());
                let plain: String = url::form_urlencoded::parse(format!("x={secret}").as_bytes())
                    .map(|(_, v)| v.into_owned())
                    .collect();
                out.push(plain);
            }
        }
    }
    out.retain(|v| v.len() >= 6);
    out
}

/// `text` with every `hidden` value replaced by `[redacted]`.
fn redact(text: &str, hidden: &[String]) -> String {
    let mut out = text.to_string();
    for h in hidden {
        if out.contains(h.as_str()) {
            out = out.replace(h.as_str(), "[redacted]");
        }
    }
    out
}

/// The `OidcError::Status` of a non-2xx answer with this body (`None`: unreadable); no
/// `hidden` value survives in the OP's text.
fn refused<S>(res: &awc::ClientResponse<S>, body: Option<&[u8]>, hidden: &[String]) -> OidcError {
    let body = body.map(|b| redact(&String::from_utf8_lossy(b), hidden));
    let (error, description, detail) =
        provider_error(&content_type(res), body.as_deref().map(str::as_bytes));
    OidcError::Status {
        endpoint: None,
        status: res.status().as_u16(),
        error,
        description,
        detail,
    }
}

/// Reads a JSON answer; non-2xx answers become `OidcError::Status` with the OAuth `error`.
pub async fn read_json<T, S>(res: awc::ClientResponse<S>) -> Result<T, OidcError>
where
    T: DeserializeOwned,
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    read_json_hiding(res, &[]).await
}

/// [`read_json`] for a request that sent these secret values (see [`hidden_values`]).
pub async fn read_json_hiding<T, S>(
    mut res: awc::ClientResponse<S>,
    hidden: &[String],
) -> Result<T, OidcError>
where
    T: DeserializeOwned,
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    if !res.status().is_success() {
        let body = res.body().limit(ERROR_BODY_LIMIT).await;
        return Err(refused(&res, body.as_deref().ok(), hidden));
    }
    let content_type = content_type(&res);
    res.json::<T>().limit(MAX_JSON).await.map_err(|e| match e {
        JsonPayloadError::Deserialize(d) => OidcError::InvalidResponse(d.to_string()),
        // issue 13: a success answer's body may hold tokens: only its type is named.
        JsonPayloadError::ContentType => OidcError::InvalidResponse(format!(
            "the answer is {}, not JSON",
            if content_type.is_empty() {
                "without a content type".to_string()
            } else {
                sanitise(&content_type)
            }
        )),
        other => OidcError::InvalidResponse(other.to_string()),
    })
}

fn content_type<S>(res: &awc::ClientResponse<S>) -> String {
    res.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
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
    let hidden = hidden_values(&req, form);
    let res = req
        .insert_header(("Accept", "application/json"))
        .send_form(&form)
        .await
        .map_err(send_error)?;
    read_json_hiding(res, &hidden).await
}

/// Sends a prepared request with a form body and expects no particular answer body.
pub async fn send_form_no_content(
    req: awc::ClientRequest,
    form: &[(&str, &str)],
) -> Result<(), OidcError> {
    let hidden = hidden_values(&req, form);
    let mut res = req.send_form(&form).await.map_err(send_error)?;
    let body = res.body().limit(ERROR_BODY_LIMIT).await;
    if res.status().is_success() {
        return Ok(());
    }
    Err(refused(&res, body.as_deref().ok(), &hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oauth_error_gives_its_code_and_a_sanitised_bounded_description() {
        let long = format!("line one\nline\u{1b}[31m two {}", "x".repeat(500));
        let body = serde_json::json!({"error": "invalid_grant", "error_description": long});
        let (error, description, detail) =
            provider_error("application/json", Some(body.to_string().as_bytes()));
        assert_eq!(error.as_deref(), Some("invalid_grant"));
        let d = description.unwrap();
        assert!(d.starts_with("line one line [31m two x"), "{d}");
        assert_eq!(d.chars().count(), MAX_OP_TEXT);
        assert!(!d.chars().any(char::is_control));
        assert_eq!(detail, None);
    }

    #[test]
    fn a_code_that_is_not_a_short_token_is_dropped_and_the_answer_described() {
        for bad in [
            r#"{"error": "two words"}"#,
            r#"{"error": 5}"#,
            r#"{"error": ""}"#,
        ] {
            let (error, _, detail) = provider_error("application/json", Some(bad.as_bytes()));
            assert_eq!(error, None, "{bad}");
            assert!(detail.unwrap().starts_with("application/json, "), "{bad}");
        }
    }

    #[test]
    fn empty_html_and_text_answers_are_described_with_type_and_first_characters() {
        let (e, d, detail) = provider_error("", Some(b""));
        assert_eq!((e, d), (None, None));
        assert_eq!(detail.unwrap(), "no content type, empty body");
        let html = format!(
            "<html>\n  <body><h1>500 Internal\r\nError</h1>{}</body></html>",
            "y".repeat(2000)
        );
        let detail = provider_error("text/html; charset=utf-8", Some(html.as_bytes()))
            .2
            .unwrap();
        assert!(
            detail.starts_with(&format!(
                "text/html; charset=utf-8, {} bytes: \"<html> <body><h1>500 Internal Error</h1>yy",
                html.len()
            )),
            "{detail}"
        );
        assert!(detail.len() < 300, "bounded: {detail}");
        let detail = provider_error("text/plain", Some(b"Bad Gateway"))
            .2
            .unwrap();
        assert_eq!(detail, "text/plain, 11 bytes: \"Bad Gateway\"");
        let detail = provider_error("text/plain", None).2.unwrap();
        assert!(detail.contains("unreadable"), "{detail}");
    }

    #[test]
    fn values_we_sent_never_come_back_through_the_ops_text() {
        let client = awc::Client::default();
        let secret = "s3+cr/et=&x%41:y z";
        let proof = "eyJ0eXAiOiJkcG9wK2p3dCJ9.eyJqdGkiOiJ4In0.c2ln";
        let req = client
            .post("http://op.example/token")
            .insert_header((
                "Authorization",
                crate::oidc::token::basic_auth_header("client", secret),
            ))
            .insert_header(("DPoP", proof));
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", "rt-0123456789+/"),
            ("scope", "openid profile"),
        ];
        let hidden = hidden_values(&req, &form);
        let page = format!(
            "<h1>Debug</h1> POST grant_type=refresh_token&refresh_token=rt-0123456789%2B%2F \
             json {{\"refresh_token\": \"rt-0123456789+/\"}} secret {secret} auth {} \
             proof {proof}",
            crate::oidc::token::basic_auth_header("client", secret)
        );
        let text = redact(&page, &hidden);
        for leaked in ["rt-0123456789", secret, "s3%2Bcr", proof] {
            assert!(!text.contains(leaked), "{leaked}: {text}");
        }
        assert!(
            text.contains("grant_type=refresh_token&refresh_token=[redacted]"),
            "{text}"
        );
        let body = serde_json::json!({
            "error": "invalid_grant",
            "error_description": "unknown refresh token rt-0123456789+/"
        });
        let (_, description, _) = provider_error(
            "application/json",
            Some(redact(&body.to_string(), &hidden).as_bytes()),
        );
        assert_eq!(
            description.as_deref(),
            Some("unknown refresh token [redacted]")
        );
    }

    #[test]
    fn the_log_text_names_the_endpoint_and_what_the_op_said() {
        let e = OidcError::Status {
            endpoint: None,
            status: 400,
            error: Some("invalid_grant".into()),
            description: Some("grant \"expired\"".into()),
            detail: None,
        }
        .at(super::super::Endpoint::Token)
        .at(super::super::Endpoint::Par);
        assert_eq!(
            e.to_string(),
            r#"the OpenID Provider's token endpoint answered 400 invalid_grant (error_description: "grant \"expired\"")"#
        );
        let e = OidcError::Status {
            endpoint: None,
            status: 502,
            error: None,
            description: None,
            detail: Some("text/plain, empty body".into()),
        };
        assert_eq!(
            e.to_string(),
            "the OpenID Provider answered 502, not an OAuth error: text/plain, empty body"
        );
    }

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
