//! Fills a server that plays LeanCloud: conversations of every kind with custom fields,
//! members added later, mutes, subscribers; messages sent concurrently over REST (so group
//! commit gives many the same millisecond) and written in same-millisecond bursts straight
//! through the store's writer (the only way to make binary ones: REST has no bin flag);
//! typed, mentioning, edited, recalled and deleted messages; service broadcasts and per-user
//! messages, one hidden from a subscriber.

use super::{Rest, Server};
use futures_util::stream::{self, StreamExt};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};
use tidings::domain::ids::new_message_id;
use tidings::domain::message::Content;
use tidings::store::NewMessage;

/// How much to make.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub normal: usize,
    pub rooms: usize,
    pub services: usize,
    /// Messages sent over REST, 32 at a time.
    pub rest_messages: usize,
    /// Messages written through the store in same-millisecond bursts.
    pub direct_messages: usize,
    /// Conversations that get `big_size` more messages each (several history pages).
    pub big: usize,
    pub big_size: usize,
}

/// What was made: conversation ids by kind, and `(family path, sender)` of every conversation.
pub struct Filled {
    pub normal: Vec<String>,
    pub rooms: Vec<String>,
    pub services: Vec<String>,
    /// Messages sent or written, before deletes.
    pub sent: usize,
}

struct Target {
    path: String,
    id: String,
    members: Vec<String>,
}

#[derive(Clone)]
struct Sent {
    path: String,
    msg_id: String,
    timestamp: i64,
    from: String,
}

pub async fn fill(server: &Server, plan: Plan) -> Filled {
    let rest = &server.rest;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let normal: Vec<(String, Vec<String>)> = stream::iter(0..plan.normal)
        .map(|i| create_normal(rest, i))
        .buffered(16)
        .collect()
        .await;
    let rooms: Vec<String> = stream::iter(0..plan.rooms)
        .map(|i| async move {
            let body =
                json!({"name": format!("room {i}"), "attr": {"floor": i}, "capacity": 10 + i});
            id_of(&rest.post("/chatrooms", &body).await)
        })
        .buffered(16)
        .collect()
        .await;
    let mut targets: Vec<Target> = normal
        .iter()
        .map(|(id, members)| Target {
            path: format!("/conversations/{id}"),
            id: id.clone(),
            members: members.clone(),
        })
        .collect();
    targets.extend(rooms.iter().map(|id| Target {
        path: format!("/chatrooms/{id}"),
        id: id.clone(),
        members: vec!["visitor1".into(), "visitor2".into()],
    }));

    // REST sends, 32 in flight: many share a millisecond.
    let picks: Vec<(usize, usize)> = (0..plan.rest_messages)
        .map(|k| (k, rng.gen_range(0..targets.len())))
        .collect();
    let sent: Vec<Sent> = stream::iter(picks)
        .map(|(k, t)| send(rest, &targets[t], k))
        .buffer_unordered(32)
        .collect()
        .await;

    // Same-millisecond bursts through the writer, binary ones among them.
    let mut bursts: Vec<(usize, usize)> = Vec::new();
    let mut left = plan.direct_messages;
    while left > 0 {
        let size = rng.gen_range(5..60).min(left);
        bursts.push((rng.gen_range(0..targets.len()), size));
        left -= size;
    }
    for big in 0..plan.big.min(targets.len()) {
        for _ in 0..plan.big_size / 300 {
            bursts.push((big, 300));
        }
    }
    let written: usize = stream::iter(bursts)
        .map(|(t, size)| burst(server, &targets[t], size))
        .buffer_unordered(8)
        .collect::<Vec<usize>>()
        .await
        .into_iter()
        .sum();

    // Edits, recalls, deletes of REST-sent messages.
    let mut shuffled = sent.clone();
    shuffled.shuffle(&mut rng);
    shuffled.truncate(shuffled.len() / 20);
    stream::iter(shuffled.into_iter().enumerate())
        .map(|(i, message)| patch(rest, i, message))
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let services: Vec<String> = stream::iter(0..plan.services)
        .map(|i| fill_service(rest, i))
        .buffered(8)
        .collect()
        .await;
    Filled {
        normal: normal.into_iter().map(|(id, _)| id).collect(),
        rooms,
        services,
        sent: sent.len() + written,
    }
}

/// Edits (i % 3 == 0), recalls (1) or deletes (2) a sent message.
async fn patch(rest: &Rest, i: usize, message: Sent) {
    let at = format!("{}/messages/{}", message.path, message.msg_id);
    match i % 3 {
        0 => rest.put(&at, &json!({"from_client": message.from, "message": format!("edited {i}"), "timestamp": message.timestamp})).await,
        1 => rest.put(&format!("{at}/recall"), &json!({"from_client": message.from, "timestamp": message.timestamp})).await,
        _ => {
            let query = [("from_client", message.from.clone()), ("timestamp", message.timestamp.to_string())];
            rest.ok(Method::DELETE, &at, &query, None).await
        }
    };
}

async fn create_normal(rest: &Rest, i: usize) -> (String, Vec<String>) {
    let mut members: Vec<String> = (0..2 + i % 5)
        .map(|j| format!("u{}", (i * 7 + j * 3) % 40))
        .collect();
    members.push(format!("own{i}"));
    members.dedup();
    let mut body = json!({
        "name": format!("group {i}"), "m": members,
        "attr": {"topic": format!("t{}", i % 9), "n": i}, "level": i % 7, "tags": ["x", i % 3],
    });
    if i % 5 == 0 {
        body["unique"] = json!(true);
    }
    if i % 4 == 0 {
        body["c"] = json!(members[0]);
    }
    let id = id_of(&rest.post("/conversations", &body).await);
    if i % 3 == 0 {
        rest.post(
            &format!("/conversations/{id}/mutes"),
            &json!({"client_ids": [members[0]]}),
        )
        .await;
    }
    if i % 6 == 0 {
        for late in [format!("zz{i}"), format!("aa{i}")] {
            rest.post(
                &format!("/conversations/{id}/members"),
                &json!({"client_ids": [late]}),
            )
            .await;
            members.push(late);
        }
    }
    if i % 7 == 0 {
        rest.put(
            &format!("/conversations/{id}"),
            &json!({"attr.mood": "ok", "level": {"__op": "Increment", "amount": 2}}),
        )
        .await;
    }
    (id, members)
}

async fn send(rest: &Rest, target: &Target, k: usize) -> Sent {
    let from = target.members[k % target.members.len()].clone();
    let message = match k % 10 {
        0 => {
            json!({"_lctype": -2, "_lcfile": {"url": format!("https://files.example/{k}.png"), "metaData": {"width": 4}}, "_lctext": "pic"})
        }
        1 => {
            json!({"_lctype": -5, "_lcloc": {"latitude": 31.2, "longitude": 121.5}, "_lcattrs": {"k": k}})
        }
        2 => json!({"_lctype": -1, "_lctext": format!("typed {k}")}),
        3 => json!({"_lctype": 7, "custom": k}),
        _ => Value::String(format!("hello {k} ✓")),
    };
    let message = match message {
        Value::String(text) => text,
        other => other.to_string(),
    };
    let mut body = json!({"from_client": from, "message": message});
    if k % 13 == 0 {
        body["mention_all"] = json!(true);
    }
    if k % 17 == 0 {
        body["mention_client_ids"] = json!([target.members[0]]);
    }
    let ack = rest.post(&format!("{}/messages", target.path), &body).await;
    Sent {
        path: target.path.clone(),
        msg_id: ack["msg-id"].as_str().unwrap_or_default().to_owned(),
        timestamp: ack["timestamp"].as_i64().unwrap_or_default(),
        from,
    }
}

/// `size` messages with one `now`: all land on the same millisecond.
async fn burst(server: &Server, target: &Target, size: usize) -> usize {
    let now = tidings::domain::time::now_ms();
    let conv_kind = if target.path.starts_with("/chatrooms") {
        1
    } else {
        0
    };
    let writes = (0..size).map(|j| {
        let bin = j % 7 == 3;
        let data = if bin {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode([j as u8, 0, 255, 7])
        } else {
            format!("burst {j} in {}", target.id)
        };
        let message = NewMessage {
            app_id: server.rest.keys.app_id.clone(),
            conv_id: target.id.clone(),
            msg_id: new_message_id(),
            content: Content {
                from_client: target.members[j % target.members.len()].clone(),
                data,
                bin,
                from_ip: (j % 5 == 0).then(|| format!("10.0.{conv_kind}.{j}")),
                ..Content::default()
            },
            dedup_key: None,
            now,
        };
        let writer = server.store.writer().clone();
        async move { writer.write(message).await }
    });
    let results = futures_util::future::join_all(writes).await;
    for result in &results {
        if let Err(e) = result {
            panic!("direct write: {e}");
        }
    }
    results.len()
}

async fn fill_service(rest: &Rest, i: usize) -> String {
    let body = json!({"name": format!("service {i}"), "attr": {"kind": if i % 2 == 0 { "news" } else { "help" }}});
    let id = id_of(&rest.post("/service-conversations", &body).await);
    let base = format!("/service-conversations/{id}");
    let count = if i % 2 == 0 { 25 } else { 3 };
    for j in 0..count {
        rest.post(
            &format!("{base}/subscribers"),
            &json!({"client_id": format!("sub{j}")}),
        )
        .await;
    }
    let mut acks = Vec::new();
    for k in 0..4 {
        acks.push(
            rest.post(
                &format!("{base}/broadcasts"),
                &json!({"from_client": "svc", "message": format!("news {k}")}),
            )
            .await,
        );
        let to: Vec<String> = (0..1 + k % 3)
            .map(|j| format!("sub{}", (j + k) % count))
            .collect();
        let body =
            json!({"from_client": "svc", "to_clients": to, "message": format!("for you {k}")});
        acks.push(rest.post(&format!("{base}/messages"), &body).await);
    }
    let stamp = |ack: &Value| {
        (
            ack["msg-id"].as_str().unwrap_or_default().to_owned(),
            ack["timestamp"].as_i64().unwrap_or_default(),
        )
    };
    let (edited, edited_at) = stamp(&acks[0]);
    rest.put(
        &format!("{base}/messages/{edited}"),
        &json!({"from_client": "svc", "message": "news, corrected", "timestamp": edited_at}),
    )
    .await;
    let (hidden, hidden_at) = stamp(&acks[2]);
    let query = [
        ("from_client", "svc".to_owned()),
        ("timestamp", hidden_at.to_string()),
    ];
    rest.ok(
        Method::DELETE,
        &format!("{base}/subscribers/sub1/messages/{hidden}"),
        &query,
        None,
    )
    .await;
    id
}

fn id_of(created: &Value) -> String {
    created["objectId"]
        .as_str()
        .unwrap_or_else(|| panic!("no objectId in {created}"))
        .to_owned()
}
