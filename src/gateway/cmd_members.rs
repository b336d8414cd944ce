//! `conv add | remove`: inviting and removing members, joining and quitting (`m = [self]`),
//! chat-room presence and service-conversation subscriptions, through
//! `app::membership::client_change`. Answers with `allowedPids` / `failedPids`
//! (configBitmap bit 5, which every current SDK sets).

use super::cmd_conv::{cid, conv_of, conv_reply, signed};
use super::connection::Conn;
use super::reply;
use super::session::Current;
use crate::app::membership;
use crate::domain::time::iso;
use crate::error::Result;
use crate::proto::{ConvCommand, GenericCommand, OpType};

pub async fn change(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
    adding: bool,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let outcome = membership::client_change(
        &conn.state,
        current,
        cid(&body)?,
        body.m.clone(),
        adding,
        &signed(&body),
    )
    .await?;
    let failed = outcome
        .failed
        .into_iter()
        .map(|(code, ids)| {
            let mut error = reply::error_command(code, "");
            error.pids = ids;
            error
        })
        .collect();
    let op = if adding {
        OpType::Added
    } else {
        OpType::Removed
    };
    Ok(conv_reply(
        command,
        op,
        ConvCommand {
            allowed_pids: outcome.allowed,
            failed_pids: failed,
            udate: Some(iso(outcome.updated_at)),
            ..Default::default()
        },
    ))
}
