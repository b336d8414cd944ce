//! Custom fields: typed tests on JSON values inside `c.attrs`, on a field itself or on any
//! element of an array-valued field.

use super::builder::Builder;
use super::fields::{number, Operand, Target};
use super::sql::{collate, join, not, FALSE};
use super::{Dialect, SqlValue};
use crate::error::Result;

/// A test on one value: a text column, a JSON value in `attrs`, or an element of a JSON array.
pub(super) enum Elem {
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
pub(super) enum Node<'a> {
    Column(&'a str),
    /// `segs` inside `c.attrs`, or inside the current array element `je` when `elem`.
    Json {
        elem: bool,
        segs: &'a [String],
    },
}

impl Builder {
    pub(super) fn elem_eq(&mut self, v: &Operand) -> Result<Elem> {
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
    pub(super) fn wrap(&self, t: &Target, e: &Elem, absent: bool) -> String {
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
    pub(super) fn path(&self, elem: bool, segs: &[String]) -> String {
        json_path(self.dialect, elem, segs)
    }

    pub(super) fn present(&self, segs: &[String]) -> String {
        let p = self.path(false, segs);
        match self.dialect {
            Dialect::Sqlite => format!("json_type(c.attrs, {p}) IS NOT NULL"),
            Dialect::Postgres => format!("{p} IS NOT NULL"),
        }
    }
}

pub(super) fn json_path(dialect: Dialect, elem: bool, segs: &[String]) -> String {
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
            let base = if elem { "je.v" } else { "c.attrs" };
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
pub(super) fn json_is(dialect: Dialect, p: &str, kind: &str) -> String {
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
pub(super) fn json_order(dialect: Dialect, segs: &[String]) -> Vec<String> {
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
