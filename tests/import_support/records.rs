//! Records for the import tests: a console export, and store-level conversations and
//! messages.

use serde_json::{json, Value};
use tidings::domain::conversation::Kind;
use tidings::domain::message::Content;
use tidings::store::import::{ImportedConversation, ImportedMessage};
use tidings::store::NewMessage;

/// Conversations of every kind as a console export writes them (dates as strings and as
/// Date objects, custom fields, ACL); rendering them back must give the same objects.
pub fn exported() -> Vec<Value> {
    vec![
        json!({"objectId": "5f0000000000000000000001", "name": "pair", "m": ["zoe", "adam"], "mu": ["zoe"],
               "unique": true, "uniqueId": "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f", "c": "zoe", "attr": {"pinned": true},
               "level": 3, "lm": {"__type": "Date", "iso": "2021-03-04T05:06:07.089Z"},
               "createdAt": "2020-01-01T00:00:00.000Z", "updatedAt": "2021-03-04T05:06:07.089Z"}),
        json!({"objectId": "5f0000000000000000000002", "name": "lobby", "tr": true, "attr": {"topic": "all"},
               "createdAt": {"__type": "Date", "iso": "2020-02-01T00:00:00.000Z"}, "updatedAt": "2020-02-02T00:00:00.000Z"}),
        json!({"objectId": "5f0000000000000000000003", "name": "news", "sys": true, "ACL": {"*": {"read": true}},
               "createdAt": "2020-03-01T00:00:00.000Z", "updatedAt": "2020-03-01T00:00:00.000Z"}),
    ]
}

/// A normal conversation with members `a` and `b`, created at 1 ms.
pub fn conversation(id: &str) -> ImportedConversation {
    ImportedConversation {
        id: id.into(),
        kind: Kind::Normal,
        name: None,
        creator: None,
        unique: false,
        unique_id: None,
        attrs: Default::default(),
        members: vec!["a".into(), "b".into()],
        mutes: Vec::new(),
        last_message_at: None,
        created_at: 1,
        updated_at: 1,
    }
}

/// A message from `b` whose content is its id.
pub fn message(id: &str, timestamp: i64) -> ImportedMessage {
    ImportedMessage {
        msg_id: id.into(),
        timestamp,
        content: Content::text("b", id.into()),
        hidden_for: Vec::new(),
        patch_timestamp: None,
        recalled: false,
        ack_at: None,
    }
}

/// A message the target's own users sent (through the normal writer) at `now`.
pub fn live_message(app: &str, conv: &str, msg_id: &str, now: i64) -> NewMessage {
    NewMessage {
        app_id: app.into(),
        conv_id: conv.into(),
        msg_id: msg_id.into(),
        content: Content::text("a", "hi".into()),
        dedup_key: None,
        now,
    }
}
