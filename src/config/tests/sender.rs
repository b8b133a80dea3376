//! issue 12: the `sender` section: DPoP keys, the client certificate, `profile: "fapi2"`
//! and each rule it breaks stopping start-up naming its key.

use super::*;

fn key(name: &str) -> String {
    format!(
        "{}/tests/support/keys/{name}.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn ec_jwk(byte: u8) -> Value {
    json!({"kty": "EC", "crv": "P-256",
           "d": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([byte; 32])})
}

/// A certificate and key written to a temporary folder (`other_key`: a key that is not
/// the certificate's).
fn cert_files(other_key: bool) -> (std::path::PathBuf, String, String) {
    let dir = std::env::temp_dir().join(format!("bff-mtls-{}", crate::util::random_id(6)));
    std::fs::create_dir_all(&dir).unwrap();
    let c = rcgen::generate_simple_self_signed(vec!["client.example".to_string()]).unwrap();
    let k = if other_key {
        rcgen::KeyPair::generate().unwrap().serialize_pem()
    } else {
        c.signing_key.serialize_pem()
    };
    let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, k).unwrap();
    let s = |p: &std::path::Path| p.to_string_lossy().into_owned();
    (dir.clone(), s(&cert), s(&key))
}

#[test]
fn dpop_keys_pem_jwk_and_rotation_lists() {
    assert!(ok(json!({})).sender.dpop.is_none());
    let generated = ok(json!({"dpop": true})).sender.dpop.unwrap();
    assert!(generated.is_empty(), "no key: generated at start");
    let pem = ok(json!({"dpop": true, "dpop_private_key": key("ec1")}));
    assert_eq!(
        pem.sender.dpop.unwrap()[0].alg,
        jsonwebtoken::Algorithm::ES256
    );
    let rsa = ok(json!({"dpop": true, "dpop_private_key": key("rsa1")}));
    assert_eq!(
        rsa.sender.dpop.unwrap()[0].alg,
        jsonwebtoken::Algorithm::PS256
    );
    let list = ok(json!({"dpop": true, "dpop_private_jwk": [ec_jwk(1), ec_jwk(2)]}));
    assert_eq!(list.sender.dpop.unwrap().len(), 2);
    let one = ok(json!({"dpop": true, "dpop_private_jwk": ec_jwk(3).to_string()}));
    assert_eq!(one.sender.dpop.unwrap().len(), 1);
    let via_env = build(json!({}), &[("BFF_DPOP", "true")]).unwrap();
    assert!(via_env.sender.dpop.is_some());
}

#[test]
fn bad_dpop_settings_name_their_key() {
    for (patch, want) in [
        (
            json!({"dpop": true, "dpop_private_jwk": {"kty": "oct", "k": "AA"}}),
            "dpop_private_jwk",
        ),
        (
            json!({"dpop": true, "dpop_private_jwk": []}),
            "dpop_private_jwk",
        ),
        (
            json!({"dpop": true, "dpop_private_jwk": "not json"}),
            "dpop_private_jwk",
        ),
        (
            json!({"dpop": true, "dpop_private_key": "/nonexistent.pem"}),
            "dpop_private_key",
        ),
        (
            json!({"dpop": true, "dpop_private_key": key("ec1"), "dpop_private_jwk": ec_jwk(1)}),
            "dpop_private_jwk",
        ),
        (json!({"dpop_private_key": key("ec1")}), "dpop"),
        (json!({"dpop": "yes"}), "dpop"),
        // A generated key cannot serve several instances.
        (
            json!({"dpop": true, "session_store": "redis://127.0.0.1:6379"}),
            "dpop_private_jwk",
        ),
        (
            json!({"dpop": true, "shared_store": "redis://127.0.0.1:6379"}),
            "dpop_private_jwk",
        ),
        (json!({"profile": "FAPI2"}), "profile"),
    ] {
        let e = err(patch.clone(), &[]);
        assert_eq!(e.key, want, "{patch}: {e}");
        assert!(!e.to_string().contains('\n'));
    }
    // A shared store with a configured key is fine.
    ok(
        json!({"dpop": true, "dpop_private_key": key("ec1"), "session_store": "redis://127.0.0.1:6379"}),
    );
}

#[test]
fn client_certificates_are_checked_against_their_key() {
    let (dir, cert, k) = cert_files(false);
    let c = ok(
        json!({"client_secret": null, "token_endpoint_auth_method": "tls_client_auth",
                      "client_tls_cert": cert, "client_tls_key": k}),
    );
    assert_eq!(c.client.auth_method, Some(ClientAuth::TlsClientAuth));
    assert!(c.sender.tls_client.is_some());
    let e = err(json!({"client_tls_cert": cert}), &[]);
    assert_eq!(e.key, "client_tls_key");
    let e = err(
        json!({"client_secret": null, "token_endpoint_auth_method": "self_signed_tls_client_auth"}),
        &[],
    );
    assert_eq!(e.key, "client_tls_cert");
    let (dir2, cert2, wrong) = cert_files(true);
    let e = err(
        json!({"client_tls_cert": cert2, "client_tls_key": wrong}),
        &[],
    );
    assert_eq!(e.key, "client_tls_key", "{e}");
    let e = err(json!({"client_tls_cert": k, "client_tls_key": k}), &[]);
    assert_eq!(e.key, "client_tls_cert", "{e}");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(dir2);
}

fn fapi2() -> Value {
    json!({
        "profile": "fapi2",
        "client_secret": null,
        "client_private_key": key("rsa2"),
        "send_parameters_via": "par",
        "dpop": true,
        "dpop_private_key": key("ec1"),
    })
}

fn fapi2_with(patch: Value) -> Result<Config, ConfigError> {
    let mut v = fapi2();
    if let (Value::Object(m), Value::Object(p)) = (&mut v, patch) {
        m.extend(p);
    }
    build(v, &[])
}

#[test]
fn fapi2_defaults_follow_the_profile() {
    let c = fapi2_with(json!({})).unwrap();
    assert!(c.sender.fapi2());
    assert_eq!(c.client.auth_method, Some(ClientAuth::PrivateKeyJwt));
    assert_eq!(
        c.client.key.as_ref().unwrap().alg,
        jsonwebtoken::Algorithm::PS256
    );
    assert_eq!(c.client.assertion_audience, AssertionAudience::Issuer);
    assert_eq!(c.id_token.signing_algs, FAPI2_ALGS.to_vec());
}

#[test]
fn each_setting_that_breaks_fapi2_stops_start_up_naming_its_key() {
    for (patch, want) in [
        (
            json!({"send_parameters_via": "query"}),
            "send_parameters_via",
        ),
        (json!({"client_secret": "s"}), "client_secret"),
        (
            json!({"token_endpoint_auth_method": "client_secret_jwt"}),
            "token_endpoint_auth_method",
        ),
        (json!({"dpop": null, "dpop_private_key": null}), "dpop"),
        (
            json!({"id_token_signing_algs": ["RS256"]}),
            "id_token_signing_algs",
        ),
        (
            json!({"id_token_signing_algs": ["ES256", "HS256"]}),
            "id_token_signing_algs",
        ),
        (json!({"client_signing_alg": "RS256"}), "client_signing_alg"),
        (json!({"verify_ssl_server": false}), "verify_ssl_server"),
        (
            json!({"client_assertion_audience": "token_endpoint"}),
            "client_assertion_audience",
        ),
        (
            json!({"client_private_key": null}),
            "token_endpoint_auth_method",
        ),
    ] {
        let e = fapi2_with(patch.clone()).expect_err("refused");
        assert_eq!(e.key, want, "{patch}: {e}");
    }
    // §5.4.1: RSA keys of fewer than 2048 bits, as the client key or a DPoP key.
    let short = key("rsa1024");
    let e = fapi2_with(json!({"client_private_key": short})).expect_err("refused");
    assert_eq!(e.key, "client_private_key", "{e}");
    assert!(e.to_string().contains("1024 bits"), "{e}");
    let e = fapi2_with(json!({"dpop_private_key": short})).expect_err("refused");
    assert_eq!(e.key, "dpop_private_key", "{e}");
    assert_eq!(
        ok(json!({"client_private_key": short}))
            .client
            .key
            .unwrap()
            .rsa_bits(),
        Some(1024)
    );
    assert_eq!(
        fapi2_with(json!({}))
            .unwrap()
            .client
            .key
            .unwrap()
            .rsa_bits(),
        Some(2048)
    );
    // Mutual TLS instead of DPoP and private_key_jwt satisfies the profile.
    let (dir, cert, k) = cert_files(false);
    let c = fapi2_with(
        json!({"client_private_key": null, "dpop": null, "dpop_private_key": null,
                              "client_tls_cert": cert, "client_tls_key": k}),
    )
    .unwrap();
    assert_eq!(c.client.auth_method, Some(ClientAuth::TlsClientAuth));
    let _ = std::fs::remove_dir_all(dir);
}
