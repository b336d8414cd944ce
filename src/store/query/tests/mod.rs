//! Tests of the translator: the SQL it writes (`sql`, `regexp`) and what that SQL selects on
//! real SQLite and Postgres databases (`db`, over the fixture in `cases`).

mod cases;
mod db;
mod regexp;
mod sql;

use super::{conversation_filter, Dialect, SqlFragment, SqlValue};
use serde_json::Value;

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
