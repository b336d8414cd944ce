//! `conv query` for a client session: conversations as `_Conversation` JSON objects with
//! the last-message fields the SDKs read (`msg`, `msg_from`, `msg_mid`, `msg_timestamp`,
//! `patch_timestamp`, `bin`, `mention_all`, `mention_pids`). Anyone may find a
//! conversation, but the last message is shown only to those the policy lets read it.
//!
//! The queries SDKs issue on their own take fast paths: by `objectId` (JS fetches every
//! conversation a push names), `objectId $in`, `tempConvIds`, and the empty `where`
//! ("my conversations", most recent first). Everything else goes through the LeanStorage
//! query translator like REST listings. The cost is bounded: at most 1000 results, a
//! bounded `skip`, and the translator's own limits on the `where` expression.

use crate::app::actor::ClientSession;
use crate::app::client_conversations::ALL_KINDS;
use crate::app::conversations::{self, ListParams};
use crate::app::policy::{self, Action};
use crate::app::render;
use crate::domain::conversation::{Conversation, Kind};
use crate::domain::message::Message;
use crate::domain::time;
use crate::error::{code, Error, Result};
use crate::hub::push::conv_type;
use crate::proto::ConvCommand;
use crate::state::AppState;
use serde_json::{json, Map, Value};

/// Defaults when the client sends none (old SDK comment: 10; Swift caps at 100).
const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 1000;
/// Deeper pages cost a scan: SDKs page conversation lists far less deep than this.
const MAX_SKIP: i64 = 10_000;
/// `flag` bit 0: compact (no `m` in results).
const FLAG_COMPACT: i32 = 1;

/// The `conv query` results for `session`: `_Conversation` objects with the SDK fields.
pub async fn query(
    state: &AppState,
    session: &ClientSession,
    body: &ConvCommand,
) -> Result<Vec<Value>> {
    let current = session;
    let app = current.app_id();
    let store = &state.store;
    let filter = match &body.r#where {
        Some(w) if !w.data.trim().is_empty() => {
            serde_json::from_str::<Value>(&w.data).map_err(|e| {
                Error::bad_request(
                    code::MALFORMED_JSON,
                    format!("where is not valid JSON: {e}"),
                )
            })?
        }
        _ => Value::Object(Map::new()),
    };
    let limit = body
        .limit
        .map_or(DEFAULT_LIMIT, |l| i64::from(l).clamp(0, MAX_LIMIT));
    let skip = body.skip.map_or(0, |s| i64::from(s).clamp(0, MAX_SKIP));
    let found: Vec<Conversation> = if !body.temp_conv_ids.is_empty() {
        by_ids(state, app, &body.temp_conv_ids).await?
    } else if let Some(ids) = object_ids(&filter) {
        let mut found = by_ids(state, app, &ids).await?;
        found.truncate(limit as usize);
        found
    } else if filter.as_object().is_some_and(Map::is_empty)
        && body.sort.as_deref().unwrap_or("").is_empty()
    {
        store
            .conversations_of(app, &current.client, skip, limit)
            .await?
    } else {
        let params = ListParams {
            filter,
            order: body.sort.clone().unwrap_or_default(),
            skip,
            limit,
            count: false,
            keys: None,
        };
        conversations::list(state, app, ALL_KINDS, &params).await?.0
    };
    // A non-participant may find a conversation (and join it) but never sees its messages.
    let mut readable = Vec::new();
    for conv in &found {
        let allowed =
            policy::authorize_client(state, app, &current.client, conv, Action::ReadLastMessage)
                .await
                .is_ok();
        if allowed {
            readable.push(conv.id.clone());
        }
    }
    let last = store.last_messages(app, &readable).await?;
    let compact = body.flag.unwrap_or(0) & FLAG_COMPACT != 0;
    Ok(found
        .iter()
        .map(|conv| object(conv, last.get(&conv.id), &current.client, compact))
        .collect())
}

/// `{"objectId": id}` or `{"objectId": {"$in": [...]}}` alone.
fn object_ids(filter: &Value) -> Option<Vec<String>> {
    let map = filter.as_object()?;
    if map.len() != 1 {
        return None;
    }
    match map.get("objectId")? {
        Value::String(id) => Some(vec![id.clone()]),
        Value::Object(op) if op.len() == 1 => {
            let list = op.get("$in")?.as_array()?;
            list.iter().map(|v| v.as_str().map(str::to_owned)).collect()
        }
        _ => None,
    }
}

async fn by_ids(state: &AppState, app: &str, ids: &[String]) -> Result<Vec<Conversation>> {
    let mut found = Vec::new();
    for id in ids.iter().take(MAX_LIMIT as usize) {
        if let Some(conv) = state.store.find_conversation(app, id).await? {
            found.push(conv);
        }
    }
    state.store.fill_member_lists(app, &mut found).await?;
    Ok(found)
}

/// One result object: the REST rendering plus what the SDKs read from query results.
fn object(conv: &Conversation, last: Option<&Message>, client: &str, compact: bool) -> Value {
    let mut value = render::conversation(conv);
    let Value::Object(map) = &mut value else {
        return value;
    };
    map.insert("conv_type".into(), json!(conv_type(conv.kind.as_i64())));
    if compact {
        map.remove("m");
    }
    if conv.kind == Kind::Normal || conv.kind == Kind::Temporary {
        map.insert(
            "muted".into(),
            json!(conv.mutes.iter().any(|m| m == client)),
        );
    }
    if let Some(expires_at) = conv.expires_at {
        map.insert("temp".into(), json!(true));
        map.insert(
            "ttl".into(),
            json!(((expires_at - time::now_ms()) / 1000).max(0)),
        );
    }
    if let Some(message) = last {
        map.insert("msg".into(), json!(message.content.data));
        map.insert("bin".into(), json!(message.content.bin));
        map.insert("msg_from".into(), json!(message.content.from_client));
        map.insert("msg_mid".into(), json!(message.msg_id));
        map.insert("msg_timestamp".into(), json!(message.timestamp));
        if let Some(patched) = message.patch_timestamp {
            map.insert("patch_timestamp".into(), json!(patched));
        }
        map.insert("mention_all".into(), json!(message.content.mention_all));
        map.insert("mention_pids".into(), json!(message.content.mention_pids));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_id_filters_take_the_fast_path() {
        assert_eq!(
            object_ids(&json!({"objectId": "a"})),
            Some(vec!["a".to_owned()])
        );
        assert_eq!(
            object_ids(&json!({"objectId": {"$in": ["a", "b"]}})),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(object_ids(&json!({"objectId": "a", "tr": true})), None);
        assert_eq!(object_ids(&json!({"m": "a"})), None);
    }
}
