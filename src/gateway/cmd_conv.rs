//! `conv start | mute | unmute | count | members | is_member | max_read`, and
//! routing of `add`/`remove` to [`super::cmd_members`] and `update` to [`super::cmd_update`].
//! (`conv query` lives in
//! [`super::cmd_query`].)

use super::connection::Conn;
use super::session::Current;
use super::{cmd_members, cmd_moderation, cmd_update, reply};
use crate::app::client_conversations;
pub use crate::app::client_conversations::{json, ALL_KINDS};
use crate::app::conversation_info;
use crate::app::conversations::CreateConversation;
use crate::app::fields;
use crate::app::signatures::Signed;
use crate::domain::time::iso;
use crate::error::{code, Error, Result};
use crate::proto::{
    CommandType, ConvCommand, GenericCommand, JsonObjectMessage, MaxReadTuple, OpType,
};
use serde_json::{Map, Value};

/// Fields of a conversation the server manages: ignored when an SDK sends them in `attr`.
const MANAGED: &[&str] = &[
    "m",
    "mu",
    "c",
    "tr",
    "sys",
    "unique",
    "uniqueId",
    "objectId",
    "createdAt",
    "updatedAt",
    "lm",
    "ACL",
];
/// `conv members` answers at most this many online ids (Swift asks for up to 50).
const MEMBERS_SAMPLE: usize = 50;

pub async fn handle(
    conn: &mut Conn,
    current: &Current,
    command: GenericCommand,
    op: Option<OpType>,
) {
    let result = match op {
        Some(OpType::Start) => start(conn, current, &command).await,
        Some(OpType::Add) => cmd_members::change(conn, current, &command, true).await,
        Some(OpType::Remove) => cmd_members::change(conn, current, &command, false).await,
        Some(OpType::Update) => cmd_update::update(conn, current, &command).await,
        Some(OpType::Mute) => mute(conn, current, &command, true).await,
        Some(OpType::Unmute) => mute(conn, current, &command, false).await,
        Some(OpType::Count) => count(conn, current, &command).await,
        Some(OpType::Members) => members(conn, current, &command).await,
        Some(OpType::IsMember) => is_member(conn, current, &command).await,
        Some(OpType::MaxRead) => max_read(conn, current, &command).await,
        Some(OpType::MemberInfoUpdate) => {
            cmd_moderation::member_info_update(conn, current, &command).await
        }
        Some(
            op @ (OpType::AddShutup
            | OpType::RemoveShutup
            | OpType::QueryShutup
            | OpType::CheckShutup),
        ) => cmd_moderation::shutup(conn, current, &command, op).await,
        _ => Err(Error::bad_request(
            reply::UNPARSEABLE_RAW_MESSAGE,
            "This conversation operation is not supported.",
        )),
    };
    let answer = result.unwrap_or_else(|err| reply::failure(&command, &err));
    conn.reply(answer);
}

/// A reply `conv/<op>` carrying `convMessage` (JS destructures it without checks).
pub fn conv_reply(request: &GenericCommand, op: OpType, body: ConvCommand) -> GenericCommand {
    let mut answer = reply::to(request, CommandType::Conv, Some(op));
    answer.conv_message = Some(body);
    answer
}

pub fn conv_of(command: &GenericCommand) -> ConvCommand {
    command.conv_message.clone().unwrap_or_default()
}

/// The conversation id a command names; `4303` when it is missing.
pub fn cid(body: &ConvCommand) -> Result<&str> {
    body.cid
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(Error::conversation_not_found)
}

/// A `JsonObjectMessage` holding a JSON object.
pub fn json_object(message: &Option<JsonObjectMessage>) -> Result<Map<String, Value>> {
    let Some(message) = message else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(&message.data) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        _ => Err(Error::bad_request(
            code::MALFORMED_JSON,
            "attr must be a JSON object.",
        )),
    }
}

pub fn signed(body: &ConvCommand) -> Signed {
    Signed {
        signature: body.s.clone(),
        timestamp: body.t,
        nonce: body.n.clone(),
    }
}

async fn start(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let (name, attrs) = fields::split_body(json_object(&body.attr)?, MANAGED)?;
    let room = body.transient == Some(true);
    let temporary = body.temp_conv == Some(true) && !room;
    let request = CreateConversation {
        name: name.flatten(),
        members: body.m.clone(),
        unique: body.unique == Some(true),
        creator: Some(current.client.to_string()),
        attrs,
        temporary_ttl_secs: temporary.then(|| i64::from(body.temp_conv_ttl.unwrap_or(0))),
    };
    let (conv, created) =
        client_conversations::start(&conn.state, current, request, room, &signed(&body)).await?;
    let ttl = conv.expires_at.map(|at| {
        ((at - crate::domain::time::now_ms()) / 1000).clamp(0, i64::from(i32::MAX)) as i32
    });
    Ok(conv_reply(
        command,
        OpType::Started,
        ConvCommand {
            cid: Some(conv.id.clone()),
            cdate: Some(iso(conv.created_at)),
            unique_id: conv.unique_id.clone(),
            temp_conv_ttl: ttl,
            existing: (!created).then_some(true),
            ..Default::default()
        },
    ))
}

async fn mute(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
    on: bool,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let at = client_conversations::mute(&conn.state, current, cid(&body)?, on).await?;
    Ok(conv_reply(
        command,
        OpType::Updated,
        ConvCommand {
            udate: Some(iso(at)),
            ..Default::default()
        },
    ))
}

async fn count(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let count = conversation_info::count(&conn.state, current, cid(&body)?).await?;
    let count = count.clamp(0, i64::from(i32::MAX)) as i32;
    Ok(conv_reply(
        command,
        OpType::Result,
        ConvCommand {
            count: Some(count),
            ..Default::default()
        },
    ))
}

async fn members(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let limit = body
        .limit
        .map_or(MEMBERS_SAMPLE, |l| (l.max(0) as usize).min(MEMBERS_SAMPLE));
    let found = conversation_info::members(&conn.state, current, cid(&body)?, limit).await?;
    Ok(conv_reply(
        command,
        OpType::Members,
        ConvCommand {
            m: found,
            ..Default::default()
        },
    ))
}

async fn is_member(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let mut ids = body.cids.clone();
    ids.extend(body.cid.clone());
    let results: Map<String, Value> = conversation_info::is_member(&conn.state, current, &ids)
        .await?
        .into_iter()
        .map(|(id, member)| (id, Value::Bool(member)))
        .collect();
    Ok(conv_reply(
        command,
        OpType::IsMember,
        ConvCommand {
            results: json(&Value::Object(results)),
            ..Default::default()
        },
    ))
}

/// Latest delivery and read times of the other members (1:1 "delivered/read" marks), or
/// every member's with `queryAllMembers`.
async fn max_read(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let positions = conversation_info::positions(&conn.state, current, cid(&body)?).await?;
    let nonzero = |t: i64| (t > 0).then_some(t);
    let mut answer = ConvCommand::default();
    if body.query_all_members == Some(true) {
        answer.max_read_tuples = positions
            .iter()
            .map(|p| MaxReadTuple {
                pid: Some(p.client_id.clone()),
                max_ack_timestamp: nonzero(p.delivered_at),
                max_read_timestamp: nonzero(p.read_at),
            })
            .collect();
    } else {
        let others = positions.iter().filter(|p| *p.client_id != *current.client);
        let (ack, read) = others.fold((0, 0), |(a, r), p| {
            (a.max(p.delivered_at), r.max(p.read_at))
        });
        answer.max_ack_timestamp = nonzero(ack);
        answer.max_read_timestamp = nonzero(read);
    }
    Ok(conv_reply(command, OpType::MaxRead, answer))
}
