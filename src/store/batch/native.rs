//! A batch's statements on SQLite through rusqlite, on the writer's own thread. Through
//! sqlx every statement was a hop to sqlx's worker thread and back (a custom `BEGIN` three
//! of them), and with the machine busy each hop waited for a core: at 64 REST senders the
//! begin alone took 0.6 ms of a 3.3 ms batch. Here a statement is a function call; small
//! statements from the connection's cache replace the multi-row ones, which only saved
//! round trips.

use super::{Advance, Advanced, BatchTx};
use crate::domain::message::Message;
use crate::error::Result;
use crate::store::message_rows::{insert_native, Row};
use crate::store::messages::{MessageRow, MESSAGE_SELECT};
use crate::store::writer::NewMessage;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior};
use sqlx::types::Json;
use std::collections::HashMap;
use std::sync::LazyLock;

/// A write transaction (`BEGIN IMMEDIATE`: the write lock up front) on the writer's
/// rusqlite connection.
pub(crate) struct NativeBatch<'c> {
    tx: Transaction<'c>,
}

impl<'c> NativeBatch<'c> {
    pub(crate) fn begin(conn: &'c mut rusqlite::Connection) -> Result<NativeBatch<'c>> {
        Ok(NativeBatch {
            tx: conn.transaction_with_behavior(TransactionBehavior::Immediate)?,
        })
    }
}

static DEDUP_SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {MESSAGE_SELECT} FROM messages m WHERE m.app_id = ?1 AND m.conv_id = ?2 \
         AND m.from_client = ?3 AND m.dedup_key = ?4"
    )
});

const ADVANCE: &str = "UPDATE conversations SET last_seq = last_seq + ?1,
        last_message_at = MAX(COALESCE(last_message_at, 0), ?2)
    WHERE app_id = ?3 AND id = ?4
    RETURNING last_seq, last_message_at, kind";

impl BatchTx for NativeBatch<'_> {
    async fn find_by_dedup_key(&mut self, message: &NewMessage) -> Result<Option<Message>> {
        let found = self
            .tx
            .prepare_cached(&DEDUP_SELECT)?
            .query_row(
                rusqlite::params![
                    message.app_id,
                    message.conv_id,
                    message.content.from_client,
                    message.dedup_key
                ],
                message_row,
            )
            .optional()?;
        Ok(found.map(Message::from))
    }

    async fn advance_sequences<'k>(
        &mut self,
        advances: &[Advance<'k>],
    ) -> Result<HashMap<(&'k str, &'k str), Advanced>> {
        let mut statement = self.tx.prepare_cached(ADVANCE)?;
        let mut advanced = HashMap::with_capacity(advances.len());
        for advance in advances {
            let row = statement
                .query_row(
                    rusqlite::params![advance.count, advance.now, advance.key.0, advance.key.1],
                    |row| {
                        Ok(Advanced {
                            last_seq: row.get(0)?,
                            last_message_at: row.get(1)?,
                            kind: row.get(2)?,
                        })
                    },
                )
                .optional()?;
            if let Some(row) = row {
                advanced.insert(advance.key, row);
            }
        }
        Ok(advanced)
    }

    async fn insert_rows(&mut self, rows: &[Row<'_>]) -> Result<()> {
        Ok(insert_native(&self.tx, rows)?)
    }

    async fn insert_targets(&mut self, app_id: &str, message: &Message) -> Result<()> {
        let mut statement = self.tx.prepare_cached(super::pooled::TARGET_INSERT)?;
        for client in &message.content.to_clients {
            statement.execute(rusqlite::params![
                app_id,
                message.conv_id,
                client,
                message.seq
            ])?;
        }
        Ok(())
    }

    async fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }
}

/// A row of [`MESSAGE_SELECT`], by position (the list's order).
fn message_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    let list = |index: usize| -> rusqlite::Result<Option<Json<Vec<String>>>> {
        let text: Option<String> = row.get(index)?;
        text.map(|text| {
            serde_json::from_str(&text).map(Json).map_err(|err| {
                rusqlite::Error::FromSqlConversionFailure(
                    index,
                    rusqlite::types::Type::Text,
                    err.into(),
                )
            })
        })
        .transpose()
    };
    Ok(MessageRow {
        conv_id: row.get(0)?,
        conv_kind: row.get(1)?,
        seq: row.get(2)?,
        msg_id: row.get(3)?,
        timestamp: row.get(4)?,
        from_client: row.get(5)?,
        data: row.get(6)?,
        bin: row.get(7)?,
        from_ip: row.get(8)?,
        kind: row.get(9)?,
        no_sync: row.get(10)?,
        priority: row.get(11)?,
        mention_all: row.get(12)?,
        mention_pids: list(13)?,
        push_data: row.get(14)?,
        to_clients: list(15)?,
        patch_timestamp: row.get(16)?,
        recalled: row.get(17)?,
        ack_at: row.get(18)?,
    })
}

/// The writer's connection to the SQLite file, with the settings of every connection of the
/// pool that matter for writing (`sqlite.rs`) and the writer's own: no WAL checkpoint inside
/// a commit (the pool checkpoints beside it), a page cache the message indexes fit in.
pub(crate) fn open(path: &std::path::Path) -> Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
         PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = {};",
        crate::store::sqlite::WRITER_CACHE_KIB
    ))?;
    // The batch's statements (dedup select, advance, insert, targets) and a few spare.
    conn.set_prepared_statement_cache_capacity(16);
    Ok(conn)
}
