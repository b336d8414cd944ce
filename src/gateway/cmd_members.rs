//! `conv add | remove`: inviting and removing members, joining and quitting (`m = [self]`),
//! chat-room presence and service-conversation subscriptions. Answers with
//! `allowedPids` / `failedPids` (configBitmap bit 5, which every current SDK sets).

use super::cmd_conv::{cid, conv_of, conv_reply, join_room, ALL_KINDS};
use super::connection::Conn;
use super::reply;
use super::session::Current;
use crate::app::membership;
use crate::domain::client_id;
use crate::domain::conversation::{Conversation, Kind};
use crate::domain::time::{self, iso};
use crate::error::{Error, Result};
use crate::proto::{ConvCommand, ErrorCommand, GenericCommand, OpType};

const CONVERSATION_NOT_ALLOWED: i64 = 4308;
const MEMBERSHIP_REQUIRED: i64 = 4317;
const NEED_OWNER: i64 = 4324;

/// The outcome per client id.
#[derive(Default)]
struct Outcome {
    allowed: Vec<String>,
    failed: Vec<ErrorCommand>,
}

impl Outcome {
    fn fail(&mut self, code: i64, ids: Vec<String>) {
        if !ids.is_empty() {
            let mut error = reply::error_command(code, "");
            error.pids = ids;
            self.failed.push(error);
        }
    }
}

pub async fn change(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
    adding: bool,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let conv = conn
        .state
        .store
        .conversation_of_kind(current.app_id(), cid(&body)?, ALL_KINDS)
        .await?;
    let mut ids = body.m.clone();
    ids.dedup();
    let (invalid, ids): (Vec<String>, Vec<String>) =
        ids.into_iter().partition(|id| !client_id::is_valid(id));
    let mut outcome = Outcome::default();
    outcome.fail(4103, invalid);
    let udate = match conv.kind {
        Kind::ChatRoom | Kind::Service => {
            self_only(conn, current, &conv, ids, adding, &mut outcome).await?
        }
        Kind::Normal | Kind::Temporary => {
            members(conn, current, &conv, ids, adding, &mut outcome).await?
        }
    };
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
            failed_pids: outcome.failed,
            udate: Some(iso(udate)),
            ..Default::default()
        },
    ))
}

/// Chat rooms (online presence) and service conversations (subscriptions): a client can
/// only join or leave itself.
async fn self_only(
    conn: &Conn,
    current: &Current,
    conv: &Conversation,
    ids: Vec<String>,
    adding: bool,
    outcome: &mut Outcome,
) -> Result<i64> {
    let (me, others): (Vec<String>, Vec<String>) =
        ids.into_iter().partition(|id| **id == *current.client);
    outcome.fail(CONVERSATION_NOT_ALLOWED, others);
    if me.is_empty() {
        return Ok(conv.updated_at);
    }
    let app = current.app_id();
    match (conv.kind, adding) {
        (Kind::ChatRoom, true) => join_room(conn, current, &conv.id),
        (Kind::ChatRoom, false) => {
            if let Some(session) = conn.sessions.by_id(current.session) {
                conn.state.hub.leave_room(&session.guard, &conv.id);
            }
        }
        (_, true) => {
            conn.state
                .store
                .subscribe(app, &conv.id, &current.client, time::now_ms())
                .await?
        }
        (_, false) => {
            conn.state
                .store
                .unsubscribe(app, &conv.id, &current.client)
                .await?
        }
    }
    outcome.allowed = me;
    Ok(conv.updated_at)
}

/// Normal and temporary conversations. Anyone may join; members may invite and remove;
/// the owner (creator) cannot be removed (`4324`).
async fn members(
    conn: &Conn,
    current: &Current,
    conv: &Conversation,
    ids: Vec<String>,
    adding: bool,
    outcome: &mut Outcome,
) -> Result<i64> {
    let app = current.app_id();
    if let Some(expires_at) = conv.expires_at {
        if expires_at <= time::now_ms() {
            return Err(Error::bad_request(
                4323,
                "The temporary conversation has expired.",
            ));
        }
    }
    let only_self = ids.iter().all(|id| **id == *current.client);
    if !only_self
        && !conn
            .state
            .store
            .is_member(app, &conv.id, &current.client)
            .await?
    {
        outcome.fail(MEMBERSHIP_REQUIRED, ids);
        return Ok(conv.updated_at);
    }
    let ids = if adding {
        ids
    } else {
        let (owner, rest): (Vec<String>, Vec<String>) = ids
            .into_iter()
            .partition(|id| conv.creator.as_deref() == Some(id.as_str()));
        outcome.fail(NEED_OWNER, owner);
        rest
    };
    if ids.is_empty() {
        return Ok(conv.updated_at);
    }
    let updated = if adding {
        membership::add_members(&conn.state, app, conv, &ids, &current.client).await?
    } else {
        membership::remove_members(&conn.state, app, conv, &ids, &current.client).await?
    };
    outcome.allowed = ids;
    Ok(updated)
}
