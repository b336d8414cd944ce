//! `$regex` on each dialect: GLOB and Postgres ARE translation.

use super::{filter, text};
use crate::store::query::glob::glob;
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
