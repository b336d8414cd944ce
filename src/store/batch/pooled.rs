//! A batch's statements on a connection of sqlx's pool (the Postgres writers): few, large
//! statements, because each is a round trip to the database.

use super::{Advance, Advanced, BatchTx};
use crate::domain::message::Message;
use crate::error::Result;
use crate::store::db::{self, Conn};
use crate::store::message_rows::{insert_rows, OnConflict, Row};
use crate::store::writer::NewMessage;
use crate::store::Dialect;
use std::collections::HashMap;

/// How many conversations one sequence UPDATE advances (4 parameters each).
const GROUPS_PER_UPDATE: usize = 256;

/// A write transaction on the writer's pooled connection.
pub(crate) struct PooledBatch<'c> {
    tx: db::Tx<'c>,
    dialect: Dialect,
}

impl<'c> PooledBatch<'c> {
    /// Begins the transaction (on SQLite it takes the write lock up front).
    pub(crate) async fn begin(conn: &'c mut Conn, dialect: Dialect) -> Result<PooledBatch<'c>> {
        Ok(PooledBatch {
            tx: conn.begin_write().await?,
            dialect,
        })
    }
}

impl BatchTx for PooledBatch<'_> {
    async fn find_by_dedup_key(&mut self, message: &NewMessage) -> Result<Option<Message>> {
        let sql = format!(
            "SELECT {} FROM messages m WHERE m.app_id = $1 AND m.conv_id = $2 AND m.from_client = $3 AND m.dedup_key = $4",
            crate::store::messages::MESSAGE_SELECT
        );
        let row = db::query(&sql)
            .bind(message.app_id.as_str())
            .bind(message.conv_id.as_str())
            .bind(message.content.from_client.as_str())
            .bind(message.dedup_key.as_deref())
            .fetch_optional(&mut self.tx)
            .await?;
        row.map(|r| crate::store::messages::message_from_row(&r))
            .transpose()
    }

    /// `UPDATE … FROM (VALUES …) … RETURNING`, at most [`GROUPS_PER_UPDATE`] conversations
    /// per statement: one round trip where there used to be one per conversation. Each
    /// statement's VALUES list is padded to a power of two with rows that match no
    /// conversation, so that only a handful of distinct statements reach the
    /// prepared-statement cache.
    async fn advance_sequences<'k>(
        &mut self,
        advances: &[Advance<'k>],
    ) -> Result<HashMap<(&'k str, &'k str), Advanced>> {
        let dialect = self.dialect;
        let greatest = crate::store::greatest(dialect);
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
            for row in query.fetch_all(&mut self.tx).await? {
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

    async fn insert_rows(&mut self, rows: &[Row<'_>]) -> Result<()> {
        insert_rows(&mut self.tx, rows, OnConflict::Fail).await
    }

    async fn insert_targets(&mut self, app_id: &str, message: &Message) -> Result<()> {
        for client in &message.content.to_clients {
            db::query(TARGET_INSERT)
                .bind(app_id)
                .bind(message.conv_id.as_str())
                .bind(client.as_str())
                .bind(message.seq)
                .execute(&mut self.tx)
                .await?;
        }
        Ok(())
    }

    async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}

/// One per-user target of a message (both drivers).
pub(super) const TARGET_INSERT: &str = "INSERT INTO message_targets (app_id, conv_id, client_id, seq) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";

/// The `n`-th parameter of a statement. SQLite gets anonymous `?`: sqlx looks up the name
/// of every numbered parameter, a linear walk each time, which made binding a 64-row INSERT
/// (1,344 parameters) quadratic. Postgres needs `$n`.
pub(crate) fn placeholder(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => "?".to_owned(),
        Dialect::Postgres => format!("${n}"),
    }
}
