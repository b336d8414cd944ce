//! SQL text helpers: constant truths, negation, balanced AND/OR trees, collation, and the
//! final renumbering of binds.

use super::{Dialect, SqlFragment, SqlValue};

pub(super) const TRUE: &str = "1=1";
pub(super) const FALSE: &str = "1=0";

pub(super) fn not(sql: &str) -> String {
    format!("({sql}) IS NOT TRUE")
}

/// Joins with AND/OR. Long lists are nested as a balanced tree: SQLite refuses expressions
/// deeper than 1000, and `a OR b OR …` is as deep as it is long.
pub(super) fn join(mut parts: Vec<String>, sep: &str, empty: &str) -> String {
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
pub(super) fn collate(dialect: Dialect, expr: &str, op: &str) -> String {
    match dialect {
        Dialect::Postgres if op != "=" => format!("{expr} COLLATE \"C\""),
        _ => expr.to_owned(),
    }
}

/// Drops the binds that the SQL never references (a test that cannot match renders as `1=0`)
/// and renumbers the rest. sqlx caches prepared statements by SQL text, so equal text must
/// mean an equal number of parameters; and `Float` binds are spelled with a CAST so that they
/// never share a statement with an `Int` in the same position.
pub(super) fn compact(sql: String, binds: Vec<SqlValue>, first: usize) -> SqlFragment {
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
