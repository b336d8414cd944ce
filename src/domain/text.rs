//! Text every door refuses before it reaches the store: U+0000. Postgres TEXT cannot hold
//! it, and one stored in a group-commit batch would fail every message batched with it.

use serde_json::Value;

/// What clients are told, on every door.
pub const NUL_REFUSED: &str = "Strings may not contain the NUL character (U+0000).";

/// A decoded NUL. An escaped one inside JSON text carried in a string (`"{\"t\":
/// \"\\u0000\"}"`) is six ordinary characters and stores fine.
pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// Whether any key or string value of `value`, at any depth, holds a NUL.
pub fn json_has_nul(value: &Value) -> bool {
    // Iterative: a deeply nested body must not exhaust the stack.
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(text) => {
                if has_nul(text) {
                    return true;
                }
            }
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                if map.keys().any(|key| has_nul(key)) {
                    return true;
                }
                pending.extend(map.values());
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_found_at_any_depth_and_in_keys() {
        assert!(!json_has_nul(&json!({"a": ["b", {"c": "\\u0000"}]})));
        assert!(json_has_nul(&json!({"a": ["b", {"c": "x\u{0}"}]})));
        assert!(json_has_nul(&json!({"a\u{0}": 1})));
    }
}
