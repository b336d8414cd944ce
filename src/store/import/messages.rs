//! One page of a conversation's history, oldest first, per transaction. A page locks the
//! conversation row, drops msg-ids already stored, drops messages older than the
//! conversation's newest stored message (so `(timestamp, seq)` order keeps agreeing with
//! `seq` even when the target already holds messages of its own), assigns
//! `seq = last_seq + 1 ..` in order, inserts, and moves the conversation's resume point
//! (`import_state`), all in one transaction: an interrupted import resumes exactly after its
//! last commit and never writes a message twice.

use super::{lock_conversation, Cursor, ImportedMessage, PageOutcome};
use crate::domain::message::Message;
use crate::domain::time::now_ms;
use crate::error::{Error, Result};
use crate::store::db::{self, Tx};
use crate::store::message_rows::{insert_rows, OnConflict, Row};
use crate::store::Store;
use std::collections::{HashMap, HashSet};

const ROWS_PER_INSERT: usize = 64;
const IDS_PER_LOOKUP: usize = 300;

impl Store {
    /// Imports one page of a conversation's messages (see the module docs) and moves the
    /// resume point to `cursor`, the last source message the page covers.
    pub async fn import_messages(
        &self,
        app: &str,
        conv: &str,
        page: &[ImportedMessage],
        cursor: &Cursor,
    ) -> Result<PageOutcome> {
        let mut tx = self.pool().begin().await?;
        let row = lock_conversation(&mut tx, app, conv)
            .await?
            .ok_or_else(Error::conversation_not_found)?;
        let old_seq: i64 = row.try_get("last_seq")?;
        let conv_kind: i64 = row.try_get("kind")?;
        let newest = db::query("SELECT timestamp FROM messages WHERE app_id = $1 AND conv_id = $2 ORDER BY timestamp DESC, seq DESC LIMIT 1")
            .bind(app)
            .bind(conv)
            .fetch_optional(&mut tx)
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
                    outcome.skipped.push((
                        message.msg_id.clone(),
                        format!("msg-id already used in conversation {owner}"),
                    ));
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
            let greatest = crate::store::greatest(self.dialect());
            let row = db::query(&format!(
                "UPDATE conversations SET last_seq = last_seq + $1, last_message_at = {greatest}(COALESCE(last_message_at, 0), $2)
                 WHERE app_id = $3 AND id = $4 RETURNING last_seq"
            ))
            .bind(count)
            .bind(latest)
            .bind(app)
            .bind(conv)
            .fetch_one(&mut tx)
            .await?;
            let new_seq: i64 = row.try_get("last_seq")?;
            let first = new_seq - count + 1;
            let rows: Vec<(i64, &ImportedMessage)> = fresh
                .iter()
                .enumerate()
                .map(|(i, m)| (first + i as i64, *m))
                .collect();
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                insert_messages(&mut tx, app, conv, conv_kind, chunk).await?;
            }
            insert_targets(&mut tx, app, conv, &rows).await?;
            // Imported history counts as read and delivered for members who were caught up.
            for column in ["read_seq", "delivered_seq"] {
                db::query(&format!(
                    "UPDATE members SET {column} = $1 WHERE app_id = $2 AND conv_id = $3 AND {column} = $4"
                ))
                .bind(new_seq)
                .bind(app)
                .bind(conv)
                .bind(old_seq)
                .execute(&mut tx)
                .await?;
            }
            outcome.inserted = fresh.len() as u64;
        }
        db::query(
            "INSERT INTO import_state (app_id, conv_id, cursor_ts, cursor_msg_id, complete, updated_at) VALUES ($1, $2, $3, $4, FALSE, $5)
             ON CONFLICT (app_id, conv_id) DO UPDATE SET cursor_ts = excluded.cursor_ts,
                cursor_msg_id = excluded.cursor_msg_id, complete = FALSE, updated_at = excluded.updated_at",
        )
        .bind(app)
        .bind(conv)
        .bind(cursor.timestamp)
        .bind(cursor.msg_id.as_str())
        .bind(now_ms())
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// A page of a conversation's msg-ids in `(timestamp, seq)` order, after `(timestamp,
    /// seq)`: what verification hashes. Returns `(msg_id, timestamp, seq)`.
    pub async fn message_ids_page(
        &self,
        app: &str,
        conv: &str,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<(String, i64, i64)>> {
        let (ts, seq) = after.unwrap_or((i64::MIN, i64::MIN));
        let rows = db::query(&format!(
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
            .map(|r| {
                Ok((
                    r.try_get("msg_id")?,
                    r.try_get("timestamp")?,
                    r.try_get("seq")?,
                ))
            })
            .collect()
    }
}

/// Which of `page`'s msg-ids are stored already, and in which conversation.
async fn stored_ids(
    tx: &mut Tx<'_>,
    app: &str,
    page: &[ImportedMessage],
) -> Result<HashMap<String, String>> {
    let mut found = HashMap::new();
    for chunk in page.chunks(IDS_PER_LOOKUP) {
        let placeholders = (0..chunk.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT msg_id, conv_id FROM messages WHERE app_id = $1 AND msg_id IN ({placeholders})"
        );
        let mut query = db::query(&sql).bind(app);
        for message in chunk {
            query = query.bind(message.msg_id.as_str());
        }
        for row in query.fetch_all(&mut *tx).await? {
            found.insert(row.try_get("msg_id")?, row.try_get("conv_id")?);
        }
    }
    Ok(found)
}

/// The rows through the writer's own INSERT (one column list); a message already stored by an
/// earlier run is skipped.
async fn insert_messages(
    tx: &mut Tx<'_>,
    app: &str,
    conv: &str,
    conv_kind: i64,
    rows: &[(i64, &ImportedMessage)],
) -> Result<()> {
    let stored: Vec<Message> = rows
        .iter()
        .map(|(seq, imported)| Message {
            conv_id: conv.to_owned(),
            conv_kind,
            seq: *seq,
            msg_id: imported.msg_id.clone(),
            timestamp: imported.timestamp,
            content: imported.content.clone(),
            patch_timestamp: imported.patch_timestamp,
            recalled: imported.recalled,
            ack_at: imported.ack_at,
            transient: false,
        })
        .collect();
    let rows: Vec<Row<'_>> = stored
        .iter()
        .map(|message| Row {
            app_id: app,
            message,
            dedup_key: None,
        })
        .collect();
    insert_rows(tx, &rows, OnConflict::Skip).await
}

/// Recipients of per-user service messages and subscribers a broadcast is hidden from.
async fn insert_targets(
    tx: &mut Tx<'_>,
    app: &str,
    conv: &str,
    rows: &[(i64, &ImportedMessage)],
) -> Result<()> {
    for (seq, message) in rows {
        let targets = message
            .content
            .to_clients
            .iter()
            .map(|c| (c, false))
            .chain(message.hidden_for.iter().map(|c| (c, true)));
        for (client, hidden) in targets {
            db::query(
                "INSERT INTO message_targets (app_id, conv_id, client_id, seq, hidden) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
            )
            .bind(app)
            .bind(conv)
            .bind(client.as_str())
            .bind(*seq)
            .bind(hidden)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}
