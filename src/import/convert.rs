//! From LeanCloud's JSON shapes to what the store imports: `_Conversation` objects (REST,
//! `/1.1/scan`, console export) and REST history items. Every problem is a reason string, so
//! one bad record is reported and skipped, never fatal.

use crate::domain::conversation::Kind;
use crate::domain::message::Content;
use crate::domain::time::parse_iso;
use crate::store::import::{ImportedConversation, ImportedMessage};
use serde_json::{Map, Value};

/// Built-in `_Conversation` fields; everything else is a custom field. `ACL`, `className`
/// and `__type` are LeanStorage metadata Tidings has no use for.
const BUILT_IN: &[&str] = &[
    "objectId",
    "createdAt",
    "updatedAt",
    "name",
    "m",
    "mu",
    "c",
    "tr",
    "sys",
    "unique",
    "uniqueId",
    "lm",
    "ACL",
    "className",
    "__type",
];

/// A `_Conversation` object as LeanCloud serves or exports it.
pub fn conversation(value: &Value) -> Result<ImportedConversation, String> {
    let object = value.as_object().ok_or("not a JSON object")?;
    refuse_nul(value)?;
    let id = match object.get("objectId") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
        _ => return Err("objectId is missing or not a string".to_owned()),
    };
    if id.starts_with("_tmp:") {
        return Err(format!(
            "{id}: temporary conversations are not kept in _Conversation"
        ));
    }
    let at = |field: &str| -> Result<Option<i64>, String> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => date(value)
                .map(Some)
                .ok_or_else(|| format!("{id}: {field} is not a date")),
        }
    };
    let created_at = at("createdAt")?.ok_or_else(|| format!("{id}: createdAt is missing"))?;
    let updated_at = at("updatedAt")?.unwrap_or(created_at);
    let last_message_at = at("lm")?;
    let kind = if flag(object, "sys") {
        Kind::Service
    } else if flag(object, "tr") {
        Kind::ChatRoom
    } else {
        Kind::Normal
    };
    let normal = kind == Kind::Normal;
    let members = if normal {
        client_list(object, "m").map_err(|e| format!("{id}: {e}"))?
    } else {
        Vec::new()
    };
    let mutes = if normal {
        client_list(object, "mu").map_err(|e| format!("{id}: {e}"))?
    } else {
        Vec::new()
    };
    let text = |field: &str| object.get(field).and_then(Value::as_str).map(str::to_owned);
    let attrs: Map<String, Value> = object
        .iter()
        .filter(|(key, _)| !BUILT_IN.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let unique = normal && flag(object, "unique");
    let unique_id = if normal {
        text("uniqueId")
            .or_else(|| unique.then(|| crate::domain::conversation::unique_id(&members)))
    } else {
        None
    };
    Ok(ImportedConversation {
        id,
        kind,
        name: text("name"),
        creator: text("c"),
        unique,
        unique_id,
        attrs,
        members,
        mutes,
        last_message_at,
        created_at,
        updated_at,
    })
}

/// A REST history item (`msg-id`, `timestamp`, `from`, `data`, `bin`, `from-ip`, and where
/// present `patch-timestamp`, `recall`, `ack-at`, `mention-all`, `mention-pids`).
pub fn message(value: &Value) -> Result<ImportedMessage, String> {
    let object = value
        .as_object()
        .ok_or("history item is not a JSON object")?;
    refuse_nul(value)?;
    let msg_id = match object.get("msg-id").or_else(|| object.get("msgId")) {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ => return Err("history item without msg-id".to_owned()),
    };
    let number = |names: &[&str]| names.iter().find_map(|n| object.get(*n)).and_then(millis);
    let timestamp =
        number(&["timestamp"]).ok_or_else(|| format!("message {msg_id}: timestamp is missing"))?;
    let data = match object.get("data") {
        Some(Value::String(text)) => text.clone(),
        None | Some(Value::Null) => String::new(),
        // A 2016 capture shows typed messages served as parsed JSON: store their text.
        Some(other) => other.to_string(),
    };
    let truthy = |names: &[&str]| {
        names
            .iter()
            .any(|n| object.get(*n).and_then(Value::as_bool).unwrap_or(false))
    };
    let mention_pids = match object
        .get("mention-pids")
        .or_else(|| object.get("mentionPids"))
    {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Ok(ImportedMessage {
        msg_id,
        timestamp,
        content: Content {
            from_client: object
                .get("from")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            data,
            bin: truthy(&["bin"]),
            from_ip: object
                .get("from-ip")
                .and_then(Value::as_str)
                .map(str::to_owned),
            mention_all: truthy(&["mention-all", "mentionAll"]),
            mention_pids,
            ..Content::default()
        },
        hidden_for: Vec::new(),
        patch_timestamp: number(&["patch-timestamp", "patchTimestamp"]),
        recalled: truthy(&["recall", "recalled"]),
        ack_at: number(&["ack-at", "ackAt"]),
    })
}

/// `true` only for a JSON `true`.
/// A record with U+0000 anywhere is skipped (and reported) like any other bad record.
fn refuse_nul(value: &Value) -> Result<(), String> {
    if crate::domain::text::json_has_nul(value) {
        return Err(crate::domain::text::NUL_REFUSED.to_owned());
    }
    Ok(())
}

fn flag(object: &Map<String, Value>, field: &str) -> bool {
    object.get(field).and_then(Value::as_bool).unwrap_or(false)
}

fn client_list(object: &Map<String, Value>, field: &str) -> Result<Vec<String>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let client = item
                    .as_str()
                    .ok_or_else(|| format!("{field} holds a non-string"))?;
                if seen.insert(client) {
                    out.push(client.to_owned());
                }
            }
            Ok(out)
        }
        Some(_) => Err(format!("{field} is not an array")),
    }
}

/// A date as LeanCloud writes one: `{"__type":"Date","iso":...}`, a bare ISO string, or
/// milliseconds.
pub fn date(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => parse_iso(text),
        Value::Object(object) => object
            .get("iso")
            .and_then(Value::as_str)
            .and_then(parse_iso),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Milliseconds as a number or a numeric string.
fn millis(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conversations_keep_every_field() {
        let object = json!({
            "objectId": "5a5f1a9b", "name": "team", "m": ["b", "a", "b"], "mu": ["a"], "c": "b",
            "unique": true, "uniqueId": "u1", "attr": {"x": 1}, "level": 3, "ACL": {"*": {"read": true}},
            "lm": {"__type": "Date", "iso": "2020-01-01T00:00:00.005Z"},
            "createdAt": "2020-01-01T00:00:00.000Z", "updatedAt": {"__type": "Date", "iso": "2020-01-02T00:00:00.000Z"}
        });
        let conv = conversation(&object).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(conv.kind, Kind::Normal);
        assert_eq!(conv.members, vec!["b", "a"]);
        assert_eq!(conv.mutes, vec!["a"]);
        assert_eq!(conv.unique_id.as_deref(), Some("u1"));
        assert_eq!(
            Value::Object(conv.attrs),
            json!({"attr": {"x": 1}, "level": 3})
        );
        assert_eq!(conv.last_message_at, Some(1_577_836_800_005));
        assert_eq!(conv.updated_at - conv.created_at, 86_400_000);
    }

    #[test]
    fn kinds_and_refusals() {
        let room = json!({"objectId": "r", "tr": true, "m": ["x"], "createdAt": "2020-01-01T00:00:00.000Z"});
        let room = conversation(&room).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((room.kind, room.members.len()), (Kind::ChatRoom, 0));
        let service =
            json!({"objectId": "s", "sys": true, "createdAt": "2020-01-01T00:00:00.000Z"});
        assert_eq!(conversation(&service).map(|c| c.kind), Ok(Kind::Service));
        assert!(conversation(
            &json!({"objectId": "_tmp:abc", "createdAt": "2020-01-01T00:00:00.000Z"})
        )
        .is_err());
        assert!(conversation(&json!({"objectId": "x"})).is_err());
        assert!(conversation(&json!({"objectId": "x", "createdAt": "2020", "m": "a"})).is_err());
        assert!(conversation(&json!([1])).is_err());
    }

    #[test]
    fn history_items() {
        let item = json!({"msg-id": "m1", "timestamp": 5, "from": "a", "data": {"_lctype": -1}, "bin": false,
            "from-ip": null, "patch-timestamp": 9, "recall": true, "mention-pids": ["b"]});
        let message = message(&item).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (message.timestamp, message.patch_timestamp, message.recalled),
            (5, Some(9), true)
        );
        assert_eq!(message.content.data, r#"{"_lctype":-1}"#);
        assert_eq!(message.content.mention_pids, vec!["b"]);
        assert!(super::message(&json!({"timestamp": 1})).is_err());
    }
}
