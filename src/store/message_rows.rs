//! The one INSERT of `messages` rows, with the one column list, shared by the group-commit
//! writer and the importer. Built natively per backend with sqlx's `QueryBuilder` (it numbers
//! the placeholders as each dialect wants).

use crate::domain::message::Message;
use crate::error::Result;
use crate::store::db::Tx;
use sqlx::types::Json;
use sqlx::{Database, Encode, QueryBuilder, Type};

/// A message as stored, with the two facts the stored message does not carry.
pub(crate) struct Row<'a> {
    pub app_id: &'a str,
    pub message: &'a Message,
    /// The sender's dedup key (`dt`), for resends.
    pub dedup_key: Option<&'a str>,
}

/// What a row whose key is taken does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnConflict {
    /// Fail the statement (the writer: sequences were just assigned, a clash is a fault).
    Fail,
    /// Skip the row (the importer: a rerun meets the messages it already stored).
    Skip,
}

pub(crate) async fn insert_rows(
    tx: &mut Tx<'_>,
    rows: &[Row<'_>],
    on_conflict: OnConflict,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    match tx {
        Tx::Sqlite(tx) => {
            insert::<sqlx::Sqlite>(rows, on_conflict)
                .build()
                .execute(&mut **tx)
                .await?;
        }
        Tx::Postgres(tx) => {
            insert::<sqlx::Postgres>(rows, on_conflict)
                .build()
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// `NULL` for an empty list, else the list as JSON (`jsonb` on Postgres).
pub(crate) fn json_list(items: &[String]) -> Option<Json<&[String]>> {
    (!items.is_empty()).then_some(Json(items))
}

fn insert<'a, DB>(rows: &[Row<'a>], on_conflict: OnConflict) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    Option<i64>: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    Option<Json<&'a [String]>>: Encode<'a, DB> + Type<DB>,
{
    let mut insert = QueryBuilder::new(
        "INSERT INTO messages (app_id, conv_id, seq, msg_id, timestamp, from_client, data, bin, \
         from_ip, kind, conv_kind, no_sync, priority, mention_all, mention_pids, push_data, \
         to_clients, dedup_key, patch_timestamp, recalled, ack_at) ",
    );
    insert.push_values(rows, |mut cells, row| {
        let m = row.message;
        cells
            .push_bind(row.app_id)
            .push_bind(m.conv_id.as_str())
            .push_bind(m.seq)
            .push_bind(m.msg_id.as_str())
            .push_bind(m.timestamp)
            .push_bind(m.content.from_client.as_str())
            .push_bind(m.content.data.as_str())
            .push_bind(m.content.bin)
            .push_bind(m.content.from_ip.as_deref())
            .push_bind(m.content.kind as i64)
            .push_bind(m.conv_kind)
            .push_bind(m.content.no_sync)
            .push_bind(m.content.priority as i64)
            .push_bind(m.content.mention_all)
            .push_bind(json_list(&m.content.mention_pids))
            .push_bind(m.content.push_data.as_deref())
            .push_bind(json_list(&m.content.to_clients))
            .push_bind(row.dedup_key)
            .push_bind(m.patch_timestamp)
            .push_bind(m.recalled)
            .push_bind(m.ack_at);
    });
    if on_conflict == OnConflict::Skip {
        insert.push(" ON CONFLICT DO NOTHING");
    }
    insert
}
