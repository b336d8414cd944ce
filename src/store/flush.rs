//! Writes what `delivery.rs` holds: member positions and first-delivery stamps, each kind in
//! `UPDATE … FROM (VALUES …)` statements of many rows, all in one transaction.

use super::batch::placeholder;
use super::delivery::{AckStamp, MemberWrite, Pending, Tracker};
use super::{greatest, Dialect};
use crate::error::Result;
use crate::store::db::{self, Db};
use std::sync::Arc;

/// Rows per statement; VALUES lists are padded to a power of two (few distinct statements).
const ROWS_PER_UPDATE: usize = 128;

/// Writes the pending positions `wanted` selects (and every pending stamp). On failure they
/// stay pending for the next flush.
pub(super) async fn flush(
    pool: &Db,
    dialect: Dialect,
    tracker: &Tracker,
    wanted: impl Fn(&(String, String, String)) -> bool,
) -> Result<()> {
    let pending = tracker.take(wanted);
    if pending.is_empty() {
        return Ok(());
    }
    match write(pool, dialect, &pending).await {
        Ok(()) => Ok(()),
        Err(err) => {
            tracker.put_back(pending);
            Err(err)
        }
    }
}

/// Flushes every interval until the pool closes, and forgets idle entries.
pub(super) fn spawn_flusher(pool: Db, dialect: Dialect, tracker: Arc<Tracker>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(super::delivery::FLUSH_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if pool.is_closed() {
                return;
            }
            if let Err(err) = flush(&pool, dialect, &tracker, |_| true).await {
                tracing::warn!(error = %err, "delivery positions not flushed; retrying");
            }
            tracker.evict_idle();
        }
    });
}

async fn write(pool: &Db, dialect: Dialect, pending: &Pending) -> Result<()> {
    let mut tx = pool.begin_write().await?;
    for chunk in pending.members.chunks(ROWS_PER_UPDATE) {
        write_members(&mut tx, dialect, chunk).await?;
    }
    let (ones, ranges): (Vec<&AckStamp>, Vec<&AckStamp>) = pending
        .stamps
        .iter()
        .partition(|s| matches!(s, AckStamp::One { .. }));
    for chunk in ones.chunks(ROWS_PER_UPDATE) {
        write_stamps(&mut tx, dialect, chunk).await?;
    }
    for range in ranges {
        if let AckStamp::Range {
            app,
            conv,
            client,
            from,
            upto,
            at,
        } = range
        {
            db::query(
                "UPDATE messages SET ack_at = $1 WHERE app_id = $2 AND conv_id = $3 AND seq > $4 AND seq <= $5
                   AND ack_at IS NULL AND from_client <> $6",
            )
            .bind(*at)
            .bind(app.as_str())
            .bind(conv.as_str())
            .bind(*from)
            .bind(*upto)
            .bind(client.as_str())
            .execute(&mut tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

fn values(dialect: Dialect, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells = (1..=columns).map(|c| placeholder(dialect, columns * r + c));
            format!("({})", cells.collect::<Vec<_>>().join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn write_members(tx: &mut db::Tx<'_>, dialect: Dialect, rows: &[MemberWrite]) -> Result<()> {
    let padded = rows.len().next_power_of_two();
    let max = greatest(dialect);
    let sql = format!(
        "UPDATE members SET delivered_seq = {max}(delivered_seq, v.column4),
             delivered_at = {max}(delivered_at, v.column5), read_seq = {max}(read_seq, v.column6)
         FROM (VALUES {}) AS v
         WHERE members.app_id = v.column1 AND members.conv_id = v.column2 AND members.client_id = v.column3",
        values(dialect, padded, 6)
    );
    let mut query = db::query(&sql);
    for row in rows {
        query = query
            .bind(row.key.0.as_str())
            .bind(row.key.1.as_str())
            .bind(row.key.2.as_str())
            .bind(row.delivered_seq)
            .bind(row.delivered_at)
            .bind(row.read_seq);
    }
    for _ in rows.len()..padded {
        query = query
            .bind("")
            .bind("")
            .bind("")
            .bind(0_i64)
            .bind(0_i64)
            .bind(0_i64);
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

async fn write_stamps(tx: &mut db::Tx<'_>, dialect: Dialect, stamps: &[&AckStamp]) -> Result<()> {
    let padded = stamps.len().next_power_of_two();
    let sql = format!(
        "UPDATE messages SET ack_at = v.column4 FROM (VALUES {}) AS v
         WHERE messages.app_id = v.column1 AND messages.conv_id = v.column2 AND messages.seq = v.column3
           AND messages.ack_at IS NULL",
        values(dialect, padded, 4)
    );
    let mut query = db::query(&sql);
    for stamp in stamps {
        if let AckStamp::One { app, conv, seq, at } = stamp {
            query = query
                .bind(app.as_str())
                .bind(conv.as_str())
                .bind(*seq)
                .bind(*at);
        }
    }
    for _ in stamps.len()..padded {
        query = query.bind("").bind("").bind(0_i64).bind(0_i64);
    }
    query.execute(&mut *tx).await?;
    Ok(())
}
