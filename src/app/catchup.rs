//! What a client catches up on right after `opened`: unread counts (protocol 3) or the
//! stored messages it has not acknowledged (protocol 1), valid global broadcasts it missed,
//! then edits and recalls newer than its `lastPatchTime`.

use crate::domain::app::App;
use crate::domain::time;
use crate::error::Result;
use crate::hub::push::{self, conv_type};
use crate::proto::{CommandType, GenericCommand, SessionCommand, UnreadCommand, UnreadTuple};
use crate::state::AppState;
use crate::store::positions::UnreadConversation;

/// `configBitmap` bit 0: the client understands `patch` pushes.
const PATCH_MESSAGES: i64 = 1;
/// Stored messages replayed at a protocol-1 login, and patches at any login.
const REPLAY_MAX: i64 = 200;

/// The pushes a client gets right after `opened`, without `peerId`.
pub async fn after_open(
    state: &AppState,
    app: &App,
    client: &str,
    protocol_version: u32,
    request: &SessionCommand,
) -> Result<Vec<GenericCommand>> {
    let store = &state.store;
    let mut pushes = Vec::new();
    if protocol_version >= 3 {
        let since = request.last_unread_notif_time;
        let mut unread = store
            .unread_conversations(&app.app_id, client, since)
            .await?;
        unread.extend(
            store
                .unread_subscriptions(&app.app_id, client, since)
                .await?,
        );
        if !unread.is_empty() {
            pushes.push(unread_command(&unread));
        }
    } else {
        let stored = store
            .undelivered(&app.app_id, client, REPLAY_MAX + 1)
            .await?;
        let more = stored.len() as i64 > REPLAY_MAX;
        let count = stored.len().min(REPLAY_MAX as usize);
        for (index, message) in stored.iter().take(count).enumerate() {
            let mut command = push::direct_command(message, true);
            if let Some(direct) = command.direct_message.as_mut() {
                direct.has_more = (more && index + 1 == count).then_some(true);
            }
            pushes.push(command);
        }
    }
    pushes.extend(global_broadcasts(state, app, client).await?);
    let wants_patches = request.config_bitmap.unwrap_or(0) & PATCH_MESSAGES != 0;
    if let (true, Some(since)) = (wants_patches, request.last_patch_time) {
        let patched = store
            .patches_since(&app.app_id, client, since, REPLAY_MAX)
            .await?;
        if !patched.is_empty() {
            pushes.push(push::patch_command(&patched));
        }
    }
    Ok(pushes)
}

/// Global broadcasts still valid that this client has not received, oldest first: those
/// sent since its cursor, or for a brand-new client the latest one. Moves the cursor.
async fn global_broadcasts(
    state: &AppState,
    app: &App,
    client: &str,
) -> Result<Vec<GenericCommand>> {
    let store = &state.store;
    let now = state.clock.now_ms();
    let (since, limit) = match store.broadcast_cursor(&app.app_id, client).await? {
        Some(cursor) => (cursor, REPLAY_MAX),
        None => (0, 1),
    };
    let mut found = store
        .valid_broadcasts(&app.app_id, None, since, now, 0, limit)
        .await?;
    found.reverse();
    store
        .advance_broadcast_cursors(&app.app_id, &[client.to_owned()], now)
        .await?;
    Ok(found
        .iter()
        .map(|b| push::direct_command(&b.as_message(), true))
        .collect())
}

/// An `unread` push from stored positions.
pub fn unread_command(convs: &[UnreadConversation]) -> GenericCommand {
    let tuples = convs.iter().map(unread_tuple).collect();
    let mut command = push::envelope(CommandType::Unread, None);
    command.unread_message = Some(UnreadCommand {
        convs: tuples,
        notif_time: Some(time::now_ms()),
    });
    command
}

fn unread_tuple(conv: &UnreadConversation) -> UnreadTuple {
    let mut tuple = UnreadTuple {
        cid: conv.conv_id.clone(),
        unread: conv.unread.clamp(0, i64::from(i32::MAX)) as i32,
        mentioned: Some(conv.mentioned),
        conv_type: Some(conv_type(conv.conv_kind)),
        ..Default::default()
    };
    if let Some(last) = &conv.last_message {
        tuple.mid = Some(last.msg_id.clone());
        tuple.timestamp = Some(last.timestamp);
        tuple.from = Some(last.content.from_client.clone());
        tuple.patch_timestamp = last.patch_timestamp;
        match (last.content.bin, push::binary(&last.content.data)) {
            (true, Some(bytes)) => tuple.binary_msg = Some(bytes),
            _ => tuple.data = Some(last.content.data.clone()),
        }
    }
    tuple
}
