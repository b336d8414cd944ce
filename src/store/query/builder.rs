//! The `where` walker: `$and`/`$or`, operator dispatch per field, and the operators on
//! columns, flags and times. JSON, member and regex tests live in their own modules.

use super::fields::{number, operand, target, time_value, Operand, Target};
use super::json::Elem;
use super::limits::{bad, list, too_deep, unsupported, MAX_BINDS, MAX_DEPTH};
use super::members::member_count;
use super::sql::{join, not, FALSE, TRUE};
use super::{Dialect, SqlValue};
use crate::error::Result;
use serde_json::{Map, Value};

pub(super) struct Builder {
    pub(super) dialect: Dialect,
    pub(super) first: usize,
    pub(super) binds: Vec<SqlValue>,
    pub(super) member_tests: std::cell::Cell<usize>,
}

impl Builder {
    pub(super) fn bind(&mut self, value: SqlValue) -> Result<String> {
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

    pub(super) fn object(&mut self, map: &Map<String, Value>, depth: usize) -> Result<String> {
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

    pub(super) fn clauses(&mut self, items: &[Value], sep: &str, depth: usize) -> Result<String> {
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

    pub(super) fn exists(&self, t: &Target, yes: bool) -> String {
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
}
