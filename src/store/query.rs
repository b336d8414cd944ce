//! The LeanStorage query language (`where`, `order`) translated to SQL over the
//! `conversations` table (alias `c`), with bound parameters only.
//!
//! STUB: the full translator is being written; this supports an empty `where` only.

use crate::error::{Error, Result};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a `$n` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

/// A piece of SQL with its parameters, numbered `$first..` in order of `binds`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SqlFragment {
    pub sql: String,
    pub binds: Vec<SqlValue>,
}

/// Translates a `where` object into a boolean SQL expression over `conversations c`.
/// Placeholders start at `$first_placeholder`.
pub fn conversation_filter(_dialect: Dialect, where_: &Value, _first_placeholder: usize) -> Result<SqlFragment> {
    match where_ {
        Value::Object(map) if map.is_empty() => Ok(SqlFragment { sql: "1=1".into(), binds: vec![] }),
        _ => Err(Error::invalid("where is not supported yet")),
    }
}

/// Translates `order` (`createdAt,-lm`) into the body of an ORDER BY clause.
pub fn conversation_order(_dialect: Dialect, order: &str) -> Result<String> {
    if order.is_empty() {
        return Ok("c.created_at DESC, c.id DESC".into());
    }
    Err(Error::invalid("order is not supported yet"))
}
