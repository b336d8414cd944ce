//! Service conversations: subscriber broadcasts (E35), messages to chosen subscribers (E38),
//! global broadcasts to every client (E49-E51) and per-subscriber deletes (E39).

use super::patch::{self, MessageRef};
use super::send::{self, SendRequest, Sent};
use crate::domain::conversation::Kind;
use crate::domain::message::MessageKind;
use crate::error::{code, Error, Result};
use crate::state::AppState;
pub use crate::store::broadcasts::Broadcast;

pub const SERVICE: &[Kind] = &[Kind::Service];

/// A global broadcast is valid for at most (and by default) one month.
pub const MAX_VALIDITY_MS: i64 = 30 * 86_400_000;

/// E35: to every subscriber of the service conversation.
pub async fn broadcast_to_subscribers(
    state: &AppState,
    app: &str,
    mut request: SendRequest,
) -> Result<Sent> {
    request.content.kind = MessageKind::SubscriberBroadcast;
    request.kinds = SERVICE;
    let push = request
        .content
        .push_data
        .clone()
        .filter(|_| !request.transient);
    let sent = send::send(state, app, request).await?;
    if !sent.duplicate {
        super::push::broadcast_push(state, app, &sent.message, push.as_deref(), true).await;
    }
    Ok(sent)
}

/// E38: to up to 20 chosen subscribers.
pub async fn send_to_subscribers(
    state: &AppState,
    app: &str,
    mut request: SendRequest,
) -> Result<Sent> {
    if request.content.to_clients.is_empty() {
        return Err(Error::bad_request(
            code::MISSING_REQUIRED,
            "Missing required field: to_clients.",
        ));
    }
    request.content.kind = MessageKind::PerUser;
    request.kinds = SERVICE;
    send::send(state, app, request).await
}

/// E49: to every client of the app, live now and at login while `valid_till` has not passed.
/// `valid_till` (ms) defaults to, and may not exceed, one month from now.
pub async fn global_broadcast(
    state: &AppState,
    app: &str,
    mut request: SendRequest,
    valid_till: Option<i64>,
    push: Option<String>,
) -> Result<Sent> {
    let now = state.clock.now_ms();
    let valid_till = match valid_till {
        None => now + MAX_VALIDITY_MS,
        Some(t) if t <= now => return Err(Error::invalid("valid_till must be in the future.")),
        Some(t) if t > now + MAX_VALIDITY_MS => {
            return Err(Error::invalid(
                "valid_till may be at most one month from now.",
            ))
        }
        Some(t) => t,
    };
    request.content.kind = MessageKind::GlobalBroadcast;
    request.kinds = SERVICE;
    let transient = request.transient;
    let sent = send::send(state, app, request).await?;
    if !transient {
        let message = &sent.message;
        let broadcast = Broadcast {
            msg_id: message.msg_id.clone(),
            conv_id: message.conv_id.clone(),
            from_client: message.content.from_client.clone(),
            data: message.content.data.clone(),
            timestamp: message.timestamp,
            valid_till,
            push,
        };
        state.store.insert_broadcast(app, &broadcast).await?;
        let push = broadcast.push.as_deref();
        super::push::broadcast_push(state, app, message, push, false).await;
        // Who was online got it live; their next login must not bring it again.
        let online = state.hub.online_clients(app);
        if !online.is_empty() {
            state
                .store
                .advance_broadcast_cursors(app, &online, message.timestamp)
                .await?;
        }
    }
    Ok(sent)
}

/// E39: removes a subscription or per-user message from one subscriber's view. Global
/// broadcasts cannot be deleted this way (E50 does that).
pub async fn delete_for_subscriber(
    state: &AppState,
    app: &str,
    target: &MessageRef,
    subscriber: &str,
) -> Result<()> {
    let (conv, found) = patch::locate(state, app, SERVICE, target).await?;
    match found.content.kind {
        MessageKind::SubscriberBroadcast => {}
        MessageKind::PerUser if found.content.to_clients.iter().any(|c| c == subscriber) => {}
        MessageKind::GlobalBroadcast => {
            return Err(Error::invalid(
                "A global broadcast cannot be deleted per subscriber; use DELETE /broadcasts/{id}.",
            ))
        }
        _ => return Err(Error::message_not_found()),
    }
    state
        .store
        .hide_message_for(app, &conv.id, found.seq, subscriber)
        .await
}

/// E50: clients that have not received the broadcast never will. False when unknown.
pub async fn delete_global_broadcast(state: &AppState, app: &str, msg_id: &str) -> Result<bool> {
    state
        .store
        .delete_broadcast(app, msg_id, state.clock.now_ms())
        .await
}

/// E51: the global broadcasts of a service conversation still valid, newest first.
pub async fn valid_global_broadcasts(
    state: &AppState,
    app: &str,
    conv: &str,
    skip: i64,
    limit: i64,
) -> Result<Vec<Broadcast>> {
    let now = state.clock.now_ms();
    state
        .store
        .valid_broadcasts(app, Some(conv), 0, now, skip, limit)
        .await
}
