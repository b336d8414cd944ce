//! Custom fields of a conversation: validation of names and LeanStorage update operations
//! (`{"__op": "Delete" | "Increment" | "Add" | "AddUnique" | "Remove"}`) and dotted paths.

use crate::domain::conversation::RESERVED_FIELDS;
use crate::error::{code, Error, Result};
use serde_json::{Map, Value};

const MAX_DEPTH: usize = 16;

/// The most a conversation's custom fields may take, serialized as the JSON object the store
/// keeps. They are parsed on every send, and `Add` could otherwise grow them without limit.
pub const MAX_ATTRS_BYTES: usize = 64 * 1024;

/// Refuses custom fields whose JSON is over [`MAX_ATTRS_BYTES`], unless `before` (the
/// fields as stored) was at least as large: an update that shrinks fields stored before the
/// cap existed, or keeps their size, is let through so they can be cleaned up.
pub fn check_size(attrs: &Map<String, Value>, before: Option<&Map<String, Value>>) -> Result<()> {
    let size = serialized_len(attrs);
    if size <= MAX_ATTRS_BYTES || before.is_some_and(|b| size <= serialized_len(b)) {
        return Ok(());
    }
    Err(Error::bad_request(
        code::OBJECT_TOO_LARGE,
        format!(
            "Custom conversation fields may take at most {MAX_ATTRS_BYTES} bytes as JSON; \
             these would take {size}."
        ),
    ))
}

fn serialized_len(attrs: &Map<String, Value>) -> usize {
    // Serializing a map of JSON values cannot fail; count a failure as too large.
    serde_json::to_vec(attrs).map_or(usize::MAX, |json| json.len())
}

/// A key a client may write: letters, digits and underscores (LeanStorage code 105).
pub fn check_key(key: &str) -> Result<()> {
    let valid = !key.is_empty()
        && key.len() <= 128
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(Error::bad_request(
            code::INVALID_KEY_NAME,
            format!("Invalid key name: {key:?}."),
        ))
    }
}

/// Checks a value's nested object keys: no `$` or `.` in them (LeanStorage code 121).
pub fn check_value(value: &Value, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid("Value nested too deeply."));
    }
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key.contains('.') || (key.starts_with('$')) {
                    return Err(Error::bad_request(
                        crate::error::code::INVALID_NESTED_KEY,
                        format!("Invalid key in object: {key:?}."),
                    ));
                }
                check_value(inner, depth + 1)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|v| check_value(v, depth + 1)),
        _ => Ok(()),
    }
}

/// Applies an update body's custom fields to `attrs`. Reserved fields must have been taken
/// out by the caller. Keys may be dotted paths (`attr.color`).
pub fn apply_updates(attrs: &mut Map<String, Value>, updates: &Map<String, Value>) -> Result<()> {
    for (path, value) in updates {
        let parts: Vec<&str> = path.split('.').collect();
        for part in &parts {
            check_key(part)?;
        }
        if parts.len() > MAX_DEPTH {
            return Err(Error::invalid("Key path too deep."));
        }
        apply_at(attrs, &parts, value)?;
    }
    Ok(())
}

fn apply_at(map: &mut Map<String, Value>, path: &[&str], value: &Value) -> Result<()> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut target = map;
    for part in parents {
        let entry = target
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(inner) = entry else {
            return Err(Error::internal("path is not an object"));
        };
        target = inner;
    }
    match operation(value) {
        Some(op) => apply_operation(target, last, op, value),
        None => {
            check_value(value, 0)?;
            target.insert((*last).to_owned(), value.clone());
            Ok(())
        }
    }
}

fn operation(value: &Value) -> Option<&str> {
    value
        .as_object()
        .and_then(|o| o.get("__op"))
        .and_then(Value::as_str)
}

fn apply_operation(
    target: &mut Map<String, Value>,
    key: &str,
    op: &str,
    body: &Value,
) -> Result<()> {
    match op {
        "Delete" => {
            target.remove(key);
        }
        "Increment" | "Decrement" => {
            let amount = body.get("amount").and_then(Value::as_f64).unwrap_or(1.0);
            let amount = if op == "Decrement" { -amount } else { amount };
            let current = target.get(key).and_then(Value::as_f64).unwrap_or(0.0);
            let sum = current + amount;
            let number = if sum.fract() == 0.0 && sum.abs() < 9.0e15 {
                Value::from(sum as i64)
            } else {
                serde_json::Number::from_f64(sum)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            };
            target.insert(key.to_owned(), number);
        }
        "Add" | "AddUnique" | "Remove" => {
            let objects = body
                .get("objects")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    Error::bad_request(code::INVALID_TYPE, format!("{op} needs an objects array."))
                })?;
            check_value(&Value::Array(objects.clone()), 0)?;
            let mut list = target
                .get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            match op {
                "Add" => list.extend(objects.iter().cloned()),
                "AddUnique" => {
                    for item in objects {
                        if !list.contains(item) {
                            list.push(item.clone());
                        }
                    }
                }
                _ => list.retain(|item| !objects.contains(item)),
            }
            target.insert(key.to_owned(), Value::Array(list));
        }
        other => {
            return Err(Error::invalid(format!(
                "Unsupported update operation {other:?}."
            )))
        }
    }
    Ok(())
}

/// A body split into its `name` (absent, set, or cleared with null) and its custom fields.
pub type SplitBody = (Option<Option<String>>, Map<String, Value>);

/// Splits a create or update body into the built-in `name` and the custom fields, refusing
/// writes to server-managed fields other than those listed in `ignored`.
pub fn split_body(body: Map<String, Value>, ignored: &[&str]) -> Result<SplitBody> {
    let mut name = None;
    let mut custom = Map::new();
    for (key, value) in body {
        if key == "name" {
            name = Some(match value {
                Value::String(s) => Some(s),
                Value::Null => None,
                _ => {
                    return Err(Error::bad_request(
                        code::INVALID_TYPE,
                        "name must be a string.",
                    ))
                }
            });
        } else if ignored.contains(&key.as_str()) || key.starts_with('_') {
            continue;
        } else if RESERVED_FIELDS.contains(&key.as_str())
            || RESERVED_FIELDS.contains(&key.split('.').next().unwrap_or_default())
        {
            return Err(Error::bad_request(
                code::READ_ONLY_KEY,
                format!(
                    "{key} cannot be set here: it is managed by the server or its own endpoint."
                ),
            ));
        } else {
            custom.insert(key, value);
        }
    }
    Ok((name, custom))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn dotted_paths_and_operations_update_nested_fields() {
        let mut attrs = map(json!({"attr": {"a": 1}, "n": 1, "tags": ["x"]}));
        let updates = map(json!({
            "attr.b": "two",
            "n": {"__op": "Increment", "amount": 2},
            "tags": {"__op": "AddUnique", "objects": ["x", "y"]},
            "gone": {"__op": "Delete"}
        }));
        assert!(apply_updates(&mut attrs, &updates).is_ok());
        assert_eq!(
            Value::Object(attrs),
            json!({"attr": {"a": 1, "b": "two"}, "n": 3, "tags": ["x", "y"]})
        );
    }

    #[test]
    fn custom_fields_are_capped_at_64_kib_of_json() {
        // `{"big":"` + value + `"}` is the value plus 10 bytes.
        let at_cap = map(json!({"big": "x".repeat(MAX_ATTRS_BYTES - 10)}));
        assert!(check_size(&at_cap, None).is_ok());
        let over = map(json!({"big": "x".repeat(MAX_ATTRS_BYTES - 9)}));
        assert!(check_size(&over, None).is_err());
        assert!(
            check_size(&over, Some(&over)).is_ok(),
            "unchanged size passes"
        );
        assert!(check_size(&over, Some(&at_cap)).is_err());
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(check_key("ok_key1").is_ok());
        assert!(check_key("bad-key").is_err());
        assert!(check_value(&json!({"a": {"$b": 1}}), 0).is_err());
    }
}
