//! The JSON shapes LeanCloud's REST API shows: conversation objects and history items.

use crate::domain::conversation::{Conversation, Kind};
use crate::domain::message::Message;
use crate::domain::time::iso;
use serde_json::{json, Map, Value};

/// A conversation as `_Conversation` renders it: built-in fields, custom fields at the top
/// level, ISO dates.
pub fn conversation(conv: &Conversation) -> Value {
    let mut out = Map::new();
    for (key, value) in &conv.attrs {
        out.insert(key.clone(), value.clone());
    }
    if let Some(name) = &conv.name {
        out.insert("name".into(), json!(name));
    }
    match conv.kind {
        Kind::Normal | Kind::Temporary => {
            out.insert("m".into(), json!(conv.members));
            if !conv.mutes.is_empty() {
                out.insert("mu".into(), json!(conv.mutes));
            }
            if conv.is_unique {
                out.insert("unique".into(), json!(true));
            }
            if let Some(unique_id) = &conv.unique_id {
                out.insert("uniqueId".into(), json!(unique_id));
            }
        }
        Kind::ChatRoom => {
            out.insert("tr".into(), json!(true));
        }
        Kind::Service => {
            out.insert("sys".into(), json!(true));
        }
    }
    if let Some(creator) = &conv.creator {
        out.insert("c".into(), json!(creator));
    }
    if let Some(lm) = conv.last_message_at {
        out.insert("lm".into(), date(lm));
    }
    out.insert("objectId".into(), json!(conv.id));
    out.insert("createdAt".into(), json!(iso(conv.created_at)));
    out.insert("updatedAt".into(), json!(iso(conv.updated_at)));
    Value::Object(out)
}

/// `{"__type": "Date", "iso": ...}` as LeanStorage writes non-reserved dates.
pub fn date(ms: i64) -> Value {
    json!({"__type": "Date", "iso": iso(ms)})
}

/// Applies a LeanStorage `keys` projection: listed keys (dot paths keep sub-fields) plus
/// `objectId`, `createdAt`, `updatedAt`; `-key` removes a key instead.
pub fn project(object: Value, keys: &str) -> Value {
    let Value::Object(map) = object else {
        return object;
    };
    let keys: Vec<&str> = keys
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    if keys.is_empty() {
        return Value::Object(map);
    }
    let (excluded, included): (Vec<&str>, Vec<&str>) =
        keys.iter().partition(|k| k.starts_with('-'));
    let mut out = if included.is_empty() {
        map.clone()
    } else {
        let mut picked = Map::new();
        for key in included
            .iter()
            .chain(["objectId", "createdAt", "updatedAt"].iter())
        {
            let top = key.split('.').next().unwrap_or_default();
            if let Some(value) = map.get(top) {
                picked.insert(top.to_owned(), value.clone());
            }
        }
        picked
    };
    for key in excluded {
        out.remove(key.trim_start_matches('-'));
    }
    Value::Object(out)
}

/// A REST history item. `conv-id` is the internal storage key LeanCloud shows: the objectId
/// padded to 32 characters.
pub fn history_item(message: &Message) -> Value {
    let mut item = json!({
        "timestamp": message.timestamp,
        "conv-id": format!("{}00000000", message.conv_id),
        "data": message.content.data,
        "from": message.content.from_client,
        "msg-id": message.msg_id,
        "is-conv": true,
        "is-room": false,
        "to": message.conv_id,
        "bin": message.content.bin,
        "from-ip": message.content.from_ip,
    });
    if let Value::Object(map) = &mut item {
        if let Some(ack_at) = message.ack_at {
            map.insert("ack-at".into(), json!(ack_at));
        }
        if let Some(patched) = message.patch_timestamp {
            map.insert("patch-timestamp".into(), json!(patched));
        }
        if message.recalled {
            map.insert("recall".into(), json!(true));
        }
        if message.content.mention_all {
            map.insert("mention-all".into(), json!(true));
        }
        if !message.content.mention_pids.is_empty() {
            map.insert("mention-pids".into(), json!(message.content.mention_pids));
        }
    }
    item
}
