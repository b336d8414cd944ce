//! `$regex` on each dialect: the SQLite `REGEXP` form and the Postgres ARE translation.

use super::{filter, text};
use crate::store::query::regexp::{postgres_regex, unquote};
use crate::store::query::Dialect;

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
    assert_eq!(f.sql, "c.name REGEXP $2");
    assert_eq!(f.binds, vec![text("(?i)^a\\.b")]);
    let f = filter(Dialect::Sqlite, r#"{"name":{"$regex":"\\QA*\\E$"}}"#);
    assert_eq!(
        (f.sql.as_str(), &f.binds[..]),
        ("c.name REGEXP $2", &[text("A\\*$")][..])
    );
}

#[test]
fn unquoting() {
    assert_eq!(unquote("\\Qa b\\E", true), "a\\ b");
    assert_eq!(unquote("x\\\\Qy", false), "x\\\\Qy");
    assert_eq!(unquote("\\Q*?[x]\\E", false), "\\*\\?\\[x\\]");
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
