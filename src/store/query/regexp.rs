//! `$regex`: validation, `\Q…\E` unquoting, the SQLite form (the `regex` crate itself, as
//! the `REGEXP` function the store registers) and the Postgres ARE translation.

use super::builder::Builder;
use super::fields::Target;
use super::json::Elem;
use super::limits::{bad, MAX_REGEX_LEN};
use super::sql::FALSE;
use super::{Dialect, SqlValue};
use crate::error::Result;
use serde_json::Value;

impl Builder {
    pub(super) fn regex(
        &mut self,
        t: &Target,
        pattern: &Value,
        options: Option<&Value>,
    ) -> Result<String> {
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
}

/// Validates a `$regex` and returns (SQL operator, match on lower(x), bound pattern).
pub(super) fn regex_plan(
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
        // `x REGEXP p` runs the `regex` crate (sqlx's `regexp` feature): the pattern as
        // validated above, the options as inline flags.
        Dialect::Sqlite => {
            let flags: String = "imsx".chars().filter(|&f| has(f)).collect();
            let pattern = if flags.is_empty() {
                pattern
            } else {
                format!("(?{flags}){pattern}")
            };
            Ok(("REGEXP", false, pattern))
        }
    }
}

/// Replaces `\Q…\E` quoting with an escaped literal.
pub(super) fn unquote(pattern: &str, extended: bool) -> String {
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
pub(super) fn postgres_regex(pattern: &str, options: &str) -> Result<String> {
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
