//! Editing, recalling and deleting stored messages (REST E13-E15, E24-E26, SDK `patch`).

use crate::domain::conversation::Kind;
use crate::domain::message::{self, Message, MessageKind};
use crate::domain::time;
use crate::error::{code, Error, Result};
use crate::hub::Event;
use crate::state::AppState;
use std::sync::Arc;

/// How a caller identifies the message to change: LeanCloud asks for the original sender
/// and timestamp along with the id.
#[derive(Debug, Clone)]
pub struct MessageRef {
    pub conv_id: String,
    pub msg_id: String,
    pub from_client: String,
    pub timestamp: i64,
}

/// Finds the message and checks that sender and timestamp match.
pub(crate) async fn locate(
    state: &AppState,
    app: &str,
    kinds: &[Kind],
    target: &MessageRef,
) -> Result<(crate::domain::conversation::Conversation, Message)> {
    let conv = state
        .store
        .conversation_of_kind(app, &target.conv_id, kinds)
        .await?;
    let found = state
        .store
        .find_message(app, &conv.id, &target.msg_id)
        .await?
        .ok_or_else(Error::message_not_found)?;
    if found.content.from_client != target.from_client {
        return Err(Error::forbidden(
            code::MESSAGE_OWNERSHIP_REQUIRED,
            "from_client is not the sender of this message.",
        ));
    }
    if found.timestamp != target.timestamp {
        return Err(Error::bad_request(
            code::MESSAGE_NOT_FOUND,
            "timestamp does not match the message's timestamp.",
        ));
    }
    Ok((conv, found))
}

/// Replaces a message's content (`new_data`) or recalls it (`new_data = None`), then pushes
/// the patch to online recipients.
pub async fn patch(
    state: &AppState,
    app: &str,
    kinds: &[Kind],
    target: &MessageRef,
    new_data: Option<String>,
    bin: bool,
) -> Result<Arc<Message>> {
    if let Some(data) = &new_data {
        message::check_size(data, 0)?;
        if !bin {
            message::check_typed_format(data)?;
        }
    }
    let (conv, found) = locate(state, app, kinds, target).await?;
    let verdict =
        crate::app::hooks::message::update(state, app, &conv, &found, new_data, bin).await?;
    let (new_data, bin) = (verdict.new_data, verdict.bin);
    let patched = Arc::new(
        state
            .store
            .patch_message(app, &found, new_data.as_deref(), bin, time::now_ms())
            .await?,
    );
    if patched.content.kind == MessageKind::GlobalBroadcast {
        state
            .store
            .update_broadcast_content(app, &patched.msg_id, &patched.content.data)
            .await?;
    }
    // A broadcast's edit reaches only those who have not received it yet: no live push.
    let broadcast = matches!(
        patched.content.kind,
        MessageKind::SubscriberBroadcast | MessageKind::GlobalBroadcast
    );
    if !broadcast && state.hub.any_online(app) {
        let recipients = super::send::recipients(state, app, &conv, &patched).await?;
        state.hub.publish(
            app,
            recipients,
            Event::Patch {
                message: Arc::clone(&patched),
            },
        );
    }
    Ok(patched)
}

/// Deletes the server copy only; clients keep what they cached.
pub async fn delete(
    state: &AppState,
    app: &str,
    kinds: &[Kind],
    target: &MessageRef,
) -> Result<()> {
    let (conv, found) = locate(state, app, kinds, target).await?;
    if !state
        .store
        .delete_message(app, &conv.id, &found.msg_id)
        .await?
    {
        return Err(Error::message_not_found());
    }
    Ok(())
}
