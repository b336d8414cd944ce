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
//! * Negations (`$ne`, `$nin`) are `(…) IS NOT TRUE`, so they also match absent fields.
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
    };
    let sql = match where_ {
        Value::Object(map) => b.object(map, 1)?,
        Value::Array(items) if items.is_empty() => TRUE.to_owned(),
        Value::Array(items) => b.clauses(items, " AND ", 1)?,
        Value::Null => TRUE.to_owned(),
        _ => return Err(bad("where must be a JSON object.")),
    };
    Ok(SqlFragment {
        sql,
        binds: b.binds,
    })
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

fn bad(message: impl Into<String>) -> Error {
    Error::invalid(message)
}

fn not(sql: &str) -> String {
    format!("({sql}) IS NOT TRUE")
}

fn join(parts: Vec<String>, sep: &str, empty: &str) -> String {
    match parts.len() {
        0 => empty.to_owned(),
        1 => parts.concat(),
        _ => format!("({})", parts.join(sep)),
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
}

impl Builder {
    fn bind(&mut self, value: SqlValue) -> Result<String> {
        if self.binds.len() >= MAX_BINDS {
            return Err(bad("Query too complex."));
        }
        self.binds.push(value);
        Ok(format!("${}", self.first + self.binds.len() - 1))
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
                "$all" => {
                    let all = list(op, arg)?
                        .iter()
                        .map(|v| self.eq(&t, v))
                        .collect::<Result<_>>()?;
                    join(all, " AND ", TRUE)
                }
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
                self.member_set(table, items)
            }
            _ => {
                let e = self.elem_eq(&v)?;
                Ok(self.wrap(t, &e, matches!(v, Operand::Null)))
            }
        }
    }

    fn one_of(&mut self, t: &Target, items: &[Value]) -> Result<String> {
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
                        "(json_type(c.attrs, {p}) = 'array' AND json_array_length(c.attrs, {p}) = {ph})"
                    ),
                    Dialect::Postgres => format!(
                        "jsonb_array_length(CASE WHEN jsonb_typeof({p}) = 'array' THEN {p} END) = {ph}"
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
                        "(json_type(c.attrs, {p}) = 'array' AND EXISTS (SELECT 1 FROM json_each(c.attrs, {p}) AS je WHERE {inner}))"
                    ),
                    Dialect::Postgres => format!(
                        "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({p}) = 'array' THEN {p} END) AS je(v) WHERE {inner})"
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
        let is = |kind: &str| json_is(d, &p, kind);
        match e {
            Elem::Text(op, ph) => format!("({} AND {} {op} {ph})", is("string"), collate(d, &text, op)),
            Elem::TextIn(phs) => format!("({} AND {text} IN ({}))", is("string"), phs.join(", ")),
            Elem::Num(op, ph) => format!("({} AND {num} {op} {ph})", is("number"), ),
            Elem::NumIn(phs) => format!("({} AND {num} IN ({}))", is("number"), phs.join(", ")),
            Elem::Bool(b) => is(if *b { "true" } else { "false" }),
            Elem::Null => is("null"),
            Elem::Date(op, ph) => {
                let iso: Vec<String> = segs.iter().cloned().chain(["iso".to_owned()]).collect();
                self.render(&Elem::Text(op, ph.clone()), &Node::Json { elem, segs: &iso })
            }
            Elem::Json(ph) => match d {
                Dialect::Sqlite => format!(
                    "(json_type(c.attrs, {p}) IN ('array', 'object') AND json_extract(c.attrs, {p}) = json({ph}))"
                ),
                Dialect::Postgres => format!("{p} = CAST({ph} AS jsonb)"),
            },
            Elem::Regex { op, lower, ph } => {
                let subject = if *lower { format!("lower({text})") } else { text };
                format!("({} AND {subject} {op} {ph})", is("string"))
            }
            Elem::Or(es) => join(es.iter().map(|e| self.render(e, node)).collect(), " OR ", FALSE),
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
    /// Postgres needs EXISTS to plan a semi-join.
    fn member_match(&self, table: &str, cond: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!(
                "c.id IN (SELECT mm.conv_id FROM {table} mm WHERE mm.app_id = c.app_id AND {cond})"
            ),
            Dialect::Postgres => format!(
                "EXISTS (SELECT 1 FROM {table} mm WHERE mm.app_id = c.app_id AND mm.conv_id = c.id AND {cond})"
            ),
        }
    }

    /// `{"m": [..]}`: exactly this set of members.
    fn member_set(&mut self, table: &str, items: &[Value]) -> Result<String> {
        let mut ids: Vec<&str> = Vec::new();
        for item in items {
            match item.as_str() {
                Some(id) if !ids.contains(&id) => ids.push(id),
                Some(_) => {}
                None => return Ok(FALSE.into()),
            }
        }
        let mut parts = Vec::new();
        for id in &ids {
            let ph = self.bind(SqlValue::Text((*id).to_owned()))?;
            parts.push(self.member_match(table, &format!("mm.client_id = {ph}")));
        }
        let ph = self.bind(SqlValue::Int(ids.len() as i64))?;
        parts.push(format!("{} = {ph}", member_count(table)));
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
