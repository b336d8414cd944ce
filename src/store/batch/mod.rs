//! One batch of the group-commit writer (`writer/`) in one transaction: resends found by
//! their dedup key, sequences for every conversation of the batch, the rows, the commit.
//! The plan is here, once; the statements are per driver behind [`BatchTx`]: sqlx's pooled
//! connection (`pooled.rs`: Postgres, multi-row statements, one round trip each) and SQLite
//! through rusqlite on the writer's own thread (`native.rs`: cached single-row statements,
//! no thread hop per statement).
//!
//! Each message's `seq` comes from its conversation row in the same transaction
//! (`last_seq = last_seq + k ... RETURNING`), and its timestamp is clamped to never go below
//! the conversation's previous message, so `(timestamp, seq)` order agrees with `seq`.

pub(crate) mod native;
mod pooled;

use super::message_rows::Row;
use super::writer::{NewMessage, Written};
use crate::domain::message::Message;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::time::Instant;

pub(crate) use pooled::{placeholder, PooledBatch};

/// How many rows go into one INSERT (well under both backends' parameter limits).
const ROWS_PER_INSERT: usize = 64;

/// The statements of one batch, in one write transaction of one driver.
pub(crate) trait BatchTx {
    /// The stored copy of a message sent before with the same dedup key, if any.
    async fn find_by_dedup_key(&mut self, message: &NewMessage) -> Result<Option<Message>>;
    /// Advances every conversation's `last_seq` and `last_message_at`; conversations that
    /// do not exist are absent from the answer.
    async fn advance_sequences<'k>(
        &mut self,
        advances: &[Advance<'k>],
    ) -> Result<HashMap<(&'k str, &'k str), Advanced>>;
    /// Inserts up to [`ROWS_PER_INSERT`] rows.
    async fn insert_rows(&mut self, rows: &[Row<'_>]) -> Result<()>;
    /// The per-user targets of a message (`to_clients`).
    async fn insert_targets(&mut self, app_id: &str, message: &Message) -> Result<()>;
    async fn commit(self) -> Result<()>;
}

/// Writes a batch in `tx`, begun at `started`. Per-message refusals (unknown conversation)
/// are per-message results; a database failure fails the whole batch.
pub(crate) async fn write_batch(
    mut tx: impl BatchTx,
    messages: &[NewMessage],
    started: Instant,
) -> Result<Vec<Result<Written>>> {
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
            if let Some(stored) = tx.find_by_dedup_key(message).await? {
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
    let advanced = tx.advance_sequences(&advances).await?;
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
        tx.insert_rows(&rows).await?;
    }
    for (index, message) in &stored {
        if !message.content.to_clients.is_empty() {
            tx.insert_targets(&messages[*index].app_id, message).await?;
        }
    }
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
pub(crate) struct Advance<'a> {
    pub key: (&'a str, &'a str),
    pub count: i64,
    pub now: i64,
}

/// A conversation's row after the advance.
pub(crate) struct Advanced {
    pub last_seq: i64,
    pub last_message_at: Option<i64>,
    pub kind: i64,
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
