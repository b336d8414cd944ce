//! The SQL written for columns, flags, times, members and custom fields; refusals; `order`.

use super::{filter, refusal, text};
use crate::store::query::{conversation_filter, conversation_order, Dialect, SqlValue};
use serde_json::{json, Value};

#[test]
fn member_equality_uses_the_index_friendly_form_of_each_dialect() {
    let lite = filter(Dialect::Sqlite, r#"{"m":"client-1"}"#);
    assert_eq!(
        lite.sql,
        "c.id IN (SELECT mm.conv_id FROM members mm WHERE mm.app_id = $1 AND mm.client_id = $2)"
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
        "(c.name COLLATE \"C\" > $2 AND ((c.kind = 2)) IS NOT TRUE AND (c.is_unique = TRUE))"
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
        "(c.id IN (SELECT mm.conv_id FROM members mm WHERE mm.app_id = $1 AND mm.client_id = $2) \
         AND (SELECT COUNT(*) FROM members mm WHERE mm.app_id = c.app_id AND mm.conv_id = c.id \
         AND mm.client_id IN ($2, $3, $4, $5, $6)) = $7)"
    );
    assert_eq!(f.binds.last(), Some(&SqlValue::Int(5)));
    let ands: Vec<Value> = (0..10).map(|i| json!({ "m": format!("u{i}") })).collect();
    let f = conversation_filter(Dialect::Postgres, &json!({ "$and": ands }), 2).unwrap_or_default();
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
            .contains("jsonb_typeof((c.attrs -> 'level')) = 'number'"),
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
        f.sql.contains("(c.attrs -> 'o') = CAST($2 AS jsonb)"),
        "{}",
        f.sql
    );
    assert_eq!(f.binds, vec![text(r#"{"k":[1]}"#)]);
    let f = filter(Dialect::Postgres, r#"{"$or":[{"a":true},{"b":null}]}"#);
    assert!(
        f.sql.contains("(c.attrs -> 'a') = 'true'::jsonb"),
        "{}",
        f.sql
    );
    assert!(
        f.sql.contains("jsonb_typeof((c.attrs -> 'b')) = 'null'"),
        "{}",
        f.sql
    );
    assert!(
        f.sql
            .contains(" OR ((c.attrs -> 'b') IS NOT NULL) IS NOT TRUE"),
        "{}",
        f.sql
    );
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
    let alternation = json!({"name": {"$regex": "a|b"}});
    assert!(conversation_filter(Dialect::Sqlite, &alternation, 2).is_ok());
    assert!(conversation_filter(Dialect::Postgres, &alternation, 2).is_ok());
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
        pg.ends_with("((c.attrs -> 'x') #>> '{}') COLLATE \"C\" ASC NULLS FIRST, c.id ASC"),
        "{pg}"
    );
    for bad in ["a;drop", "-", "m", "x.", "a b", &"k,".repeat(17)] {
        assert!(conversation_order(Dialect::Sqlite, bad).is_err(), "{bad}");
    }
}
