//! Property tests: sealing round-trips and rejects any tampering, chunking reassembles
//! whatever it split, and path checking never lets a dot segment or encoded separator by.

use oidc_bff::proxy::path::check_path;
use oidc_bff::session::chunk::{self, CHUNK_SIZE};
use oidc_bff::session::Sealer;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn seal_open_round_trip(value in ".{0,3000}", name in "[a-z.-]{1,20}", key in any::<[u8; 32]>()) {
        let s = Sealer::new(&[key]);
        let sealed = s.seal(&name, &value, 100);
        let (back, exp): (String, u64) = s.open(&name, &sealed, 99).unwrap();
        prop_assert_eq!(back, value);
        prop_assert_eq!(exp, 100);
        prop_assert!(sealed.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "cookie-safe");
    }

    #[test]
    fn any_single_change_is_rejected(value in ".{0,200}", pos in any::<prop::sample::Index>(), delta in 1u8..) {
        let s = Sealer::new(&[[3u8; 32]]);
        let sealed = s.seal("n", &value, 100);
        let mut bytes = sealed.into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] = bytes[i].wrapping_add(delta);
        let tampered = String::from_utf8_lossy(&bytes).to_string();
        prop_assert!(s.open::<String>("n", &tampered, 1).is_err());
    }

    #[test]
    fn rotation_opens_with_any_listed_key(keys in prop::collection::vec(any::<[u8; 32]>(), 1..4)) {
        let old = Sealer::new(&keys[keys.len() - 1..]);
        let sealed = old.seal("n", &1u8, 100);
        prop_assert_eq!(Sealer::new(&keys).open::<u8>("n", &sealed, 1).unwrap().0, 1);
    }

    #[test]
    fn chunks_reassemble(len in 0usize..(CHUNK_SIZE * 5)) {
        let value: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let parts = chunk::split(&value, CHUNK_SIZE);
        prop_assert!(parts.iter().all(|p| p.len() <= CHUNK_SIZE));
        let names: Vec<String> = if parts.len() == 1 { vec!["s".into()] } else { (0..parts.len()).map(|i| chunk::chunk_name("s", i)).collect() };
        let jar: Vec<(String, String)> = names.into_iter().zip(parts.iter().map(|p| p.to_string())).collect();
        let joined = chunk::join("s", |n| jar.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()), 8).unwrap();
        prop_assert_eq!(joined.unwrap_or_default(), value);
    }

    #[test]
    fn accepted_paths_have_no_dot_segments_or_encoded_separators(segments in prop::collection::vec("([a-zA-Z0-9._~-]|%[0-9a-fA-F]{2}){0,8}", 1..6)) {
        let path = format!("/api/{}", segments.join("/"));
        if check_path(&path).is_ok() {
            for seg in path.split('/') {
                let decoded = percent_encoding::percent_decode_str(seg).decode_utf8_lossy().to_string();
                prop_assert!(decoded != "." && decoded != "..", "{}", path);
                prop_assert!(!decoded.contains('/') && !decoded.contains('\\'), "{}", path);
            }
        }
    }

    #[test]
    fn dot_segments_are_always_rejected(prefix in "[a-z]{0,5}", form in prop::sample::select(vec!["..", ".", "%2e%2e", "%2E.", ".%2e", "%2e"]), rest in "[a-z/]{0,5}") {
        let path = format!("/api/{prefix}/{form}/{rest}");
        prop_assert!(check_path(&path).is_err(), "{}", path);
    }
}
