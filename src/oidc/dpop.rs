//! DPoP (RFC 9449, issue 12): the proof keys (ES256 from P-256, PS256 from RSA, or a
//! generated P-256 key), their RFC 7638 thumbprints, proofs, and the nonces servers gave.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{ClientKey, Secret};
use crate::util::{now, random_id};

/// Why a DPoP key or proof could not be made (our sentences; no key material).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    #[error("the DPoP key must be an EC P-256 or an RSA private key")]
    UnsupportedKey,
    #[error("the DPoP proof could not be signed")]
    Signing,
    #[error("the URL cannot be a DPoP htu")]
    BadUrl,
}

/// The key DPoP proofs are signed with, and its public half as sent in every proof.
pub struct DpopKey {
    key: Secret<EncodingKey>,
    alg: Algorithm,
    jwk: Jwk,
    jkt: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.alg)
            .field("jkt", &self.jkt)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A key parsed like the client's own (`ClientKey::from_jwk` / `ClientKey::load`):
    /// EC P-256 signs ES256, RSA signs PS256 (RFC 9449 asks for an asymmetric algorithm;
    /// PS256 is what FAPI 2.0 allows for RSA). A key that cannot sign so is refused.
    pub fn from_client_key(key: &ClientKey) -> Result<DpopKey, DpopError> {
        let alg = match key.alg.family() {
            jsonwebtoken::AlgorithmFamily::Rsa => Algorithm::PS256,
            jsonwebtoken::AlgorithmFamily::Ec => Algorithm::ES256,
            _ => return Err(DpopError::UnsupportedKey),
        };
        Self::new(key.key.expose().clone(), alg)
    }

    /// A fresh P-256 key for this process only.
    pub fn generate() -> Result<DpopKey, DpopError> {
        use p256::pkcs8::EncodePrivateKey;
        // A random scalar: 32 random bytes are a valid key but with negligible odds.
        let secret = (0..8)
            .find_map(|_| {
                let bytes: [u8; 32] = rand::rng().random();
                p256::SecretKey::from_slice(&bytes).ok()
            })
            .ok_or(DpopError::UnsupportedKey)?;
        let der = secret
            .to_pkcs8_der()
            .map_err(|_| DpopError::UnsupportedKey)?;
        Self::new(EncodingKey::from_ec_der(der.as_bytes()), Algorithm::ES256)
    }

    fn new(key: EncodingKey, alg: Algorithm) -> Result<DpopKey, DpopError> {
        let jwk = Jwk::from_encoding_key(&key, alg).map_err(|_| DpopError::UnsupportedKey)?;
        let jkt = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| DpopError::UnsupportedKey)?;
        let k = DpopKey {
            key: Secret::new(key),
            alg,
            jwk,
            jkt,
        };
        // A key that cannot sign (a P-384 key read as ES256, say) is refused now, not at
        // the first token request.
        k.proof("POST", "https://dpop.check/", None, None)
            .map_err(|_| DpopError::UnsupportedKey)?;
        Ok(k)
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key: `dpop_jkt` (RFC 9449 10) and
    /// the `cnf.jkt` of tokens bound to it.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The public key as a JWK (no private member).
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// A proof (RFC 9449 4.2) for a `htm` request to `url` (its query and fragment are
    /// left out of `htu`), with `ath` when it carries `access_token`, and the server's
    /// `nonce` when it has given one. Each proof has a fresh `jti`.
    pub fn proof(
        &self,
        htm: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, DpopError> {
        let htu = htu(url).ok_or(DpopError::BadUrl)?;
        let mut header = Header::new(self.alg);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        let claims = Claims {
            jti: random_id(16),
            htm,
            htu: &htu,
            iat: now(),
            ath: access_token.map(ath),
            nonce,
        };
        jsonwebtoken::encode(&header, &claims, self.key.expose()).map_err(|_| DpopError::Signing)
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    jti: String,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

/// `htu`: the URL without query and fragment (RFC 9449 4.2), or `None` for a URL that is
/// not absolute http(s).
pub fn htu(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return None;
    }
    u.set_query(None);
    u.set_fragment(None);
    Some(u.to_string())
}

/// `ath`: base64url of the SHA-256 of the access token (RFC 9449 4.2).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// A `DPoP-Nonce` value as RFC 9449 8.1 allows it (`1*NQCHAR`, bounded): anything else
/// is ignored.
pub fn valid_nonce(value: &str) -> bool {
    let nqchar = |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
    (1..=512).contains(&value.len()) && value.bytes().all(nqchar)
}

/// Whether an authorization server's error answer asks for a nonce (RFC 9449 8).
pub fn op_wants_nonce(status: u16, error: Option<&str>) -> bool {
    status == 400 && error == Some("use_dpop_nonce")
}

/// Whether a resource server's 401 `WWW-Authenticate` asks for a nonce (RFC 9449 9): a
/// `DPoP` challenge (scheme in any case) with `error="use_dpop_nonce"` (quoted or not).
pub fn api_wants_nonce(status: u16, www_authenticate: &str) -> bool {
    status == 401 && super::challenge::has_error(www_authenticate, "dpop", "use_dpop_nonce")
}

/// This process's DPoP state: the proof keys (the first signs new proofs; a token bound
/// to another listed key is still proven with it) and the nonces servers gave.
pub struct Dpop {
    keys: Vec<DpopKey>,
    pub nonces: Nonces,
}

impl Dpop {
    /// From `dpop_private_jwk`/`dpop_private_key` (already checked by the configuration);
    /// none: a key generated for this process, with a warning (tokens bound to it die with
    /// the process).
    pub fn new(keys: &[ClientKey]) -> Result<Dpop, DpopError> {
        let keys = if keys.is_empty() {
            tracing::warn!(
                "dpop: no dpop_private_jwk or dpop_private_key: using a key generated for this process (sessions' tokens stop working when it restarts)"
            );
            vec![DpopKey::generate()?]
        } else {
            keys.iter()
                .map(DpopKey::from_client_key)
                .collect::<Result<_, _>>()?
        };
        Ok(Dpop {
            keys,
            nonces: Nonces::default(),
        })
    }

    /// The key new proofs (and `dpop_jkt`) use.
    pub fn signer(&self) -> &DpopKey {
        // `new` always holds at least one key.
        &self.keys[0]
    }

    /// The key a token bound to `jkt` is proven with: that key while it is listed, else
    /// the signer (the server then refuses the token, and a refresh binds a new one).
    pub fn key_for(&self, jkt: Option<&str>) -> &DpopKey {
        jkt.and_then(|j| self.keys.iter().find(|k| k.jkt() == j))
            .unwrap_or_else(|| self.signer())
    }

    /// A proof by `key` for `htm url`, with the nonce `url`'s server last gave.
    pub fn proof(
        &self,
        key: &DpopKey,
        htm: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<String, DpopError> {
        key.proof(htm, url, access_token, self.nonces.get(url).as_deref())
    }

    /// Notes the `DPoP-Nonce` of an answer from `url` (RFC 9449 8.2: also on success);
    /// whether a valid new one was taken.
    pub fn note(&self, url: &str, headers: &actix_web::http::header::HeaderMap) -> bool {
        headers
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| self.nonces.remember(url, v))
    }
}

/// The nonces servers gave, by origin (`scheme://host:port`): sent in the next proof to
/// that server, replaced by every new `DPoP-Nonce` it answers.
#[derive(Default)]
pub struct Nonces {
    by_origin: Mutex<HashMap<String, String>>,
}

/// More origins than this and the oldest are forgotten (they are asked for again).
const MAX_ORIGINS: usize = 1024;

impl Nonces {
    /// Remembers `value` for `url`'s origin when it is a valid nonce; answers whether it
    /// was taken.
    pub fn remember(&self, url: &str, value: &str) -> bool {
        let Some(origin) = origin(url) else {
            return false;
        };
        if !valid_nonce(value) {
            tracing::debug!("ignoring a malformed DPoP-Nonce");
            return false;
        }
        let mut map = self.by_origin.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ORIGINS && !map.contains_key(&origin) {
            map.clear();
        }
        map.insert(origin, value.to_string());
        true
    }

    /// The nonce last given by `url`'s origin.
    pub fn get(&self, url: &str) -> Option<String> {
        let origin = origin(url)?;
        self.by_origin
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&origin)
            .cloned()
    }
}

fn origin(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization()).filter(|o| o != "null")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
    use serde_json::Value;

    /// Verifies `proof` as a server would: typ, alg, signature by the embedded key (which
    /// has no private member), and the claims.
    fn verify(proof: &str, key: &DpopKey) -> Value {
        let header = decode_header(proof).unwrap();
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        assert_eq!(header.alg, key.alg());
        let jwk = header.jwk.expect("jwk in the header");
        let as_json = serde_json::to_value(&jwk).unwrap();
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                as_json.get(private).is_none(),
                "no {private} in the proof's jwk"
            );
        }
        assert_eq!(jwk.thumbprint(ThumbprintHash::SHA256).unwrap(), key.jkt());
        let mut v = Validation::new(header.alg);
        v.validate_exp = false;
        v.required_spec_claims.clear();
        decode::<Value>(proof, &DecodingKey::from_jwk(&jwk).unwrap(), &v)
            .unwrap()
            .claims
    }

    fn pem_key(file: &str) -> ClientKey {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/support/keys")
            .join(file);
        ClientKey::load(&path, None, None).unwrap()
    }

    #[test]
    fn generated_key_proofs_verify_with_every_claim() {
        let key = DpopKey::generate().unwrap();
        assert_eq!(key.alg(), Algorithm::ES256);
        let p = key
            .proof(
                "GET",
                "https://api.example/v1/orders?page=2#top",
                Some("at-123"),
                Some("n-1"),
            )
            .unwrap();
        let c = verify(&p, &key);
        assert_eq!(c["htm"], "GET");
        assert_eq!(c["htu"], "https://api.example/v1/orders");
        assert_eq!(c["ath"], ath("at-123"));
        assert_eq!(c["nonce"], "n-1");
        assert!((c["iat"].as_u64().unwrap() as i64 - now() as i64).abs() <= 1);
        assert!(c["jti"].as_str().unwrap().len() >= 16);
        let bare = verify(
            &key.proof("POST", "https://op.example/token", None, None)
                .unwrap(),
            &key,
        );
        assert!(bare.get("ath").is_none() && bare.get("nonce").is_none());
    }

    #[test]
    fn rsa_keys_sign_ps256() {
        let key = DpopKey::from_client_key(&pem_key("rsa1.pem")).unwrap();
        assert_eq!(key.alg(), Algorithm::PS256);
        let c = verify(
            &key.proof("POST", "https://op.example/token", None, None)
                .unwrap(),
            &key,
        );
        assert_eq!(c["htu"], "https://op.example/token");
    }

    #[test]
    fn ath_is_rfc9449_base64url_sha256() {
        // RFC 9449 7.1's example: the token and its `ath`.
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn htu_drops_query_and_fragment_and_refuses_non_http() {
        assert_eq!(
            htu("https://a.example:8443/p/q?x=1#f").as_deref(),
            Some("https://a.example:8443/p/q")
        );
        assert_eq!(
            htu("HTTPS://A.example/").as_deref(),
            Some("https://a.example/")
        );
        assert!(htu("wss://a.example/").is_none());
        assert!(htu("/relative").is_none());
    }

    #[test]
    fn nonces_are_per_origin_and_malformed_ones_ignored() {
        let n = Nonces::default();
        assert!(n.remember("https://op.example/token", "abc-123"));
        assert_eq!(n.get("https://op.example/par").as_deref(), Some("abc-123"));
        assert_eq!(n.get("https://op.example:444/token"), None);
        assert!(!n.remember("https://op.example/token", "bad nonce"));
        assert!(!n.remember("https://op.example/token", "quote\"d"));
        assert!(!n.remember("https://op.example/token", ""));
        assert_eq!(
            n.get("https://op.example/token").as_deref(),
            Some("abc-123")
        );
        assert!(n.remember("https://op.example/token", "next"));
        assert_eq!(n.get("https://op.example/token").as_deref(), Some("next"));
    }

    #[test]
    fn nonce_challenges_are_recognised() {
        assert!(op_wants_nonce(400, Some("use_dpop_nonce")));
        assert!(!op_wants_nonce(401, Some("use_dpop_nonce")));
        assert!(!op_wants_nonce(400, Some("invalid_grant")));
        assert!(api_wants_nonce(
            401,
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#
        ));
        assert!(api_wants_nonce(
            401,
            r#"Bearer realm="x", DPoP algs="ES256", error=use_dpop_nonce"#
        ));
        assert!(!api_wants_nonce(401, r#"DPoP error="invalid_token""#));
        assert!(!api_wants_nonce(401, r#"Bearer error="use_dpop_nonce""#));
        assert!(!api_wants_nonce(403, r#"DPoP error="use_dpop_nonce""#));
        // Inside another challenge's quoted text it is not a demand.
        assert!(!api_wants_nonce(
            401,
            r#"Bearer realm="x, DPoP error=use_dpop_nonce", DPoP error="invalid_token""#
        ));
    }

    #[test]
    fn ec_pem_keys_sign_es256_and_keys_differ() {
        let key = DpopKey::from_client_key(&pem_key("ec1.pem")).unwrap();
        assert_eq!(key.alg(), Algorithm::ES256);
        verify(
            &key.proof("GET", "http://127.0.0.1:8080/x", Some("t"), None)
                .unwrap(),
            &key,
        );
        assert_ne!(key.jkt(), DpopKey::generate().unwrap().jkt());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = DpopKey::generate().unwrap();
        assert_eq!(
            format!("{key:?}"),
            format!("DpopKey {{ alg: ES256, jkt: {:?}, .. }}", key.jkt())
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Every proof verifies (signature by its own jwk, htm, htu, ath) and no two share
        /// a `jti`.
        #[test]
        fn every_proof_verifies_and_jtis_are_unique(
            htm in proptest::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
            path in "(/[a-z0-9._~-]{0,8}){0,4}",
            query in proptest::option::of("[a-z0-9=&]{0,12}"),
            token in proptest::option::of("[!-~]{1,64}"),
            nonce in proptest::option::of("[#-\\[]{1,16}"),
        ) {
            thread_local! {
                static KEY: DpopKey = DpopKey::generate().unwrap();
                static SEEN: std::cell::RefCell<std::collections::HashSet<String>> = Default::default();
            }
            let url = format!("https://api.example:8443{path}{}", query.map(|q| format!("?{q}")).unwrap_or_default());
            KEY.with(|key| {
                let p = key.proof(htm, &url, token.as_deref(), nonce.as_deref()).unwrap();
                let c = verify(&p, key);
                proptest::prop_assert_eq!(c["htm"].as_str(), Some(htm));
                proptest::prop_assert_eq!(c["htu"].as_str().map(str::to_string), htu(&url));
                proptest::prop_assert!(!c["htu"].as_str().unwrap_or("?").contains('?'));
                proptest::prop_assert_eq!(c["ath"].as_str().map(str::to_string), token.as_deref().map(ath));
                proptest::prop_assert_eq!(c["nonce"].as_str(), nonce.as_deref());
                let jti = c["jti"].as_str().unwrap_or_default().to_string();
                proptest::prop_assert!(SEEN.with(|s| s.borrow_mut().insert(jti)), "a jti repeated");
                Ok(())
            })?;
        }
    }
}
