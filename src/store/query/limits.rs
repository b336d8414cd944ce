//! Limits on hostile input, and the 400 errors that refuse it.

use crate::error::{Error, Result};
use serde_json::Value;

pub(super) const MAX_DEPTH: usize = 16;
pub(super) const MAX_LIST: usize = 1000;
pub(super) const MAX_REGEX_LEN: usize = 1000;
pub(super) const MAX_BINDS: usize = 10_000;
pub(super) const MAX_ORDER_KEYS: usize = 16;
pub(super) const MAX_SEMI_JOINS: usize = 8;
pub(super) const MAX_SQL_LEN: usize = 4 << 20;

pub(super) fn bad(message: impl Into<String>) -> Error {
    Error::invalid(message)
}

pub(super) fn unsupported(op: &str) -> Error {
    let shown: String = op.chars().take(64).collect();
    Error::invalid(format!("Unsupported query operator {shown}."))
}

pub(super) fn list<'a>(op: &str, arg: &'a Value) -> Result<&'a [Value]> {
    match arg {
        Value::Array(items) if items.len() <= MAX_LIST => Ok(items),
        Value::Array(_) => Err(bad(format!("{op} accepts at most {MAX_LIST} values."))),
        _ => Err(bad(format!("{op} expects an array."))),
    }
}

pub(super) fn too_deep(value: &Value, budget: usize) -> bool {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(a) => Box::new(a.iter()),
        Value::Object(o) => Box::new(o.values()),
        _ => return false,
    };
    budget == 0 || children.into_iter().any(|v| too_deep(v, budget - 1))
}
