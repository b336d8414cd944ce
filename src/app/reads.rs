//! A client read up to a point (`read`, no reply): moves its read position, tells its other
//! sessions the new unread count (`unread`), and sends a read receipt (`rcp read=true`) to
//! the other member of a one-to-one conversation. Only members and subscribers move
//! positions; anything else is ignored.

use crate::app::actor::ClientSession;
use crate::domain::time;
use crate::error::Result;
use crate::hub::push::{conv_type, envelope};
use crate::hub::{Event, Recipients};
use crate::proto::{CommandType, GenericCommand, RcpCommand, UnreadCommand, UnreadTuple};
use crate::state::AppState;
use crate::store::positions::ReadPosition;

/// Read receipts go to conversations this small (one-to-one chats); group chats use the
/// JS group-receipt plugin and `max_read` instead.
const RECEIPT_MAX_MEMBERS: i64 = 2;

/// Moves `session`'s read position in `cid` to `timestamp`/`mid` (or the end).
pub async fn read(
    state: &AppState,
    session: &ClientSession,
    cid: &str,
    timestamp: Option<i64>,
    mid: Option<&str>,
) -> Result<()> {
    let current = session;
    let app = current.app_id();
    let now = time::now_ms();
    let store = &state.store;
    let position = match store
        .mark_read(app, cid, &current.client, timestamp, mid, now)
        .await?
    {
        Some(position) => Some(position),
        // Not a member: perhaps a service-conversation subscriber (unread is then 0).
        None if store
            .mark_subscription_read(app, cid, &current.client, now)
            .await? =>
        {
            None
        }
        None => return Ok(()),
    };
    let Some(conv) = store.find_conversation(app, cid).await? else {
        return Ok(());
    };
    let mut unread = envelope(CommandType::Unread, None);
    unread.unread_message = Some(UnreadCommand {
        convs: vec![UnreadTuple {
            cid: cid.to_owned(),
            unread: position
                .as_ref()
                .map_or(0, |p| p.unread.clamp(0, i64::from(i32::MAX)) as i32),
            mentioned: Some(false),
            conv_type: Some(conv_type(conv.kind.as_i64())),
            ..Default::default()
        }],
        notif_time: Some(now),
    });
    let me = Recipients::Clients(vec![current.client.to_string()]);
    state.hub.publish(
        app,
        me,
        Event::Push {
            command: Box::new(unread),
            exclude_session: Some(current.session),
        },
    );
    let Some(position) = position else {
        return Ok(());
    };
    if conv.member_count <= RECEIPT_MAX_MEMBERS {
        let others: Vec<String> = store
            .members(app, cid)
            .await?
            .into_iter()
            .filter(|m| **m != *current.client)
            .collect();
        if !others.is_empty() {
            let receipt = read_receipt(cid, &current.client, &position, now);
            state.hub.publish(
                app,
                Recipients::Clients(others),
                Event::Push {
                    command: Box::new(receipt),
                    exclude_session: None,
                },
            );
        }
    }
    Ok(())
}

/// `t` is the read time (server clock, so never before the messages it covers).
fn read_receipt(cid: &str, reader: &str, position: &ReadPosition, now: i64) -> GenericCommand {
    let mut receipt = envelope(CommandType::Rcp, None);
    receipt.rcp_message = Some(RcpCommand {
        id: Some(position.msg_id.clone()),
        cid: Some(cid.to_owned()),
        t: Some(now.max(position.timestamp)),
        read: Some(true),
        from: Some(reader.to_owned()),
    });
    receipt
}
