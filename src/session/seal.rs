//! AES-256-GCM sealing of cookie values: fresh 96-bit nonce per seal, the cookie name
//! as associated data, an expiry inside the payload, and a key list for rotation.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SessionError;

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// Holds one ready AES-GCM cipher per configured key (the key schedule is built once).
pub struct Sealer {
    keys: Vec<([u8; KEY_ID_LEN], Aes256Gcm)>,
}

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    /// Expiry, seconds since the epoch.
    e: u64,
    d: &'a T,
}

#[derive(Deserialize)]
struct EnvelopeIn<T> {
    e: u64,
    d: T,
}

fn key_id(key: &[u8; 32]) -> [u8; KEY_ID_LEN] {
    let digest = Sha256::digest(key);
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}

fn aad(name: &str) -> Vec<u8> {
    let mut aad = b"oidc-bff/v1 ".to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad
}

impl Sealer {
    /// The first key seals; every key opens.
    pub fn new(keys: &[[u8; 32]]) -> Self {
        let keys = keys
            .iter()
            .map(|k| (key_id(k), Aes256Gcm::new(&Key::<Aes256Gcm>::from(*k))))
            .collect();
        Self { keys }
    }

    /// Encrypts `bytes` bound to `name`; returns URL-safe base64 (cookie-safe).
    pub fn seal_bytes(&self, name: &str, bytes: &[u8]) -> String {
        let (id, cipher) = &self.keys[0];
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::from(nonce_bytes);
        let aad = aad(name);
        // Encryption with a valid key and nonce cannot fail for inputs under 64 GiB.
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: bytes,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Decrypts a value sealed for `name` by any configured key.
    pub fn open_bytes(&self, name: &str, sealed: &str) -> Result<Vec<u8>, SessionError> {
        let raw = URL_SAFE_NO_PAD
            .decode(sealed.as_bytes())
            .map_err(|_| SessionError::Malformed)?;
        if raw.len() < HEADER_LEN + 16 || raw[0] != VERSION {
            return Err(SessionError::Malformed);
        }
        let id = &raw[1..1 + KEY_ID_LEN];
        let nonce_bytes: [u8; NONCE_LEN] = raw[1 + KEY_ID_LEN..HEADER_LEN]
            .try_into()
            .map_err(|_| SessionError::Malformed)?;
        let nonce = Nonce::from(nonce_bytes);
        let aad = aad(name);
        for (kid, cipher) in &self.keys {
            if kid.as_slice() != id {
                continue;
            }
            if let Ok(plain) = cipher.decrypt(
                &nonce,
                Payload {
                    msg: &raw[HEADER_LEN..],
                    aad: &aad,
                },
            ) {
                return Ok(plain);
            }
        }
        Err(SessionError::Unauthentic)
    }

    /// Seals a value with an expiry (seconds since the epoch) checked by `open`.
    pub fn seal<T: Serialize>(&self, name: &str, value: &T, expires_at: u64) -> String {
        let json = serde_json::to_vec(&EnvelopeOut {
            e: expires_at,
            d: value,
        })
        .unwrap_or_default();
        self.seal_bytes(name, &json)
    }

    /// Opens, checks the expiry against `now`, and deserializes.
    pub fn open<T: DeserializeOwned>(
        &self,
        name: &str,
        sealed: &str,
        now: u64,
    ) -> Result<(T, u64), SessionError> {
        let plain = self.open_bytes(name, sealed)?;
        let env: EnvelopeIn<T> =
            serde_json::from_slice(&plain).map_err(|_| SessionError::Malformed)?;
        if env.e <= now {
            return Err(SessionError::Expired);
        }
        Ok((env.d, env.e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_name_binding() {
        let s = Sealer::new(&[[1u8; 32]]);
        let sealed = s.seal("a", &"hello", 100);
        let (v, exp): (String, u64) = s.open("a", &sealed, 99).unwrap();
        assert_eq!((v.as_str(), exp), ("hello", 100));
        assert_eq!(
            s.open::<String>("b", &sealed, 99).unwrap_err(),
            SessionError::Unauthentic
        );
        assert_eq!(
            s.open::<String>("a", &sealed, 100).unwrap_err(),
            SessionError::Expired
        );
    }

    #[test]
    fn fresh_nonce_each_time() {
        let s = Sealer::new(&[[1u8; 32]]);
        assert_ne!(s.seal("a", &1, 100), s.seal("a", &1, 100));
    }

    #[test]
    fn rotation_old_key_still_opens() {
        let old = Sealer::new(&[[1u8; 32]]);
        let sealed = old.seal("a", &5, 100);
        let rotated = Sealer::new(&[[2u8; 32], [1u8; 32]]);
        assert_eq!(rotated.open::<i32>("a", &sealed, 1).unwrap().0, 5);
        let dropped = Sealer::new(&[[2u8; 32]]);
        assert!(dropped.open::<i32>("a", &sealed, 1).is_err());
    }

    #[test]
    fn tampering_is_detected() {
        let s = Sealer::new(&[[1u8; 32]]);
        let sealed = s.seal("a", &"x", 100);
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(bytes);
        assert!(s.open::<String>("a", &tampered, 1).is_err());
        assert!(s.open::<String>("a", "garbage!!", 1).is_err());
        assert!(s.open::<String>("a", "", 1).is_err());
    }
}
