//! Stored messages: history scans, look-ups, edits, recalls and deletes. Writes of new
//! messages go through the group-commit writer (`writer.rs`).

use super::Store;
use crate::domain::message::{Content, Message, MessageKind, Priority, RECALLED_CONTENT};
use crate::error::{Error, Result};
use crate::store::db::{self, Row};
use sqlx::types::Json;

pub(crate) const MESSAGE_SELECT: &str = "m.conv_id, m.conv_kind, m.seq, m.msg_id, m.timestamp, m.from_client, m.data, \
     m.bin, m.from_ip, m.kind, m.no_sync, m.priority, m.mention_all, m.mention_pids, m.push_data, m.to_clients, \
     m.patch_timestamp, m.recalled, m.ack_at";

/// Whose messages a history scan walks.
#[derive(Debug, Clone, Copy)]
pub enum HistoryScope<'a> {
    /// One conversation or chat room, in `(timestamp, seq)` order.
    Conversation(&'a str),
    /// What one service-conversation subscriber received: broadcasts and messages to them.
    Subscriber { conv: &'a str, client: &'a str },
    /// What one client sent in conversations and chat rooms, in `(timestamp, msg_id)` order.
    Sender(&'a str),
    /// Every message of the app, in `(timestamp, msg_id)` order.
    App,
}

/// A point in the scan: a timestamp, optionally pinned to one message by id.
#[derive(Debug, Clone, Default)]
pub struct Position {
    pub timestamp: i64,
    pub msg_id: Option<String>,
}

/// A history scan. Bounds are exclusive unless `include_*`; absent bounds are open.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub start: Option<Position>,
    pub end: Option<Position>,
    pub include_start: bool,
    pub include_end: bool,
    /// Newest first (the default) or oldest first (`reversed`).
    pub newest_first: bool,
    pub limit: i64,
}

/// Tie-breaker value after the timestamp in the scan order.
enum Tie {
    Seq(i64),
    MsgId(String),
}

impl Store {
    pub async fn history(
        &self,
        app: &str,
        scope: HistoryScope<'_>,
        query: &HistoryQuery,
    ) -> Result<Vec<Message>> {
        let tie_column = match scope {
            HistoryScope::Conversation(_) | HistoryScope::Subscriber { .. } => "m.seq",
            HistoryScope::Sender(_) | HistoryScope::App => "m.msg_id",
        };
        let mut sql = format!("SELECT {MESSAGE_SELECT} FROM messages m WHERE m.app_id = $1");
        let mut binds: Vec<Bind> = vec![Bind::Text(app.to_owned())];
        match scope {
            HistoryScope::Conversation(conv) => {
                binds.push(Bind::Text(conv.to_owned()));
                sql.push_str(&format!(" AND m.conv_id = ${}", binds.len()));
            }
            HistoryScope::Subscriber { conv, client } => {
                binds.push(Bind::Text(conv.to_owned()));
                let conv_n = binds.len();
                binds.push(Bind::Text(client.to_owned()));
                sql.push_str(&format!(
                    " AND m.conv_id = ${conv_n} AND CASE m.kind
                       WHEN 1 THEN NOT EXISTS (SELECT 1 FROM message_targets t WHERE t.app_id = m.app_id
                           AND t.conv_id = m.conv_id AND t.seq = m.seq AND t.client_id = ${n} AND t.hidden = TRUE)
                       WHEN 2 THEN EXISTS (SELECT 1 FROM message_targets t WHERE t.app_id = m.app_id
                           AND t.conv_id = m.conv_id AND t.seq = m.seq AND t.client_id = ${n} AND t.hidden = FALSE)
                       ELSE 1 = 0 END",
                    n = binds.len()
                ));
            }
            HistoryScope::Sender(client) => {
                binds.push(Bind::Text(client.to_owned()));
                sql.push_str(&format!(
                    " AND m.from_client = ${} AND m.conv_kind IN (0, 1)",
                    binds.len()
                ));
            }
            HistoryScope::App => {}
        }
        // Newest first: the start bound is the upper one; oldest first: the lower one.
        let (upper, upper_inclusive, lower, lower_inclusive) = if query.newest_first {
            (
                &query.start,
                query.include_start,
                &query.end,
                query.include_end,
            )
        } else {
            (
                &query.end,
                query.include_end,
                &query.start,
                query.include_start,
            )
        };
        for (bound, inclusive, below) in [
            (upper, upper_inclusive, true),
            (lower, lower_inclusive, false),
        ] {
            let Some(position) = bound else { continue };
            let tie = self.resolve_tie(app, scope, position).await?;
            let op = match (below, inclusive) {
                (true, false) => "<",
                (true, true) => "<=",
                (false, false) => ">",
                (false, true) => ">=",
            };
            binds.push(Bind::Int(position.timestamp));
            let ts_n = binds.len();
            match tie {
                Some(tie) => {
                    binds.push(match tie {
                        Tie::Seq(seq) => Bind::Int(seq),
                        Tie::MsgId(id) => Bind::Text(id),
                    });
                    sql.push_str(&format!(
                        " AND (m.timestamp, {tie_column}) {op} (${ts_n}, ${})",
                        binds.len()
                    ));
                }
                None => sql.push_str(&format!(" AND m.timestamp {op} ${ts_n}")),
            }
        }
        let direction = if query.newest_first { "DESC" } else { "ASC" };
        sql.push_str(&format!(
            " ORDER BY m.timestamp {direction}, {tie_column} {direction} LIMIT {}",
            query.limit.max(0)
        ));
        let rows = bind_all(db::query(&sql), &binds)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// The tie-breaker of a position pinned by message id; `None` compares on time alone.
    async fn resolve_tie(
        &self,
        app: &str,
        scope: HistoryScope<'_>,
        position: &Position,
    ) -> Result<Option<Tie>> {
        let Some(msg_id) = &position.msg_id else {
            return Ok(None);
        };
        match scope {
            HistoryScope::Sender(_) | HistoryScope::App => Ok(Some(Tie::MsgId(msg_id.clone()))),
            HistoryScope::Conversation(conv) | HistoryScope::Subscriber { conv, .. } => {
                let row = db::query("SELECT seq, timestamp FROM messages WHERE app_id = $1 AND msg_id = $2 AND conv_id = $3")
                    .bind(app)
                    .bind(msg_id.as_str())
                    .bind(conv)
                    .fetch_optional(self.pool())
                    .await?;
                match row {
                    Some(row) if row.try_get::<i64, _>("timestamp")? == position.timestamp => {
                        Ok(Some(Tie::Seq(row.try_get("seq")?)))
                    }
                    _ => Ok(None),
                }
            }
        }
    }

    /// One message of one conversation by id.
    pub async fn find_message(
        &self,
        app: &str,
        conv: &str,
        msg_id: &str,
    ) -> Result<Option<Message>> {
        let sql = format!("SELECT {MESSAGE_SELECT} FROM messages m WHERE m.app_id = $1 AND m.msg_id = $2 AND m.conv_id = $3");
        let row = db::query(&sql)
            .bind(app)
            .bind(msg_id)
            .bind(conv)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| message_from_row(&r)).transpose()
    }

    /// Replaces a message's content (edit) or, with `new_data = None`, recalls it, stamping
    /// `patch_timestamp`.
    /// `bin` says whether the new content is base64 binary (a recall is never binary).
    pub async fn patch_message(
        &self,
        app: &str,
        message: &Message,
        new_data: Option<&str>,
        bin: bool,
        now: i64,
    ) -> Result<Message> {
        let recall = new_data.is_none();
        let data = new_data.unwrap_or(RECALLED_CONTENT);
        let bin = bin && !recall;
        // A patch time strictly after the original send, so SDKs see an update.
        let patch_timestamp = now
            .max(message.timestamp + 1)
            .max(message.patch_timestamp.unwrap_or(0) + 1);
        let done = db::query(
            "UPDATE messages SET data = $1, recalled = $2, patch_timestamp = $3, bin = $4
             WHERE app_id = $5 AND conv_id = $6 AND msg_id = $7",
        )
        .bind(data)
        .bind(recall || message.recalled)
        .bind(patch_timestamp)
        .bind(bin)
        .bind(app)
        .bind(message.conv_id.as_str())
        .bind(message.msg_id.as_str())
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::message_not_found());
        }
        let mut patched = message.clone();
        patched.content.data = data.to_owned();
        patched.content.bin = bin;
        patched.recalled = recall || message.recalled;
        patched.patch_timestamp = Some(patch_timestamp);
        Ok(patched)
    }

    /// Deletes the server copy of a message.
    pub async fn delete_message(&self, app: &str, conv: &str, msg_id: &str) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let row = db::query(
            "DELETE FROM messages WHERE app_id = $1 AND conv_id = $2 AND msg_id = $3 RETURNING seq",
        )
        .bind(app)
        .bind(conv)
        .bind(msg_id)
        .fetch_optional(&mut tx)
        .await?;
        if let Some(row) = &row {
            db::query(
                "DELETE FROM message_targets WHERE app_id = $1 AND conv_id = $2 AND seq = $3",
            )
            .bind(app)
            .bind(conv)
            .bind(row.try_get::<i64, _>("seq")?)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        self.delivery.forget_message(app, conv, msg_id);
        Ok(row.is_some())
    }
}

enum Bind {
    Int(i64),
    Text(String),
}

fn bind_all<'q>(mut q: db::Query<'q>, binds: &'q [Bind]) -> db::Query<'q> {
    for bind in binds {
        q = match bind {
            Bind::Int(v) => q.bind(*v),
            Bind::Text(v) => q.bind(v.as_str()),
        };
    }
    q
}

/// A row of `messages` as [`MESSAGE_SELECT`] selects it.
#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub conv_id: String,
    pub conv_kind: i64,
    pub seq: i64,
    pub msg_id: String,
    pub timestamp: i64,
    pub from_client: String,
    pub data: String,
    pub bin: bool,
    pub from_ip: Option<String>,
    pub kind: i64,
    pub no_sync: bool,
    pub priority: i64,
    pub mention_all: bool,
    pub mention_pids: Option<Json<Vec<String>>>,
    pub push_data: Option<String>,
    pub to_clients: Option<Json<Vec<String>>>,
    pub patch_timestamp: Option<i64>,
    pub recalled: bool,
    pub ack_at: Option<i64>,
}

pub(crate) fn message_from_row(row: &Row) -> Result<Message> {
    let row: MessageRow = row.decode()?;
    Ok(row.into())
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Message {
        Message {
            conv_id: row.conv_id,
            conv_kind: row.conv_kind,
            seq: row.seq,
            msg_id: row.msg_id,
            timestamp: row.timestamp,
            content: Content {
                from_client: row.from_client,
                data: row.data,
                bin: row.bin,
                from_ip: row.from_ip,
                kind: MessageKind::from_i64(row.kind),
                no_sync: row.no_sync,
                priority: Priority::from_i64(row.priority),
                mention_all: row.mention_all,
                mention_pids: row.mention_pids.map(|list| list.0).unwrap_or_default(),
                push_data: row.push_data,
                to_clients: row.to_clients.map(|list| list.0).unwrap_or_default(),
            },
            patch_timestamp: row.patch_timestamp,
            recalled: row.recalled,
            ack_at: row.ack_at,
            transient: false,
        }
    }
}
