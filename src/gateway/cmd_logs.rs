//! `logs`: history with the same cursor semantics as REST history (one `HistoryQuery`,
//! `state.store.history`), answered in ascending time order whatever the direction.

use super::cmd_conv::ALL_KINDS;
use super::connection::Conn;
use super::reply;
use super::session::Current;
use crate::domain::conversation::Kind;
use crate::domain::message::Message;
use crate::error::{Error, Result};
use crate::hub::push::conv_type;
use crate::proto::{
    logs_command::QueryDirection, CommandType, GenericCommand, LogItem, LogsCommand,
};
use crate::store::messages::{HistoryQuery, HistoryScope, Position};
use serde_json::Value;

/// JS documents "server default 20"; Swift allows 1..100; REST caps at 1000.
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 1000;
/// With an `lctype` filter, pages scanned before answering with what was found.
const LCTYPE_MAX_PAGES: usize = 10;

pub async fn logs(conn: &mut Conn, current: &Current, command: GenericCommand) {
    let answer = match run(conn, current, &command).await {
        Ok(items) => {
            let mut answer = reply::to(&command, CommandType::Logs, None);
            answer.logs_message = Some(LogsCommand {
                logs: items,
                ..Default::default()
            });
            answer
        }
        Err(err) => reply::failure(&command, &err),
    };
    conn.reply(answer);
}

async fn run(conn: &Conn, current: &Current, command: &GenericCommand) -> Result<Vec<LogItem>> {
    let body = command.logs_message.clone().unwrap_or_default();
    let app = current.app_id();
    let cid = body
        .cid
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(Error::conversation_not_found)?;
    let conv = conn
        .state
        .store
        .conversation_of_kind(app, &cid, ALL_KINDS)
        .await?;
    let scope = match conv.kind {
        Kind::Normal | Kind::Temporary => {
            if !conn
                .state
                .store
                .is_member(app, &cid, &current.client)
                .await?
            {
                return Err(Error::forbidden(
                    4312,
                    "Only members may read this conversation's history.",
                ));
            }
            HistoryScope::Conversation(&cid)
        }
        Kind::ChatRoom => HistoryScope::Conversation(&cid),
        Kind::Service => HistoryScope::Subscriber {
            conv: &cid,
            client: &current.client,
        },
    };
    let query = history_query(&body);
    let mut found = match body.lctype {
        None => conn.state.store.history(app, scope, &query).await?,
        Some(lctype) => filtered(conn, app, scope, query.clone(), lctype).await?,
    };
    if query.newest_first {
        found.reverse();
    }
    Ok(found.iter().map(log_item).collect())
}

fn history_query(body: &LogsCommand) -> HistoryQuery {
    let limit = body
        .l
        .or(body.limit)
        .map_or(DEFAULT_LIMIT, |l| i64::from(l).clamp(0, MAX_LIMIT));
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    HistoryQuery {
        start: body.t.map(|timestamp| Position {
            timestamp,
            msg_id: nonempty(&body.mid),
        }),
        end: body.tt.map(|timestamp| Position {
            timestamp,
            msg_id: nonempty(&body.tmid),
        }),
        include_start: body.t_included == Some(true),
        include_end: body.tt_included == Some(true),
        newest_first: body.direction != Some(QueryDirection::New as i32),
        limit,
    }
}

/// Only messages whose content has `_lctype == lctype`: scans pages in query order until
/// `limit` match or the history ends.
async fn filtered(
    conn: &Conn,
    app: &str,
    scope: HistoryScope<'_>,
    mut query: HistoryQuery,
    lctype: i32,
) -> Result<Vec<Message>> {
    let wanted = query.limit.max(0) as usize;
    let page = (query.limit * 2).clamp(50, MAX_LIMIT);
    query.limit = page;
    let mut found = Vec::new();
    for _ in 0..LCTYPE_MAX_PAGES {
        if found.len() >= wanted {
            break;
        }
        let batch = conn.state.store.history(app, scope, &query).await?;
        let Some(last) = batch.last() else { break };
        query.start = Some(Position {
            timestamp: last.timestamp,
            msg_id: Some(last.msg_id.clone()),
        });
        query.include_start = false;
        let exhausted = (batch.len() as i64) < page;
        found.extend(batch.into_iter().filter(|m| has_type(m, lctype)));
        if exhausted {
            break;
        }
    }
    found.truncate(wanted);
    Ok(found)
}

fn has_type(message: &Message, lctype: i32) -> bool {
    !message.bin
        && serde_json::from_str::<Value>(&message.data)
            .ok()
            .and_then(|v| v.get("_lctype").and_then(Value::as_i64))
            == Some(i64::from(lctype))
}

/// Binary content stays base64 in `data`, flagged with `bin`.
fn log_item(message: &Message) -> LogItem {
    LogItem {
        from: Some(message.from_client.clone()),
        data: Some(message.data.clone()),
        timestamp: Some(message.timestamp),
        msg_id: Some(message.msg_id.clone()),
        ack_at: message.ack_at,
        patch_timestamp: message.patch_timestamp,
        mention_all: message.mention_all.then_some(true),
        mention_pids: message.mention_pids.clone(),
        bin: message.bin.then_some(true),
        conv_type: Some(conv_type(message.conv_kind)),
        ..Default::default()
    }
}
