//! The client's own signing key (`client_private_key` PEM or `client_private_jwk`), for
//! `private_key_jwt` and signed request objects.

use std::path::Path;

use base64::Engine;
use serde_json::Value;

use super::secret::Secret;
use super::ConfigError;

/// The client's own signing key (private_key_jwt, signed request objects).
#[derive(Debug, Clone)]
pub struct ClientKey {
    pub key: Secret<jsonwebtoken::EncodingKey>,
    pub alg: jsonwebtoken::Algorithm,
    pub kid: Option<String>,
    /// The setting it came from (`client_private_key`, `dpop_private_jwk`, ...), for
    /// errors found after loading (issue 12: FAPI 2.0 key sizes).
    pub setting: &'static str,
}

impl ClientKey {
    /// The public half as a JWK (with `kid`, `alg`, `use: sig`), for registering the key.
    pub fn public_jwk(&self) -> Option<Value> {
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(self.key.expose(), self.alg).ok()?;
        let mut v = serde_json::to_value(jwk).ok()?;
        let m = v.as_object_mut()?;
        m.retain(|k, _| matches!(k.as_str(), "kty" | "n" | "e" | "crv" | "x" | "y"));
        m.insert("use".into(), Value::from("sig"));
        m.insert("alg".into(), serde_json::to_value(self.alg).ok()?);
        if let Some(kid) = &self.kid {
            m.insert("kid".into(), Value::from(kid.as_str()));
        }
        Some(v)
    }

    /// issue 12: the modulus length of an RSA key in bits (`None` for other keys).
    pub fn rsa_bits(&self) -> Option<usize> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        if self.alg.family() != jsonwebtoken::AlgorithmFamily::Rsa {
            return None;
        }
        let jwk = self.public_jwk()?;
        let n = URL_SAFE_NO_PAD.decode(jwk.get("n")?.as_str()?).ok()?;
        let first = n.iter().position(|b| *b != 0)?;
        Some((n.len() - first) * 8 - n[first].leading_zeros() as usize)
    }

    /// A private JWK: RSA (`n`, `e`, `d`, `p`, `q`) or EC P-256 (`d`). Its `kid` is used
    /// unless `client_key_id` is set.
    pub fn from_jwk(
        jwk: &Value,
        kid: Option<String>,
        alg: Option<&str>,
    ) -> Result<ClientKey, ConfigError> {
        Self::jwk_for("client_private_jwk", jwk, kid, alg)
    }

    /// `from_jwk` for the setting `setting` (issue 12: `dpop_private_jwk` too).
    pub(super) fn jwk_for(
        setting: &'static str,
        jwk: &Value,
        kid: Option<String>,
        alg: Option<&str>,
    ) -> Result<ClientKey, ConfigError> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use jsonwebtoken::{Algorithm, EncodingKey};
        let jwk: Value = match jwk {
            Value::String(text) => serde_json::from_str(text)
                .map_err(|e| ConfigError::new(setting, format!("not JSON: {e}")))?,
            other => other.clone(),
        };
        let field = |name: &str| -> Result<Vec<u8>, ConfigError> {
            let text = jwk
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| ConfigError::new(setting, format!("`{name}` is missing")))?;
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| ConfigError::new(setting, format!("`{name}` is not base64url")))
        };
        let (key, default_alg) = match jwk.get("kty").and_then(Value::as_str) {
            Some("RSA") => {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                use rsa::BigUint;
                let n = BigUint::from_bytes_be(&field("n")?);
                let e = BigUint::from_bytes_be(&field("e")?);
                let d = BigUint::from_bytes_be(&field("d")?);
                let primes = vec![
                    BigUint::from_bytes_be(&field("p")?),
                    BigUint::from_bytes_be(&field("q")?),
                ];
                let private = rsa::RsaPrivateKey::from_components(n, e, d, primes)
                    .map_err(|e| ConfigError::new(setting, format!("not a valid RSA key: {e}")))?;
                let der = private
                    .to_pkcs1_der()
                    .map_err(|e| ConfigError::new(setting, e.to_string()))?;
                (EncodingKey::from_rsa_der(der.as_bytes()), Algorithm::RS256)
            }
            Some("EC") if jwk.get("crv").and_then(Value::as_str) == Some("P-256") => {
                use p256::pkcs8::EncodePrivateKey;
                let secret = p256::SecretKey::from_slice(&field("d")?)
                    .map_err(|_| ConfigError::new(setting, "not a valid P-256 key"))?;
                let der = secret
                    .to_pkcs8_der()
                    .map_err(|e| ConfigError::new(setting, e.to_string()))?;
                (EncodingKey::from_ec_der(der.as_bytes()), Algorithm::ES256)
            }
            _ => {
                return Err(ConfigError::new(
                    setting,
                    "kty must be RSA, or EC with crv P-256",
                ))
            }
        };
        let alg = signing_alg(&key, default_alg, alg)?;
        let kid = kid.or_else(|| jwk.get("kid").and_then(Value::as_str).map(str::to_string));
        Ok(ClientKey {
            key: Secret::new(key),
            alg,
            kid,
            setting,
        })
    }

    /// Loads a PEM private key (RSA or EC P-256/P-384, PKCS#8 or PKCS#1/SEC1).
    pub fn load(
        path: &Path,
        kid: Option<String>,
        alg: Option<&str>,
    ) -> Result<ClientKey, ConfigError> {
        Self::pem_for("client_private_key", path, kid, alg)
    }

    /// `load` for the setting `setting` (issue 12: `dpop_private_key` too).
    pub(super) fn pem_for(
        setting: &'static str,
        path: &Path,
        kid: Option<String>,
        alg: Option<&str>,
    ) -> Result<ClientKey, ConfigError> {
        use jsonwebtoken::{Algorithm, EncodingKey};
        let pem = std::fs::read(path).map_err(|e| {
            ConfigError::new(setting, format!("cannot read {}: {e}", path.display()))
        })?;
        let (key, default_alg) = if let Ok(k) = EncodingKey::from_rsa_pem(&pem) {
            (k, Algorithm::RS256)
        } else if let Ok(k) = EncodingKey::from_ec_pem(&pem) {
            // P-256 is the common case; a P-384 key needs client_signing_alg: ES384.
            (k, Algorithm::ES256)
        } else {
            return Err(ConfigError::new(
                setting,
                "is not an RSA or EC private key in PEM",
            ));
        };
        let alg = signing_alg(&key, default_alg, alg)?;
        Ok(ClientKey {
            key: Secret::new(key),
            alg,
            kid,
            setting,
        })
    }
}

impl ClientKey {
    /// issue 12: the key as a DPoP proof key of setting `name`: EC P-256 signs ES256, RSA
    /// PS256 (RFC 9449 wants an asymmetric algorithm; PS256 is FAPI 2.0's RSA one). A
    /// key that cannot sign so (a P-384 PEM, say) is refused here, at start-up.
    pub(super) fn for_dpop(mut self, name: &str) -> Result<ClientKey, ConfigError> {
        use jsonwebtoken::{Algorithm, AlgorithmFamily};
        self.alg = match self.alg.family() {
            AlgorithmFamily::Rsa => Algorithm::PS256,
            AlgorithmFamily::Ec => Algorithm::ES256,
            _ => return Err(ConfigError::new(name, "must be an EC P-256 or an RSA key")),
        };
        let header = jsonwebtoken::Header::new(self.alg);
        jsonwebtoken::encode(&header, &serde_json::json!({}), self.key.expose())
            .map_err(|_| ConfigError::new(name, "must be an EC P-256 or an RSA key"))?;
        Ok(self)
    }
}

/// `client_signing_alg` (or the key type's default), which must fit the key.
fn signing_alg(
    key: &jsonwebtoken::EncodingKey,
    default: jsonwebtoken::Algorithm,
    alg: Option<&str>,
) -> Result<jsonwebtoken::Algorithm, ConfigError> {
    const KEY: &str = "client_signing_alg";
    let alg = match alg {
        Some(a) => a
            .parse()
            .map_err(|_| ConfigError::new(KEY, format!("`{a}` is not a supported algorithm")))?,
        None => default,
    };
    if alg.family() != key.family() {
        return Err(ConfigError::new(KEY, "does not match the key type"));
    }
    Ok(alg)
}
