//! Permanent notifications: membership changes (joined, left, invited, kicked, blocked),
//! attribute updates, role changes and silences addressed to a client are pushed to its
//! online sessions and kept, with the server time, so a client that was offline fetches
//! them after logging in (`GET /1.1/rtm/notifications`, protocol.md 7.2). Kept 30 days.

use crate::domain::time;
use crate::error::Result;
use crate::hub::push::{envelope, PERMANENT};
use crate::hub::{Event, Recipients};
use crate::proto::{CommandType, ConvCommand, OpType};
use crate::state::AppState;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// How long notifications are kept.
pub const RETENTION_MS: i64 = 30 * 86_400_000;
/// Notifications answered by one fetch at most (then `hasMore`).
pub const PAGE: i64 = 100;

/// Pushes `conv <op>` to `recipients` (but `exclude_session`) and records it for each.
pub async fn conv(
    state: &AppState,
    app: &str,
    recipients: Vec<String>,
    op: OpType,
    body: ConvCommand,
    exclude_session: Option<u64>,
) -> Result<()> {
    if recipients.is_empty() {
        return Ok(());
    }
    let now = time::now_ms();
    let stored = stored_body(op, &body);
    let mut push = envelope(CommandType::Conv, Some(op));
    push.notification_type = Some(PERMANENT);
    // The same time as stored: a client fetching "after the last one I saw" gets no repeat.
    push.server_ts = Some(now);
    push.conv_message = Some(body);
    state
        .store
        .insert_notifications(app, &recipients, now, &stored.to_string())
        .await?;
    let event = Event::Push {
        command: Box::new(push),
        exclude_session,
    };
    state
        .hub
        .publish(app, Recipients::Clients(recipients), event);
    Ok(())
}

/// Records a notification already pushed some other way (membership events).
pub async fn record(
    state: &AppState,
    app: &str,
    recipients: &[String],
    op: OpType,
    body: &ConvCommand,
) -> Result<()> {
    if recipients.is_empty() {
        return Ok(());
    }
    let stored = stored_body(op, body).to_string();
    state
        .store
        .insert_notifications(app, recipients, time::now_ms(), &stored)
        .await
}

/// The stored form: the conversation push as a plain JSON object (attributes as objects).
fn stored_body(op: OpType, body: &ConvCommand) -> Value {
    let mut map = Map::new();
    map.insert("cmd".into(), json!("conv"));
    map.insert("op".into(), json!(op.as_str_name()));
    if let Some(cid) = &body.cid {
        map.insert("cid".into(), json!(cid));
    }
    if let Some(by) = &body.init_by {
        map.insert("initBy".into(), json!(by));
    }
    if !body.m.is_empty() {
        map.insert("m".into(), json!(body.m));
    }
    if let Some(udate) = &body.udate {
        map.insert("udate".into(), json!(udate));
    }
    for (key, value) in [("attr", &body.attr), ("attrModified", &body.attr_modified)] {
        if let Some(value) = value {
            let parsed = serde_json::from_str::<Value>(&value.data).unwrap_or(Value::Null);
            map.insert(key.into(), parsed);
        }
    }
    if let Some(info) = &body.info {
        map.insert("info".into(), json!({"pid": info.pid, "role": info.role}));
    }
    Value::Object(map)
}

/// A client's notifications after `since` (ms), oldest first, and whether more follow.
/// `js`: the JS SDK's shape (attributes as `{"data": "<json>"}`); else Swift's.
pub async fn fetch(
    state: &AppState,
    app: &str,
    client: &str,
    since: i64,
    js: bool,
) -> Result<(Vec<Value>, bool)> {
    let mut rows = state
        .store
        .notifications_since(app, client, since, PAGE + 1)
        .await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let items = rows
        .into_iter()
        .filter_map(|(ts, body)| {
            let mut value = serde_json::from_str::<Value>(&body).ok()?;
            let map = value.as_object_mut()?;
            map.insert("serverTs".into(), json!(ts));
            map.insert("notificationType".into(), json!(PERMANENT));
            if js {
                for key in ["attr", "attrModified"] {
                    if let Some(inner) = map.get(key).cloned() {
                        map.insert(key.into(), json!({"data": inner.to_string()}));
                    }
                }
            }
            Some(value)
        })
        .collect();
    Ok((items, more))
}

/// Forgets notifications past the retention window, daily.
pub fn spawn_pruner(state: AppState) {
    tokio::spawn(async move {
        loop {
            let cutoff = time::now_ms() - RETENTION_MS;
            if let Err(err) = state.store.prune_notifications(cutoff).await {
                tracing::warn!(error = %err, "old notifications not pruned");
            }
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(86_400)) => {}
            }
        }
    });
}
