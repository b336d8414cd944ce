//! `direct` (send, answered with `ack` once stored, through the one send path) and
//! receivers' `ack`s (delivered positions, first-delivery times, delivery receipts).

use super::cmd_conv::ALL_KINDS;
use super::connection::Conn;
use super::reply;
use super::session::Current;
use crate::app::send::{self, Origin, SendRequest};
use crate::domain::message::Priority;
use crate::domain::{ids, time};
use crate::error::{code, Error, Result};
use crate::hub::{Event, Recipients};
use crate::proto::{AckCommand, CommandType, GenericCommand, RcpCommand};
use crate::store::positions::UpTo;
use base64::Engine;

/// Receipts sent for one receiver `ack` at most.
const RECEIPTS_PER_ACK: i64 = 100;

pub async fn direct(conn: &mut Conn, current: &Current, command: GenericCommand) {
    let answer = match send_direct(conn, current, &command).await {
        Ok(answer) => answer,
        // A missing conversation reads as "not a member" to the SDKs (official JS test).
        Err(Error::NotFound {
            code: code::CONVERSATION_NOT_FOUND,
            ..
        }) => {
            let err = Error::forbidden(
                code::INVALID_MESSAGING_TARGET,
                "The conversation does not exist.",
            );
            reply::failed_ack(&command, &err)
        }
        Err(err) => reply::failed_ack(&command, &err),
    };
    conn.reply(answer);
}

fn ack_reply(command: &GenericCommand, uid: String, t: i64) -> GenericCommand {
    let mut answer = reply::to(command, CommandType::Ack, None);
    answer.ack_message = Some(AckCommand {
        uid: Some(uid),
        t: Some(t),
        ..Default::default()
    });
    answer
}

async fn send_direct(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
) -> Result<GenericCommand> {
    let body = command.direct_message.clone().unwrap_or_default();
    let cid = body
        .cid
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::forbidden(code::INVALID_MESSAGING_TARGET, "cid is required."))?;
    let (data, bin) = match (body.binary_msg, body.msg) {
        (Some(bytes), _) => (
            base64::engine::general_purpose::STANDARD.encode(bytes),
            true,
        ),
        (None, Some(text)) => (text, false),
        (None, None) => (String::new(), false),
    };
    let transient = body.transient == Some(true);
    let mut request = SendRequest::new(&cid, ALL_KINDS, &current.client, data);
    request.bin = bin;
    request.transient = transient;
    request.push_data = body.push_data.filter(|p| !p.is_empty());
    request.priority = command
        .priority
        .map_or(Priority::Normal, |p| Priority::from_i64(i64::from(p)));
    request.mention_all = body.mention_all == Some(true);
    request.mention_pids = body.mention_pids;
    request.from_ip = conn.remote_ip.clone();
    // `dt` is the SDK's own id for the message (JS: the message uuid), kept across resends.
    let dedup_key = body.dt.filter(|d| !d.is_empty() && !transient);
    request.origin = Origin::Session {
        session_id: current.session,
        dedup_key,
    };
    if body.will == Some(true) {
        return Ok(keep_will(conn, current, command, request));
    }
    let sent = send::send(&conn.state, current.app_id(), request).await?;
    let message = &sent.message;
    if !message.transient && message.seq > 0 {
        advance_own(conn, current, &message.conv_id, message.seq);
    }
    if body.r == Some(true) && !message.transient {
        conn.state
            .hub
            .want_receipt(current.app_id(), &message.msg_id);
    }
    Ok(ack_reply(
        command,
        message.msg_id.clone(),
        message.timestamp,
    ))
}

/// A will message waits in the session until the connection drops unexpectedly.
fn keep_will(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
    request: SendRequest,
) -> GenericCommand {
    let id = ids::new_message_id();
    let mut request = request;
    request.preassigned_id = Some(id.clone());
    request.origin = Origin::Admin;
    if let Some(session) = conn.sessions.by_id_mut(current.session) {
        session.will = Some(Box::new(request));
    }
    ack_reply(command, id, time::now_ms())
}

/// The sender has read (and received) its own message: its unread count never includes
/// it. Written after the ack, off the send path.
fn advance_own(conn: &Conn, current: &Current, conv: &str, seq: i64) {
    let client = current.client.to_string();
    conn.state
        .background
        .advance_own(current.app_id(), conv, &client, seq);
}

/// A receiver's `ack`: JS `{cid, fromts, tots}` per conversation, Swift/Java `{cid, mid}`.
pub async fn ack(conn: &mut Conn, current: &Current, command: GenericCommand) {
    let body = command.ack_message.unwrap_or_default();
    let app = current.app_id();
    if let Some(mid) = body.mid.as_deref() {
        conn.state.acks.acknowledged(app, mid, &current.client);
    }
    let Some(cid) = body.cid.as_deref().filter(|c| !c.is_empty()) else {
        return;
    };
    let now = time::now_ms();
    let store = &conn.state.store;
    let upto = match (body.mid.as_deref(), body.tots) {
        (Some(mid), _) => UpTo::Message(mid),
        (None, Some(tots)) => UpTo::Time(tots),
        (None, None) => return,
    };
    let delivered = match store
        .mark_delivered(app, cid, &current.client, upto, now, RECEIPTS_PER_ACK)
        .await
    {
        Ok(delivered) => delivered,
        Err(err) => {
            tracing::warn!(error = %err, "delivery position not stored");
            return;
        }
    };
    for message in delivered {
        conn.state
            .acks
            .acknowledged(app, &message.msg_id, &current.client);
        if conn.state.hub.receipt_wanted(app, &message.msg_id) {
            let mut push = crate::hub::push::envelope(CommandType::Rcp, None);
            // No `read` field: its presence alone makes Java treat it as a read receipt.
            push.rcp_message = Some(RcpCommand {
                id: Some(message.msg_id.clone()),
                cid: Some(cid.to_owned()),
                t: Some(now),
                from: Some(current.client.to_string()),
                read: None,
            });
            let event = Event::Push {
                command: Box::new(push),
                exclude_session: None,
            };
            conn.state
                .hub
                .publish(app, Recipients::Clients(vec![message.from_client]), event);
        }
    }
}
