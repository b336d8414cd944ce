//! Per-member positions (read and delivered sequences) and what they imply: unread tuples,
//! receipts, receipt times. Unread is `last_seq - read_seq`: O(1) per conversation, never a
//! `COUNT(*)` over messages.

use super::delivery::{AckStamp, Advanced};
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

/// A member's receipt times in one conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberPositions {
    pub client_id: String,
    pub delivered_at: i64,
    pub read_at: i64,
}

/// The message a read position now points at, and what is left unread.
#[derive(Debug, Clone)]
pub struct ReadPosition {
    pub msg_id: String,
    pub timestamp: i64,
    pub unread: i64,
}

/// A message newly acknowledged by a receiver.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub msg_id: String,
    pub from_client: String,
    pub timestamp: i64,
}

/// How far a receiver acknowledged: up to a message, or up to a time (JS batches).
#[derive(Debug, Clone, Copy)]
pub enum UpTo<'a> {
    Message(&'a str),
    Time(i64),
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

    /// Moves a member's read (and delivered) position up to `seq`: a member's own message
    /// is read and delivered for that member. Held in memory and written in the next batch
    /// (a non-member's position matches no row there).
    pub async fn advance_own(&self, app: &str, conv: &str, client: &str, seq: i64) -> Result<()> {
        self.delivery.advance_own(app, conv, client, seq);
        Ok(())
    }

    /// A read up to the message `mid` (or the last message at or before `timestamp`, or
    /// everything). Returns the message the position points at and the unread left, or
    /// `None` when the client is not a member or nothing is stored.
    pub async fn mark_read(
        &self,
        app: &str,
        conv: &str,
        client: &str,
        timestamp: Option<i64>,
        mid: Option<&str>,
        now: i64,
    ) -> Result<Option<ReadPosition>> {
        let target = match (mid, timestamp) {
            (Some(mid), _) => {
                db::query("SELECT seq, msg_id, timestamp FROM messages WHERE app_id = $1 AND conv_id = $2 AND msg_id = $3")
                    .bind(app)
                    .bind(conv)
                    .bind(mid)
                    .fetch_optional(self.pool())
                    .await?
            }
            (None, timestamp) => {
                db::query(
                    "SELECT seq, msg_id, timestamp FROM messages WHERE app_id = $1 AND conv_id = $2 AND timestamp <= $3
                     ORDER BY timestamp DESC, seq DESC LIMIT 1",
                )
                .bind(app)
                .bind(conv)
                .bind(timestamp.unwrap_or(i64::MAX))
                .fetch_optional(self.pool())
                .await?
            }
        };
        let Some(target) = target else {
            return Ok(None);
        };
        let seq: i64 = target.try_get("seq")?;
        // Own sends held in memory count in the unread left.
        self.flush_client(app, client).await?;
        self.delivery.raised(app, conv, client, seq);
        let greatest = super::greatest(self.dialect());
        let row = db::query(&format!(
            "UPDATE members SET read_seq = {greatest}(read_seq, $1), delivered_seq = {greatest}(delivered_seq, $1),
                 read_at = $2, delivered_at = {greatest}(delivered_at, $2)
             WHERE app_id = $3 AND conv_id = $4 AND client_id = $5 RETURNING read_seq"
        ))
        .bind(seq)
        .bind(now)
        .bind(app)
        .bind(conv)
        .bind(client)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let read_seq: i64 = row.try_get("read_seq")?;
        let last = db::query("SELECT last_seq FROM conversations WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(conv)
            .fetch_optional(self.pool())
            .await?;
        let last_seq: i64 = match last {
            Some(row) => row.try_get("last_seq")?,
            None => read_seq,
        };
        Ok(Some(ReadPosition {
            msg_id: target.try_get("msg_id")?,
            timestamp: target.try_get("timestamp")?,
            unread: (last_seq - read_seq).max(0),
        }))
    }

    /// A receiver acknowledged messages up to a message or a time. Moves its delivered
    /// position and stamps `ack_at` on first delivery, in memory (written in the next batch,
    /// see `delivery.rs`), and returns the messages from others that were newly delivered
    /// (at most `limit`, for receipts). Each message is returned once per receiver.
    pub async fn mark_delivered(
        &self,
        app: &str,
        conv: &str,
        client: &str,
        upto: UpTo<'_>,
        now: i64,
        limit: i64,
    ) -> Result<Vec<Delivered>> {
        let Some(upto) = self.delivery_target(app, conv, upto).await? else {
            return Ok(Vec::new());
        };
        if self.delivery.delivered(app, conv, client).is_none() {
            let Some(row) = db::query("SELECT delivered_seq FROM members WHERE app_id = $1 AND conv_id = $2 AND client_id = $3")
                .bind(app)
                .bind(conv)
                .bind(client)
                .fetch_optional(self.pool())
                .await?
            else {
                return Ok(Vec::new());
            };
            self.delivery
                .load(app, conv, client, row.try_get("delivered_seq")?);
        }
        let limit = usize::try_from(limit).unwrap_or(0);
        let from = match self.delivery.advance(app, conv, client, upto, now, limit) {
            Advanced::Unchanged => return Ok(Vec::new()),
            Advanced::Known(newly) => {
                return Ok(newly
                    .into_iter()
                    .map(|m| Delivered {
                        msg_id: m.msg_id,
                        from_client: m.from_client,
                        timestamp: m.timestamp,
                    })
                    .collect())
            }
            Advanced::Unknown { from } => from,
        };
        // Behind the recent window (a catch-up ack): read the range, stamp it in the batch.
        self.delivery.stamp_range(AckStamp::Range {
            app: app.to_owned(),
            conv: conv.to_owned(),
            client: client.to_owned(),
            from,
            upto,
            at: now,
        });
        let rows = db::query(&format!(
            "SELECT msg_id, from_client, timestamp FROM messages WHERE app_id = $1 AND conv_id = $2 AND seq > $3 AND seq <= $4
               AND from_client <> $5 ORDER BY seq DESC LIMIT {limit}"
        ))
        .bind(app)
        .bind(conv)
        .bind(from)
        .bind(upto)
        .bind(client)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivered {
                    msg_id: r.try_get("msg_id")?,
                    from_client: r.try_get("from_client")?,
                    timestamp: r.try_get("timestamp")?,
                })
            })
            .collect()
    }

    /// The seq an ack reaches: from the recent messages when they know it, else stored.
    async fn delivery_target(&self, app: &str, conv: &str, upto: UpTo<'_>) -> Result<Option<i64>> {
        Ok(match upto {
            UpTo::Message(mid) => match self.delivery.resolve_id(app, conv, mid) {
                Some(seq) => Some(seq),
                None => db::query("SELECT seq FROM messages WHERE app_id = $1 AND conv_id = $2 AND msg_id = $3")
                    .bind(app)
                    .bind(conv)
                    .bind(mid)
                    .fetch_optional(self.pool())
                    .await?
                    .map(|r| r.try_get::<i64, _>("seq"))
                    .transpose()?,
            },
            UpTo::Time(until) => match self.delivery.resolve_time(app, conv, until) {
                Some(seq) => Some(seq),
                None => db::query(
                    "SELECT MAX(seq) AS seq FROM messages WHERE app_id = $1 AND conv_id = $2 AND timestamp <= $3",
                )
                .bind(app)
                .bind(conv)
                .bind(until)
                .fetch_one(self.pool())
                .await?
                .try_get::<Option<i64>, _>("seq")?,
            },
        })
    }

    /// Delivery and read times of the members of `conv`.
    pub async fn member_positions(&self, app: &str, conv: &str) -> Result<Vec<MemberPositions>> {
        self.flush_conversation(app, conv).await?;
        let rows = db::query("SELECT client_id, delivered_at, read_at FROM members WHERE app_id = $1 AND conv_id = $2 ORDER BY client_id")
            .bind(app)
            .bind(conv)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(MemberPositions {
                    client_id: r.try_get("client_id")?,
                    delivered_at: r.try_get("delivered_at")?,
                    read_at: r.try_get("read_at")?,
                })
            })
            .collect()
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
