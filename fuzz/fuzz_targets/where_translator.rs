//! The LeanStorage `where` translator and `order` parser: any JSON becomes SQL with bound
//! parameters or a LeanCloud error, on both dialects, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings::store::query::{conversation_filter, conversation_order};
use tidings::store::Dialect;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            let _ = conversation_filter(dialect, &value, 1);
        }
        let _ = conversation_order(dialect, text);
    }
});
