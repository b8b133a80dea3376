//! JWS signatures for jsonwebtoken by `ring` (ES256, PS256, RS256) with each key parsed
//! once: DPoP proofs and client assertions. jsonwebtoken keeps the JOSE framing.
//!
//! jsonwebtoken's RustCrypto backend parses the PKCS#8/PKCS#1 key and signs in portable
//! code on every call: about 260 µs an ES256 DPoP proof and 1.3 ms a PS256 one on the
//! benchmark machine, paid on every proxied request with DPoP. `ring` (already in the tree
//! through rustls) signs with assembly; keys are parsed once and kept (a handful: the
//! client key and the DPoP keys). Verification and JWK helpers stay RustCrypto's.

use std::sync::{Arc, Mutex};

use jsonwebtoken::crypto::{rust_crypto, CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{self as rs, EcdsaKeyPair, RsaKeyPair};

/// The process-wide provider, installed by `crate::install_crypto_provider`.
pub static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |k| {
            (rust_crypto::DEFAULT_PROVIDER
                .key_utils
                .rsa_pub_components_from_private_key)(k)
        },
        rsa_pub_components_from_public_key: |k| {
            (rust_crypto::DEFAULT_PROVIDER
                .key_utils
                .rsa_pub_components_from_public_key)(k)
        },
        ec_pub_components_from_private_key: |k, a| {
            (rust_crypto::DEFAULT_PROVIDER
                .key_utils
                .ec_pub_components_from_private_key)(k, a)
        },
        ed_pub_components_from_private_key: |k, c: &EllipticCurve| {
            (rust_crypto::DEFAULT_PROVIDER
                .key_utils
                .ed_pub_components_from_private_key)(k, c)
        },
        compute_digest: |d, h: ThumbprintHash| {
            (rust_crypto::DEFAULT_PROVIDER.key_utils.compute_digest)(d, h)
        },
    },
};

/// A key as `ring` holds it.
enum Parsed {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// Parsed keys by their DER bytes. Bounded: a key outside the first few (never the case
/// with configured keys) is parsed per call instead of being kept.
static CACHE: Mutex<Vec<(Vec<u8>, Arc<Parsed>)>> = Mutex::new(Vec::new());
const CACHE_MAX: usize = 16;

fn parse(alg: Algorithm, der: &[u8]) -> Option<Parsed> {
    match alg {
        Algorithm::ES256 => EcdsaKeyPair::from_pkcs8(
            &rs::ECDSA_P256_SHA256_FIXED_SIGNING,
            der,
            &SystemRandom::new(),
        )
        .ok()
        .map(Parsed::Ec),
        // jsonwebtoken holds RSA keys as PKCS#1 DER; ring refuses keys under 2048 bits,
        // which then stay with RustCrypto.
        Algorithm::PS256 | Algorithm::RS256 => RsaKeyPair::from_der(der).ok().map(Parsed::Rsa),
        _ => None,
    }
}

fn cached(alg: Algorithm, der: &[u8]) -> Option<Arc<Parsed>> {
    let lookup = |cache: &[(Vec<u8>, Arc<Parsed>)]| {
        cache
            .iter()
            .find(|(k, _)| k.as_slice() == der)
            .map(|(_, p)| p.clone())
    };
    let lock = || CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = lookup(&lock()) {
        return Some(p);
    }
    // Parsed without the lock (an RSA key takes milliseconds); a racing parse of the
    // same key keeps the first one stored.
    let parsed = Arc::new(parse(alg, der)?);
    let mut cache = lock();
    if let Some(p) = lookup(&cache) {
        return Some(p);
    }
    if cache.len() < CACHE_MAX {
        cache.push((der.to_vec(), parsed.clone()));
    }
    Some(parsed)
}

struct RingSigner {
    alg: Algorithm,
    key: Arc<Parsed>,
}

impl signature::Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let rng = SystemRandom::new();
        match (&*self.key, self.alg) {
            (Parsed::Ec(k), _) => k
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
            (Parsed::Rsa(k), alg) => {
                let padding: &dyn rs::RsaEncoding = if alg == Algorithm::PS256 {
                    &rs::RSA_PSS_SHA256
                } else {
                    &rs::RSA_PKCS1_SHA256
                };
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(padding, &rng, msg, &mut sig)
                    .map_err(|_| signature::Error::new())?;
                Ok(sig)
            }
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    // Only the algorithms ring signs here: the cache is keyed by the key alone, so an RSA
    // key cached for PS256 must not sign RS512 (or a P-256 key ES384) through it.
    let ours = matches!(alg, Algorithm::ES256 | Algorithm::PS256 | Algorithm::RS256);
    if let Some(parsed) = ours.then(|| cached(*alg, key.as_bytes())).flatten() {
        return Ok(Box::new(RingSigner {
            alg: *alg,
            key: parsed,
        }));
    }
    (rust_crypto::DEFAULT_PROVIDER.signer_factory)(alg, key)
}

fn verifier(
    alg: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    (rust_crypto::DEFAULT_PROVIDER.verifier_factory)(alg, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/support/keys/{name}.pem",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// ring's signatures verify with RustCrypto's verifier, for each algorithm.
    #[test]
    fn ring_signatures_verify_with_the_rust_crypto_verifier() {
        let cases = [
            (
                Algorithm::ES256,
                EncodingKey::from_ec_pem(&key("ec1")).unwrap(),
            ),
            (
                Algorithm::PS256,
                EncodingKey::from_rsa_pem(&key("rsa1")).unwrap(),
            ),
            (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(&key("rsa1")).unwrap(),
            ),
        ];
        for (alg, enc) in cases {
            assert!(
                parse(alg, enc.as_bytes()).is_some(),
                "{alg:?}: ring takes the key"
            );
            let msg = b"header.payload";
            let sig = signer(&alg, &enc).unwrap().try_sign(msg).unwrap();
            let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&enc, alg).unwrap();
            let dec = DecodingKey::from_jwk(&jwk).unwrap();
            verifier(&alg, &dec)
                .unwrap()
                .verify(msg, &sig)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            // A changed message does not verify.
            assert!(verifier(&alg, &dec)
                .unwrap()
                .verify(b"header.other", &sig)
                .is_err());
        }
    }

    /// A key cached for PS256 signs RS512 through RustCrypto, not as the cached PS256 one.
    #[test]
    fn other_algorithms_of_a_cached_key_are_not_signed_by_the_cache() {
        let enc = EncodingKey::from_rsa_pem(&key("rsa1")).unwrap();
        signer(&Algorithm::PS256, &enc)
            .unwrap()
            .try_sign(b"m")
            .unwrap();
        let sig = signer(&Algorithm::RS512, &enc)
            .unwrap()
            .try_sign(b"m")
            .unwrap();
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&enc, Algorithm::RS512).unwrap();
        let dec = DecodingKey::from_jwk(&jwk).unwrap();
        verifier(&Algorithm::RS512, &dec)
            .unwrap()
            .verify(b"m", &sig)
            .unwrap();
    }

    /// A key ring refuses (RSA under 2048 bits) is signed by RustCrypto instead.
    #[test]
    fn a_key_ring_refuses_falls_back() {
        let enc = EncodingKey::from_rsa_pem(&key("rsa1024")).unwrap();
        assert!(parse(Algorithm::PS256, enc.as_bytes()).is_none());
        let sig = signer(&Algorithm::PS256, &enc)
            .unwrap()
            .try_sign(b"m")
            .unwrap();
        assert_eq!(sig.len(), 128);
    }
}
