//! Unread counts from positions: unread is `last_seq - read_seq`, O(1) per conversation,
//! never a `COUNT(*)` over messages. The unread tuples of a login, mentions, and what a
//! subscriber of service conversations has not read.

use super::messages::{message_from_row, MESSAGE_SELECT};
use super::Store;
use crate::domain::message::Message;
use crate::error::Result;
use crate::store::db;
use std::collections::HashMap;

/// One conversation with unread messages for a client.
#[derive(Debug, Clone)]
pub struct UnreadConversation {
    pub conv_id: String,
    pub conv_kind: i64,
    pub unread: i64,
    pub last_message: Option<Message>,
    pub mentioned: bool,
}

/// Unread tuples at login are capped like LeanCloud's (Java docs: 50 conversations).
pub const UNREAD_CONVERSATIONS_MAX: i64 = 50;

impl Store {
    /// Conversations of `client` with unread messages, newest activity first, with their
    /// last message and whether an unread message mentions the client. `changed_after`
    /// keeps only conversations with a message after that time.
    pub async fn unread_conversations(
        &self,
        app: &str,
        client: &str,
        changed_after: Option<i64>,
    ) -> Result<Vec<UnreadConversation>> {
        self.flush_client(app, client).await?;
        let rows = db::query(&format!(
            "SELECT mb.conv_id, c.kind, c.last_seq - mb.read_seq AS unread FROM members mb
             JOIN conversations c ON c.app_id = mb.app_id AND c.id = mb.conv_id
             WHERE mb.app_id = $1 AND mb.client_id = $2 AND c.last_seq > mb.read_seq
               AND COALESCE(c.last_message_at, 0) > $3
             ORDER BY c.last_message_at DESC LIMIT {UNREAD_CONVERSATIONS_MAX}"
        ))
        .bind(app)
        .bind(client)
        .bind(changed_after.unwrap_or(-1))
        .fetch_all(self.pool())
        .await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            found.push(UnreadConversation {
                conv_id: row.try_get("conv_id")?,
                conv_kind: row.try_get("kind")?,
                unread: row.try_get("unread")?,
                last_message: None,
                mentioned: false,
            });
        }
        if found.is_empty() {
            return Ok(found);
        }
        let ids: Vec<String> = found.iter().map(|u| u.conv_id.clone()).collect();
        let mut last = self.last_messages(app, &ids).await?;
        let mentioned = self.mentioned_conversations(app, client, &ids).await?;
        for item in &mut found {
            item.last_message = last.remove(&item.conv_id);
            item.mentioned = mentioned.contains(&item.conv_id);
        }
        Ok(found)
    }

    /// Service conversations `client` subscribes to with messages it has not read: those it
    /// can see (broadcasts, and messages addressed to it) after it subscribed or last read.
    /// Counted per conversation up to 100 (broadcasts are rate-limited to a few a minute).
    pub async fn unread_subscriptions(
        &self,
        app: &str,
        client: &str,
        changed_after: Option<i64>,
    ) -> Result<Vec<UnreadConversation>> {
        let rows = db::query(&format!(
            "SELECT s.conv_id, s.subscribed_at, s.read_at FROM subscriptions s
             JOIN conversations c ON c.app_id = s.app_id AND c.id = s.conv_id
             WHERE s.app_id = $1 AND s.client_id = $2 AND COALESCE(c.last_message_at, 0) > $3
             ORDER BY c.last_message_at DESC LIMIT {UNREAD_CONVERSATIONS_MAX}"
        ))
        .bind(app)
        .bind(client)
        .bind(changed_after.unwrap_or(-1))
        .fetch_all(self.pool())
        .await?;
        let mut found = Vec::new();
        for row in &rows {
            let conv: String = row.try_get("conv_id")?;
            let subscribed_at: i64 = row.try_get("subscribed_at")?;
            let read_at: i64 = row.try_get("read_at")?;
            let after = (subscribed_at - 1).max(read_at);
            let sql = format!(
                "SELECT {MESSAGE_SELECT} FROM messages m WHERE m.app_id = $1 AND m.conv_id = $2 AND m.timestamp > $3
                   AND (m.kind = 1 OR (m.kind = 2 AND EXISTS (SELECT 1 FROM message_targets t WHERE t.app_id = m.app_id
                        AND t.conv_id = m.conv_id AND t.seq = m.seq AND t.client_id = $4)))
                 ORDER BY m.timestamp DESC, m.seq DESC LIMIT 100"
            );
            let messages = db::query(&sql)
                .bind(app)
                .bind(conv.as_str())
                .bind(after)
                .bind(client)
                .fetch_all(self.pool())
                .await?;
            if let Some(last) = messages.first() {
                let last = message_from_row(last)?;
                found.push(UnreadConversation {
                    conv_id: conv,
                    conv_kind: last.conv_kind,
                    unread: messages.len() as i64,
                    mentioned: false,
                    last_message: Some(last),
                });
            }
        }
        Ok(found)
    }

    /// A subscriber read a service conversation. Returns whether it is subscribed.
    pub async fn mark_subscription_read(
        &self,
        app: &str,
        conv: &str,
        client: &str,
        now: i64,
    ) -> Result<bool> {
        let done = db::query("UPDATE subscriptions SET read_at = $1 WHERE app_id = $2 AND conv_id = $3 AND client_id = $4")
            .bind(now)
            .bind(app)
            .bind(conv)
            .bind(client)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The last stored message of each conversation in `ids`.
    pub async fn last_messages(
        &self,
        app: &str,
        ids: &[String],
    ) -> Result<HashMap<String, Message>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders = (0..ids.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT {MESSAGE_SELECT} FROM messages m JOIN conversations c ON c.app_id = m.app_id AND c.id = m.conv_id
             WHERE m.app_id = $1 AND m.conv_id IN ({placeholders}) AND m.seq = c.last_seq"
        );
        let mut query = db::query(&sql).bind(app);
        for id in ids {
            query = query.bind(id.as_str());
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| message_from_row(r).map(|m| (m.conv_id.clone(), m)))
            .collect()
    }

    /// Which of `ids` hold an unread message (from someone else) mentioning `client`.
    async fn mentioned_conversations(
        &self,
        app: &str,
        client: &str,
        ids: &[String],
    ) -> Result<Vec<String>> {
        let placeholders = (0..ids.len())
            .map(|i| format!("${}", i + 4))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT DISTINCT m.conv_id FROM messages m JOIN members mb
               ON mb.app_id = m.app_id AND mb.conv_id = m.conv_id AND mb.client_id = $2
             WHERE m.app_id = $1 AND m.conv_id IN ({placeholders}) AND m.seq > mb.read_seq
               AND m.from_client <> $2 AND (m.mention_all = TRUE OR CAST(m.mention_pids AS TEXT) LIKE $3 ESCAPE '\\')"
        );
        // Mentions are stored as a JSON array, so a quoted id matches exactly one element;
        // `%` and `_` in client ids are escaped so they match only themselves.
        let quoted = serde_json::to_string(client).unwrap_or_default();
        let pattern = format!("%{}%", escape_like(&quoted));
        let mut query = db::query(&sql).bind(app).bind(client).bind(pattern);
        for id in ids {
            query = query.bind(id.as_str());
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("conv_id")?))
            .collect()
    }

    /// Total unread of `client`, over every conversation or one (E42).
    pub async fn unread_count(&self, app: &str, client: &str, conv: Option<&str>) -> Result<i64> {
        self.flush_client(app, client).await?;
        let sql = "SELECT CAST(COALESCE(SUM(c.last_seq - mb.read_seq), 0) AS BIGINT) AS n FROM members mb
             JOIN conversations c ON c.app_id = mb.app_id AND c.id = mb.conv_id
             WHERE mb.app_id = $1 AND mb.client_id = $2 AND c.last_seq > mb.read_seq AND ($3 = '' OR mb.conv_id = $3)";
        let row = db::query(sql)
            .bind(app)
            .bind(client)
            .bind(conv.unwrap_or(""))
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }
}

/// `text` as a LIKE pattern matching only itself (with `ESCAPE '\'`).
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
