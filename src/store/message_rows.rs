//! The one INSERT of `messages` rows, with the one column list, shared by the group-commit
//! writer and the importer. Built natively per backend with sqlx's `QueryBuilder` (it numbers
//! the placeholders as each dialect wants); SQLite's writer runs the same columns, one row
//! per execution of a cached statement, on rusqlite ([`insert_native`]).

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

/// The columns every INSERT of a message names, in the order both binders follow.
macro_rules! message_columns {
    () => {
        "app_id, conv_id, seq, msg_id, timestamp, from_client, data, bin, from_ip, kind, \
         conv_kind, no_sync, priority, mention_all, mention_pids, push_data, to_clients, \
         dedup_key, patch_timestamp, recalled, ack_at"
    };
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
    let mut insert = QueryBuilder::new(concat!("INSERT INTO messages (", message_columns!(), ") "));
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

/// The rows on rusqlite (SQLite's writer), one execution of one cached statement each:
/// without a thread hop per statement, that costs less than building and parsing a
/// multi-row statement. Binds in [`message_columns`]' order, as [`insert`] does.
pub(crate) fn insert_native(
    tx: &rusqlite::Transaction<'_>,
    rows: &[Row<'_>],
) -> rusqlite::Result<()> {
    const SQL: &str = concat!(
        "INSERT INTO messages (",
        message_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19, ?20, ?21)"
    );
    let mut statement = tx.prepare_cached(SQL)?;
    for row in rows {
        let m = row.message;
        statement.execute(rusqlite::params![
            row.app_id,
            m.conv_id,
            m.seq,
            m.msg_id,
            m.timestamp,
            m.content.from_client,
            m.content.data,
            m.content.bin,
            m.content.from_ip,
            m.content.kind as i64,
            m.conv_kind,
            m.content.no_sync,
            m.content.priority as i64,
            m.content.mention_all,
            json_list_text(&m.content.mention_pids)?,
            m.content.push_data,
            json_list_text(&m.content.to_clients)?,
            row.dedup_key,
            m.patch_timestamp,
            m.recalled,
            m.ack_at,
        ])?;
    }
    Ok(())
}

/// [`json_list`] as the text SQLite stores.
fn json_list_text(items: &[String]) -> rusqlite::Result<Option<String>> {
    if items.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(items)
        .map(Some)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))
}
