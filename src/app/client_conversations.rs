//! What a client session does to conversations through the SDK protocol: create
//! (`conv start`), update attributes (`conv update`), mute itself. Each goes through the
//! policy, the quotas and, when the app requires them, conversation signatures, and
//! publishes its own pushes.

use crate::app::actor::ClientSession;
use crate::app::conversations::{self, CreateConversation};
use crate::app::policy::{self, Action};
use crate::app::signatures::{self, Signed, Signing};
use crate::app::{hooks, membership, notifications, render};
use crate::domain::conversation::{Conversation, Kind};
use crate::error::Result;
use crate::hub::push::{envelope, PERMANENT};
use crate::hub::{Event, MembershipChange, Recipients};
use crate::proto::{CommandType, ConvCommand, JsonObjectMessage, OpType};
use crate::state::AppState;
use serde_json::{Map, Value};

/// Every kind: an SDK addresses conversations by id whatever they are.
pub const ALL_KINDS: &[Kind] = &[Kind::Normal, Kind::ChatRoom, Kind::Service, Kind::Temporary];

/// Creates a conversation for `session` (chat room when `room`); returns it and whether it
/// is new. The invited members are told (`conv joined`).
pub async fn start(
    state: &AppState,
    session: &ClientSession,
    mut request: CreateConversation,
    room: bool,
    signed: &Signed,
) -> Result<(Conversation, bool)> {
    let kind = if room { Kind::ChatRoom } else { Kind::Normal };
    signatures::verify(
        state,
        session,
        Signing::Create {
            members: &request.members,
        },
        signed,
    )?;
    state
        .client_quotas
        .conversation(&session.app, &session.client)?;
    if kind == Kind::Normal && !request.members.iter().any(|m| **m == *session.client) {
        request.members.push(session.client.to_string());
    }
    if kind == Kind::ChatRoom {
        request.temporary_ttl_secs = None;
    }
    let (app, me) = (&session.app, &*session.client);
    let name = request.name.as_deref();
    hooks::conversation::start(state, app, me, &request.members, name, &request.attrs).await?;
    let (conv, created) = conversations::create(state, session.app_id(), kind, request).await?;
    if created {
        hooks::conversation::started(state, app, &conv.id);
    }
    if kind == Kind::ChatRoom {
        join_room(state, session, &conv.id);
    } else if created {
        let invited: Vec<String> = conv
            .members
            .iter()
            .filter(|m| **m != *session.client)
            .cloned()
            .collect();
        if !invited.is_empty() {
            let body = ConvCommand {
                cid: Some(conv.id.clone()),
                init_by: Some(session.client.to_string()),
                m: invited.clone(),
                ..Default::default()
            };
            notifications::record(state, session.app_id(), &invited, OpType::Joined, &body).await?;
            let event = Event::Membership {
                conv_id: conv.id.clone(),
                change: MembershipChange::Joined,
                members: invited.clone(),
                initiator: session.client.to_string(),
            };
            state
                .hub
                .publish(session.app_id(), Recipients::Clients(invited), event);
        }
    }
    Ok((conv, created))
}

/// Adds this session to a chat room's online set.
pub fn join_room(state: &AppState, session: &ClientSession, conv: &str) {
    state
        .hub
        .join_room_by_session(session.app_id(), &session.client, session.session, conv);
}

pub fn leave_room(state: &AppState, session: &ClientSession, conv: &str) {
    state
        .hub
        .leave_room_by_session(session.app_id(), session.session, conv);
}

/// The conversation a client names, of any kind.
pub async fn find(state: &AppState, session: &ClientSession, id: &str) -> Result<Conversation> {
    state
        .store
        .conversation_of_kind(session.app_id(), id, ALL_KINDS)
        .await
}

/// The result of a client's update: the new `updatedAt` and the values at the paths asked.
pub struct Updated {
    pub updated_at: i64,
    pub modified: Value,
}

/// `conv update` by a participant; pushes `conv updated` to the others and to the
/// updater's other sessions.
pub async fn update(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
    attr: Map<String, Value>,
) -> Result<Updated> {
    let app = session.app_id();
    let conv = find(state, session, conv_id).await?;
    policy::authorize_client(state, app, &session.client, &conv, Action::Update).await?;
    let attr =
        hooks::conversation::update_attr(state, &session.app, &session.client, &conv.id, attr)
            .await?;
    let (updated_at, updated) =
        conversations::update(state, app, &conv.id, ALL_KINDS, attr.clone()).await?;
    let modified = attr_modified(&attr, &updated);
    let udate = crate::domain::time::iso(updated_at);
    let body = ConvCommand {
        cid: Some(conv.id.clone()),
        init_by: Some(session.client.to_string()),
        attr: json(&Value::Object(attr)),
        attr_modified: json(&modified),
        udate: Some(udate),
        ..Default::default()
    };
    announce_update(state, app, &conv, body, Some(session.session)).await?;
    Ok(Updated {
        updated_at,
        modified,
    })
}

/// Pushes `conv updated` to the participants (kept as a notification for members; chat
/// rooms get it live only). REST updates (E03) announce the same way.
pub async fn announce_update(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    body: ConvCommand,
    exclude_session: Option<u64>,
) -> Result<()> {
    if conv.kind == Kind::ChatRoom {
        let mut push = envelope(CommandType::Conv, Some(OpType::Updated));
        push.notification_type = Some(PERMANENT);
        push.conv_message = Some(body);
        let event = Event::Push {
            command: Box::new(push),
            exclude_session,
        };
        state
            .hub
            .publish(app, Recipients::ChatRoom(conv.id.clone()), event);
        return Ok(());
    }
    let members = state.store.members(app, &conv.id).await?;
    notifications::conv(state, app, members, OpType::Updated, body, exclude_session).await
}

/// E03 and the other REST updates: the same update and push, by the admin.
pub async fn admin_update(
    state: &AppState,
    app: &str,
    id: &str,
    kinds: &[Kind],
    body: Map<String, Value>,
) -> Result<i64> {
    let (updated_at, updated) = conversations::update(state, app, id, kinds, body.clone()).await?;
    let modified = attr_modified(&body, &updated);
    let push = ConvCommand {
        cid: Some(updated.id.clone()),
        attr: json(&Value::Object(body)),
        attr_modified: json(&modified),
        udate: Some(crate::domain::time::iso(updated_at)),
        ..Default::default()
    };
    announce_update(state, app, &updated, push, None).await?;
    Ok(updated_at)
}

/// Mutes or unmutes the conversation for the client itself. Returns `updatedAt`.
pub async fn mute(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
    on: bool,
) -> Result<i64> {
    let conv = find(state, session, conv_id).await?;
    policy::authorize_client(
        state,
        session.app_id(),
        &session.client,
        &conv,
        Action::Mute,
    )
    .await?;
    let on = hooks::conversation::update_mute(state, &session.app, &session.client, &conv.id, on)
        .await?;
    membership::set_mutes(
        state,
        session.app_id(),
        &conv,
        &[session.client.to_string()],
        on,
    )
    .await
}

pub fn json(value: &Value) -> Option<JsonObjectMessage> {
    Some(JsonObjectMessage {
        data: value.to_string(),
    })
}

/// For every key path of the request, the resulting value at that path, nested
/// (`{"attr.lee": "yeh"}` -> `{"attr": {"lee": "yeh"}}`), as Swift merges it.
pub(crate) fn attr_modified(request: &Map<String, Value>, updated: &Conversation) -> Value {
    let rendered = render::conversation(updated);
    let mut out = Map::new();
    for (path, requested) in request {
        let parts: Vec<&str> = path.split('.').collect();
        let mut value = Some(&rendered);
        for part in &parts {
            value = value.and_then(|v| v.get(part));
        }
        let value = value.cloned().unwrap_or_else(|| requested.clone());
        insert_path(&mut out, &parts, value);
    }
    Value::Object(out)
}

fn insert_path(map: &mut Map<String, Value>, parts: &[&str], value: Value) {
    let Some((last, parents)) = parts.split_last() else {
        return;
    };
    let mut target = map;
    for part in parents {
        let entry = target
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(inner) = entry else { return };
        target = inner;
    }
    target.insert((*last).to_owned(), value);
}
