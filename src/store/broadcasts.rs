//! Global broadcasts (E49-E51): a stored message of a service conversation plus its validity.

use super::Store;
use crate::error::Result;
use sqlx::Row;

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

const COLUMNS: &str = "msg_id, conv_id, from_client, data, timestamp, valid_till, push";

impl Store {
    pub async fn insert_broadcast(&self, app: &str, broadcast: &Broadcast) -> Result<()> {
        sqlx::query(
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
        let done = sqlx::query("UPDATE broadcasts SET deleted_at = $1 WHERE app_id = $2 AND msg_id = $3 AND deleted_at IS NULL")
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
        sqlx::query("UPDATE broadcasts SET data = $1 WHERE app_id = $2 AND msg_id = $3")
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
        let mut query = sqlx::query(&sql).bind(app).bind(now).bind(since);
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
