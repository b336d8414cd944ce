//! Writes for `tidings import`: conversations and messages keep their ORIGINAL ids,
//! timestamps and `createdAt`/`updatedAt`, where the normal paths assign their own.
//!
//! Messages of one conversation arrive oldest first, one page per transaction. A page locks
//! the conversation row, drops msg-ids already stored, drops messages older than the
//! conversation's newest stored message (so `(timestamp, seq)` order keeps agreeing with
//! `seq` even when the target already holds messages of its own), assigns
//! `seq = last_seq + 1 ..` in order, inserts, and moves the conversation's resume point
//! (`import_state`), all in one transaction: an interrupted import resumes exactly after its
//! last commit and never writes a message twice.

use super::Store;
use crate::domain::conversation::{self, Kind};
use crate::domain::message::MessageKind;
use crate::domain::time::now_ms;
use crate::error::{Error, Result};
use serde_json::{Map, Value};
use sqlx::{Any, Row, Transaction};
use std::collections::{HashMap, HashSet};

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
    pub from_client: String,
    pub data: String,
    pub bin: bool,
    pub from_ip: Option<String>,
    pub kind: MessageKind,
    /// Recipients of a per-user service message.
    pub to_clients: Vec<String>,
    /// Subscribers a service broadcast is hidden from.
    pub hidden_for: Vec<String>,
    pub mention_all: bool,
    pub mention_pids: Vec<String>,
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

const MESSAGE_COLUMNS: usize = 18;
const ROWS_PER_INSERT: usize = 64;
const IDS_PER_LOOKUP: usize = 300;

impl Store {
    /// Creates or overwrites a conversation with the source's fields, members and mutes.
    /// Returns whether it was created. A created conversation starts with no resume point.
    pub async fn import_conversation(&self, app: &str, conv: &ImportedConversation) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let existing = sqlx::query("SELECT last_seq, last_message_at FROM conversations WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(conv.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let member_key = conv.unique.then(|| conversation::member_set_key(&conv.members));
        let attrs = serde_json::to_string(&conv.attrs).map_err(anyhow::Error::from)?;
        let (last_seq, lm) = match &existing {
            Some(row) => (row.try_get::<i64, _>("last_seq")?, row.try_get::<Option<i64>, _>("last_message_at")?),
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
        sqlx::query(sql)
            .bind(app)
            .bind(conv.id.as_str())
            .bind(conv.kind.as_i64())
            .bind(conv.name.clone())
            .bind(conv.creator.clone())
            .bind(super::flag(conv.unique))
            .bind(conv.unique_id.clone())
            .bind(member_key)
            .bind(attrs)
            .bind(conv.members.len() as i64)
            .bind(lm)
            .bind(conv.created_at)
            .bind(conv.updated_at)
            .execute(&mut *tx)
            .await?;
        if existing.is_none() {
            sqlx::query("DELETE FROM import_state WHERE app_id = $1 AND conv_id = $2")
                .bind(app)
                .bind(conv.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        sync_members(&mut tx, app, conv, last_seq).await?;
        let mutes: Vec<(String, i64)> = conv.mutes.iter().map(|m| (m.clone(), 0)).collect();
        sync_clients(&mut tx, "mutes", app, &conv.id, &mutes).await?;
        tx.commit().await?;
        Ok(existing.is_none())
    }

    /// Makes a service conversation's subscribers exactly `subscribers` (client, subscribed at).
    pub async fn import_subscribers(&self, app: &str, conv: &str, subscribers: &[(String, i64)]) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sync_clients(&mut tx, "subscriptions", app, conv, subscribers).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The resume point of a conversation's import, if any.
    pub async fn import_state(&self, app: &str, conv: &str) -> Result<Option<ImportState>> {
        let row = sqlx::query(
            "SELECT cursor_ts, cursor_msg_id, complete, complete_lm FROM import_state WHERE app_id = $1 AND conv_id = $2",
        )
        .bind(app)
        .bind(conv)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let cursor = match (row.try_get::<Option<i64>, _>("cursor_ts")?, row.try_get::<Option<String>, _>("cursor_msg_id")?) {
            (Some(timestamp), Some(msg_id)) => Some(Cursor { timestamp, msg_id }),
            _ => None,
        };
        let complete = row.try_get::<i64, _>("complete")? != 0;
        let complete_lm = complete.then(|| row.try_get::<Option<i64>, _>("complete_lm")).transpose()?;
        Ok(Some(ImportState { cursor, complete_lm }))
    }

    /// Records that the scan of a conversation's history reached the end while the source's
    /// `lm` was `lm`: a later run with the same `lm` has nothing to fetch.
    pub async fn mark_import_complete(&self, app: &str, conv: &str, lm: Option<i64>) -> Result<()> {
        sqlx::query(
            "INSERT INTO import_state (app_id, conv_id, complete, complete_lm, updated_at) VALUES ($1, $2, 1, $3, $4)
             ON CONFLICT (app_id, conv_id) DO UPDATE SET complete = 1, complete_lm = excluded.complete_lm,
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

    /// Imports one page of a conversation's messages (see the module docs) and moves the
    /// resume point to `cursor`, the last source message the page covers.
    pub async fn import_messages(&self, app: &str, conv: &str, page: &[ImportedMessage], cursor: &Cursor) -> Result<PageOutcome> {
        let mut tx = self.pool().begin().await?;
        // A no-op update takes the row lock: no send can interleave its seqs with ours.
        let row = sqlx::query("UPDATE conversations SET last_seq = last_seq WHERE app_id = $1 AND id = $2 RETURNING last_seq, kind")
            .bind(app)
            .bind(conv)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(Error::conversation_not_found)?;
        let old_seq: i64 = row.try_get("last_seq")?;
        let conv_kind: i64 = row.try_get("kind")?;
        let newest = sqlx::query("SELECT timestamp FROM messages WHERE app_id = $1 AND conv_id = $2 ORDER BY timestamp DESC, seq DESC LIMIT 1")
            .bind(app)
            .bind(conv)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<i64, _>("timestamp"))
            .transpose()?;
        let stored = stored_ids(&mut tx, app, page).await?;

        let mut ordered: Vec<&ImportedMessage> = page.iter().collect();
        ordered.sort_by_key(|m| m.timestamp);
        let mut outcome = PageOutcome::default();
        let mut seen = HashSet::new();
        let mut floor = newest.unwrap_or(i64::MIN);
        let mut fresh = Vec::new();
        for message in ordered {
            if !seen.insert(message.msg_id.as_str()) {
                outcome.duplicates += 1;
            } else if let Some(owner) = stored.get(&message.msg_id) {
                if owner == conv {
                    outcome.duplicates += 1;
                } else {
                    outcome.skipped.push((message.msg_id.clone(), format!("msg-id already used in conversation {owner}")));
                }
            } else if message.timestamp < floor {
                outcome.skipped.push((
                    message.msg_id.clone(),
                    "older than messages the target conversation already holds".to_owned(),
                ));
            } else {
                floor = message.timestamp;
                fresh.push(message);
            }
        }
        if !fresh.is_empty() {
            let count = fresh.len() as i64;
            let latest = fresh.iter().map(|m| m.timestamp).max().unwrap_or_default();
            let greatest = super::greatest(self.dialect());
            let row = sqlx::query(&format!(
                "UPDATE conversations SET last_seq = last_seq + $1, last_message_at = {greatest}(COALESCE(last_message_at, 0), $2)
                 WHERE app_id = $3 AND id = $4 RETURNING last_seq"
            ))
            .bind(count)
            .bind(latest)
            .bind(app)
            .bind(conv)
            .fetch_one(&mut *tx)
            .await?;
            let new_seq: i64 = row.try_get("last_seq")?;
            let first = new_seq - count + 1;
            let rows: Vec<(i64, &ImportedMessage)> = fresh.iter().enumerate().map(|(i, m)| (first + i as i64, *m)).collect();
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                insert_messages(&mut tx, app, conv, conv_kind, chunk).await?;
            }
            insert_targets(&mut tx, app, conv, &rows).await?;
            // Imported history counts as read and delivered for members who were caught up.
            for column in ["read_seq", "delivered_seq"] {
                sqlx::query(&format!(
                    "UPDATE members SET {column} = $1 WHERE app_id = $2 AND conv_id = $3 AND {column} = $4"
                ))
                .bind(new_seq)
                .bind(app)
                .bind(conv)
                .bind(old_seq)
                .execute(&mut *tx)
                .await?;
            }
            outcome.inserted = fresh.len() as u64;
        }
        sqlx::query(
            "INSERT INTO import_state (app_id, conv_id, cursor_ts, cursor_msg_id, complete, updated_at) VALUES ($1, $2, $3, $4, 0, $5)
             ON CONFLICT (app_id, conv_id) DO UPDATE SET cursor_ts = excluded.cursor_ts,
                cursor_msg_id = excluded.cursor_msg_id, complete = 0, updated_at = excluded.updated_at",
        )
        .bind(app)
        .bind(conv)
        .bind(cursor.timestamp)
        .bind(cursor.msg_id.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// A page of a conversation's msg-ids in `(timestamp, seq)` order, after `(timestamp,
    /// seq)`: what verification hashes. Returns `(msg_id, timestamp, seq)`.
    pub async fn message_ids_page(&self, app: &str, conv: &str, after: Option<(i64, i64)>, limit: i64) -> Result<Vec<(String, i64, i64)>> {
        let (ts, seq) = after.unwrap_or((i64::MIN, i64::MIN));
        let rows = sqlx::query(&format!(
            "SELECT msg_id, timestamp, seq FROM messages WHERE app_id = $1 AND conv_id = $2
               AND (timestamp > $3 OR (timestamp = $3 AND seq > $4))
             ORDER BY timestamp, seq LIMIT {}",
            limit.max(1)
        ))
        .bind(app)
        .bind(conv)
        .bind(ts)
        .bind(seq)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("msg_id")?, r.try_get("timestamp")?, r.try_get("seq")?)))
            .collect()
    }
}

/// Which of `page`'s msg-ids are stored already, and in which conversation.
async fn stored_ids(tx: &mut Transaction<'_, Any>, app: &str, page: &[ImportedMessage]) -> Result<HashMap<String, String>> {
    let mut found = HashMap::new();
    for chunk in page.chunks(IDS_PER_LOOKUP) {
        let placeholders = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(",");
        let sql = format!("SELECT msg_id, conv_id FROM messages WHERE app_id = $1 AND msg_id IN ({placeholders})");
        let mut query = sqlx::query(&sql).bind(app);
        for message in chunk {
            query = query.bind(message.msg_id.as_str());
        }
        for row in query.fetch_all(&mut **tx).await? {
            found.insert(row.try_get("msg_id")?, row.try_get("conv_id")?);
        }
    }
    Ok(found)
}

async fn insert_messages(tx: &mut Transaction<'_, Any>, app: &str, conv: &str, conv_kind: i64, rows: &[(i64, &ImportedMessage)]) -> Result<()> {
    let tuples = (0..rows.len())
        .map(|r| {
            let cells = (1..=MESSAGE_COLUMNS).map(|c| format!("${}", r * MESSAGE_COLUMNS + c));
            format!("({})", cells.collect::<Vec<_>>().join(","))
        })
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "INSERT INTO messages (app_id, conv_id, seq, msg_id, timestamp, from_client, data, bin, from_ip, kind,
            conv_kind, mention_all, mention_pids, to_clients, patch_timestamp, recalled, ack_at, priority)
         VALUES {tuples} ON CONFLICT DO NOTHING"
    );
    let mut query = sqlx::query(&sql);
    for (seq, message) in rows {
        query = query
            .bind(app)
            .bind(conv)
            .bind(*seq)
            .bind(message.msg_id.as_str())
            .bind(message.timestamp)
            .bind(message.from_client.as_str())
            .bind(message.data.as_str())
            .bind(super::flag(message.bin))
            .bind(message.from_ip.clone())
            .bind(message.kind as i64)
            .bind(conv_kind)
            .bind(super::flag(message.mention_all))
            .bind(json_list(&message.mention_pids))
            .bind(json_list(&message.to_clients))
            .bind(message.patch_timestamp)
            .bind(super::flag(message.recalled))
            .bind(message.ack_at)
            .bind(crate::domain::message::Priority::Normal as i64);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Recipients of per-user service messages and subscribers a broadcast is hidden from.
async fn insert_targets(tx: &mut Transaction<'_, Any>, app: &str, conv: &str, rows: &[(i64, &ImportedMessage)]) -> Result<()> {
    for (seq, message) in rows {
        let targets = message.to_clients.iter().map(|c| (c, 0_i64)).chain(message.hidden_for.iter().map(|c| (c, 1)));
        for (client, hidden) in targets {
            sqlx::query(
                "INSERT INTO message_targets (app_id, conv_id, client_id, seq, hidden) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
            )
            .bind(app)
            .bind(conv)
            .bind(client.as_str())
            .bind(*seq)
            .bind(hidden)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Members in the source's order: `joined_at` = creation time + position, so listings
/// (ordered by `joined_at`) show them as the source did. New members start caught up.
async fn sync_members(tx: &mut Transaction<'_, Any>, app: &str, conv: &ImportedConversation, last_seq: i64) -> Result<()> {
    let members: Vec<(String, i64)> = if conv.kind == Kind::Normal {
        conv.members.iter().enumerate().map(|(i, m)| (m.clone(), conv.created_at + i as i64)).collect()
    } else {
        Vec::new()
    };
    remove_others(tx, "members", app, &conv.id, &members).await?;
    for (client, joined_at) in &members {
        sqlx::query(
            "INSERT INTO members (app_id, conv_id, client_id, joined_at, read_seq, delivered_seq) VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (app_id, conv_id, client_id) DO UPDATE SET joined_at = excluded.joined_at",
        )
        .bind(app)
        .bind(conv.id.as_str())
        .bind(client.as_str())
        .bind(*joined_at)
        .bind(last_seq)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Makes `table` (`mutes` or `subscriptions`) hold exactly `clients` for the conversation.
async fn sync_clients(tx: &mut Transaction<'_, Any>, table: &'static str, app: &str, conv: &str, clients: &[(String, i64)]) -> Result<()> {
    remove_others(tx, table, app, conv, clients).await?;
    for (client, at) in clients {
        let query = if table == "subscriptions" {
            sqlx::query(
                "INSERT INTO subscriptions (app_id, conv_id, client_id, subscribed_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (app_id, conv_id, client_id) DO UPDATE SET subscribed_at = excluded.subscribed_at",
            )
            .bind(app)
            .bind(conv)
            .bind(client.as_str())
            .bind(*at)
        } else {
            sqlx::query("INSERT INTO mutes (app_id, conv_id, client_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(app)
                .bind(conv)
                .bind(client.as_str())
        };
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn remove_others(tx: &mut Transaction<'_, Any>, table: &'static str, app: &str, conv: &str, keep: &[(String, i64)]) -> Result<()> {
    let rows = sqlx::query(&format!("SELECT client_id FROM {table} WHERE app_id = $1 AND conv_id = $2"))
        .bind(app)
        .bind(conv)
        .fetch_all(&mut **tx)
        .await?;
    let keep: HashSet<&str> = keep.iter().map(|(c, _)| c.as_str()).collect();
    for row in rows {
        let client: String = row.try_get("client_id")?;
        if !keep.contains(client.as_str()) {
            sqlx::query(&format!("DELETE FROM {table} WHERE app_id = $1 AND conv_id = $2 AND client_id = $3"))
                .bind(app)
                .bind(conv)
                .bind(client)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

fn json_list(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned()))
}
