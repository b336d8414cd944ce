//! Compares two servers' REST answers: conversation queries, and the full history of every
//! conversation (service conversations: subscribers and what each received).

use super::fill::Filled;
use super::Rest;
use serde_json::{json, Value};
use std::collections::HashSet;

/// Panics at the first difference, showing it. Returns how many messages were compared
/// (service messages counted once however many subscribers got them).
pub async fn assert_same(source: &Rest, target: &Rest, filled: &Filled) -> u64 {
    let queries: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "/all-conversations",
            vec![
                ("limit", "1000".into()),
                ("order", "createdAt,objectId".into()),
                ("count", "1".into()),
            ],
        ),
        (
            "/conversations",
            vec![
                ("where", json!({"m": "u3"}).to_string()),
                ("order", "-updatedAt,objectId".into()),
                ("limit", "1000".into()),
            ],
        ),
        (
            "/conversations",
            vec![
                ("where", json!({"level": {"$gte": 3}}).to_string()),
                ("order", "-lm,objectId".into()),
                ("keys", "name,m,lm".into()),
            ],
        ),
        (
            "/chatrooms",
            vec![("limit", "1000".into()), ("order", "createdAt".into())],
        ),
        (
            "/service-conversations",
            vec![
                ("where", json!({"attr.kind": "news"}).to_string()),
                ("limit", "1000".into()),
            ],
        ),
    ];
    for (path, query) in &queries {
        let (a, b) = (source.get(path, query).await, target.get(path, query).await);
        same(&format!("GET {path} {query:?}"), &a, &b);
    }
    let everything = source
        .get(
            "/all-conversations",
            &[("limit", "1000".into()), ("count", "1".into())],
        )
        .await;
    let listed = everything["count"].as_u64().unwrap_or_default() as usize;
    assert_eq!(
        listed,
        filled.normal.len() + filled.rooms.len() + filled.services.len(),
        "conversations in the source"
    );

    let mut messages = 0;
    for id in &filled.normal {
        let path = format!("/conversations/{id}/messages");
        messages += same_history(source, target, &path).await;
        for list in ["members", "mutes"] {
            let at = format!("/conversations/{id}/{list}");
            same(
                &at,
                &source.get(&at, &[]).await,
                &target.get(&at, &[]).await,
            );
        }
    }
    for id in &filled.rooms {
        messages += same_history(source, target, &format!("/chatrooms/{id}/messages")).await;
    }
    for id in &filled.services {
        let base = format!("/service-conversations/{id}/subscribers");
        let subscribers = source.get(&base, &[("limit", "50".into())]).await;
        same(
            &base,
            &subscribers,
            &target.get(&base, &[("limit", "50".into())]).await,
        );
        let count = format!("{base}/count");
        same(
            &count,
            &source.get(&count, &[]).await,
            &target.get(&count, &[]).await,
        );
        let mut distinct = HashSet::new();
        for subscriber in subscribers.as_array().into_iter().flatten() {
            let client = subscriber["subscriber"].as_str().unwrap_or_default();
            let path = format!("{base}/{client}/messages");
            let history = source.full_history(&path, 1000).await;
            same(
                &path,
                &Value::Array(history.clone()),
                &Value::Array(target.full_history(&path, 1000).await),
            );
            distinct.extend(history.iter().map(|m| m["msg-id"].to_string()));
        }
        messages += distinct.len() as u64;
    }
    messages
}

/// Full history oldest first in pages of 100 (crossing same-millisecond bursts), and the
/// newest page the default way. Returns the message count.
async fn same_history(source: &Rest, target: &Rest, path: &str) -> u64 {
    let (a, b) = (
        source.full_history(path, 100).await,
        target.full_history(path, 100).await,
    );
    same(path, &Value::Array(a.clone()), &Value::Array(b));
    let newest = [("limit", "20".to_owned())];
    same(
        &format!("{path} newest"),
        &source.get(path, &newest).await,
        &target.get(path, &newest).await,
    );
    a.len() as u64
}

/// Equal, or a panic showing the first difference.
pub fn same(what: &str, source: &Value, target: &Value) {
    if source == target {
        return;
    }
    let (Some(a), Some(b)) = (items(source), items(target)) else {
        panic!("{what} differs:\n source: {source}\n target: {target}");
    };
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        if x != y {
            panic!("{what} differs at item {i}:\n source: {x}\n target: {y}");
        }
    }
    panic!(
        "{what}: {} items in the source, {} in the target",
        a.len(),
        b.len()
    );
}

fn items(value: &Value) -> Option<&Vec<Value>> {
    value
        .as_array()
        .or_else(|| value.get("results").and_then(Value::as_array))
}
