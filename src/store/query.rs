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
//! SQLite has no REGEXP function behind sqlx's `Any` driver, so patterns are translated into
//! `GLOB` (case-sensitive; with `i`, `lower(x) GLOB` a lowered pattern): literals, `.`, `.*`,
//! `.+`, `[…]` classes, `\d \w \s`, and `^`/`$` anchors at the ends. That covers
//! startsWith/endsWith/contains and most hand-written patterns; anything else (alternation,
//! groups, other quantifiers, anchors with `m`, non-ASCII cased letters with `i`) is refused
//! with 400 "too complex for the embedded store". Known difference: in GLOB `.` also matches
//! a newline.

use crate::domain::time::parse_iso;
use crate::error::{code, Error, Result};
use serde_json::{Map, Value};

const MAX_DEPTH: usize = 16;
const MAX_LIST: usize = 1000;
const MAX_REGEX_LEN: usize = 1000;
const MAX_BINDS: usize = 10_000;
const MAX_ORDER_KEYS: usize = 16;
const MAX_SEMI_JOINS: usize = 8;
const MAX_SQL_LEN: usize = 4 << 20;
const TRUE: &str = "1=1";
const FALSE: &str = "1=0";

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

/// Drops the binds that the SQL never references (a test that cannot match renders as `1=0`)
/// and renumbers the rest. sqlx caches prepared statements by SQL text, so equal text must
/// mean an equal number of parameters; and `Float` binds are spelled with a CAST so that they
/// never share a statement with an `Int` in the same position.
fn compact(sql: String, binds: Vec<SqlValue>, first: usize) -> SqlFragment {
    let bytes = sql.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if bytes[i] == b'$' && digits > 0 {
            let n = sql[i + 1..i + 1 + digits].parse::<usize>().ok();
            if let Some(index) = n
                .and_then(|n| n.checked_sub(first))
                .filter(|&x| x < binds.len())
            {
                spans.push((i, i + 1 + digits, index));
            }
        }
        i += 1 + digits;
    }
    let mut used = vec![false; binds.len()];
    spans.iter().for_each(|&(_, _, index)| used[index] = true);
    if used.iter().all(|&u| u) {
        return SqlFragment { sql, binds };
    }
    let mut number = Vec::with_capacity(binds.len());
    let mut kept = Vec::new();
    for (value, used) in binds.into_iter().zip(used) {
        number.push(first + kept.len());
        if used {
            kept.push(value);
        }
    }
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    for (start, end, index) in spans {
        out.push_str(&sql[last..start]);
        out.push_str(&format!("${}", number[index]));
        last = end;
    }
    out.push_str(&sql[last..]);
    SqlFragment {
        sql: out,
        binds: kept,
    }
}

fn bad(message: impl Into<String>) -> Error {
    Error::invalid(message)
}

fn not(sql: &str) -> String {
    format!("({sql}) IS NOT TRUE")
}

/// Joins with AND/OR. Long lists are nested as a balanced tree: SQLite refuses expressions
/// deeper than 1000, and `a OR b OR …` is as deep as it is long.
fn join(mut parts: Vec<String>, sep: &str, empty: &str) -> String {
    match parts.len() {
        0 => empty.to_owned(),
        1 => parts.concat(),
        n if n <= 16 => format!("({})", parts.join(sep)),
        n => {
            let right = parts.split_off(n / 2);
            format!(
                "({}{sep}{})",
                join(parts, sep, empty),
                join(right, sep, empty)
            )
        }
    }
}

/// Binary string comparison on Postgres too (SQLite compares bytes), except for `=`.
fn collate(dialect: Dialect, expr: &str, op: &str) -> String {
    match dialect {
        Dialect::Postgres if op != "=" => format!("{expr} COLLATE \"C\""),
        _ => expr.to_owned(),
    }
}

fn column(name: &str) -> &'static str {
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

fn flag(name: &str) -> &'static str {
    match name {
        "tr" => "c.kind = 1",
        "sys" => "c.kind = 2",
        _ => "c.is_unique = 1",
    }
}

/// A custom field: letters, digits and `_`, dot-separated for paths into objects.
fn field_path(key: &str) -> Result<Vec<String>> {
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
enum Target {
    Text(&'static str),
    Time(&'static str),
    Flag(&'static str),
    Members(&'static str),
    Json(Vec<String>),
}

fn target(key: &str) -> Result<Target> {
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
enum Operand {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Date(String),
    Json(Value),
}

fn operand(value: &Value) -> Result<Operand> {
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

fn too_deep(value: &Value, budget: usize) -> bool {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(a) => Box::new(a.iter()),
        Value::Object(o) => Box::new(o.values()),
        _ => return false,
    };
    budget == 0 || children.into_iter().any(|v| too_deep(v, budget - 1))
}

/// A test on one value: a text column, a JSON value in `attrs`, or an element of a JSON array.
enum Elem {
    Text(&'static str, String),
    TextIn(Vec<String>),
    Num(&'static str, String),
    NumIn(Vec<String>),
    Bool(bool),
    Null,
    /// Compares the `iso` of a `{"__type":"Date"}` object.
    Date(&'static str, String),
    /// Structural equality with an array or object.
    Json(String),
    Regex {
        op: &'static str,
        lower: bool,
        ph: String,
    },
    Or(Vec<Elem>),
}

/// Where an [`Elem`] is evaluated.
enum Node<'a> {
    Column(&'a str),
    /// `segs` inside `c.attrs`, or inside the current array element `je` when `elem`.
    Json {
        elem: bool,
        segs: &'a [String],
    },
}

struct Builder {
    dialect: Dialect,
    first: usize,
    binds: Vec<SqlValue>,
    member_tests: std::cell::Cell<usize>,
}

impl Builder {
    fn bind(&mut self, value: SqlValue) -> Result<String> {
        if self.binds.len() >= MAX_BINDS {
            return Err(bad("Query too complex."));
        }
        let float = matches!(value, SqlValue::Float(_));
        self.binds.push(value);
        let ph = format!("${}", self.first + self.binds.len() - 1);
        Ok(if float {
            format!("CAST({ph} AS DOUBLE PRECISION)")
        } else {
            ph
        })
    }

    fn object(&mut self, map: &Map<String, Value>, depth: usize) -> Result<String> {
        if depth > MAX_DEPTH {
            return Err(bad("where is nested too deeply."));
        }
        let mut parts = Vec::new();
        for (key, value) in map {
            parts.push(match key.as_str() {
                "$and" | "$or" => match value {
                    Value::Array(items) if !items.is_empty() => {
                        let sep = if key == "$and" { " AND " } else { " OR " };
                        self.clauses(items, sep, depth + 1)?
                    }
                    _ => return Err(bad(format!("{key} expects a non-empty array of objects."))),
                },
                op if op.starts_with('$') => return Err(unsupported(op)),
                _ => self.field(key, value)?,
            });
        }
        Ok(join(parts, " AND ", TRUE))
    }

    fn clauses(&mut self, items: &[Value], sep: &str, depth: usize) -> Result<String> {
        let mut parts = Vec::new();
        for item in items {
            match item {
                Value::Object(map) => parts.push(self.object(map, depth)?),
                _ => return Err(bad("$and/$or expects a non-empty array of objects.")),
            }
        }
        Ok(join(parts, sep, TRUE))
    }

    fn field(&mut self, key: &str, value: &Value) -> Result<String> {
        let t = target(key)?;
        if too_deep(value, MAX_DEPTH) {
            return Err(bad("where is nested too deeply."));
        }
        let ops = match value {
            Value::Object(map) if map.keys().any(|k| k.starts_with('$')) => map,
            _ => return self.eq(&t, value),
        };
        if ops.keys().any(|k| !k.starts_with('$')) {
            return Err(bad(format!(
                "Cannot mix operators and values for key {key}."
            )));
        }
        let mut parts = Vec::new();
        for (op, arg) in ops {
            let sql = match op.as_str() {
                "$eq" => self.eq(&t, arg)?,
                "$ne" => not(&self.eq(&t, arg)?),
                "$in" => self.one_of(&t, list(op, arg)?)?,
                "$nin" => not(&self.one_of(&t, list(op, arg)?)?),
                "$all" => self.all(&t, list(op, arg)?)?,
                "$lt" | "$lte" | "$gt" | "$gte" => self.compare(&t, op, arg)?,
                "$size" => match arg.as_u64().and_then(|n| i64::try_from(n).ok()) {
                    Some(n) => self.size(&t, n)?,
                    None => return Err(bad("$size expects a non-negative integer.")),
                },
                "$exists" => match arg {
                    Value::Bool(b) => self.exists(&t, *b),
                    _ => return Err(bad("$exists expects a boolean.")),
                },
                "$regex" => self.regex(&t, arg, ops.get("$options"))?,
                "$options" if ops.contains_key("$regex") => continue,
                "$options" => return Err(bad("$options needs $regex.")),
                other => return Err(unsupported(other)),
            };
            parts.push(sql);
        }
        Ok(join(parts, " AND ", TRUE))
    }

    fn eq(&mut self, t: &Target, value: &Value) -> Result<String> {
        let v = operand(value)?;
        match (t, &v) {
            (Target::Time(col), Operand::Null) => Ok(format!("{col} IS NULL")),
            (Target::Time(col), _) => match time_value(&v)? {
                Some(ms) => Ok(format!("{col} = {}", self.bind(ms)?)),
                None => Ok(FALSE.into()),
            },
            (Target::Flag(expr), Operand::Bool(true)) => Ok(format!("({expr})")),
            (Target::Flag(expr), Operand::Bool(false) | Operand::Null) => {
                Ok(format!("NOT ({expr})"))
            }
            (Target::Flag(_), _) => Ok(FALSE.into()),
            (Target::Members(table), Operand::Json(Value::Array(items))) => {
                self.member_all(table, items, true)
            }
            _ => {
                let e = self.elem_eq(&v)?;
                Ok(self.wrap(t, &e, matches!(v, Operand::Null)))
            }
        }
    }

    fn all(&mut self, t: &Target, items: &[Value]) -> Result<String> {
        if let Target::Members(table) = t {
            return self.member_all(table, items, false);
        }
        let all = items.iter().map(|v| self.eq(t, v)).collect::<Result<_>>()?;
        Ok(join(all, " AND ", TRUE))
    }

    fn one_of(&mut self, t: &Target, items: &[Value]) -> Result<String> {
        if items.is_empty() {
            return Ok(FALSE.into());
        }
        let vs = items.iter().map(operand).collect::<Result<Vec<_>>>()?;
        let has_null = vs.iter().any(|v| matches!(v, Operand::Null));
        match t {
            Target::Time(col) => {
                let mut phs = Vec::new();
                for v in &vs {
                    if let Some(ms) = time_value(v)? {
                        phs.push(self.bind(ms)?);
                    }
                }
                let mut parts = Vec::new();
                if !phs.is_empty() {
                    parts.push(format!("{col} IN ({})", phs.join(", ")));
                }
                if has_null {
                    parts.push(format!("{col} IS NULL"));
                }
                Ok(join(parts, " OR ", FALSE))
            }
            Target::Flag(_) => {
                let parts = items.iter().map(|v| self.eq(t, v)).collect::<Result<_>>()?;
                Ok(join(parts, " OR ", FALSE))
            }
            _ => {
                let mut texts = Vec::new();
                let mut nums = Vec::new();
                let mut others = Vec::new();
                for v in &vs {
                    match v {
                        Operand::Str(s) => texts.push(self.bind(SqlValue::Text(s.clone()))?),
                        Operand::Int(_) | Operand::Float(_) => nums.push(self.bind(number(v))?),
                        _ => others.push(self.elem_eq(v)?),
                    }
                }
                if !texts.is_empty() {
                    others.push(Elem::TextIn(texts));
                }
                if !nums.is_empty() {
                    others.push(Elem::NumIn(nums));
                }
                Ok(self.wrap(t, &Elem::Or(others), has_null))
            }
        }
    }

    fn compare(&mut self, t: &Target, op: &str, value: &Value) -> Result<String> {
        let sym = match op {
            "$lt" => "<",
            "$lte" => "<=",
            "$gt" => ">",
            _ => ">=",
        };
        let v = operand(value)?;
        if !matches!(
            v,
            Operand::Str(_) | Operand::Int(_) | Operand::Float(_) | Operand::Date(_)
        ) {
            return Err(bad(format!("{op} expects a number, string or date.")));
        }
        match t {
            Target::Time(col) => match time_value(&v)? {
                Some(ms) => Ok(format!("{col} {sym} {}", self.bind(ms)?)),
                None => Ok(FALSE.into()),
            },
            Target::Flag(_) => Ok(FALSE.into()),
            _ => {
                let e = match v {
                    Operand::Str(s) => Elem::Text(sym, self.bind(SqlValue::Text(s))?),
                    Operand::Date(iso) => Elem::Date(sym, self.bind(SqlValue::Text(iso))?),
                    _ => Elem::Num(sym, self.bind(number(&v))?),
                };
                Ok(self.wrap(t, &e, false))
            }
        }
    }

    fn size(&mut self, t: &Target, n: i64) -> Result<String> {
        let ph = self.bind(SqlValue::Int(n))?;
        Ok(match t {
            Target::Members(table) => format!("{} = {ph}", member_count(table)),
            Target::Json(segs) => {
                let p = self.path(false, segs);
                match self.dialect {
                    Dialect::Sqlite => format!(
                        "(json_type(c.attrs, {p}) = 'array' \
                         AND json_array_length(c.attrs, {p}) = {ph})"
                    ),
                    Dialect::Postgres => format!(
                        "jsonb_array_length(\
                         CASE WHEN jsonb_typeof({p}) = 'array' THEN {p} END) = {ph}"
                    ),
                }
            }
            _ => FALSE.into(),
        })
    }

    fn exists(&self, t: &Target, yes: bool) -> String {
        let sql = match t {
            Target::Text(col) | Target::Time(col) => format!("{col} IS NOT NULL"),
            Target::Flag(expr) => format!("({expr})"),
            // Normal and temporary conversations carry `m`, even when empty.
            Target::Members("members") => "c.kind IN (0, 3)".to_owned(),
            Target::Members(table) => self.member_match(table, TRUE),
            Target::Json(segs) => self.present(segs),
        };
        if yes {
            sql
        } else {
            not(&sql)
        }
    }

    fn regex(&mut self, t: &Target, pattern: &Value, options: Option<&Value>) -> Result<String> {
        let pattern = pattern
            .as_str()
            .ok_or_else(|| bad("$regex expects a string."))?;
        let options = match options {
            None => "",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(bad("$options expects a string.")),
        };
        if let Some(flag) = options.chars().find(|c| !"imsx".contains(*c)) {
            return Err(bad(format!("Unsupported $options flag {flag:?}.")));
        }
        let (op, lower, pattern) = regex_plan(self.dialect, pattern, options)?;
        let ph = self.bind(SqlValue::Text(pattern))?;
        Ok(match t {
            Target::Time(_) | Target::Flag(_) => FALSE.into(),
            _ => self.wrap(t, &Elem::Regex { op, lower, ph }, false),
        })
    }

    fn elem_eq(&mut self, v: &Operand) -> Result<Elem> {
        Ok(match v {
            Operand::Str(s) => Elem::Text("=", self.bind(SqlValue::Text(s.clone()))?),
            Operand::Int(_) | Operand::Float(_) => Elem::Num("=", self.bind(number(v))?),
            Operand::Bool(b) => Elem::Bool(*b),
            Operand::Null => Elem::Null,
            Operand::Date(iso) => Elem::Date("=", self.bind(SqlValue::Text(iso.clone()))?),
            Operand::Json(j) => Elem::Json(self.bind(SqlValue::Text(j.to_string()))?),
        })
    }

    /// Applies an element test to a text column, the member list, or a JSON field (the value
    /// itself or any element of it); `absent` also accepts rows without the field.
    fn wrap(&self, t: &Target, e: &Elem, absent: bool) -> String {
        match t {
            Target::Members(table) => {
                let found =
                    self.member_match(table, &self.render(e, &Node::Column("mm.client_id")));
                if absent {
                    format!("({found} OR {})", self.exists(t, false))
                } else {
                    found
                }
            }
            Target::Json(segs) => {
                let direct = self.render(e, &Node::Json { elem: false, segs });
                let p = self.path(false, segs);
                let inner = self.render(
                    e,
                    &Node::Json {
                        elem: true,
                        segs: &[],
                    },
                );
                let any = match self.dialect {
                    Dialect::Sqlite => format!(
                        "(json_type(c.attrs, {p}) = 'array' \
                         AND EXISTS (SELECT 1 FROM json_each(c.attrs, {p}) AS je WHERE {inner}))"
                    ),
                    Dialect::Postgres => format!(
                        "EXISTS (SELECT 1 FROM jsonb_array_elements(\
                         CASE WHEN jsonb_typeof({p}) = 'array' THEN {p} END) AS je(v) WHERE {inner})"
                    ),
                };
                let missing = if absent {
                    format!(" OR {}", not(&self.present(segs)))
                } else {
                    String::new()
                };
                format!("({direct} OR {any}{missing})")
            }
            Target::Text(col) | Target::Time(col) => self.render(e, &Node::Column(col)),
            Target::Flag(_) => FALSE.into(),
        }
    }

    fn render(&self, e: &Elem, node: &Node) -> String {
        let d = self.dialect;
        let (elem, segs) = match node {
            Node::Column(col) => {
                return match e {
                    Elem::Text(op, ph) => format!("{} {op} {ph}", collate(d, col, op)),
                    Elem::TextIn(phs) => format!("{col} IN ({})", phs.join(", ")),
                    Elem::Null => format!("{col} IS NULL"),
                    Elem::Regex {
                        op,
                        lower: true,
                        ph,
                    } => format!("lower({col}) {op} {ph}"),
                    Elem::Regex { op, ph, .. } => format!("{col} {op} {ph}"),
                    Elem::Or(es) => join(
                        es.iter().map(|e| self.render(e, node)).collect(),
                        " OR ",
                        FALSE,
                    ),
                    _ => FALSE.into(),
                };
            }
            Node::Json { elem, segs } => (*elem, *segs),
        };
        let p = self.path(elem, segs);
        let (text, num) = match d {
            Dialect::Sqlite => (
                format!("json_extract(c.attrs, {p})"),
                format!("json_extract(c.attrs, {p})"),
            ),
            Dialect::Postgres => (
                format!("({p} #>> '{{}}')"),
                format!(
                    "(CASE WHEN jsonb_typeof({p}) = 'number' THEN ({p} #>> '{{}}')::numeric END)"
                ),
            ),
        };
        let (is_str, is_num) = (json_is(d, &p, "string"), json_is(d, &p, "number"));
        match e {
            Elem::Text(op, ph) => format!("({is_str} AND {} {op} {ph})", collate(d, &text, op)),
            Elem::TextIn(phs) => format!("({is_str} AND {text} IN ({}))", phs.join(", ")),
            Elem::Num(op, ph) => format!("({is_num} AND {num} {op} {ph})"),
            Elem::NumIn(phs) => format!("({is_num} AND {num} IN ({}))", phs.join(", ")),
            Elem::Bool(b) => json_is(d, &p, if *b { "true" } else { "false" }),
            Elem::Null => json_is(d, &p, "null"),
            Elem::Date(op, ph) => {
                let iso: Vec<String> = segs.iter().cloned().chain(["iso".to_owned()]).collect();
                let node = Node::Json { elem, segs: &iso };
                self.render(&Elem::Text(op, ph.clone()), &node)
            }
            Elem::Json(ph) => match d {
                Dialect::Sqlite => format!(
                    "(json_type(c.attrs, {p}) IN ('array', 'object') \
                     AND json_extract(c.attrs, {p}) = json({ph}))"
                ),
                Dialect::Postgres => format!("{p} = CAST({ph} AS jsonb)"),
            },
            Elem::Regex { op, lower, ph } => {
                let subject = if *lower {
                    format!("lower({text})")
                } else {
                    text
                };
                format!("({is_str} AND {subject} {op} {ph})")
            }
            Elem::Or(es) => join(
                es.iter().map(|e| self.render(e, node)).collect(),
                " OR ",
                FALSE,
            ),
        }
    }

    /// SQLite: a JSON path into `c.attrs` (or below the array element `je`);
    /// Postgres: a jsonb expression.
    fn path(&self, elem: bool, segs: &[String]) -> String {
        json_path(self.dialect, elem, segs)
    }

    fn present(&self, segs: &[String]) -> String {
        let p = self.path(false, segs);
        match self.dialect {
            Dialect::Sqlite => format!("json_type(c.attrs, {p}) IS NOT NULL"),
            Dialect::Postgres => format!("{p} IS NOT NULL"),
        }
    }

    /// Conversations with a row in `table` (members or mutes) satisfying `cond` on
    /// `mm.client_id`. The IN form lets SQLite drive the query from `members_by_client`;
    /// Postgres needs EXISTS to plan a semi-join. Postgres plans all top-level semi-joins
    /// together, so past [`MAX_SEMI_JOINS`] they are kept as per-row tests (`IS TRUE`).
    fn member_match(&self, table: &str, cond: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!(
                "c.id IN (SELECT mm.conv_id FROM {table} mm WHERE mm.app_id = c.app_id AND {cond})"
            ),
            Dialect::Postgres => {
                self.member_tests.set(self.member_tests.get() + 1);
                let sql = format!(
                    "EXISTS (SELECT 1 FROM {table} mm \
                     WHERE mm.app_id = c.app_id AND mm.conv_id = c.id AND {cond})"
                );
                if self.member_tests.get() > MAX_SEMI_JOINS {
                    format!("({sql}) IS TRUE")
                } else {
                    sql
                }
            }
        }
    }

    /// `$all` on a member list; with `exact`, `{"m": [..]}` (exactly this set). Up to four
    /// members are separate index-driven tests; a longer list is the first member's test plus
    /// one counting subquery, so that 1000 members do not become 1000 joins.
    fn member_all(&mut self, table: &str, items: &[Value], exact: bool) -> Result<String> {
        let mut ids: Vec<&str> = Vec::new();
        for item in items {
            match item.as_str() {
                Some(id) if !ids.contains(&id) => ids.push(id),
                Some(_) => {}
                None => return Ok(FALSE.into()),
            }
        }
        let mut phs = Vec::new();
        for id in &ids {
            phs.push(self.bind(SqlValue::Text((*id).to_owned()))?);
        }
        let separate = if phs.len() <= 4 { phs.len() } else { 1 };
        let mut parts: Vec<String> = phs[..separate]
            .iter()
            .map(|ph| self.member_match(table, &format!("mm.client_id = {ph}")))
            .collect();
        let count = SqlValue::Int(ids.len() as i64);
        if separate < phs.len() {
            parts.push(format!(
                "(SELECT COUNT(*) FROM {table} mm WHERE mm.app_id = c.app_id AND mm.conv_id = c.id \
                 AND mm.client_id IN ({})) = {}",
                phs.join(", "),
                self.bind(count.clone())?
            ));
        }
        if exact {
            parts.push(format!("{} = {}", member_count(table), self.bind(count)?));
        }
        Ok(join(parts, " AND ", TRUE))
    }
}

fn unsupported(op: &str) -> Error {
    let shown: String = op.chars().take(64).collect();
    Error::invalid(format!("Unsupported query operator {shown}."))
}

fn list<'a>(op: &str, arg: &'a Value) -> Result<&'a [Value]> {
    match arg {
        Value::Array(items) if items.len() <= MAX_LIST => Ok(items),
        Value::Array(_) => Err(bad(format!("{op} accepts at most {MAX_LIST} values."))),
        _ => Err(bad(format!("{op} expects an array."))),
    }
}

fn number(v: &Operand) -> SqlValue {
    match v {
        Operand::Int(i) => SqlValue::Int(*i),
        Operand::Float(f) => SqlValue::Float(*f),
        _ => SqlValue::Null,
    }
}

/// Milliseconds for a time column: a Date, an ISO string, or a number; `None` never matches.
fn time_value(v: &Operand) -> Result<Option<SqlValue>> {
    Ok(match v {
        Operand::Date(iso) => parse_iso(iso).map(SqlValue::Int),
        Operand::Str(s) => Some(SqlValue::Int(
            parse_iso(s).ok_or_else(|| bad("Invalid date string."))?,
        )),
        Operand::Int(_) | Operand::Float(_) => Some(number(v)),
        _ => None,
    })
}

fn member_count(table: &str) -> String {
    match table {
        "members" => "c.member_count".to_owned(),
        _ => format!(
            "(SELECT COUNT(*) FROM {table} mm WHERE mm.app_id = c.app_id AND mm.conv_id = c.id)"
        ),
    }
}

fn json_path(dialect: Dialect, elem: bool, segs: &[String]) -> String {
    match dialect {
        Dialect::Sqlite => {
            let tail: String = segs.iter().map(|s| format!(".\"{s}\"")).collect();
            match (elem, tail.is_empty()) {
                (false, _) => format!("'${tail}'"),
                (true, true) => "je.fullkey".to_owned(),
                (true, false) => format!("(je.fullkey || '{tail}')"),
            }
        }
        Dialect::Postgres => {
            let base = if elem { "je.v" } else { "(c.attrs::jsonb)" };
            let tail: String = segs.iter().map(|s| format!(" -> '{s}'")).collect();
            if tail.is_empty() {
                base.to_owned()
            } else {
                format!("({base}{tail})")
            }
        }
    }
}

/// Whether the JSON value at `p` is of `kind` (string, number, true, false, null, array).
fn json_is(dialect: Dialect, p: &str, kind: &str) -> String {
    match (dialect, kind) {
        (Dialect::Sqlite, "string") => format!("json_type(c.attrs, {p}) = 'text'"),
        (Dialect::Sqlite, "number") => format!("json_type(c.attrs, {p}) IN ('integer', 'real')"),
        (Dialect::Sqlite, _) => format!("json_type(c.attrs, {p}) = '{kind}'"),
        (Dialect::Postgres, "true" | "false") => format!("{p} = '{kind}'::jsonb"),
        (Dialect::Postgres, _) => format!("jsonb_typeof({p}) = '{kind}'"),
    }
}

/// Sort keys for a custom field: SQLite's own order of mixed values (NULL < numbers < text);
/// Postgres imitates it with a type rank, then the number, then the text.
fn json_order(dialect: Dialect, segs: &[String]) -> Vec<String> {
    let p = json_path(dialect, false, segs);
    match dialect {
        Dialect::Sqlite => vec![format!("json_extract(c.attrs, {p})")],
        Dialect::Postgres => vec![
            format!(
                "(CASE jsonb_typeof({p}) WHEN 'boolean' THEN 1 WHEN 'number' THEN 1 WHEN 'string' THEN 2 \
                 WHEN 'array' THEN 3 WHEN 'object' THEN 3 ELSE 0 END)"
            ),
            format!("(CASE WHEN jsonb_typeof({p}) = 'number' THEN ({p} #>> '{{}}')::numeric END)"),
            format!("({p} #>> '{{}}') COLLATE \"C\""),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Regular expressions

/// Validates a `$regex` and returns (SQL operator, match on lower(x), bound pattern).
fn regex_plan(
    dialect: Dialect,
    pattern: &str,
    options: &str,
) -> Result<(&'static str, bool, String)> {
    if pattern.chars().count() > MAX_REGEX_LEN {
        return Err(bad(format!(
            "$regex is longer than {MAX_REGEX_LEN} characters."
        )));
    }
    let has = |f: char| options.contains(f);
    let pattern = unquote(pattern, has('x'));
    regex::RegexBuilder::new(&pattern)
        .case_insensitive(has('i'))
        .multi_line(has('m'))
        .dot_matches_new_line(has('s'))
        .ignore_whitespace(has('x'))
        .size_limit(1 << 20)
        .build()
        .map_err(|_| bad("Invalid regular expression in $regex."))?;
    match dialect {
        Dialect::Postgres => Ok(("~", false, postgres_regex(&pattern, options)?)),
        Dialect::Sqlite => match glob(&pattern, has('i'), has('m'), has('x')) {
            Some(glob) => Ok(("GLOB", has('i'), glob)),
            None => Err(bad(
                "$regex: regular expression too complex for the embedded store \
                 (supported: literals, ., .*, .+, [classes], \\d \\w \\s, ^ and $ at the ends).",
            )),
        },
    }
}

/// Replaces `\Q…\E` quoting with an escaped literal.
fn unquote(pattern: &str, extended: bool) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if let Some(quoted) = rest.strip_prefix("\\Q") {
            let end = quoted.find("\\E").unwrap_or(quoted.len());
            let literal = regex::escape(&quoted[..end]);
            out.push_str(&if extended {
                literal.replace(' ', "\\ ")
            } else {
                literal
            });
            rest = quoted.get(end + 2..).unwrap_or("");
        } else if c == '\\' {
            let n = 1 + rest[1..].chars().next().map_or(0, char::len_utf8);
            out.push_str(&rest[..n]);
            rest = &rest[n..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// A (validated) Rust regex as a Postgres ARE with the options embedded.
fn postgres_regex(pattern: &str, options: &str) -> Result<String> {
    let has = |f: char| options.contains(f);
    let newline = match (has('m'), has('s')) {
        (false, false) => 'p',
        (false, true) => 's',
        (true, false) => 'n',
        (true, true) => 'w',
    };
    let mut out = format!(
        "(?{}{newline}{})",
        if has('i') { "i" } else { "" },
        if has('x') { "x" } else { "" }
    );
    let unsupported = || bad("$regex uses syntax the database does not support.");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c == '(' && chars.get(i) == Some(&'?') && chars.get(i + 1) != Some(&':') {
            return Err(unsupported());
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.get(i).copied().unwrap_or('\\');
        i += 1;
        match e {
            'b' if chars.get(i) == Some(&'{') => return Err(unsupported()),
            'b' => out.push_str("\\y"),
            'B' => out.push_str("\\Y"),
            'z' => out.push_str("\\Z"),
            '<' => out.push_str("\\m"),
            '>' => out.push_str("\\M"),
            'p' | 'P' => return Err(unsupported()),
            'x' | 'u' | 'U' => {
                let (digits, used) = match chars.get(i) {
                    Some('{') => {
                        let close = chars[i..]
                            .iter()
                            .position(|&c| c == '}')
                            .ok_or_else(unsupported)?;
                        (
                            chars[i + 1..i + close].iter().collect::<String>(),
                            close + 1,
                        )
                    }
                    _ => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        (chars[i..(i + n).min(chars.len())].iter().collect(), n)
                    }
                };
                let value = u32::from_str_radix(&digits, 16).map_err(|_| unsupported())?;
                out.push_str(&format!("\\U{value:08X}"));
                i += used;
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// A (validated) regex as a SQLite GLOB pattern, or `None` when GLOB cannot express it.
/// With `lower`, the pattern is ASCII-lowercased for `lower(x) GLOB pattern`.
fn glob(pattern: &str, lower: bool, multi_line: bool, extended: bool) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut end = chars.len();
    let start_anchor = chars.first() == Some(&'^');
    let escaped = |at: usize| chars[..at].iter().rev().take_while(|&&c| c == '\\').count() % 2 == 1;
    let end_anchor = end > usize::from(start_anchor) && chars[end - 1] == '$' && !escaped(end - 1);
    if end_anchor {
        end -= 1;
    }
    if multi_line && (start_anchor || end_anchor) {
        return None;
    }
    let mut out = String::from(if start_anchor { "" } else { "*" });
    let mut i = usize::from(start_anchor);
    while i < end {
        let c = chars[i];
        i += 1;
        let atom = match c {
            c if extended && c.is_whitespace() => continue,
            '#' if extended => {
                while i < end && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '.' => "?".to_owned(),
            '[' => glob_class(&chars, &mut i, end, lower)?,
            '\\' => {
                let e = *chars[..end].get(i)?;
                i += 1;
                match shorthand(e) {
                    Some(items) => class_text(false, &items, lower)?,
                    None => glob_literal(escape_char(e)?, lower)?,
                }
            }
            '^' | '$' | '(' | ')' | '|' | '*' | '+' | '?' | '{' => return None,
            c => glob_literal(c, lower)?,
        };
        let quantifier = chars[..end].get(i).copied();
        match quantifier {
            Some('*' | '+') if atom == "?" => {
                out.push_str(if quantifier == Some('*') { "*" } else { "?*" });
                i += 1;
                if chars[..end].get(i) == Some(&'?') {
                    i += 1;
                }
            }
            Some('*' | '+' | '?' | '{') => return None,
            _ => out.push_str(&atom),
        }
    }
    if !end_anchor {
        out.push('*');
    }
    while out.contains("**") {
        out = out.replace("**", "*");
    }
    Some(out)
}

fn escape_char(e: char) -> Option<char> {
    match e {
        'n' => Some('\n'),
        't' => Some('\t'),
        'r' => Some('\r'),
        c if !c.is_ascii_alphanumeric() => Some(c),
        _ => None,
    }
}

fn shorthand(e: char) -> Option<Vec<(char, char)>> {
    match e {
        'd' => Some(vec![('0', '9')]),
        'w' => Some(vec![('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_')]),
        's' => Some(
            [' ', '\t', '\n', '\r', '\x0B', '\x0C']
                .iter()
                .map(|&c| (c, c))
                .collect(),
        ),
        _ => None,
    }
}

fn glob_literal(c: char, lower: bool) -> Option<String> {
    if lower && !c.is_ascii() && c.to_lowercase().ne(c.to_uppercase()) {
        return None; // SQLite's lower() folds ASCII only
    }
    Some(match c {
        '*' | '?' | '[' => format!("[{c}]"),
        c if lower => c.to_ascii_lowercase().to_string(),
        c => c.to_string(),
    })
}

/// `[...]` starting after the `[` at `chars[*i - 1]`; leaves `*i` after the closing `]`.
fn glob_class(chars: &[char], i: &mut usize, end: usize, lower: bool) -> Option<String> {
    let negate = chars.get(*i) == Some(&'^');
    if negate {
        *i += 1;
    }
    let mut items: Vec<(char, char)> = Vec::new();
    let mut first = true;
    loop {
        let c = *chars[..end].get(*i)?;
        *i += 1;
        if c == ']' && !first {
            break;
        }
        first = false;
        let single = match c {
            '\\' => {
                let e = *chars[..end].get(*i)?;
                *i += 1;
                if let Some(more) = shorthand(e) {
                    items.extend(more);
                    continue;
                }
                escape_char(e)?
            }
            '[' => return None, // nested classes
            '&' | '~' | '-' if chars.get(*i) == Some(&c) => return None, // set operations
            c => c,
        };
        let range_end = chars[..end]
            .get(*i + 1)
            .copied()
            .filter(|&n| !matches!(n, ']' | '\\' | '['));
        if let (Some('-'), Some(last)) = (chars.get(*i), range_end) {
            items.push((single, last));
            *i += 2;
        } else {
            items.push((single, single));
        }
    }
    class_text(negate, &items, lower)
}

/// A GLOB class: `]` first, `-` last, `^` never first.
fn class_text(negate: bool, items: &[(char, char)], lower: bool) -> Option<String> {
    let mut body = String::new();
    let (mut close, mut dash, mut caret) = (false, false, false);
    for &(a, b) in items {
        let (a, b) = if lower {
            let has_upper = (a..=b).any(|c| c.is_ascii_uppercase());
            let all_upper = a.is_ascii_uppercase() && b.is_ascii_uppercase();
            match (has_upper, all_upper) {
                (false, _) => (a, b),
                (true, true) => (a.to_ascii_lowercase(), b.to_ascii_lowercase()),
                (true, false) => return None,
            }
        } else {
            (a, b)
        };
        if lower
            && [a, b]
                .iter()
                .any(|c| !c.is_ascii() && c.to_lowercase().ne(c.to_uppercase()))
        {
            return None;
        }
        match (a, b) {
            (']', ']') => close = true,
            ('-', '-') => dash = true,
            ('^', '^') => caret = true,
            (a, b) if a == b => body.push(a),
            (a, b) if [a, b].iter().any(|c| matches!(c, ']' | '-' | '^')) => return None,
            (a, b) => body.push_str(&format!("{a}-{b}")),
        }
    }
    if caret && body.is_empty() && !close && !negate {
        // `^` right after `[` would negate: put it second, or use it as a plain character.
        return Some(if dash { "[-^]" } else { "^" }.into());
    }
    let mut out = String::from(if negate { "[^" } else { "[" });
    if close {
        out.push(']');
    }
    out.push_str(&body);
    if caret {
        out.push('^');
    }
    if dash {
        out.push('-');
    }
    out.push(']');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sqlx::{AnyPool, Executor, Row};

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("bad test JSON {text}: {e}"))
    }

    fn filter(d: Dialect, text: &str) -> SqlFragment {
        let f = conversation_filter(d, &parse(text), 2).unwrap_or_else(|e| panic!("{text}: {e}"));
        for n in 2..2 + f.binds.len() {
            assert!(
                f.sql.contains(&format!("${n}")),
                "{text}: ${n} unused in {}",
                f.sql
            );
        }
        f
    }

    /// The 400 message for a refused `where`.
    fn refusal(d: Dialect, where_: &Value) -> String {
        match conversation_filter(d, where_, 2) {
            Ok(f) => panic!("accepted {where_}: {}", f.sql),
            Err(e) => {
                assert_eq!(
                    e.status(),
                    axum::http::StatusCode::BAD_REQUEST,
                    "{where_}: {e}"
                );
                e.to_string()
            }
        }
    }

    fn text(s: &str) -> SqlValue {
        SqlValue::Text(s.to_owned())
    }

    #[test]
    fn member_equality_uses_the_index_friendly_form_of_each_dialect() {
        let lite = filter(Dialect::Sqlite, r#"{"m":"client-1"}"#);
        assert_eq!(
            lite.sql,
            "c.id IN (SELECT mm.conv_id FROM members mm WHERE mm.app_id = c.app_id AND mm.client_id = $2)"
        );
        assert_eq!(lite.binds, vec![text("client-1")]);
        let pg = filter(Dialect::Postgres, r#"{"m":"client-1"}"#);
        assert_eq!(
            pg.sql,
            "EXISTS (SELECT 1 FROM members mm WHERE mm.app_id = c.app_id AND mm.conv_id = c.id AND mm.client_id = $2)"
        );
    }

    #[test]
    fn columns_flags_and_times() {
        let f = filter(
            Dialect::Sqlite,
            r#"{"name":"x","c":{"$ne":"y"},"tr":false}"#,
        );
        assert_eq!(
            f.sql,
            "((c.creator = $2) IS NOT TRUE AND c.name = $3 AND NOT (c.kind = 1))"
        );
        assert_eq!(f.binds, vec![text("y"), text("x")]);
        let f = filter(
            Dialect::Postgres,
            r#"{"createdAt":{"$gte":{"__type":"Date","iso":"2015-06-21T18:02:52.249Z"},"$lt":1434909772250}}"#,
        );
        assert_eq!(f.sql, "(c.created_at >= $2 AND c.created_at < $3)");
        assert_eq!(
            f.binds,
            vec![SqlValue::Int(1434909772249), SqlValue::Int(1434909772250)]
        );
        let f = filter(
            Dialect::Postgres,
            r#"{"name":{"$gt":"a"},"sys":{"$exists":false},"unique":true}"#,
        );
        assert_eq!(
            f.sql,
            "(c.name COLLATE \"C\" > $2 AND ((c.kind = 2)) IS NOT TRUE AND (c.is_unique = 1))"
        );
        let f = filter(
            Dialect::Sqlite,
            r#"{"objectId":{"$in":["a","b"]},"lm":{"$exists":true}}"#,
        );
        assert_eq!(
            f.sql,
            "(c.last_message_at IS NOT NULL AND c.id IN ($2, $3))"
        );
        assert_eq!(
            filter(Dialect::Sqlite, r#"{"uniqueId":{"$in":[]}}"#).sql,
            "1=0"
        );
        assert_eq!(filter(Dialect::Sqlite, "{}").sql, "1=1");
        assert_eq!(filter(Dialect::Sqlite, "[]").sql, "1=1");
    }

    #[test]
    fn member_operators() {
        let f = filter(Dialect::Sqlite, r#"{"m":{"$all":["a","b"],"$size":2}}"#);
        assert!(
            f.sql.contains("mm.client_id = $2") && f.sql.contains("mm.client_id = $3"),
            "{}",
            f.sql
        );
        assert!(f.sql.ends_with("c.member_count = $4)"), "{}", f.sql);
        assert_eq!(f.binds, vec![text("a"), text("b"), SqlValue::Int(2)]);
        let f = filter(Dialect::Sqlite, r#"{"m":{"$nin":["a","b"]}}"#);
        assert!(
            f.sql.contains("mm.client_id IN ($2, $3))) IS NOT TRUE"),
            "{}",
            f.sql
        );
        assert_eq!(
            filter(Dialect::Sqlite, r#"{"m":{"$exists":true}}"#).sql,
            "c.kind IN (0, 3)"
        );
        assert_eq!(filter(Dialect::Sqlite, r#"{"m":{"$all":[]}}"#).sql, "1=1");
        let f = filter(
            Dialect::Sqlite,
            r#"{"m":{"$all":["a","b","c","d","e","a"]}}"#,
        );
        assert_eq!(
            f.sql,
            "(c.id IN (SELECT mm.conv_id FROM members mm WHERE mm.app_id = c.app_id AND mm.client_id = $2) \
             AND (SELECT COUNT(*) FROM members mm WHERE mm.app_id = c.app_id AND mm.conv_id = c.id \
             AND mm.client_id IN ($2, $3, $4, $5, $6)) = $7)"
        );
        assert_eq!(f.binds.last(), Some(&SqlValue::Int(5)));
        let ands: Vec<Value> = (0..10).map(|i| json!({ "m": format!("u{i}") })).collect();
        let f =
            conversation_filter(Dialect::Postgres, &json!({ "$and": ands }), 2).unwrap_or_default();
        assert_eq!(f.sql.matches("IS TRUE").count(), 2, "{}", f.sql);
        let f = filter(Dialect::Postgres, r#"{"mu":{"$size":1}}"#);
        assert!(
            f.sql.starts_with("(SELECT COUNT(*) FROM mutes mm"),
            "{}",
            f.sql
        );
    }

    #[test]
    fn custom_fields_are_typed_json_paths() {
        let f = filter(Dialect::Sqlite, r#"{"attr.color":"red"}"#);
        assert_eq!(
            f.sql,
            "((json_type(c.attrs, '$.\"attr\".\"color\"') = 'text' AND json_extract(c.attrs, '$.\"attr\".\"color\"') = $2) \
             OR (json_type(c.attrs, '$.\"attr\".\"color\"') = 'array' AND EXISTS (SELECT 1 FROM json_each(c.attrs, '$.\"attr\".\"color\"') AS je \
             WHERE (json_type(c.attrs, je.fullkey) = 'text' AND json_extract(c.attrs, je.fullkey) = $2))))"
        );
        let f = filter(Dialect::Postgres, r#"{"level":{"$gt":5}}"#);
        assert!(
            f.sql
                .contains("jsonb_typeof(((c.attrs::jsonb) -> 'level')) = 'number'"),
            "{}",
            f.sql
        );
        assert!(
            f.sql.contains("jsonb_array_elements(CASE WHEN"),
            "{}",
            f.sql
        );
        assert_eq!(f.binds, vec![SqlValue::Int(5)]);
        let f = filter(Dialect::Sqlite, r#"{"a":{"$size":3}}"#);
        assert!(
            f.sql.contains("json_array_length(c.attrs, '$.\"a\"') = $2"),
            "{}",
            f.sql
        );
        let f = filter(Dialect::Sqlite, r#"{"a":{"$exists":false}}"#);
        assert_eq!(
            f.sql,
            "(json_type(c.attrs, '$.\"a\"') IS NOT NULL) IS NOT TRUE"
        );
        let f = filter(
            Dialect::Sqlite,
            r#"{"d":{"$lt":{"__type":"Date","iso":"2020-01-01T00:00:00.000Z"}}}"#,
        );
        assert!(
            f.sql
                .contains("json_extract(c.attrs, '$.\"d\".\"iso\"') < $2"),
            "{}",
            f.sql
        );
        assert!(f.sql.contains("(je.fullkey || '.\"iso\"')"), "{}", f.sql);
        assert_eq!(f.binds, vec![text("2020-01-01T00:00:00.000Z")]);
        let f = filter(Dialect::Postgres, r#"{"o":{"k":[1]}}"#);
        assert!(
            f.sql
                .contains("((c.attrs::jsonb) -> 'o') = CAST($2 AS jsonb)"),
            "{}",
            f.sql
        );
        assert_eq!(f.binds, vec![text(r#"{"k":[1]}"#)]);
        let f = filter(Dialect::Postgres, r#"{"$or":[{"a":true},{"b":null}]}"#);
        assert!(
            f.sql.contains("((c.attrs::jsonb) -> 'a') = 'true'::jsonb"),
            "{}",
            f.sql
        );
        assert!(
            f.sql
                .contains("jsonb_typeof(((c.attrs::jsonb) -> 'b')) = 'null'"),
            "{}",
            f.sql
        );
        assert!(
            f.sql
                .contains(" OR (((c.attrs::jsonb) -> 'b') IS NOT NULL) IS NOT TRUE"),
            "{}",
            f.sql
        );
    }

    #[test]
    fn regex_on_each_dialect() {
        let f = filter(
            Dialect::Postgres,
            r#"{"name":{"$regex":"^\\Qa.b\\E","$options":"i"}}"#,
        );
        assert_eq!(f.sql, "c.name ~ $2");
        assert_eq!(f.binds, vec![text("(?ip)^a\\.b")]);
        let f = filter(
            Dialect::Sqlite,
            r#"{"name":{"$regex":"^\\Qa.b\\E","$options":"i"}}"#,
        );
        assert_eq!(f.sql, "lower(c.name) GLOB $2");
        assert_eq!(f.binds, vec![text("a.b*")]);
        let f = filter(Dialect::Sqlite, r#"{"name":{"$regex":"\\QA*\\E$"}}"#);
        assert_eq!(
            (f.sql.as_str(), &f.binds[..]),
            ("c.name GLOB $2", &[text("*A[*]")][..])
        );
    }

    #[test]
    fn glob_translation() {
        let g = |p: &str| glob(&unquote(p, false), false, false, false);
        assert_eq!(g("^abc").as_deref(), Some("abc*"));
        assert_eq!(g("abc$").as_deref(), Some("*abc"));
        assert_eq!(g("abc").as_deref(), Some("*abc*"));
        assert_eq!(g("").as_deref(), Some("*"));
        assert_eq!(g("^$").as_deref(), Some(""));
        assert_eq!(g("^a.*b.+c.d$").as_deref(), Some("a*b?*c?d"));
        assert_eq!(g("\\Q*?[x]\\E").as_deref(), Some("*[*][?][[]x]*"));
        assert_eq!(g("h[ae]llo\\d\\.").as_deref(), Some("*h[ae]llo[0-9].*"));
        assert_eq!(g("[^a-z]$").as_deref(), Some("*[^a-z]"));
        assert_eq!(g("[]a^-]").as_deref(), Some("*[]a^-]*"));
        assert_eq!(g("[\\^]").as_deref(), Some("*^*"));
        assert_eq!(g("a\\$").as_deref(), Some("*a$*"));
        for refused in [
            "a|b",
            "a+",
            "(ab)",
            "a{2}",
            "x^",
            "\\bx",
            "[[:alpha:]]",
            "a?",
            ".?",
        ] {
            assert_eq!(g(refused), None, "{refused}");
        }
        assert_eq!(
            glob("^Ab[A-Z]", true, false, false).as_deref(),
            Some("ab[a-z]*")
        );
        assert_eq!(glob("[A-z]", true, false, false), None);
        assert_eq!(glob("É", true, false, false), None);
        assert_eq!(glob("^a", false, true, false), None);
        assert_eq!(
            glob("a b # comment\n c", false, false, true).as_deref(),
            Some("*abc*")
        );
        assert_eq!(unquote("\\Qa b\\E", true), "a\\ b");
        assert_eq!(unquote("x\\\\Qy", false), "x\\\\Qy");
    }

    #[test]
    fn postgres_regex_translation() {
        let pg = |p: &str, o: &str| postgres_regex(p, o).ok();
        assert_eq!(pg("\\bfoo\\z", "").as_deref(), Some("(?p)\\yfoo\\Z"));
        assert_eq!(pg("a.b", "imsx").as_deref(), Some("(?iwx)a.b"));
        assert_eq!(pg("a", "m").as_deref(), Some("(?n)a"));
        assert_eq!(pg("a", "s").as_deref(), Some("(?s)a"));
        assert_eq!(
            pg("\\x{41}\\x42\\u0043", "").as_deref(),
            Some("(?p)\\U00000041\\U00000042\\U00000043")
        );
        assert_eq!(pg("(?:a)", "").as_deref(), Some("(?p)(?:a)"));
        assert_eq!(pg("(?i)a", ""), None);
        assert_eq!(pg("\\pL", ""), None);
    }

    #[test]
    fn hostile_and_unsupported_input_is_refused_with_400() {
        let mut deep = json!({"a": 1});
        for _ in 0..16 {
            deep = json!({ "$and": [deep] });
        }
        let mut deep_value = json!(1);
        for _ in 0..17 {
            deep_value = json!([deep_value]);
        }
        let long: Vec<i64> = (0..1001).collect();
        let cases = [
            (json!({"loc": {"$nearSphere": {}}}), "$nearSphere"),
            (json!({"a": {"$select": {}}}), "$select"),
            (json!({"a": {"$inQuery": {}}}), "$inQuery"),
            (json!({"$relatedTo": {}}), "$relatedTo"),
            (json!({"a": {"$foo": 1}}), "$foo"),
            (json!({"$nor": [{"a": 1}]}), "$nor"),
            (deep, "nested"),
            (json!({ "a": deep_value }), "nested"),
            (json!({"a": {"$in": long}}), "at most"),
            (json!({"a": {"$nin": 1}}), "array"),
            (json!({"m": {"$all": "x"}}), "array"),
            (json!({"a": {"$size": "2"}}), "$size"),
            (json!({"a": {"$size": -1}}), "$size"),
            (json!({"a": {"$exists": "yes"}}), "$exists"),
            (json!({"a": {"$regex": "a".repeat(1001)}}), "longer"),
            (json!({"a": {"$regex": "("}}), "Invalid regular"),
            (json!({"a": {"$regex": 5}}), "$regex"),
            (json!({"a": {"$regex": "a", "$options": "g"}}), "flag"),
            (json!({"a": {"$options": "i"}}), "$options"),
            (json!({"$or": []}), "$or"),
            (json!({"$or": {}}), "$or"),
            (json!({"$and": [1]}), "$and"),
            (json!({"a-b": 1}), "key"),
            (json!({"a..b": 1}), "key"),
            (json!({"": 1}), "key"),
            (json!({"a": {"$gt": true}}), "$gt"),
            (json!({"a": {"$lte": [1]}}), "$lte"),
            (json!({"a": {"$gt": 1, "b": 2}}), "mix"),
            (json!({"createdAt": "yesterday"}), "date"),
            (json!({"a": {"__type": "Date", "iso": "nope"}}), "Date"),
            (json!("name"), "object"),
        ];
        for (where_, needle) in cases {
            let message = refusal(Dialect::Sqlite, &where_);
            assert!(message.contains(needle), "{where_}: {message}");
            refusal(Dialect::Postgres, &where_);
        }
        let complex = json!({"name": {"$regex": "a|b"}});
        assert!(refusal(Dialect::Sqlite, &complex).contains("too complex"));
        assert!(conversation_filter(Dialect::Postgres, &complex, 2).is_ok());
        refusal(Dialect::Postgres, &json!({"name": {"$regex": "(?i)a"}}));
        let many: Vec<Value> = (0..20)
            .map(|_| json!({"a": {"$in": (0..1000).collect::<Vec<_>>()}}))
            .collect();
        assert!(refusal(Dialect::Sqlite, &json!({ "$or": many })).contains("too complex"));
    }

    #[test]
    fn order_clauses() {
        assert_eq!(
            conversation_order(Dialect::Sqlite, "").ok().as_deref(),
            Some("c.created_at DESC, c.id DESC")
        );
        assert_eq!(
            conversation_order(Dialect::Sqlite, "createdAt, -lm,name,-attr.x")
                .ok()
                .as_deref(),
            Some(
                "c.created_at ASC, c.last_message_at DESC NULLS LAST, c.name ASC NULLS FIRST, \
                 json_extract(c.attrs, '$.\"attr\".\"x\"') DESC NULLS LAST, c.id ASC"
            )
        );
        let pg = conversation_order(Dialect::Postgres, "-name,x").unwrap_or_default();
        assert!(
            pg.starts_with("c.name COLLATE \"C\" DESC NULLS LAST, (CASE jsonb_typeof"),
            "{pg}"
        );
        assert!(
            pg.ends_with(
                "(((c.attrs::jsonb) -> 'x') #>> '{}') COLLATE \"C\" ASC NULLS FIRST, c.id ASC"
            ),
            "{pg}"
        );
        for bad in ["a;drop", "-", "m", "x.", "a b", &"k,".repeat(17)] {
            assert!(conversation_order(Dialect::Sqlite, bad).is_err(), "{bad}");
        }
    }

    // ---- against real databases -----------------------------------------------------------

    const FIXTURE: &str = r#"
        INSERT INTO conversations (app_id, id, kind, name, creator, is_unique, unique_id, attrs, member_count,
            last_message_at, created_at, updated_at) VALUES
        ('app', 'c1', 0, 'Alpha', 'Tom', 1, 'u1', '{"attr":{"color":"red","size":3,"tags":["x","y"],"when":{"__type":"Date","iso":"2020-01-01T00:00:00.000Z"}},"level":5,"title":"Hello World"}', 2, 3000, 1000, 9000),
        ('app', 'c2', 0, 'beta', 'Jerry', 0, NULL, '{"attr":{"color":"blue","size":10,"tags":["y","z"]},"level":"5","flag":true,"title":"hello there"}', 2, NULL, 2000, 2500),
        ('app', 'c3', 1, 'Gamma room', 'Tom', 0, NULL, '{"attr":{"color":null,"size":2.5},"level":7,"flag":false}', 0, 9000, 3000, 3500),
        ('app', 'c4', 2, 'Sys%_news', NULL, 0, NULL, '{"level":[5,6],"title":"a*b?[c]","dates":[{"__type":"Date","iso":"2021-05-05T00:00:00.000Z"}]}', 0, NULL, 4000, 4500),
        ('app', 'c5', 0, NULL, 'Spike', 0, NULL, '{"attr":{"tags":[]},"nested":{"a":{"b":"deep"}},"title":"Line1\nLine2"}', 3, 1000, 5000, 5500),
        ('app', 'c6', 0, 'ALPHA', 'Tyke', 0, NULL, '{"attr":{"color":"Red"},"arr":[[1,3]],"obj":{"k":1},"score":1.5}', 1, NULL, 6000, 6500),
        ('other', 'o1', 0, 'Alpha', 'Tom', 0, NULL, '{"attr":{"color":"red"}}', 1, 100, 100, 100);
        INSERT INTO members (app_id, conv_id, client_id, joined_at) VALUES
        ('app', 'c1', 'Tom', 0), ('app', 'c1', 'Jerry', 0), ('app', 'c2', 'Jerry', 0), ('app', 'c2', 'Spike', 0),
        ('app', 'c5', 'Tom', 0), ('app', 'c5', 'Spike', 0), ('app', 'c5', 'Tyke', 0), ('app', 'c6', 'Tom', 0),
        ('other', 'o1', 'Tom', 0);
        INSERT INTO mutes (app_id, conv_id, client_id) VALUES
        ('app', 'c1', 'Jerry'), ('app', 'c5', 'Tom'), ('app', 'c5', 'Spike'), ('other', 'o1', 'Tom');
    "#;

    /// `where` → matching ids in creation order.
    const CASES: &[(&str, &str)] = &[
        ("{}", "c1 c2 c3 c4 c5 c6"),
        ("[]", "c1 c2 c3 c4 c5 c6"),
        (r#"{"objectId":"c1"}"#, "c1"),
        (r#"{"objectId":{"$in":[]}}"#, ""),
        (r#"{"name":"Alpha"}"#, "c1"),
        (r#"{"name":{"$ne":"Alpha"}}"#, "c2 c3 c4 c5 c6"),
        (r#"{"name":{"$in":["beta","ALPHA"]}}"#, "c2 c6"),
        (r#"{"name":{"$nin":["beta"]}}"#, "c1 c3 c4 c5 c6"),
        (r#"{"name":{"$exists":false}}"#, "c5"),
        (r#"{"name":null}"#, "c5"),
        (r#"{"name":{"$gt":"Alpha"}}"#, "c2 c3 c4"),
        (r#"{"name":{"$gte":"A","$lt":"B"}}"#, "c1 c6"),
        (r#"{"name":5}"#, ""),
        (r#"{"name":{"$size":1}}"#, ""),
        (r#"{"tr":{"$regex":"x"}}"#, ""),
        (r#"{"c":"Tom"}"#, "c1 c3"),
        (r#"{"c":{"$gte":"Tom"}}"#, "c1 c3 c6"),
        (r#"{"uniqueId":"u1"}"#, "c1"),
        (r#"{"tr":true}"#, "c3"),
        (r#"{"tr":false}"#, "c1 c2 c4 c5 c6"),
        (r#"{"tr":{"$ne":true}}"#, "c1 c2 c4 c5 c6"),
        (r#"{"tr":{"$in":[true]}}"#, "c3"),
        (r#"{"sys":{"$exists":false}}"#, "c1 c2 c3 c5 c6"),
        (r#"{"sys":true}"#, "c4"),
        (r#"{"unique":true}"#, "c1"),
        (
            r#"{"createdAt":{"$gte":{"__type":"Date","iso":"1970-01-01T00:00:03.000Z"}}}"#,
            "c3 c4 c5 c6",
        ),
        (r#"{"createdAt":{"$lt":3000}}"#, "c1 c2"),
        (r#"{"createdAt":{"$lt":3000.5}}"#, "c1 c2 c3"),
        (
            r#"{"createdAt":{"$gt":"1970-01-01T00:00:04.000Z"}}"#,
            "c5 c6",
        ),
        (
            r#"{"updatedAt":{"$in":[2500,{"__type":"Date","iso":"1970-01-01T00:00:09.000Z"}]}}"#,
            "c1 c2",
        ),
        (r#"{"lm":{"$exists":true}}"#, "c1 c3 c5"),
        (r#"{"lm":null}"#, "c2 c4 c6"),
        (r#"{"m":"Tom"}"#, "c1 c5 c6"),
        (r#"{"m":{"$all":["Tom","Spike"]}}"#, "c5"),
        (r#"{"m":{"$all":[]}}"#, "c1 c2 c3 c4 c5 c6"),
        (r#"{"m":{"$in":["Spike","Nobody"]}}"#, "c2 c5"),
        (r#"{"m":{"$nin":["Tom"]}}"#, "c2 c3 c4"),
        (r#"{"m":{"$ne":"Tom"}}"#, "c2 c3 c4"),
        (r#"{"m":{"$size":2}}"#, "c1 c2"),
        (r#"{"m":{"$exists":true}}"#, "c1 c2 c5 c6"),
        (r#"{"m":{"$regex":"^Ty"}}"#, "c5"),
        (r#"{"m":{"$regex":"y"}}"#, "c1 c2 c5"),
        (r#"{"m":["Jerry","Tom"]}"#, "c1"),
        (r#"{"mu":"Jerry"}"#, "c1"),
        (r#"{"mu":{"$size":2}}"#, "c5"),
        (r#"{"mu":{"$exists":false}}"#, "c2 c3 c4 c6"),
        (r#"{"mu":{"$all":["Tom","Spike"]}}"#, "c5"),
        (r#"{"attr.color":"red"}"#, "c1"),
        (
            r#"{"attr.color":{"$regex":"^red$","$options":"i"}}"#,
            "c1 c6",
        ),
        (r#"{"attr.color":null}"#, "c3 c4 c5"),
        (r#"{"attr.color":{"$exists":true}}"#, "c1 c2 c3 c6"),
        (r#"{"attr":{"$exists":false}}"#, "c4"),
        (r#"{"attr.size":{"$gt":2}}"#, "c1 c2 c3"),
        (r#"{"attr.size":{"$gte":3,"$lt":10}}"#, "c1"),
        (r#"{"attr.size":2.5}"#, "c3"),
        (r#"{"attr.size":3}"#, "c1"),
        (r#"{"attr.size":3.0}"#, "c1"),
        (r#"{"attr.size":{"$in":[2.5,10]}}"#, "c2 c3"),
        (r#"{"score":{"$lte":1.5}}"#, "c6"),
        (r#"{"level":5}"#, "c1 c4"),
        (r#"{"level":"5"}"#, "c2"),
        (r#"{"level":{"$in":[7,"5"]}}"#, "c2 c3"),
        (r#"{"level":{"$nin":[5]}}"#, "c2 c3 c5 c6"),
        (r#"{"level":{"$size":2}}"#, "c4"),
        (r#"{"level":{"$all":[5,6]}}"#, "c4"),
        (r#"{"level":{"$gt":5}}"#, "c3 c4"),
        (r#"{"attr.tags":"y"}"#, "c1 c2"),
        (r#"{"attr.tags":{"$all":["x","y"]}}"#, "c1"),
        (r#"{"attr.tags":{"$size":0}}"#, "c5"),
        (r#"{"attr.tags":["x","y"]}"#, "c1"),
        (r#"{"attr.tags":{"$regex":"^z"}}"#, "c2"),
        (r#"{"flag":true}"#, "c2"),
        (r#"{"flag":false}"#, "c3"),
        (r#"{"flag":{"$ne":true}}"#, "c1 c3 c4 c5 c6"),
        (
            r#"{"attr.when":{"$gt":{"__type":"Date","iso":"2019-01-01T00:00:00.000Z"}}}"#,
            "c1",
        ),
        (
            r#"{"attr.when":{"__type":"Date","iso":"2020-01-01T00:00:00.000Z"}}"#,
            "c1",
        ),
        (
            r#"{"dates":{"$lt":{"__type":"Date","iso":"2022-01-01T00:00:00.000Z"}}}"#,
            "c4",
        ),
        (r#"{"nested.a.b":"deep"}"#, "c5"),
        (r#"{"obj":{"k":1}}"#, "c6"),
        (r#"{"arr":[1,3]}"#, "c6"),
        (r#"{"title":{"$regex":"^Hello"}}"#, "c1"),
        (r#"{"title":{"$regex":"^hello","$options":"i"}}"#, "c1 c2"),
        (r#"{"title":{"$regex":"\\QWorld\\E$"}}"#, "c1"),
        (r#"{"title":{"$regex":"\\Qa*b?[c]\\E"}}"#, "c4"),
        (r#"{"title":{"$regex":"o W"}}"#, "c1"),
        (r#"{"title":{"$regex":"h[ae]llo","$options":"i"}}"#, "c1 c2"),
        (r#"{"title":{"$regex":"H.llo\\sW"}}"#, "c1"),
        (
            r#"{"title":{"$regex":"^Line1.Line2$","$options":"s"}}"#,
            "c5",
        ),
        (r#"{"title":{"$regex":"[^a-z ]$"}}"#, "c4 c5"),
        (r#"{"title":{"$regex":"^.+ .+$"}}"#, "c1 c2"),
        (r#"{"name":{"$regex":"%_"}}"#, "c4"),
        (r#"{"name":{"$regex":"^a","$options":"i"}}"#, "c1 c6"),
        (r#"{"$or":[{"name":"Alpha"},{"m":"Spike"}]}"#, "c1 c2 c5"),
        (
            r#"{"$and":[{"m":"Tom"},{"attr.color":{"$exists":true}}]}"#,
            "c1 c6",
        ),
        (r#"[{"m":"Tom"},{"c":"Tom"}]"#, "c1"),
        (
            r#"{"$or":[{"$and":[{"tr":true},{"level":7}]},{"sys":true}]}"#,
            "c3 c4",
        ),
        (
            r#"{"m":"Tom","$or":[{"name":{"$regex":"^A"}},{"lm":{"$gt":0}}]}"#,
            "c1 c5 c6",
        ),
    ];

    /// `order` (with `where` = {}) → ids in that order.
    const ORDERS: &[(&str, &str)] = &[
        ("", "c6 c5 c4 c3 c2 c1"),
        ("name", "c5 c6 c1 c3 c4 c2"),
        ("-name", "c2 c4 c3 c1 c6 c5"),
        ("-lm", "c3 c1 c5 c2 c4 c6"),
        ("lm", "c2 c4 c6 c5 c1 c3"),
        ("-updatedAt", "c1 c6 c5 c4 c3 c2"),
        ("tr,-createdAt", "c6 c5 c4 c2 c1 c3"),
        ("attr.size", "c4 c5 c6 c3 c1 c2"),
        ("-attr.size", "c2 c1 c3 c4 c5 c6"),
        ("-level", "c4 c2 c3 c1 c5 c6"),
        ("attr.color", "c3 c4 c5 c6 c2 c1"),
    ];

    /// Patterns that pass validation must never make Postgres fail (a 500).
    const REGEX_SMOKE: &[&str] = &[
        "\\d+",
        "[[:alpha:]]+",
        "a{2,3}",
        "(?:ab)+",
        "a*?",
        "\\w\\s\\S\\W\\D",
        "[\\d]",
        "[\\w-]",
        "\\.\\/\\-",
        "[^\\]]",
        "\\n\\t",
        "\\u00e9",
        "é",
        "\\x41",
        "(a)(b)",
        "a|b",
        "^$",
        "\\Ax\\z",
        "\\bword\\b",
        "\\Q(?i)\\E",
        "[a-z]+?",
        "(?:)",
        "x{0}",
        ".",
        "\\$\\^",
        "[é-ü]",
    ];

    /// Patterns Postgres runs but GLOB cannot express.
    const PG_ONLY: &[(&str, &str)] = &[
        (r#"{"title":{"$regex":"l+o"}}"#, "c1 c2"),
        (r#"{"title":{"$regex":"^(Hello|a)"}}"#, "c1 c4"),
        (r#"{"title":{"$regex":"^Line2","$options":"m"}}"#, "c5"),
        (r#"{"title":{"$regex":"^Line1.Line2$"}}"#, ""),
        (r#"{"title":{"$regex":"\\bthere\\b"}}"#, "c2"),
    ];

    /// Ids matching `where_` in `order`, through the `Any` driver the store itself uses.
    async fn ids(pool: &AnyPool, d: Dialect, where_: &str, order: &str) -> Result<String, String> {
        let fragment = conversation_filter(d, &parse(where_), 2).map_err(|e| e.to_string())?;
        let order = conversation_order(d, order).map_err(|e| e.to_string())?;
        let sql = format!(
            "SELECT c.id FROM conversations c WHERE c.app_id = $1 AND ({}) ORDER BY {order}",
            fragment.sql
        );
        let rows = bind(sqlx::query(&sql).bind("app"), &fragment.binds)
            .fetch_all(pool)
            .await
            .map_err(|e| format!("{e} in {}", &sql[..sql.len().min(300)]))?;
        let ids: Vec<String> = rows.iter().map(|r| r.get::<String, _>("id")).collect();
        Ok(ids.join(" "))
    }

    fn bind<'q>(
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        binds: &'q [SqlValue],
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for value in binds {
            q = match value {
                SqlValue::Null => q.bind(Option::<String>::None),
                SqlValue::Int(v) => q.bind(*v),
                SqlValue::Float(v) => q.bind(*v),
                SqlValue::Text(v) => q.bind(v.as_str()),
            };
        }
        q
    }

    /// Large but legal queries: both databases must run them (SQLite caps expression depth,
    /// Postgres must not drown in semi-joins).
    fn stress_cases() -> Vec<String> {
        let mut nested = json!({"attr.color": "red"});
        for i in 0..15 {
            let op = if i % 2 == 0 { "$or" } else { "$and" };
            nested = json!({ op: [nested, {"level": i, "m": "Tom"}] });
        }
        let words: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
        let flags: Vec<bool> = (0..1000).map(|i| i % 2 == 0).collect();
        let ors: Vec<Value> = (0..1000).map(|i| json!({ "level": i })).collect();
        let ands: Vec<Value> = (0..1000).map(|i| json!({ "m": format!("w{i}") })).collect();
        [
            nested,
            json!({"attr.tags": {"$all": words}}),
            json!({"m": {"$all": words}, "name": {"$nin": words}}),
            json!({"tr": {"$in": flags}}),
            json!({ "$or": ors }),
            json!({ "$and": ands }),
            json!({"m": words, "mu": {"$all": ["a", "b", "c", "d", "e"]}}),
            json!({"level": {"$in": (0..1000).collect::<Vec<_>>()}}),
        ]
        .iter()
        .map(Value::to_string)
        .collect()
    }

    /// Runs every case against a database holding [`FIXTURE`]; returns the failures.
    async fn failures(pool: &AnyPool, d: Dialect) -> Vec<String> {
        let mut cases: Vec<(&str, &str, &str)> = CASES
            .iter()
            .map(|(w, ids)| (*w, "createdAt", *ids))
            .collect();
        cases.extend(ORDERS.iter().map(|(order, ids)| ("{}", *order, *ids)));
        if d == Dialect::Postgres {
            cases.extend(PG_ONLY.iter().map(|(w, ids)| (*w, "createdAt", *ids)));
        }
        let mut failures = Vec::new();
        for (where_, order, want) in cases {
            let got = ids(pool, d, where_, order).await;
            if got.as_deref() != Ok(want) {
                failures.push(format!(
                    "{where_} order {order:?}: want {want:?}, got {got:?}"
                ));
            }
        }
        let mut must_run = stress_cases();
        if d == Dialect::Postgres {
            for options in ["", "imsx"] {
                must_run.extend(REGEX_SMOKE.iter().map(|pattern| {
                    json!({"title": {"$regex": pattern, "$options": options}}).to_string()
                }));
            }
        }
        for where_ in must_run {
            if let Err(e) = ids(pool, d, &where_, "-lm").await {
                failures.push(format!("{}: {e}", &where_[..where_.len().min(80)]));
            }
        }
        failures
    }

    /// One connection: every case shares one statement cache, as on a busy server.
    async fn fixture_pool(url: &str, schema: &str) -> Result<AnyPool, String> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .map_err(|e| e.to_string())?;
        for script in [schema, FIXTURE] {
            sqlx::raw_sql(script)
                .execute(&pool)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(pool)
    }

    /// The plan of the hot path `{"m": "client-7"}` over app `big`, one line per row.
    async fn hot_path_plan(pool: &AnyPool, d: Dialect, bulk: &str) -> Result<String, String> {
        pool.execute(bulk).await.map_err(|e| e.to_string())?;
        let f = filter(d, r#"{"m":"client-7"}"#);
        let explain = if d == Dialect::Sqlite {
            "EXPLAIN QUERY PLAN"
        } else {
            "EXPLAIN"
        };
        let sql = format!(
            "{explain} SELECT c.id FROM conversations c WHERE c.app_id = $1 AND c.kind IN (0, 3) \
             AND ({}) ORDER BY {} LIMIT 10",
            f.sql,
            conversation_order(d, "").unwrap_or_default()
        );
        let rows = bind(sqlx::query(&sql).bind("big"), &f.binds)
            .fetch_all(pool)
            .await
            .map_err(|e| e.to_string())?;
        let column = if d == Dialect::Sqlite { 3 } else { 0 };
        let lines: Vec<String> = rows.iter().map(|r| r.get::<String, _>(column)).collect();
        Ok(lines.join("\n"))
    }

    #[tokio::test]
    async fn sqlite_matches_expected_ids() {
        let schema = include_str!("../../migrations/sqlite/0001_init.sql");
        let pool = fixture_pool("sqlite::memory:", schema)
            .await
            .expect("sqlite");
        let failures = failures(&pool, Dialect::Sqlite).await;
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
        for (where_, _) in &PG_ONLY[..3] {
            let message = refusal(Dialect::Sqlite, &parse(where_));
            assert!(message.contains("too complex"), "{where_}: {message}");
        }
        let bulk = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4999)
            INSERT INTO conversations (app_id, id, kind, attrs, member_count, created_at, updated_at)
                SELECT 'big', 'b' || i, 0, '{}', 1, i, i FROM n;
            INSERT INTO members (app_id, conv_id, client_id, joined_at)
                SELECT app_id, id, 'client-' || (created_at % 500), 0 FROM conversations
                WHERE app_id = 'big';
            ANALYZE;";
        let plan = hot_path_plan(&pool, Dialect::Sqlite, bulk)
            .await
            .expect("plan");
        // Driven by members_by_client, then one primary-key lookup per membership.
        assert!(plan.contains("members_by_client"), "{plan}");
        assert!(
            plan.contains("SEARCH c USING INDEX sqlite_autoindex_conversations_1"),
            "{plan}"
        );
    }

    #[tokio::test]
    async fn postgres_matches_the_same_ids() {
        let server = "postgres://postgres@127.0.0.1:5432";
        let admin = sqlx::PgPool::connect(&format!("{server}/postgres"))
            .await
            .expect("postgres");
        let name = format!("tidings_query_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create");
        let outcome = async {
            let schema = include_str!("../../migrations/postgres/0001_init.sql");
            let pool = fixture_pool(&format!("{server}/{name}"), schema).await?;
            let mut failures = failures(&pool, Dialect::Postgres).await;
            let bulk = "INSERT INTO conversations
                    (app_id, id, kind, attrs, member_count, created_at, updated_at)
                    SELECT 'big', 'b' || i, 0, '{}', 1, i, i FROM generate_series(0, 49999) i;
                INSERT INTO members (app_id, conv_id, client_id, joined_at)
                    SELECT app_id, id, 'client-' || (created_at % 500), 0 FROM conversations
                    WHERE app_id = 'big';
                ANALYZE;";
            let plan = hot_path_plan(&pool, Dialect::Postgres, bulk).await?;
            // A semi-join driven by members_by_client, not a per-row subplan.
            if !plan.contains("members_by_client") || plan.contains("SubPlan") {
                failures.push(format!("hot path plan:\n{plan}"));
            }
            pool.close().await;
            Ok::<_, String>(failures)
        }
        .await;
        let dropped = admin
            .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
            .await;
        let failures = outcome.expect("postgres fixture");
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
        dropped.expect("drop database");
    }
}
