//! Global broadcasts (E49-E51): a stored message of a service conversation plus its validity.

use super::Store;
use crate::domain::conversation::Kind;
use crate::domain::message::{Content, Message, MessageKind};
use crate::error::Result;
use crate::store::db;

#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    pub msg_id: String,
    pub conv_id: String,
    pub from_client: String,
    pub data: String,
    pub timestamp: i64,
    pub valid_till: i64,
    pub push: Option<String>,
}

impl Broadcast {
    /// The broadcast as the message clients receive (a message of its service conversation).
    pub fn as_message(&self) -> Message {
        Message {
            conv_id: self.conv_id.clone(),
            conv_kind: Kind::Service.as_i64(),
            seq: 0,
            msg_id: self.msg_id.clone(),
            timestamp: self.timestamp,
            content: Content {
                from_client: self.from_client.clone(),
                data: self.data.clone(),
                kind: MessageKind::GlobalBroadcast,
                push_data: self.push.clone(),
                ..Content::default()
            },
            patch_timestamp: None,
            recalled: false,
            ack_at: None,
            transient: false,
        }
    }
}

const COLUMNS: &str = "msg_id, conv_id, from_client, data, timestamp, valid_till, push";

impl Store {
    pub async fn insert_broadcast(&self, app: &str, broadcast: &Broadcast) -> Result<()> {
        db::query(
            "INSERT INTO broadcasts (app_id, msg_id, conv_id, from_client, data, timestamp, valid_till, push)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(app)
        .bind(broadcast.msg_id.as_str())
        .bind(broadcast.conv_id.as_str())
        .bind(broadcast.from_client.as_str())
        .bind(broadcast.data.as_str())
        .bind(broadcast.timestamp)
        .bind(broadcast.valid_till)
        .bind(broadcast.push.clone())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Marks a broadcast deleted: clients that have not received it never will.
    pub async fn delete_broadcast(&self, app: &str, msg_id: &str, now: i64) -> Result<bool> {
        let done = db::query("UPDATE broadcasts SET deleted_at = $1 WHERE app_id = $2 AND msg_id = $3 AND deleted_at IS NULL")
            .bind(now)
            .bind(app)
            .bind(msg_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Keeps a broadcast's stored content in step with an edit or recall of its message.
    pub async fn update_broadcast_content(
        &self,
        app: &str,
        msg_id: &str,
        data: &str,
    ) -> Result<()> {
        db::query("UPDATE broadcasts SET data = $1 WHERE app_id = $2 AND msg_id = $3")
            .bind(data)
            .bind(app)
            .bind(msg_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Valid (unexpired, undeleted) broadcasts, newest first; `conv` narrows to one service
    /// conversation, `since` to those sent after a time.
    pub async fn valid_broadcasts(
        &self,
        app: &str,
        conv: Option<&str>,
        since: i64,
        now: i64,
        skip: i64,
        limit: i64,
    ) -> Result<Vec<Broadcast>> {
        let conv_filter = if conv.is_some() {
            " AND conv_id = $4"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM broadcasts WHERE app_id = $1 AND valid_till > $2 AND timestamp > $3
             AND deleted_at IS NULL{conv_filter} ORDER BY timestamp DESC, msg_id DESC LIMIT {} OFFSET {}",
            limit.max(0),
            skip.max(0)
        );
        let mut query = db::query(&sql).bind(app).bind(now).bind(since);
        if let Some(conv) = conv {
            query = query.bind(conv);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(Broadcast {
                    msg_id: row.try_get("msg_id")?,
                    conv_id: row.try_get("conv_id")?,
                    from_client: row.try_get("from_client")?,
                    data: row.try_get("data")?,
                    timestamp: row.try_get("timestamp")?,
                    valid_till: row.try_get("valid_till")?,
                    push: row.try_get("push")?,
                })
            })
            .collect()
    }
}

impl Store {
    /// Until when (ms) a client has received global broadcasts; `None` for a new client.
    pub async fn broadcast_cursor(&self, app: &str, client: &str) -> Result<Option<i64>> {
        let row = db::query(
            "SELECT delivered_until FROM broadcast_cursors WHERE app_id = $1 AND client_id = $2",
        )
        .bind(app)
        .bind(client)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("delivered_until")?),
            None => None,
        })
    }

    /// Moves the cursors of these clients forward to `until` (never backwards).
    pub async fn advance_broadcast_cursors(
        &self,
        app: &str,
        clients: &[String],
        until: i64,
    ) -> Result<()> {
        let greatest = super::greatest(self.dialect());
        let mut tx = self.pool().begin().await?;
        for client in clients {
            db::query(&format!(
                "INSERT INTO broadcast_cursors (app_id, client_id, delivered_until) VALUES ($1, $2, $3)
                 ON CONFLICT (app_id, client_id) DO UPDATE
                 SET delivered_until = {greatest}(broadcast_cursors.delivered_until, excluded.delivered_until)"
            ))
            .bind(app)
            .bind(client.as_str())
            .bind(until)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
