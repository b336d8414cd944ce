//! Request bodies through the extractor every REST handler uses (`http::json::parse`):
//! malformed JSON, wrong types, missing fields, NUL characters and deep nesting must all
//! come back as LeanCloud errors, never a panic. The handlers' own body types are private
//! to their modules; the parse into a JSON object exercises the shared path (serde, the
//! error mapping and the NUL walk), and the typed parse below covers serde's field errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings::http::json::parse;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Shaped {
    from_client: String,
    message: Option<String>,
    m: Option<Vec<String>>,
    transient: Option<bool>,
    push_data: Option<serde_json::Value>,
    limit: Option<i64>,
}

fuzz_target!(|data: &[u8]| {
    let _ = parse::<serde_json::Value>(data);
    let _ = parse::<Shaped>(data);
});
