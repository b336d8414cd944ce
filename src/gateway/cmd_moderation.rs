//! Group management commands, each through `app::moderation`: `conv member_info_update`,
//! `conv add_shutup | remove_shutup | query_shutup | check_shutup`, and the `blacklist`
//! family (`block | unblock | query | check_block`, conversation side with `srcCid`,
//! client side with `srcPid`/`toCids`).

use super::cmd_conv::{cid, conv_of, conv_reply};
use super::connection::Conn;
use super::reply;
use super::session::Current;
use crate::app::membership::ClientChange;
use crate::app::moderation::{self, ClientList};
use crate::app::signatures::Signed;
use crate::app::{client_blocks, member_roles};
use crate::error::{Error, Result};
use crate::proto::{
    BlacklistCommand, CommandType, ConvCommand, ErrorCommand, GenericCommand, OpType,
};

fn failed(change: &ClientChange) -> Vec<ErrorCommand> {
    change
        .failed
        .iter()
        .map(|(code, ids)| {
            let mut error = reply::error_command(*code, "");
            error.pids = ids.clone();
            error
        })
        .collect()
}

pub async fn member_info_update(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let info = body.info.clone().unwrap_or_default();
    let target = body
        .target_client_id
        .clone()
        .or(info.pid)
        .unwrap_or_default();
    let role = info.role.unwrap_or_default();
    member_roles::update_role(&conn.state, current, cid(&body)?, &target, &role).await?;
    Ok(conv_reply(
        command,
        OpType::MemberInfoUpdated,
        ConvCommand::default(),
    ))
}

pub async fn shutup(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
    op: OpType,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let conv = cid(&body)?;
    let state = &conn.state;
    match op {
        OpType::AddShutup | OpType::RemoveShutup => {
            let on = op == OpType::AddShutup;
            let change = moderation::silence(state, current, conv, body.m.clone(), on).await?;
            let answer = if on {
                OpType::ShutupAdded
            } else {
                OpType::ShutupRemoved
            };
            Ok(conv_reply(
                command,
                answer,
                ConvCommand {
                    allowed_pids: change.allowed.clone(),
                    failed_pids: failed(&change),
                    ..Default::default()
                },
            ))
        }
        OpType::QueryShutup => {
            let (m, next) = moderation::page(
                state,
                current,
                conv,
                ClientList::Silenced,
                body.limit,
                body.next.as_deref(),
            )
            .await?;
            Ok(conv_reply(
                command,
                OpType::ShutupResult,
                ConvCommand {
                    m,
                    next,
                    ..Default::default()
                },
            ))
        }
        _ => {
            let m = moderation::check(state, current, conv, ClientList::Silenced, &body.m).await?;
            Ok(conv_reply(
                command,
                OpType::CheckResult,
                ConvCommand {
                    m,
                    ..Default::default()
                },
            ))
        }
    }
}

fn blacklist_reply(request: &GenericCommand, op: OpType, body: BlacklistCommand) -> GenericCommand {
    let mut answer = reply::to(request, CommandType::Blacklist, Some(op));
    answer.blacklist_message = Some(body);
    answer
}

pub async fn blacklist(
    conn: &mut Conn,
    current: &Current,
    command: GenericCommand,
    op: Option<OpType>,
) {
    let answer = run(conn, current, &command, op)
        .await
        .unwrap_or_else(|err| reply::failure(&command, &err));
    conn.reply(answer);
}

async fn run(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
    op: Option<OpType>,
) -> Result<GenericCommand> {
    let body = command.blacklist_message.clone().unwrap_or_default();
    let signed = Signed {
        signature: body.s.clone(),
        timestamp: body.t,
        nonce: body.n.clone(),
    };
    let state = &conn.state;
    let src_cid = body.src_cid.clone().filter(|c| !c.is_empty());
    match (op, src_cid) {
        (Some(op @ (OpType::Block | OpType::Unblock)), Some(conv)) => {
            let on = op == OpType::Block;
            let change =
                moderation::block(state, current, &conv, body.to_pids.clone(), on, &signed).await?;
            let answer = if on {
                OpType::Blocked
            } else {
                OpType::Unblocked
            };
            Ok(blacklist_reply(
                command,
                answer,
                BlacklistCommand {
                    src_cid: Some(conv),
                    allowed_pids: change.allowed.clone(),
                    failed_pids: failed(&change),
                    ..Default::default()
                },
            ))
        }
        (Some(op @ (OpType::Block | OpType::Unblock)), None) => {
            let on = op == OpType::Block;
            let convs =
                client_blocks::client_block(state, current, body.to_cids.clone(), on, &signed)
                    .await?;
            let answer = if on {
                OpType::Blocked
            } else {
                OpType::Unblocked
            };
            Ok(blacklist_reply(
                command,
                answer,
                BlacklistCommand {
                    src_pid: Some(current.client.to_string()),
                    allowed_pids: convs,
                    ..Default::default()
                },
            ))
        }
        (Some(OpType::Query), Some(conv)) => {
            let (blocked, next) = moderation::page(
                state,
                current,
                &conv,
                ClientList::Blocked,
                body.limit,
                body.next.as_deref(),
            )
            .await?;
            Ok(blacklist_reply(
                command,
                OpType::QueryResult,
                BlacklistCommand {
                    src_cid: Some(conv),
                    blocked_pids: blocked,
                    next,
                    ..Default::default()
                },
            ))
        }
        (Some(OpType::Query), None) => {
            let (blocked, next) =
                client_blocks::client_blocks(state, current, body.limit, body.next.as_deref())
                    .await?;
            Ok(blacklist_reply(
                command,
                OpType::QueryResult,
                BlacklistCommand {
                    src_pid: Some(current.client.to_string()),
                    blocked_cids: blocked,
                    next,
                    ..Default::default()
                },
            ))
        }
        (Some(OpType::CheckBlock), Some(conv)) => {
            let blocked =
                moderation::check(state, current, &conv, ClientList::Blocked, &body.to_pids)
                    .await?;
            Ok(blacklist_reply(
                command,
                OpType::CheckResult,
                BlacklistCommand {
                    src_cid: Some(conv),
                    blocked_pids: blocked,
                    ..Default::default()
                },
            ))
        }
        _ => Err(Error::bad_request(
            reply::UNPARSEABLE_RAW_MESSAGE,
            "This blacklist operation is not supported.",
        )),
    }
}
