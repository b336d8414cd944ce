//! The LeanStorage query language (`where`, `order`) translated to SQL over the
//! `conversations` table (alias `c`). This module owns that translation and nothing else:
//! the caller scopes the query (`c.app_id = $1`, kinds, paging) and ANDs our fragment in.
//!
//! * User values only ever travel as bound `$n` parameters. Field names are validated
//!   (`[A-Za-z0-9_]` segments joined by dots) before they appear in SQL as JSON path literals.
//! * Built-in fields map to columns (`objectId`, `name`, `c`, `uniqueId`, `createdAt`,
//!   `updatedAt`, `lm`), flags (`tr`, `sys`, `unique` from `kind`/`is_unique`) and the member
//!   tables (`m` → `members`, `mu` → `mutes`). Any other key, dotted paths included, is a JSON
//!   value inside `c.attrs`, compared type-exactly (a string never equals a number); on an
//!   array-valued field, equality, comparisons and `$regex` also match any element, as in
//!   LeanStorage. Date objects compare by their `iso` string.
//! * Member tests run as `c.id IN (SELECT mm.conv_id …)` on SQLite and as `EXISTS (…)` on
//!   Postgres: that is the form each planner turns into a `members_by_client` index walk.
//!   A long `$all` adds one counting subquery instead of one join per member.
//! * Negations (`$ne`, `$nin`) are `(…) IS NOT TRUE`, so they also match absent fields.
//! * Limits (400 beyond them): 16 levels of nesting, 1000 values per list, 1000 characters
//!   per regex, 10 000 parameters. Long AND/OR lists are nested as balanced trees (SQLite
//!   refuses expressions deeper than 1000).
//! * sqlx caches prepared statements by SQL text, so equal text must mean equal parameters:
//!   unused binds are dropped and `Float` binds are written `CAST($n AS DOUBLE PRECISION)`
//!   (Postgres would otherwise read a float's bytes as the `int8` of an earlier statement).
//!
//! Regular expressions. `\Q…\E` (how the SDKs quote literals) is first rewritten into an
//! escaped literal; the result must compile with the `regex` crate (≤ 1000 characters), else
//! 400. Postgres runs it with `~`, the `$options` becoming ARE embedded options
//! (`i`; `m`/`s` mapped onto the newline modes `p`/`s`/`n`/`w`; `x`), a few escapes translated
//! (`\b`→`\y`, `\z`→`\Z`, `\x{…}`→`\U…`) and Rust-only syntax (`\p{…}`, `(?flags)`) refused.
//! SQLite runs it with `REGEXP`, the `regex` crate registered on every connection (sqlx's
//! `regexp` feature), the `$options` as inline flags: the full syntax that crate accepts.

mod builder;
mod fields;
mod json;
mod limits;
mod members;
mod regexp;
mod sql;
#[cfg(test)]
mod tests;

use crate::error::Result;
use builder::Builder;
use fields::{column, field_path, flag};
use json::json_order;
use limits::{bad, MAX_ORDER_KEYS, MAX_SQL_LEN};
use serde_json::Value;
use sql::{collate, compact, TRUE};

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

/// Translates a `where` object (or an array of them, an implicit `$and`) into a boolean SQL
/// expression over `conversations c`. Placeholders start at `$first_placeholder`.
pub fn conversation_filter(
    dialect: Dialect,
    where_: &Value,
    first_placeholder: usize,
) -> Result<SqlFragment> {
    let mut b = Builder {
        dialect,
        first: first_placeholder,
        binds: Vec::new(),
        member_tests: Default::default(),
    };
    let sql = match where_ {
        Value::Object(map) => b.object(map, 1)?,
        Value::Array(items) if items.is_empty() => TRUE.to_owned(),
        Value::Array(items) => b.clauses(items, " AND ", 1)?,
        Value::Null => TRUE.to_owned(),
        _ => return Err(bad("where must be a JSON object.")),
    };
    if sql.len() > MAX_SQL_LEN {
        return Err(bad("Query too complex."));
    }
    Ok(compact(sql, b.binds, first_placeholder))
}

/// Translates `order` (`createdAt,-lm,attr.x`) into the body of an ORDER BY clause. `-` means
/// descending; NULLs (absent values) come first ascending and last descending; `c.id` always
/// breaks ties so that paging with `skip` is stable.
pub fn conversation_order(dialect: Dialect, order: &str) -> Result<String> {
    let keys: Vec<&str> = order
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    if keys.is_empty() {
        return Ok("c.created_at DESC, c.id DESC".into());
    }
    if keys.len() > MAX_ORDER_KEYS {
        return Err(bad("Too many keys in order."));
    }
    let mut terms = Vec::new();
    for key in keys {
        let (name, desc) = key.strip_prefix('-').map_or((key, false), |n| (n, true));
        let (exprs, nullable) = match name {
            "createdAt" => (vec!["c.created_at".to_owned()], false),
            "updatedAt" => (vec!["c.updated_at".to_owned()], false),
            "objectId" => (vec!["c.id".to_owned()], false),
            "lm" => (vec!["c.last_message_at".to_owned()], true),
            "name" | "c" | "uniqueId" => (vec![collate(dialect, column(name), "<")], true),
            "tr" | "sys" | "unique" => (vec![format!("({})", flag(name))], false),
            "m" | "mu" => return Err(bad(format!("Cannot order by {name}."))),
            _ => (json_order(dialect, &field_path(name)?), true),
        };
        let dir = match (desc, nullable) {
            (true, true) => "DESC NULLS LAST",
            (true, false) => "DESC",
            (false, true) => "ASC NULLS FIRST",
            (false, false) => "ASC",
        };
        terms.extend(exprs.into_iter().map(|e| format!("{e} {dir}")));
    }
    terms.push("c.id ASC".into());
    Ok(terms.join(", "))
}
