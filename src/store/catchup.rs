//! What a client catches up on at login and what it is counted for: its conversations,
//! stored messages it has not acknowledged (protocol 1), edits and recalls since a time,
//! and daily logins (E47).

use super::conversations::{conversation_from_row, COLUMNS};
use super::messages::{message_from_row, MESSAGE_SELECT};
use super::Store;
use crate::domain::conversation::Conversation;
use crate::domain::message::Message;
use crate::error::Result;
use crate::store::db;

impl Store {
    /// Records that `client` logged in on UTC day `day` (E47 `user_count_today`).
    pub async fn record_login(&self, app: &str, client: &str, day: i64) -> Result<()> {
        db::query("INSERT INTO daily_logins (app_id, day, client_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(app)
            .bind(day)
            .bind(client)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn login_count(&self, app: &str, day: i64) -> Result<i64> {
        let row =
            db::query("SELECT COUNT(*) AS n FROM daily_logins WHERE app_id = $1 AND day = $2")
                .bind(app)
                .bind(day)
                .fetch_one(self.pool())
                .await?;
        Ok(row.try_get("n")?)
    }

    /// Edits and recalls after `since` in the conversations of `client`, oldest first.
    pub async fn patches_since(
        &self,
        app: &str,
        client: &str,
        since: i64,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_SELECT} FROM messages m JOIN members mb ON mb.app_id = m.app_id AND mb.conv_id = m.conv_id
             WHERE mb.app_id = $1 AND mb.client_id = $2 AND m.patch_timestamp > $3
             ORDER BY m.patch_timestamp LIMIT {}",
            limit.max(0)
        );
        let rows = db::query(&sql)
            .bind(app)
            .bind(client)
            .bind(since)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// Stored messages from others that `client` has not acknowledged yet, per
    /// conversation in sequence order (offline replay for protocol version 1).
    pub async fn undelivered(&self, app: &str, client: &str, limit: i64) -> Result<Vec<Message>> {
        // Acks held in memory move `delivered_seq`: written first, so nothing acked comes back.
        self.flush_client(app, client).await?;
        let sql = format!(
            "SELECT {MESSAGE_SELECT} FROM messages m JOIN members mb ON mb.app_id = m.app_id AND mb.conv_id = m.conv_id
             WHERE mb.app_id = $1 AND mb.client_id = $2 AND m.seq > mb.delivered_seq AND m.from_client <> $2
             ORDER BY m.conv_id, m.seq LIMIT {}",
            limit.max(0)
        );
        let rows = db::query(&sql)
            .bind(app)
            .bind(client)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// The conversations `client` is a member of, most recent activity first.
    pub async fn conversations_of(
        &self,
        app: &str,
        client: &str,
        skip: i64,
        limit: i64,
    ) -> Result<Vec<Conversation>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM conversations c JOIN members mb ON mb.app_id = c.app_id AND mb.conv_id = c.id
             WHERE mb.app_id = $1 AND mb.client_id = $2
             ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id LIMIT {} OFFSET {}",
            limit.max(0),
            skip.max(0)
        );
        let rows = db::query(&sql)
            .bind(app)
            .bind(client)
            .fetch_all(self.pool())
            .await?;
        let mut found = rows
            .iter()
            .map(conversation_from_row)
            .collect::<Result<Vec<_>>>()?;
        self.fill_member_lists(app, &mut found).await?;
        Ok(found)
    }
}
