//! Field mapping: built-in keys to columns, flags and member tables; custom keys to JSON
//! paths; request values to typed operands.

use super::limits::bad;
use super::SqlValue;
use crate::domain::time::parse_iso;
use crate::error::{code, Error, Result};
use serde_json::Value;

pub(super) fn column(name: &str) -> &'static str {
    match name {
        "objectId" => "c.id",
        "name" => "c.name",
        "c" => "c.creator",
        "uniqueId" => "c.unique_id",
        "createdAt" => "c.created_at",
        "updatedAt" => "c.updated_at",
        _ => "c.last_message_at",
    }
}

pub(super) fn flag(name: &str) -> &'static str {
    match name {
        "tr" => "c.kind = 1",
        "sys" => "c.kind = 2",
        _ => "c.is_unique = TRUE",
    }
}

/// A custom field: letters, digits and `_`, dot-separated for paths into objects.
pub(super) fn field_path(key: &str) -> Result<Vec<String>> {
    let segment_ok =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if key.len() > 128 || !key.split('.').all(segment_ok) {
        let shown: String = key.chars().take(64).collect();
        return Err(Error::bad_request(
            code::INVALID_KEY_NAME,
            format!("Invalid key name: {shown:?}."),
        ));
    }
    Ok(key.split('.').map(str::to_owned).collect())
}

/// What a `where` key addresses.
pub(super) enum Target {
    Text(&'static str),
    Time(&'static str),
    Flag(&'static str),
    Members(&'static str),
    Json(Vec<String>),
}

pub(super) fn target(key: &str) -> Result<Target> {
    Ok(match key {
        "objectId" | "name" | "c" | "uniqueId" => Target::Text(column(key)),
        "createdAt" | "updatedAt" | "lm" => Target::Time(column(key)),
        "tr" | "sys" | "unique" => Target::Flag(flag(key)),
        "m" => Target::Members("members"),
        "mu" => Target::Members("mutes"),
        _ => Target::Json(field_path(key)?),
    })
}

/// A comparison value from the request.
pub(super) enum Operand {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Date(String),
    Json(Value),
}

pub(super) fn operand(value: &Value) -> Result<Operand> {
    Ok(match value {
        Value::String(s) => Operand::Str(s.clone()),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Operand::Int(i),
            (None, Some(f)) => Operand::Float(f),
            _ => return Err(bad("Number out of range.")),
        },
        Value::Bool(b) => Operand::Bool(*b),
        Value::Null => Operand::Null,
        Value::Object(o) if o.get("__type").and_then(Value::as_str) == Some("Date") => {
            match o.get("iso").and_then(Value::as_str) {
                Some(iso) if parse_iso(iso).is_some() => Operand::Date(iso.to_owned()),
                _ => return Err(bad("Invalid Date value.")),
            }
        }
        other => Operand::Json(other.clone()),
    })
}

pub(super) fn number(v: &Operand) -> SqlValue {
    match v {
        Operand::Int(i) => SqlValue::Int(*i),
        Operand::Float(f) => SqlValue::Float(*f),
        _ => SqlValue::Null,
    }
}

/// Milliseconds for a time column: a Date, an ISO string, or a number; `None` never matches.
pub(super) fn time_value(v: &Operand) -> Result<Option<SqlValue>> {
    Ok(match v {
        Operand::Date(iso) => parse_iso(iso).map(SqlValue::Int),
        Operand::Str(s) => Some(SqlValue::Int(
            parse_iso(s).ok_or_else(|| bad("Invalid date string."))?,
        )),
        Operand::Int(_) | Operand::Float(_) => Some(number(v)),
        _ => None,
    })
}
