//! The translator against real databases: every case of [`super::cases`] on SQLite and on
//! Postgres, large legal queries, and the plan of the hot path.

use super::cases::{CASES, FIXTURE, FULL_REGEX, ORDERS, REGEX_SMOKE};
use super::{filter, parse};
use crate::store::db::{self, Db};
use crate::store::query::{conversation_filter, conversation_order, Dialect, SqlValue};
use serde_json::{json, Value};
use sqlx::Executor;

/// Ids matching `where_` in `order`, through the store's own query path.
async fn ids(pool: &Db, d: Dialect, where_: &str, order: &str) -> Result<String, String> {
    let fragment = conversation_filter(d, &parse(where_), 2).map_err(|e| e.to_string())?;
    let order = conversation_order(d, order).map_err(|e| e.to_string())?;
    let sql = format!(
        "SELECT c.id FROM conversations c WHERE c.app_id = $1 AND ({}) ORDER BY {order}",
        fragment.sql
    );
    let rows = bind(db::query(&sql).bind("app"), &fragment.binds)
        .fetch_all(pool)
        .await
        .map_err(|e| format!("{e} in {}", &sql[..sql.len().min(300)]))?;
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>("id").expect("id"))
        .collect();
    Ok(ids.join(" "))
}

fn bind<'q>(mut q: db::Query<'q>, binds: &'q [SqlValue]) -> db::Query<'q> {
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
async fn failures(pool: &Db, d: Dialect) -> Vec<String> {
    let mut cases: Vec<(&str, &str, &str)> = CASES
        .iter()
        .map(|(w, ids)| (*w, "createdAt", *ids))
        .collect();
    cases.extend(ORDERS.iter().map(|(order, ids)| ("{}", *order, *ids)));
    cases.extend(FULL_REGEX.iter().map(|(w, ids)| (*w, "createdAt", *ids)));
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
    for options in ["", "imsx"] {
        must_run.extend(
            REGEX_SMOKE.iter().map(|pattern| {
                json!({"title": {"$regex": pattern, "$options": options}}).to_string()
            }),
        );
    }
    if d == Dialect::Sqlite {
        // Syntax only the `regex` crate has (Postgres refuses it with 400).
        must_run.extend(
            ["\\p{L}+", "(?i)hello", "\\d{2}(?-i:x)?"]
                .iter()
                .map(|p| json!({"title": {"$regex": p}}).to_string()),
        );
    }
    for where_ in must_run {
        if let Err(e) = ids(pool, d, &where_, "-lm").await {
            failures.push(format!("{}: {e}", &where_[..where_.len().min(80)]));
        }
    }
    failures
}

/// One connection: every case shares one statement cache, as on a busy server. The schema
/// is the store's own, every migration applied.
async fn fixture_pool(url: &str) -> Result<Db, String> {
    let pool = crate::store::single_connection(url)
        .await
        .map_err(|e| e.to_string())?;
    pool.execute_script(FIXTURE)
        .await
        .map_err(|e| e.to_string())?;
    Ok(pool)
}

/// The plan of the hot path `{"m": "client-7"}` over app `big`, one line per row.
async fn hot_path_plan(pool: &Db, d: Dialect, bulk: &str) -> Result<String, String> {
    pool.execute_script(bulk).await.map_err(|e| e.to_string())?;
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
    let rows = bind(db::query(&sql).bind("big"), &f.binds)
        .fetch_all(pool)
        .await
        .map_err(|e| e.to_string())?;
    let column = if d == Dialect::Sqlite { 3 } else { 0 };
    let lines: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>(column).expect("plan line"))
        .collect();
    Ok(lines.join("\n"))
}

#[tokio::test]
async fn sqlite_matches_expected_ids() {
    let pool = fixture_pool("sqlite::memory:").await.expect("sqlite");
    let failures = failures(&pool, Dialect::Sqlite).await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
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
        let pool = fixture_pool(&format!("{server}/{name}")).await?;
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
