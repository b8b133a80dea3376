//! Cookie opening and chunk reassembly never panic on hostile input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use oidc_bff::session::{chunk, Sealer, Session};

fuzz_target!(|data: &[u8]| {
    let sealer = Sealer::new(&[[7u8; 32], [9u8; 32]]);
    let text = String::from_utf8_lossy(data);
    let _ = sealer.open::<Session>("__Host-bff-session", &text, 1);
    let _ = sealer.open_bytes("__Host-bff-login", &text);
    // Split the input into "cookies" name=value separated by ';' and reassemble.
    let pairs: Vec<(String, String)> = text
        .split(';')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect();
    if let Ok(Some(joined)) = chunk::join("s", |n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()), 8) {
        let _ = sealer.open::<Session>("s", &joined, 1);
    }
    // Round trip of whatever we got.
    let sealed = sealer.seal("s", &text.to_string(), u64::MAX);
    let (back, _) = sealer.open::<String>("s", &sealed, 0).expect("own seal opens");
    assert_eq!(back, text);
});
