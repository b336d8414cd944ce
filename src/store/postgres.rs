//! PostgreSQL, the production store: connect options and the settings every session gets.

use super::db::Db;
use super::writer::WriterTarget;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Group-commit writers side by side, each with its own connection: while one waits for its
/// commit's fsync, the next batch is already being written by another (see `writer.rs`).
pub(super) const WRITER_CONNECTIONS: usize = 2;

/// The pool's connections and the writers' connections.
pub(super) async fn connect(url: &str, max_connections: u32) -> anyhow::Result<(Db, WriterTarget)> {
    let options = options(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await?;
    let writer = PgPoolOptions::new()
        .max_connections(WRITER_CONNECTIONS as u32)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    Ok((Db::Postgres(pool), WriterTarget::Pool(Db::Postgres(writer))))
}

/// A statement cannot hold a connection (or the writer) forever, and the server drops
/// connections whose client vanished (server-side keepalives; sqlx 0.8 has no client-side
/// option: a send the database does not answer is bounded by the writer's timeout instead).
/// Sent as startup parameters: no extra round trip per connection.
fn options(url: &str) -> anyhow::Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(url)?.options([
        ("statement_timeout", "10s"),
        ("tcp_keepalives_idle", "30"),
        ("tcp_keepalives_interval", "10"),
        ("tcp_keepalives_count", "3"),
    ]))
}
