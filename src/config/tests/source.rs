//! The key table and `Source`: README's table, `BFF_<KEY>` for every kind, file types.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::config::source::{lookup, Section::*, Source, KEYS};

/// The keys named in the first column of README's settings table.
fn readme_keys() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let rows = readme
        .lines()
        .skip_while(|l| !l.starts_with("| key | default | meaning |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'));
    let mut keys = Vec::new();
    for row in rows {
        let first = row.split('|').nth(1).unwrap_or("");
        keys.extend(first.split('`').skip(1).step_by(2).map(str::to_string));
    }
    keys
}

#[test]
fn readme_settings_table_lists_exactly_the_keys() {
    let documented = readme_keys();
    let missing: Vec<&str> = KEYS
        .iter()
        .map(|k| k.name)
        .filter(|name| !documented.iter().any(|d| d == name))
        .collect();
    let extra: Vec<&String> = documented.iter().filter(|d| lookup(d).is_none()).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "README's settings table lacks {missing:?} and has unknown {extra:?}"
    );
    assert_eq!(documented.len(), KEYS.len(), "a key documented twice");
}

/// Each key is read by the file of the section the table names.
#[test]
fn each_section_file_reads_its_keys() {
    for key in KEYS {
        let file = match key.section {
            Server => "server.rs",
            Client => "client.rs",
            Provider => "provider.rs",
            IdToken => "id_token.rs",
            Session => "session.rs",
            Store => "store.rs",
            Limits => "limits.rs",
            Log => "log.rs",
            Proxy => "routes.rs",
            Sender => "sender.rs",
        };
        let path = format!("{}/src/config/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("section file");
        assert!(
            text.contains(&format!("\"{}\"", key.name)),
            "{} is not read in {file}",
            key.name
        );
    }
}

#[test]
fn no_key_appears_twice() {
    for (i, k) in KEYS.iter().enumerate() {
        assert!(
            KEYS[i + 1..].iter().all(|o| o.name != k.name),
            "{} twice",
            k.name
        );
    }
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Every kind's `BFF_<KEY>` parsing overrides the file's value.
#[test]
fn env_overrides_every_kind() {
    let file = json!({
        "scope": "openid a", "tls_cert": "/file.pem", "debug": false,
        "workers": 1, "allowed_origins": ["https://file.example"],
        "routes": [{"prefix": "/api", "upstream": "https://file.example"}]
    });
    let Value::Object(map) = file else {
        unreachable!()
    };
    let vars = env(&[
        ("BFF_SCOPE", "openid b"),
        ("BFF_TLS_CERT", "/env.pem"),
        ("BFF_DEBUG", "yes"),
        ("BFF_WORKERS", " 3 "),
        (
            "BFF_ALLOWED_ORIGINS",
            "https://a.example, ,https://b.example",
        ),
        (
            "BFF_ROUTES",
            r#"[{"prefix": "/api/x", "upstream": "https://env.example"}]"#,
        ),
    ]);
    let src = Source::new(map, &vars).unwrap();
    assert_eq!(src.str("scope").as_deref(), Some("openid b"));
    assert_eq!(src.path("tls_cert"), Some(PathBuf::from("/env.pem")));
    assert_eq!(src.flag("debug"), Some(true));
    assert_eq!(src.num("workers"), Some(3));
    assert_eq!(
        src.list("allowed_origins").unwrap(),
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(src.json("routes").unwrap()[0]["prefix"], "/api/x");
    for (flag, want) in [("1", true), ("no", false), ("FALSE", false)] {
        let src = Source::new(Map::new(), &env(&[("BFF_DEBUG", flag)])).unwrap();
        assert_eq!(src.flag("debug"), Some(want), "{flag}");
    }
    for (var, text, key) in [
        ("BFF_DEBUG", "maybe", "debug"),
        ("BFF_WORKERS", "-1", "workers"),
        ("BFF_ROUTES", "[", "routes"),
    ] {
        let e = Source::new(Map::new(), &env(&[(var, text)])).err().unwrap();
        assert_eq!(e.key, key);
        assert!(e.message.contains(var), "{e}");
    }
}

#[test]
fn file_types_are_checked_by_kind_and_unknown_keys_kept() {
    let Value::Object(map) = json!({"debug": null, "client_sercet": "typo"}) else {
        unreachable!()
    };
    let src = Source::new(map, &BTreeMap::new()).unwrap();
    assert_eq!(src.flag("debug"), None, "null is unset");
    assert_eq!(src.unknown_keys, ["client_sercet"]);
    for (name, bad) in [
        ("scope", json!(1)),
        ("spa_dir", json!(["x"])),
        ("debug", json!("yes")),
        ("workers", json!(-1)),
        ("cookie_keys", json!("k")),
    ] {
        let mut map = Map::new();
        map.insert(name.to_string(), bad);
        let e = Source::new(map, &BTreeMap::new()).err().unwrap();
        assert_eq!(e.key, name);
    }
}
