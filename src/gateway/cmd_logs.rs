//! `logs`: history with the same cursor semantics as REST history (one `HistoryQuery`,
//! `app::client_history`), answered in ascending time order whatever the direction.

use super::connection::Conn;
use super::reply;
use super::session::Current;
use crate::app::client_history;
use crate::app::history::{HistoryQuery, Position};
use crate::domain::message::Message;
use crate::error::{Error, Result};
use crate::hub::push::conv_type;
use crate::proto::{
    logs_command::QueryDirection, CommandType, GenericCommand, LogItem, LogsCommand,
};

/// JS documents "server default 20"; Swift allows 1..100; REST caps at 1000.
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = crate::app::history::MAX_LIMIT;

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
    let cid = body
        .cid
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(Error::conversation_not_found)?;
    let query = history_query(&body);
    let newest_first = query.newest_first;
    let mut found = client_history::logs(&conn.state, current, &cid, query, body.lctype).await?;
    if newest_first {
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

/// Binary content stays base64 in `data`, flagged with `bin`.
fn log_item(message: &Message) -> LogItem {
    LogItem {
        from: Some(message.content.from_client.clone()),
        data: Some(message.content.data.clone()),
        timestamp: Some(message.timestamp),
        msg_id: Some(message.msg_id.clone()),
        ack_at: message.ack_at,
        patch_timestamp: message.patch_timestamp,
        mention_all: message.content.mention_all.then_some(true),
        mention_pids: message.content.mention_pids.clone(),
        bin: message.content.bin.then_some(true),
        conv_type: Some(conv_type(message.conv_kind)),
        ..Default::default()
    }
}
