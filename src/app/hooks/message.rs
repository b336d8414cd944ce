//! Message hooks: `_messageReceived` (blocking, on the one send path), `_messageSent` and
//! `_receiversOffline` (after delivery, in the background), `_messageUpdate` (blocking, on
//! edit and recall).

use super::{ask, call_with_retries, defined, notify, refusal, Hook};
use crate::app::send::SendRequest;
use crate::domain::app::App;
use crate::domain::conversation::{Conversation, Kind};
use crate::domain::message::{Message, MessageKind};
use crate::domain::time;
use crate::error::Result;
use crate::state::AppState;
use serde_json::{json, Value};
use std::sync::Arc;

/// What `_receiversOffline` decided for the offline push (sent by the push feature).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfflinePush {
    pub conv_id: String,
    pub msg_id: String,
    /// Who gets a push (the hook's `offlinePeers`, else every offline recipient).
    pub offline_peers: Vec<String>,
    /// The hook's `pushMessage` (a JSON string or object), when it chose one.
    pub push_message: Option<Value>,
    /// Push even to clients who muted the conversation.
    pub force: bool,
}

async fn app_of(state: &AppState, app: &str) -> Result<Option<Arc<App>>> {
    state.apps.get(&state.store, app).await
}

/// Everyone the message would reach besides the sender, as `toPeers`.
async fn peers(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    request: &SendRequest,
) -> Result<Vec<String>> {
    let mut peers = match (conv.kind, request.content.kind) {
        (_, MessageKind::PerUser) => request.content.to_clients.clone(),
        (Kind::ChatRoom, _) => state.hub.chat_room_members(app, &conv.id),
        (Kind::Service, _) => Vec::new(),
        _ => state.store.members(app, &conv.id).await?,
    };
    peers.retain(|p| *p != request.content.from_client);
    Ok(peers)
}

/// `_messageReceived`: may drop the message (4402), rewrite `content`/`bin` in `request`,
/// or replace the recipients (returned). Global broadcasts do not fire it.
pub async fn received(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    request: &mut SendRequest,
) -> Result<Option<Vec<String>>> {
    let Some(app_row) = app_of(state, app).await? else {
        return Ok(None);
    };
    if !defined(&app_row, Hook::MessageReceived)
        || request.content.kind == MessageKind::GlobalBroadcast
    {
        return Ok(None);
    }
    let params = json!({
        "fromPeer": request.content.from_client,
        "convId": conv.id,
        "toPeers": peers(state, app, conv, request).await?,
        "transient": request.transient,
        "bin": request.content.bin,
        "content": request.content.data,
        "receipt": false,
        "timestamp": time::now_ms(),
        "system": conv.kind == Kind::Service,
        "sourceIP": request.content.from_ip,
    });
    let Some(result) = ask(state, &app_row, Hook::MessageReceived, params).await? else {
        return Ok(None);
    };
    if let Some(refused) = refusal(Hook::MessageReceived, &result, "drop") {
        return Err(refused);
    }
    if let Some(content) = result.get("content").and_then(Value::as_str) {
        request.content.data = content.to_owned();
    }
    if let Some(bin) = result.get("bin").and_then(Value::as_bool) {
        request.content.bin = bin;
    }
    Ok(result.get("toPeers").and_then(string_list))
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    value.as_array().map(|items| {
        items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    })
}

/// After delivery: `_receiversOffline` (when some recipient is offline, not for chat rooms)
/// and `_messageSent`, both in the background. Costs nothing when neither is defined.
pub async fn delivered(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    request: &SendRequest,
    message: &Arc<Message>,
    to_peers: Option<Vec<String>>,
) -> Result<()> {
    let Some(app_row) = app_of(state, app).await? else {
        return Ok(());
    };
    let sent = defined(&app_row, Hook::MessageSent);
    let offline = defined(&app_row, Hook::ReceiversOffline) && conv.kind != Kind::ChatRoom;
    let push = request.persist && crate::app::push::wants_offline_push(&app_row, conv, message);
    if !(sent || offline || push) || message.content.kind == MessageKind::GlobalBroadcast {
        return Ok(());
    }
    let peers = match to_peers {
        Some(peers) => peers,
        None => peers(state, app, conv, request).await?,
    };
    let (online, offline_peers): (Vec<String>, Vec<String>) =
        peers.into_iter().partition(|p| state.hub.is_online(app, p));
    let state = state.clone();
    let message = Arc::clone(message);
    let system = conv.kind == Kind::Service;
    let conv = conv.clone();
    tokio::spawn(async move {
        let decided = if offline && !offline_peers.is_empty() && !message.transient {
            receivers_offline(&state, &app_row, &message, &offline_peers).await
        } else {
            Some(OfflinePush {
                conv_id: message.conv_id.clone(),
                msg_id: message.msg_id.clone(),
                offline_peers: offline_peers.clone(),
                ..Default::default()
            })
        };
        if let Some(decided) = decided.filter(|_| push && !offline_peers.is_empty()) {
            let pushed = crate::app::push::offline_push(&state, &app_row, &conv, &message, decided);
            if let Err(e) = pushed.await {
                tracing::warn!(error = %e, "offline push not queued");
            }
        }
        if !sent {
            return;
        }
        let params = json!({
            "fromPeer": message.content.from_client,
            "convId": message.conv_id,
            "msgId": message.msg_id,
            "onlinePeers": online,
            "offlinePeers": offline_peers,
            "transient": message.transient,
            "system": system,
            "bin": message.content.bin,
            "content": message.content.data,
            "receipt": false,
            "timestamp": message.timestamp,
            "sourceIP": message.content.from_ip,
        });
        notify(&state, &app_row, Hook::MessageSent, params);
    });
    Ok(())
}

/// `_receiversOffline`: `None` when the hook said `skip` (no push at all).
pub async fn receivers_offline(
    state: &AppState,
    app: &App,
    message: &Message,
    offline_peers: &[String],
) -> Option<OfflinePush> {
    let mention_offline: Vec<&String> = if message.content.mention_all {
        Vec::new()
    } else {
        offline_peers
            .iter()
            .filter(|p| message.content.mention_pids.contains(p))
            .collect()
    };
    let params = json!({
        "fromPeer": message.content.from_client,
        "convId": message.conv_id,
        "offlinePeers": offline_peers,
        "content": message.content.data,
        "timestamp": message.timestamp,
        "mentionAll": message.content.mention_all,
        "mentionOfflinePeers": mention_offline,
    });
    let mut push = OfflinePush {
        conv_id: message.conv_id.clone(),
        msg_id: message.msg_id.clone(),
        offline_peers: offline_peers.to_vec(),
        ..Default::default()
    };
    let Some(result) = call_with_retries(state, app, Hook::ReceiversOffline, &params).await else {
        return Some(push);
    };
    if super::truthy(result.get("skip")) {
        return None;
    }
    if let Some(peers) = result.get("offlinePeers").and_then(string_list) {
        push.offline_peers = peers;
    }
    push.push_message = result.get("pushMessage").cloned().filter(|v| !v.is_null());
    push.force = super::truthy(result.get("force"));
    Some(push)
}

/// What an edit or recall becomes after `_messageUpdate`.
pub struct UpdateVerdict {
    pub new_data: Option<String>,
    pub bin: bool,
}

/// `_messageUpdate` before an edit (`new_data`) or recall (`None`) is applied: may refuse
/// (4405) or rewrite the new content.
pub async fn update(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    found: &Message,
    new_data: Option<String>,
    bin: bool,
) -> Result<UpdateVerdict> {
    let verdict = UpdateVerdict { new_data, bin };
    let Some(app_row) = app_of(state, app).await? else {
        return Ok(verdict);
    };
    if !defined(&app_row, Hook::MessageUpdate) {
        return Ok(verdict);
    }
    let mut to_peers = match conv.kind {
        Kind::ChatRoom => state.hub.chat_room_members(app, &conv.id),
        Kind::Service => Vec::new(),
        _ => state.store.members(app, &conv.id).await?,
    };
    to_peers.retain(|p| *p != found.content.from_client);
    let params = json!({
        "fromPeer": found.content.from_client,
        "convId": conv.id,
        "toPeers": to_peers,
        "bin": verdict.bin,
        "content": verdict.new_data.clone().unwrap_or_default(),
        "timestamp": found.timestamp,
        "msgId": found.msg_id,
        "sourceIP": found.content.from_ip,
        "recall": verdict.new_data.is_none(),
        "system": conv.kind == Kind::Service,
    });
    let Some(result) = ask(state, &app_row, Hook::MessageUpdate, params).await? else {
        return Ok(verdict);
    };
    if let Some(refused) = refusal(Hook::MessageUpdate, &result, "drop") {
        return Err(refused);
    }
    let mut verdict = verdict;
    if let (Some(content), Some(_)) = (
        result.get("content").and_then(Value::as_str),
        &verdict.new_data,
    ) {
        verdict.new_data = Some(content.to_owned());
    }
    if let Some(bin) = result.get("bin").and_then(Value::as_bool) {
        verdict.bin = bin;
    }
    Ok(verdict)
}
