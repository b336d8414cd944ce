//! `direct` (send, answered with `ack` once stored, through the one send path) and
//! receivers' `ack`s (delivered positions, first-delivery times, delivery receipts).

use super::cmd_conv::ALL_KINDS;
use super::connection::Conn;
use super::reply;
use super::session::Current;
use crate::app::acks;
use crate::app::send::{self, Origin, SendRequest};
use crate::domain::message::Priority;
use crate::domain::{ids, time};
use crate::error::{code, Error, Result};
use crate::proto::{AckCommand, CommandType, GenericCommand};
use base64::Engine;

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
    request.content.bin = bin;
    request.transient = transient;
    request.content.push_data = body.push_data.filter(|p| !p.is_empty());
    request.content.priority = command
        .priority
        .map_or(Priority::Normal, |p| Priority::from_i64(i64::from(p)));
    request.content.mention_all = body.mention_all == Some(true);
    request.content.mention_pids = body.mention_pids;
    request.content.from_ip = conn.remote_ip_text();
    // `dt` is the SDK's own id for the message (JS: the message uuid), kept across resends.
    let dedup_key = body.dt.filter(|d| !d.is_empty() && !transient);
    request.origin = Origin::Session {
        session_id: current.session,
        dedup_key,
    };
    if body.will == Some(true) {
        return keep_will(conn, current, command, request).await;
    }
    let sent = send::send(&conn.state, current.app_id(), request).await?;
    let message = &sent.message;
    acks::after_own_send(&conn.state, current, message, body.r == Some(true));
    Ok(ack_reply(
        command,
        message.msg_id.clone(),
        message.timestamp,
    ))
}

/// A will message waits in the session until the connection drops unexpectedly. It is
/// authorized like the send it stands for now, and again when it is sent.
async fn keep_will(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
    request: SendRequest,
) -> Result<GenericCommand> {
    send::admit(&conn.state, current.app_id(), &request).await?;
    let id = ids::new_message_id();
    let mut request = request;
    request.preassigned_id = Some(id.clone());
    if let Some(session) = conn.sessions.by_id_mut(current.session) {
        session.will = Some(Box::new(request));
    }
    Ok(ack_reply(command, id, time::now_ms()))
}

/// A receiver's `ack`: JS `{cid, fromts, tots}` per conversation, Swift/Java `{cid, mid}`.
pub async fn ack(conn: &mut Conn, current: &Current, command: GenericCommand) {
    let body = command.ack_message.unwrap_or_default();
    acks::receiver_ack(
        &conn.state,
        current,
        body.cid.as_deref(),
        body.mid.as_deref(),
        body.tots,
    )
    .await;
}
