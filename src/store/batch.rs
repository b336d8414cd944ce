//! One batch of the group-commit writer (`writer.rs`) in one transaction: resends found
//! by their dedup key, sequences for every conversation of the batch in one statement, the
//! rows in multi-row INSERTs.
//!
//! Each message's `seq` comes from its conversation row in the same transaction
//! (`last_seq = last_seq + k ... RETURNING`), and its timestamp is clamped to never go below
//! the conversation's previous message, so `(timestamp, seq)` order agrees with `seq`.

use super::message_rows::{insert_rows, OnConflict, Row};
use super::writer::{NewMessage, Written};
use super::Dialect;
use crate::domain::message::Message;
use crate::error::{Error, Result};
use crate::store::db::{self, Conn};
use std::collections::HashMap;
use std::time::Instant;

/// How many rows go into one multi-row INSERT (well under both backends' parameter limits).
const ROWS_PER_INSERT: usize = 64;
/// How many conversations one sequence UPDATE advances (4 parameters each).
const GROUPS_PER_UPDATE: usize = 256;

/// Writes a batch in one transaction. Per-message refusals (unknown conversation) are
/// per-message results; a database failure fails the whole batch.
pub(super) async fn write_batch(
    conn: &mut Conn,
    dialect: Dialect,
    messages: &[NewMessage],
) -> Result<Vec<Result<Written>>> {
    let started = Instant::now();
    // On SQLite this takes the write lock up front, as pooled writes do.
    let mut tx = conn.begin_write().await?;
    let mut outcomes: Vec<Option<Result<Written>>> = (0..messages.len()).map(|_| None).collect();

    // Resends: answer with the stored copy (or the first copy earlier in this batch).
    let mut first_in_batch: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    let mut fresh: Vec<usize> = Vec::new();
    let mut echoes: Vec<(usize, usize)> = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        if let Some(key) = &message.dedup_key {
            let id = (
                message.app_id.as_str(),
                message.conv_id.as_str(),
                message.content.from_client.as_str(),
                key.as_str(),
            );
            if let Some(&first) = first_in_batch.get(&id) {
                echoes.push((index, first));
                continue;
            }
            if let Some(stored) = find_by_dedup_key(&mut tx, message).await? {
                outcomes[index] = Some(Ok(Written {
                    message: stored,
                    duplicate: true,
                }));
                continue;
            }
            first_in_batch.insert(id, index);
        }
        fresh.push(index);
    }

    // Sequences and timestamps: one UPDATE for all the conversations in the batch.
    let mut groups: Vec<((&str, &str), Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<(&str, &str), usize> = HashMap::new();
    for &index in &fresh {
        let key = (
            messages[index].app_id.as_str(),
            messages[index].conv_id.as_str(),
        );
        match group_of.get(&key) {
            Some(&g) => groups[g].1.push(index),
            None => {
                group_of.insert(key, groups.len());
                groups.push((key, vec![index]));
            }
        }
    }
    let begun = started.elapsed();
    let advances: Vec<Advance<'_>> = groups
        .iter()
        .map(|(key, indexes)| Advance {
            key: *key,
            count: indexes.len() as i64,
            now: indexes
                .iter()
                .map(|&i| messages[i].now)
                .max()
                .unwrap_or_default(),
        })
        .collect();
    let advanced = advance_sequences(&mut tx, dialect, &advances).await?;
    let mut stored: Vec<(usize, Message)> = Vec::with_capacity(fresh.len());
    for ((key, indexes), advance) in groups.iter().zip(&advances) {
        let Some(row) = advanced.get(key) else {
            for &index in indexes {
                outcomes[index] = Some(Err(Error::conversation_not_found()));
            }
            continue;
        };
        let timestamp = row.last_message_at.unwrap_or(advance.now);
        let first_seq = row.last_seq - indexes.len() as i64 + 1;
        for (offset, &index) in indexes.iter().enumerate() {
            stored.push((
                index,
                assigned(
                    &messages[index],
                    first_seq + offset as i64,
                    timestamp,
                    row.kind,
                ),
            ));
        }
    }

    let sequenced = started.elapsed();
    for chunk in stored.chunks(ROWS_PER_INSERT) {
        let rows: Vec<Row<'_>> = chunk
            .iter()
            .map(|(i, message)| Row {
                app_id: &messages[*i].app_id,
                message,
                dedup_key: messages[*i].dedup_key.as_deref(),
            })
            .collect();
        insert_rows(&mut tx, &rows, OnConflict::Fail).await?;
    }
    insert_targets(&mut tx, stored.iter().map(|(i, m)| (&messages[*i], m))).await?;
    let inserted = started.elapsed();
    tx.commit().await?;
    crate::metrics::batch_committed(messages.len(), started.elapsed());
    tracing::debug!(
        messages = messages.len(),
        conversations = groups.len(),
        begin_us = begun.as_micros() as u64,
        sequence_us = (sequenced - begun).as_micros() as u64,
        insert_us = (inserted - sequenced).as_micros() as u64,
        commit_us = (started.elapsed() - inserted).as_micros() as u64,
        "message batch committed"
    );

    for (index, message) in stored {
        outcomes[index] = Some(Ok(Written {
            message,
            duplicate: false,
        }));
    }
    for (index, first) in echoes {
        let copy = match &outcomes[first] {
            Some(Ok(written)) => Ok(Written {
                message: written.message.clone(),
                duplicate: true,
            }),
            _ => Err(Error::conversation_not_found()),
        };
        outcomes[index] = Some(copy);
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(Error::internal("message left unanswered"))))
        .collect())
}

/// Advances one conversation's `last_seq` by `count` and its `last_message_at` to `now`.
struct Advance<'a> {
    key: (&'a str, &'a str),
    count: i64,
    now: i64,
}

/// A conversation's row after the advance.
struct Advanced {
    last_seq: i64,
    last_message_at: Option<i64>,
    kind: i64,
}

/// Applies `advances` with `UPDATE … FROM (VALUES …) … RETURNING`, at most
/// [`GROUPS_PER_UPDATE`] conversations per statement: one round trip where there used to be
/// one per conversation. Each statement's VALUES list is padded to a power of two with rows
/// that match no conversation, so that only a handful of distinct statements reach the
/// prepared-statement cache. Conversations that do not exist are absent from the answer.
async fn advance_sequences<'k>(
    tx: &mut db::Tx<'_>,
    dialect: Dialect,
    advances: &[Advance<'k>],
) -> Result<HashMap<(&'k str, &'k str), Advanced>> {
    let greatest = super::greatest(dialect);
    let mut advanced = HashMap::with_capacity(advances.len());
    for chunk in advances.chunks(GROUPS_PER_UPDATE) {
        let rows = chunk.len().next_power_of_two();
        let values = (0..rows)
            .map(|r| {
                format!(
                    "({})",
                    (1..=4)
                        .map(|c| placeholder(dialect, 4 * r + c))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE conversations SET last_seq = last_seq + v.column3,
                 last_message_at = {greatest}(COALESCE(last_message_at, 0), v.column4)
             FROM (VALUES {values}) AS v
             WHERE conversations.app_id = v.column1 AND conversations.id = v.column2
             RETURNING app_id, id, last_seq, last_message_at, kind"
        );
        let mut query = db::query(&sql);
        for advance in chunk {
            query = query
                .bind(advance.key.0)
                .bind(advance.key.1)
                .bind(advance.count)
                .bind(advance.now);
        }
        for _ in chunk.len()..rows {
            query = query.bind("").bind("").bind(0_i64).bind(0_i64);
        }
        let mut by_conv: HashMap<&str, Vec<&Advance<'k>>> = HashMap::with_capacity(chunk.len());
        for advance in chunk {
            by_conv.entry(advance.key.1).or_default().push(advance);
        }
        for row in query.fetch_all(&mut *tx).await? {
            let app: String = row.try_get("app_id")?;
            let conv: String = row.try_get("id")?;
            let found = by_conv
                .get(conv.as_str())
                .and_then(|same| same.iter().find(|a| a.key.0 == app));
            let Some(advance) = found else { continue };
            advanced.insert(
                advance.key,
                Advanced {
                    last_seq: row.try_get("last_seq")?,
                    last_message_at: row.try_get("last_message_at")?,
                    kind: row.try_get("kind")?,
                },
            );
        }
    }
    Ok(advanced)
}

/// The `n`-th parameter of a statement. SQLite gets anonymous `?`: sqlx looks up the name
/// of every numbered parameter, a linear walk each time, which made binding a 64-row INSERT
/// (1,344 parameters) quadratic. Postgres needs `$n`.
pub(super) fn placeholder(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => "?".to_owned(),
        Dialect::Postgres => format!("${n}"),
    }
}

fn assigned(new: &NewMessage, seq: i64, timestamp: i64, conv_kind: i64) -> Message {
    Message {
        conv_id: new.conv_id.clone(),
        conv_kind,
        seq,
        msg_id: new.msg_id.clone(),
        timestamp,
        content: new.content.clone(),
        patch_timestamp: None,
        recalled: false,
        ack_at: None,
        transient: false,
    }
}

async fn insert_targets<'a>(
    tx: &mut db::Tx<'_>,
    rows: impl Iterator<Item = (&'a NewMessage, &'a Message)>,
) -> Result<()> {
    for (new, message) in rows {
        for client in &message.content.to_clients {
            db::query(
                "INSERT INTO message_targets (app_id, conv_id, client_id, seq) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(new.app_id.as_str())
            .bind(message.conv_id.as_str())
            .bind(client.as_str())
            .bind(message.seq)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

async fn find_by_dedup_key(tx: &mut db::Tx<'_>, message: &NewMessage) -> Result<Option<Message>> {
    let sql = format!(
        "SELECT {} FROM messages m WHERE m.app_id = $1 AND m.conv_id = $2 AND m.from_client = $3 AND m.dedup_key = $4",
        super::messages::MESSAGE_SELECT
    );
    let row = db::query(&sql)
        .bind(message.app_id.as_str())
        .bind(message.conv_id.as_str())
        .bind(message.content.from_client.as_str())
        .bind(message.dedup_key.as_deref())
        .fetch_optional(&mut *tx)
        .await?;
    row.map(|r| super::messages::message_from_row(&r))
        .transpose()
}
