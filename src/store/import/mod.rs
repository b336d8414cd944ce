//! Writes for `tidings import`: conversations and messages keep their ORIGINAL ids,
//! timestamps and `createdAt`/`updatedAt`, where the normal paths assign their own.
//!
//! This module: conversations (fields, members in the source's order, mutes, subscribers)
//! and the per-conversation resume points (`import_state`). `messages`: history pages.

mod messages;
pub mod status;

use super::Store;
use crate::domain::conversation::{self, Kind};
use crate::domain::message::Content;
use crate::domain::time::now_ms;
use crate::error::Result;
use crate::store::db::{self, Row, Tx};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// A conversation as the source shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedConversation {
    pub id: String,
    pub kind: Kind,
    pub name: Option<String>,
    pub creator: Option<String>,
    pub unique: bool,
    pub unique_id: Option<String>,
    /// Custom top-level fields, `attr` among them.
    pub attrs: Map<String, Value>,
    /// In the source's order (kept: members are stored with increasing `joined_at`).
    pub members: Vec<String>,
    pub mutes: Vec<String>,
    pub last_message_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A message as the source's history shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedMessage {
    pub msg_id: String,
    pub timestamp: i64,
    /// What the sender set (`to_clients`: the recipients of a per-user service message).
    pub content: Content,
    /// Subscribers a service broadcast is hidden from.
    pub hidden_for: Vec<String>,
    pub patch_timestamp: Option<i64>,
    pub recalled: bool,
    pub ack_at: Option<i64>,
}

/// A position in the source's history: the last message handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub timestamp: i64,
    pub msg_id: String,
}

/// Where the import of one conversation's history stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportState {
    pub cursor: Option<Cursor>,
    /// `Some(lm)`: the scan reached the end when the source's `lm` was `lm`.
    pub complete_lm: Option<Option<i64>>,
}

/// What one page did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageOutcome {
    pub inserted: u64,
    /// Already stored in this conversation (a re-run).
    pub duplicates: u64,
    /// `(msg-id, why)` of messages not imported.
    pub skipped: Vec<(String, String)>,
}

impl Store {
    /// Creates or overwrites a conversation with the source's fields, members and mutes.
    /// Returns whether it was created. A created conversation starts with no resume point.
    pub async fn import_conversation(
        &self,
        app: &str,
        conv: &ImportedConversation,
    ) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let existing = lock_conversation(&mut tx, app, &conv.id).await?;
        let member_key = conv
            .unique
            .then(|| conversation::member_set_key(&conv.members));
        let (last_seq, lm) = match &existing {
            Some(row) => (
                row.try_get::<i64, _>("last_seq")?,
                row.try_get::<Option<i64>, _>("last_message_at")?,
            ),
            None => (0, None),
        };
        let lm = lm.max(conv.last_message_at);
        let sql = if existing.is_some() {
            "UPDATE conversations SET kind = $3, name = $4, creator = $5, is_unique = $6, unique_id = $7, member_key = $8,
                attrs = $9, member_count = $10, last_message_at = $11, created_at = $12, updated_at = $13
             WHERE app_id = $1 AND id = $2"
        } else {
            "INSERT INTO conversations (app_id, id, kind, name, creator, is_unique, unique_id, member_key, attrs,
                member_count, last_message_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        };
        db::query(sql)
            .bind(app)
            .bind(conv.id.as_str())
            .bind(conv.kind.as_i64())
            .bind(conv.name.clone())
            .bind(conv.creator.clone())
            .bind(conv.unique)
            .bind(conv.unique_id.clone())
            .bind(member_key)
            .bind(sqlx::types::Json(&conv.attrs))
            .bind(conv.members.len() as i64)
            .bind(lm)
            .bind(conv.created_at)
            .bind(conv.updated_at)
            .execute(&mut tx)
            .await?;
        if existing.is_none() {
            db::query("DELETE FROM import_state WHERE app_id = $1 AND conv_id = $2")
                .bind(app)
                .bind(conv.id.as_str())
                .execute(&mut tx)
                .await?;
        }
        sync_members(&mut tx, app, conv, last_seq).await?;
        let mutes: Vec<(String, i64)> = conv.mutes.iter().map(|m| (m.clone(), 0)).collect();
        sync_clients(&mut tx, "mutes", app, &conv.id, &mutes).await?;
        tx.commit().await?;
        self.member_cache.invalidate(app, &conv.id);
        // A re-import may change the kind.
        self.forget_send_facts(app, &conv.id);
        Ok(existing.is_none())
    }

    /// Makes a service conversation's subscribers exactly `subscribers` (client, subscribed at).
    pub async fn import_subscribers(
        &self,
        app: &str,
        conv: &str,
        subscribers: &[(String, i64)],
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        lock_conversation(&mut tx, app, conv).await?;
        sync_clients(&mut tx, "subscriptions", app, conv, subscribers).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The resume point of a conversation's import, if any.
    pub async fn import_state(&self, app: &str, conv: &str) -> Result<Option<ImportState>> {
        let row = db::query(
            "SELECT cursor_ts, cursor_msg_id, complete, complete_lm FROM import_state WHERE app_id = $1 AND conv_id = $2",
        )
        .bind(app)
        .bind(conv)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let cursor = match (
            row.try_get::<Option<i64>, _>("cursor_ts")?,
            row.try_get::<Option<String>, _>("cursor_msg_id")?,
        ) {
            (Some(timestamp), Some(msg_id)) => Some(Cursor { timestamp, msg_id }),
            _ => None,
        };
        let complete: bool = row.try_get("complete")?;
        let complete_lm = complete
            .then(|| row.try_get::<Option<i64>, _>("complete_lm"))
            .transpose()?;
        Ok(Some(ImportState {
            cursor,
            complete_lm,
        }))
    }

    /// Records that the scan of a conversation's history reached the end while the source's
    /// `lm` was `lm`: a later run with the same `lm` has nothing to fetch.
    pub async fn mark_import_complete(&self, app: &str, conv: &str, lm: Option<i64>) -> Result<()> {
        db::query(
            "INSERT INTO import_state (app_id, conv_id, complete, complete_lm, updated_at) VALUES ($1, $2, TRUE, $3, $4)
             ON CONFLICT (app_id, conv_id) DO UPDATE SET complete = TRUE, complete_lm = excluded.complete_lm,
                updated_at = excluded.updated_at",
        )
        .bind(app)
        .bind(conv)
        .bind(lm)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// Starts the transaction with a write, a no-op update of the conversation row: Postgres
/// locks the row (no send interleaves its seqs with ours) and SQLite takes its write lock now,
/// waiting as long as `busy_timeout` allows, instead of failing later when a read
/// transaction cannot be upgraded. Returns `last_seq`, `last_message_at` and `kind`.
pub(super) async fn lock_conversation(
    tx: &mut Tx<'_>,
    app: &str,
    conv: &str,
) -> Result<Option<Row>> {
    Ok(db::query(
        "UPDATE conversations SET last_seq = last_seq WHERE app_id = $1 AND id = $2 RETURNING last_seq, last_message_at, kind",
    )
    .bind(app)
    .bind(conv)
    .fetch_optional(&mut *tx)
    .await?)
}

/// Members in the source's order: `joined_at` = creation time + position, so listings
/// (ordered by `joined_at`) show them as the source did. New members start caught up.
async fn sync_members(
    tx: &mut Tx<'_>,
    app: &str,
    conv: &ImportedConversation,
    last_seq: i64,
) -> Result<()> {
    let members: Vec<(String, i64)> = if conv.kind == Kind::Normal {
        conv.members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.clone(), conv.created_at + i as i64))
            .collect()
    } else {
        Vec::new()
    };
    remove_others(tx, "members", app, &conv.id, &members).await?;
    for (client, joined_at) in &members {
        db::query(
            "INSERT INTO members (app_id, conv_id, client_id, joined_at, read_seq, delivered_seq) VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (app_id, conv_id, client_id) DO UPDATE SET joined_at = excluded.joined_at",
        )
        .bind(app)
        .bind(conv.id.as_str())
        .bind(client.as_str())
        .bind(*joined_at)
        .bind(last_seq)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Makes `table` (`mutes` or `subscriptions`) hold exactly `clients` for the conversation.
async fn sync_clients(
    tx: &mut Tx<'_>,
    table: &'static str,
    app: &str,
    conv: &str,
    clients: &[(String, i64)],
) -> Result<()> {
    remove_others(tx, table, app, conv, clients).await?;
    for (client, at) in clients {
        let query = if table == "subscriptions" {
            db::query(
                "INSERT INTO subscriptions (app_id, conv_id, client_id, subscribed_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (app_id, conv_id, client_id) DO UPDATE SET subscribed_at = excluded.subscribed_at",
            )
            .bind(app)
            .bind(conv)
            .bind(client.as_str())
            .bind(*at)
        } else {
            db::query("INSERT INTO mutes (app_id, conv_id, client_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(app)
                .bind(conv)
                .bind(client.as_str())
        };
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

async fn remove_others(
    tx: &mut Tx<'_>,
    table: &'static str,
    app: &str,
    conv: &str,
    keep: &[(String, i64)],
) -> Result<()> {
    let rows = db::query(&format!(
        "SELECT client_id FROM {table} WHERE app_id = $1 AND conv_id = $2"
    ))
    .bind(app)
    .bind(conv)
    .fetch_all(&mut *tx)
    .await?;
    let keep: HashSet<&str> = keep.iter().map(|(c, _)| c.as_str()).collect();
    for row in rows {
        let client: String = row.try_get("client_id")?;
        if !keep.contains(client.as_str()) {
            db::query(&format!(
                "DELETE FROM {table} WHERE app_id = $1 AND conv_id = $2 AND client_id = $3"
            ))
            .bind(app)
            .bind(conv)
            .bind(client)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}
