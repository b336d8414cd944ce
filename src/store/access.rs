//! Revoked session tokens (forced kicks) and service-conversation uplink messages.

use super::Store;
use crate::error::Result;
use crate::store::db::{self, Row};

/// A subscriber's message to a service conversation (LeanCloud's `_SysMessage`).
#[derive(Debug, Clone, PartialEq)]
pub struct SysMessage {
    pub conv_id: String,
    pub msg_id: String,
    pub from_client: String,
    pub data: String,
    pub bin: bool,
    pub from_ip: Option<String>,
    pub timestamp: i64,
}

const SYS_COLUMNS: &str = "conv_id, msg_id, from_client, data, bin, from_ip, timestamp";

fn sys_message(row: &Row) -> Result<SysMessage> {
    Ok(SysMessage {
        conv_id: row.try_get("conv_id")?,
        msg_id: row.try_get("msg_id")?,
        from_client: row.try_get("from_client")?,
        data: row.try_get("data")?,
        bin: row.try_get("bin")?,
        from_ip: row.try_get("from_ip")?,
        timestamp: row.try_get("timestamp")?,
    })
}

impl Store {
    /// Voids the client's tokens and signatures issued at or before `at`.
    pub async fn revoke_client(&self, app: &str, client: &str, at: i64) -> Result<()> {
        db::query(
            "INSERT INTO client_revocations (app_id, client_id, revoked_at) VALUES ($1, $2, $3)
             ON CONFLICT (app_id, client_id) DO UPDATE SET revoked_at = excluded.revoked_at",
        )
        .bind(app)
        .bind(client)
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every revocation newer than `since`, as `(app, client, revoked_at)`.
    pub async fn revocations_since(&self, since: i64) -> Result<Vec<(String, String, i64)>> {
        let rows = db::query(
            "SELECT app_id, client_id, revoked_at FROM client_revocations WHERE revoked_at > $1",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Stores an uplink message; `for_callback` marks it for the app's callback.
    pub async fn insert_sys_message(
        &self,
        app: &str,
        message: &SysMessage,
        for_callback: bool,
    ) -> Result<()> {
        db::query(
            "INSERT INTO sys_messages (app_id, conv_id, msg_id, from_client, data, bin, from_ip, timestamp, callback_done)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(app)
        .bind(&message.conv_id)
        .bind(&message.msg_id)
        .bind(&message.from_client)
        .bind(&message.data)
        .bind(message.bin)
        .bind(&message.from_ip)
        .bind(message.timestamp)
        .bind(!for_callback)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Uplink messages of a service conversation, newest first, older than `before`.
    pub async fn sys_messages(
        &self,
        app: &str,
        conv: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<SysMessage>> {
        let rows = db::query(&format!(
            "SELECT {SYS_COLUMNS} FROM sys_messages WHERE app_id = $1 AND conv_id = $2
             AND timestamp < $3 ORDER BY timestamp DESC, msg_id DESC LIMIT $4"
        ))
        .bind(app)
        .bind(conv)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(sys_message).collect()
    }

    /// Uplink messages not yet handed to the app's callback, oldest first.
    pub async fn pending_sys_messages(&self, app: &str, limit: i64) -> Result<Vec<SysMessage>> {
        let rows = db::query(&format!(
            "SELECT {SYS_COLUMNS} FROM sys_messages WHERE app_id = $1 AND callback_done = FALSE
             ORDER BY timestamp, msg_id LIMIT $2"
        ))
        .bind(app)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(sys_message).collect()
    }

    pub async fn mark_sys_messages_done(&self, app: &str, msg_ids: &[String]) -> Result<()> {
        for chunk in msg_ids.chunks(100) {
            let placeholders: Vec<String> =
                (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "UPDATE sys_messages SET callback_done = TRUE WHERE app_id = $1 AND msg_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = db::query(&sql).bind(app);
            for id in chunk {
                query = query.bind(id);
            }
            query.execute(self.pool()).await?;
        }
        Ok(())
    }
}
