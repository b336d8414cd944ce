//! Persistence. One `Store` over sqlx's native drivers (`db.rs`: a `SqlitePool` or a
//! `PgPool`, with one module per backend for what differs: `sqlite.rs`, `postgres.rs`). The
//! SQL is shared (numbered `$n` placeholders work on SQLite and Postgres alike) and the few
//! places where the dialects differ ask `Dialect`. sqlx types never leave this module.
//!
//! Messages are written by the group-commit writers (`writer/`: on Postgres a few pooled
//! connections, on SQLite one rusqlite connection on the writer's thread); everything else
//! goes through the pool.

pub mod access;
pub mod apps;
mod batch;
pub mod broadcasts;
pub mod catchup;
pub mod conversations;
pub mod counters;
pub(crate) mod db;
mod delivery;
pub mod files;
mod flush;
pub mod import;
pub mod member_cache;
mod membership;
mod message_rows;
pub mod messages;
pub mod moderation;
pub mod positions;
mod postgres;
pub mod push;
pub mod query;
mod send_facts;
mod sqlite;
pub mod subscriptions;
mod unread;
mod writer;

use crate::error::Result;
use db::Db;
use std::sync::Arc;
use std::time::Duration;

pub use query::Dialect;
pub use writer::{MessageWriter, NewMessage};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone)]
pub struct Store {
    pool: Db,
    dialect: Dialect,
    writer: MessageWriter,
    /// Delivered and own-read positions, written in batches (`delivery.rs`).
    delivery: Arc<delivery::Tracker>,
    /// Member lists for the fan-out (`member_cache.rs`).
    member_cache: Arc<member_cache::MemberCache>,
    send_facts: Arc<send_facts::SendFactsCache>,
}

impl Store {
    /// Connects, creating the SQLite file (and its folder) on first use, and starts the
    /// message writer. Does not migrate: call [`Store::migrate`].
    pub async fn connect(
        url: &str,
        max_connections: u32,
        write_batch_max: usize,
    ) -> anyhow::Result<Store> {
        let (dialect, (pool, writer_target), writers) = if url.starts_with("sqlite:") {
            (
                Dialect::Sqlite,
                sqlite::connect(url, max_connections).await?,
                1,
            )
        } else {
            (
                Dialect::Postgres,
                postgres::connect(url, max_connections).await?,
                postgres::WRITER_CONNECTIONS,
            )
        };
        let delivery = Arc::new(delivery::Tracker::default());
        let writer = MessageWriter::start(
            writer_target,
            dialect,
            write_batch_max,
            writers,
            delivery.clone(),
        );
        flush::spawn_flusher(pool.clone(), dialect, delivery.clone());
        Ok(Store {
            pool,
            dialect,
            writer,
            delivery,
            member_cache: Arc::default(),
            send_facts: Arc::default(),
        })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &self.pool {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub(crate) fn pool(&self) -> &Db {
        &self.pool
    }

    pub fn writer(&self) -> &MessageWriter {
        &self.writer
    }

    /// Clustered: `hook` hears every member-list invalidation made in this process.
    pub fn on_member_change(&self, hook: member_cache::ChangeHook) {
        self.member_cache.set_hook(hook);
    }

    /// Drops a cached member list changed on another node (and the conversation's send
    /// facts: a delete there ends them too).
    pub fn forget_members(&self, app: &str, conv: &str) {
        self.member_cache.forget(app, conv);
        self.send_facts.forget(app, conv);
    }

    /// Drops every cached member list.
    pub fn forget_all_members(&self) {
        self.member_cache.clear();
    }

    /// For `/readyz`: can the database answer, and can the message writer take a write?
    pub async fn ping(&self) -> Result<()> {
        let answered = tokio::time::timeout(
            Duration::from_secs(2),
            db::query("SELECT 1").execute(&self.pool),
        )
        .await;
        match answered {
            Ok(done) => {
                done?;
            }
            Err(_) => {
                return Err(crate::error::Error::unavailable(
                    crate::error::code::SERVER_TIMEOUT,
                    "The database does not answer.",
                ))
            }
        }
        self.writer.ready().await
    }

    /// Writes the delivery positions held in memory (also done every
    /// [`delivery::FLUSH_INTERVAL`] and at [`Store::close`]).
    pub async fn flush_positions(&self) -> Result<()> {
        flush::flush(&self.pool, self.dialect, &self.delivery, |_| true).await
    }

    /// Writes the held positions of one client, before reading its positions back.
    pub(crate) async fn flush_client(&self, app: &str, client: &str) -> Result<()> {
        flush::flush(&self.pool, self.dialect, &self.delivery, |(a, _, c)| {
            a == app && c == client
        })
        .await
    }

    /// Writes the held positions of one conversation's members.
    pub(crate) async fn flush_conversation(&self, app: &str, conv: &str) -> Result<()> {
        flush::flush(&self.pool, self.dialect, &self.delivery, |(a, c, _)| {
            a == app && c == conv
        })
        .await
    }

    /// Whether `sql` (a `SELECT 1 … WHERE` on a table's key) finds a row for `keys`, bound
    /// as `$1`, `$2`, `$3`: the one shape of "is this client a member / subscriber / blocker".
    pub(crate) async fn row_exists(&self, sql: &str, keys: [&str; 3]) -> Result<bool> {
        let mut query = db::query(sql);
        for key in keys {
            query = query.bind(key);
        }
        Ok(query.fetch_optional(&self.pool).await?.is_some())
    }

    /// Flushes held positions, then closes the pool.
    pub async fn close(&self) {
        if let Err(err) = self.flush_positions().await {
            tracing::error!(error = %err, "delivery positions lost at shutdown");
        }
        self.pool.close().await;
    }
}

/// One migrated connection, for the translator's tests against real databases.
#[cfg(test)]
pub(crate) async fn single_connection(url: &str) -> anyhow::Result<Db> {
    let pool = if url.starts_with("sqlite:") {
        sqlite::pool(url, 1).await?
    } else {
        postgres::connect(url, 1).await?.0
    };
    match &pool {
        Db::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
        Db::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
    }
    Ok(pool)
}

/// SQL for "the larger of two values" in each dialect.
pub(crate) fn greatest(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "MAX",
        Dialect::Postgres => "GREATEST",
    }
}
