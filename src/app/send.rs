//! The one send path. Every way a message enters (REST conversation, chat-room and service
//! sends, broadcasts, Agora, WebSocket `direct`) comes here:
//! validate -> authorize -> persist -> answer -> fan out.

use crate::app::hooks;
use crate::app::moderation;
use crate::app::policy::{self, Action};
use crate::domain::conversation::{Conversation, Kind};
use crate::domain::message::{self, Content, Message, MessageKind};
use crate::domain::{client_id, ids, time};
use crate::error::{code, Error, Result};
use crate::hub::{Event, Recipients};
use crate::state::AppState;
use crate::store::NewMessage;
use std::sync::Arc;

/// Which door a send came through; decides authorization and echo rules.
#[derive(Debug, Clone)]
pub enum Origin {
    /// REST and other admin doors: no membership check.
    Admin,
    /// An SDK session: must be a member; does not get its own message back.
    Session {
        session_id: u64,
        dedup_key: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct SendRequest {
    pub conv_id: String,
    /// The conversation kinds this door may send to (others read as "not found").
    pub kinds: &'static [Kind],
    pub content: Content,
    pub transient: bool,
    pub origin: Origin,
    /// Whether a non-transient message is stored. Agora peer messages without history are
    /// delivered like normal messages (so receivers acknowledge them) but not stored.
    pub persist: bool,
    /// The size limit of this door (LeanCloud 5 KB; Agora payloads 32 KB).
    pub max_bytes: usize,
    /// A message id chosen by the caller (to wait for its acknowledgement before sending).
    pub preassigned_id: Option<String>,
}

impl SendRequest {
    /// A plain message from `from_client` to `conv_id`, with every option at its default.
    pub fn new(
        conv_id: &str,
        kinds: &'static [Kind],
        from_client: &str,
        data: String,
    ) -> SendRequest {
        SendRequest {
            conv_id: conv_id.to_owned(),
            kinds,
            content: Content::text(from_client, data),
            transient: false,
            origin: Origin::Admin,
            persist: true,
            max_bytes: message::MAX_MESSAGE_BYTES,
            preassigned_id: None,
        }
    }
}

/// The outcome for the sender: the message as stored, and whether it was a resend.
pub struct Sent {
    pub message: Arc<Message>,
    pub duplicate: bool,
}

pub async fn send(state: &AppState, app: &str, mut request: SendRequest) -> Result<Sent> {
    let conv = admit(state, app, &request).await?;
    let to_peers = hooks::message::received(state, app, &conv, &mut request).await?;
    let now = time::now_ms();
    if let (Kind::Service, Origin::Session { .. }) = (conv.kind, &request.origin) {
        return uplink(state, app, &conv, &request).await;
    }
    let sent = if request.transient || !request.persist {
        Sent {
            message: Arc::new(transient_message(&conv, &request, now)),
            duplicate: false,
        }
    } else {
        let written = state
            .store
            .writer()
            .write(new_message(app, &request, now))
            .await?;
        Sent {
            message: Arc::new(written.message),
            duplicate: written.duplicate,
        }
    };
    if !sent.duplicate {
        crate::metrics::message_accepted(&request.origin, conv.kind);
        fan_out(state, app, &conv, &request, &sent.message, to_peers.clone()).await?;
        hooks::message::delivered(state, app, &conv, &request, &sent.message, to_peers).await?;
    }
    Ok(sent)
}

/// Everything a send must pass before anything is stored: validation, the conversation,
/// the policy and the sender's quota. Will messages pass it when kept and again when sent.
pub async fn admit(state: &AppState, app: &str, request: &SendRequest) -> Result<Conversation> {
    validate(request)?;
    let conv = state
        .store
        .conversation_to_send_to(app, &request.conv_id, request.kinds)
        .await?;
    if let Origin::Session { .. } = request.origin {
        policy::authorize_client(
            state,
            app,
            &request.content.from_client,
            &conv,
            Action::Send,
        )
        .await?;
        if conv.kind != Kind::Service
            && moderation::is_silenced(state, app, &conv.id, &request.content.from_client).await?
        {
            return Err(Error::forbidden(
                code::SILENCED,
                "You are silenced in this conversation.",
            ));
        }
        if let Some(app) = state.apps.get(&state.store, app).await? {
            state
                .client_quotas
                .message(&app, &request.content.from_client)
                .await?;
        }
    }
    if let Some(expires_at) = conv.expires_at {
        if expires_at <= time::now_ms() {
            return Err(Error::bad_request(
                code::TEMPORARY_CONVERSATION_EXPIRED,
                "The temporary conversation has expired.",
            ));
        }
    }
    Ok(conv)
}

/// A subscriber's message to a service conversation goes to the app, not to subscribers.
async fn uplink(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    request: &SendRequest,
) -> Result<Sent> {
    let stored = crate::app::uplink::store(state, app, conv, request, message_id(request)).await?;
    let mut message = transient_message(conv, request, stored.timestamp);
    message.msg_id = stored.msg_id;
    message.transient = false;
    Ok(Sent {
        message: Arc::new(message),
        duplicate: false,
    })
}

fn validate(request: &SendRequest) -> Result<()> {
    client_id::validate("from_client", &request.content.from_client)?;
    let push_len = request.content.push_data.as_ref().map_or(0, String::len);
    message::check_size_within(&request.content.data, push_len, request.max_bytes)?;
    if !request.content.bin {
        message::check_typed_format(&request.content.data)?;
    }
    message::check_client_list("mention_client_ids", &request.content.mention_pids)?;
    message::check_client_list("to_clients", &request.content.to_clients)?;
    Ok(())
}

fn message_id(request: &SendRequest) -> String {
    request
        .preassigned_id
        .clone()
        .unwrap_or_else(ids::new_message_id)
}

fn new_message(app: &str, request: &SendRequest, now: i64) -> NewMessage {
    NewMessage {
        app_id: app.to_owned(),
        conv_id: request.conv_id.clone(),
        msg_id: message_id(request),
        content: request.content.clone(),
        dedup_key: match &request.origin {
            Origin::Session { dedup_key, .. } => dedup_key.clone(),
            Origin::Admin => None,
        },
        now,
    }
}

/// A message that is delivered but not stored (transient, or not persisted by its door).
fn transient_message(conv: &Conversation, request: &SendRequest, now: i64) -> Message {
    Message {
        conv_id: conv.id.clone(),
        conv_kind: conv.kind.as_i64(),
        seq: 0,
        msg_id: message_id(request),
        timestamp: now,
        content: request.content.clone(),
        patch_timestamp: None,
        recalled: false,
        ack_at: None,
        transient: request.transient,
    }
}

/// Hands the message to the hub for everyone who should see it live.
async fn fan_out(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    request: &SendRequest,
    message: &Arc<Message>,
    to_peers: Option<Vec<String>>,
) -> Result<()> {
    if !state.hub.any_online(app) {
        return Ok(());
    }
    let recipients = match to_peers {
        // Replaced by `_messageReceived`.
        Some(peers) => Recipients::Clients(peers),
        None => recipients(state, app, conv, message).await?,
    };
    let origin_session = match request.origin {
        Origin::Session { session_id, .. } => Some(session_id),
        Origin::Admin => None,
    };
    state.hub.publish(
        app,
        recipients,
        Event::Message {
            message: Arc::clone(message),
            origin_session,
        },
    );
    Ok(())
}

/// Who a stored message is for, by conversation and message kind.
pub async fn recipients(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    message: &Message,
) -> Result<Recipients> {
    Ok(match (conv.kind, message.content.kind) {
        (_, MessageKind::GlobalBroadcast) => Recipients::Everyone,
        (_, MessageKind::PerUser) => Recipients::Clients(message.content.to_clients.clone()),
        (Kind::Service, _) => {
            Recipients::Clients(state.store.subscribers_all(app, &conv.id).await?)
        }
        (Kind::ChatRoom, _) => Recipients::ChatRoom(conv.id.clone()),
        (Kind::Normal | Kind::Temporary, _) => {
            Recipients::Clients(state.store.members(app, &conv.id).await?)
        }
    })
}
