//! Who is in a conversation: members (cached, see `member_cache.rs`) and mutes, and the
//! membership changes, one at a time per conversation.

use super::{Dialect, Store};
use crate::domain::conversation::{self, Conversation};
use crate::error::{code, Error, Result};
use crate::store::db;

impl Store {
    /// The members of `conv`, sorted (cached, see `member_cache.rs`).
    pub async fn members(&self, app: &str, conv: &str) -> Result<Vec<String>> {
        let generation = match self.member_cache.get(app, conv) {
            Ok(list) => return Ok(list.as_ref().clone()),
            Err(generation) => generation,
        };
        let list = self.client_list("members", app, conv).await?;
        self.member_cache.put(app, conv, generation, list.clone());
        Ok(list)
    }

    pub async fn mutes(&self, app: &str, conv: &str) -> Result<Vec<String>> {
        self.client_list("mutes", app, conv).await
    }

    async fn client_list(&self, table: &'static str, app: &str, conv: &str) -> Result<Vec<String>> {
        let rows = db::query(&format!(
            "SELECT client_id FROM {table} WHERE app_id = $1 AND conv_id = $2 ORDER BY client_id"
        ))
        .bind(app)
        .bind(conv)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("client_id")?))
            .collect()
    }

    /// Whether `client` is a member of `conv`.
    pub async fn is_member(&self, app: &str, conv: &str, client: &str) -> Result<bool> {
        if let Ok(list) = self.member_cache.get(app, conv) {
            return Ok(list.iter().any(|m| m == client));
        }
        self.row_exists(
            "SELECT 1 FROM members WHERE app_id = $1 AND conv_id = $2 AND client_id = $3",
            [app, conv, client],
        )
        .await
    }

    /// Adds members (idempotent), refusing to grow past `limit`. Returns `updatedAt` and the
    /// ids that were not members before.
    pub async fn add_members(
        &self,
        app: &str,
        conv: &Conversation,
        clients: &[String],
        limit: usize,
        now: i64,
    ) -> Result<(i64, Vec<String>)> {
        let mut tx = self.lock_membership(app, &conv.id).await?;
        let mut added = Vec::new();
        // `now` + position keeps the given order in listings (see `create_conversation`).
        for (position, client) in clients.iter().enumerate() {
            let done = db::query(
                "INSERT INTO members (app_id, conv_id, client_id, joined_at, read_seq, delivered_seq)
                 SELECT $1, $2, $3, $4, last_seq, last_seq FROM conversations WHERE app_id = $1 AND id = $2
                 ON CONFLICT DO NOTHING",
            )
            .bind(app)
            .bind(conv.id.as_str())
            .bind(client.as_str())
            .bind(now + position as i64)
            .execute(&mut tx)
            .await?;
            if done.rows_affected() > 0 {
                added.push(client.clone());
            }
        }
        let count = self.sync_member_count(&mut tx, app, conv, now).await?;
        if count > limit as i64 {
            tx.rollback().await?;
            return Err(Error::bad_request(
                code::CONVERSATION_FULL,
                format!("A conversation holds at most {limit} members."),
            ));
        }
        tx.commit().await?;
        self.member_cache.invalidate(app, &conv.id);
        self.delivery.forget_members(app, &conv.id, &added);
        Ok((now, added))
    }

    /// Removes members (idempotent). Returns `updatedAt` and the ids that were members.
    pub async fn remove_members(
        &self,
        app: &str,
        conv: &Conversation,
        clients: &[String],
        now: i64,
    ) -> Result<(i64, Vec<String>)> {
        let mut tx = self.lock_membership(app, &conv.id).await?;
        let mut removed = Vec::new();
        for client in clients {
            let done = db::query(
                "DELETE FROM members WHERE app_id = $1 AND conv_id = $2 AND client_id = $3",
            )
            .bind(app)
            .bind(conv.id.as_str())
            .bind(client.as_str())
            .execute(&mut tx)
            .await?;
            if done.rows_affected() > 0 {
                removed.push(client.clone());
            }
        }
        self.sync_member_count(&mut tx, app, conv, now).await?;
        tx.commit().await?;
        self.member_cache.invalidate(app, &conv.id);
        self.delivery.forget_members(app, &conv.id, &removed);
        Ok((now, removed))
    }

    /// A write transaction that holds the conversation's row, so membership changes of one
    /// conversation run one at a time: racing additions cannot pass the member limit together,
    /// and racing removals cannot leave a stale count or unique member key. (SQLite's
    /// `BEGIN IMMEDIATE` already serialises writers.)
    async fn lock_membership(&self, app: &str, conv: &str) -> Result<db::Tx<'static>> {
        let mut tx = self.pool().begin_write().await?;
        if self.dialect() == Dialect::Postgres {
            db::query("SELECT id FROM conversations WHERE app_id = $1 AND id = $2 FOR UPDATE")
                .bind(app)
                .bind(conv)
                .fetch_optional(&mut tx)
                .await?;
        }
        Ok(tx)
    }

    /// Recomputes `member_count` (and the unique member key) after a membership change.
    async fn sync_member_count(
        &self,
        tx: &mut db::Tx<'_>,
        app: &str,
        conv: &Conversation,
        now: i64,
    ) -> Result<i64> {
        let rows = db::query("SELECT client_id FROM members WHERE app_id = $1 AND conv_id = $2")
            .bind(app)
            .bind(conv.id.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let members = rows
            .iter()
            .map(|r| r.try_get::<String, _>("client_id"))
            .collect::<Result<Vec<_>, _>>()?;
        let member_key = conv
            .is_unique
            .then(|| conversation::member_set_key(&members));
        db::query("UPDATE conversations SET member_count = $1, member_key = $2, updated_at = $3 WHERE app_id = $4 AND id = $5")
            .bind(members.len() as i64)
            .bind(member_key)
            .bind(now)
            .bind(app)
            .bind(conv.id.as_str())
            .execute(&mut *tx)
            .await?;
        Ok(members.len() as i64)
    }

    /// Adds (`mute = true`) or removes mutes. Returns `updatedAt`.
    pub async fn set_mutes(
        &self,
        app: &str,
        conv: &str,
        clients: &[String],
        mute: bool,
        now: i64,
    ) -> Result<i64> {
        let mut tx = self.pool().begin().await?;
        for client in clients {
            let sql = if mute {
                "INSERT INTO mutes (app_id, conv_id, client_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            } else {
                "DELETE FROM mutes WHERE app_id = $1 AND conv_id = $2 AND client_id = $3"
            };
            db::query(sql)
                .bind(app)
                .bind(conv)
                .bind(client.as_str())
                .execute(&mut tx)
                .await?;
        }
        db::query("UPDATE conversations SET updated_at = $1 WHERE app_id = $2 AND id = $3")
            .bind(now)
            .bind(app)
            .bind(conv)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(now)
    }
}
