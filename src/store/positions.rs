//! Per-member positions (read and delivered sequences) and what they imply: receipts and
//! receipt times. The unread counts they give are in `unread.rs`.

use super::delivery::{AckStamp, Advanced};
pub use super::unread::{UnreadConversation, UNREAD_CONVERSATIONS_MAX};
use super::Store;
use crate::error::Result;
use crate::store::db;

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

impl Store {
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
