//! Persistence. One `Store` over sqlx's `Any` driver serves both backends: the SQL is shared
//! (numbered `$n` placeholders work on SQLite and Postgres alike) and the few places where the
//! dialects differ ask `Dialect`. sqlx types never leave this module.
//!
//! Messages are written by one group-commit writer per store (`writer.rs`); everything else
//! goes through the pool.

pub mod access;
pub mod apps;
mod batch;
pub mod broadcasts;
pub mod catchup;
pub mod conversations;
pub mod counters;
mod delivery;
pub mod files;
mod flush;
pub mod import;
pub mod member_cache;
pub mod messages;
pub mod moderation;
pub mod positions;
pub mod push;
pub mod query;
mod send_facts;
pub mod subscriptions;
mod writer;

use crate::error::Result;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use query::Dialect;
pub use writer::{MessageWriter, NewMessage};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
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
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        };
        let url = match dialect {
            Dialect::Sqlite => prepare_sqlite_url(url)?,
            Dialect::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = pool_options(dialect, Role::Reader, max_connections)
            .connect_with(options.clone())
            .await?;
        if dialect == Dialect::Sqlite {
            // WAL lets readers run beside the single writer; it is a property of the file.
            pool.execute("PRAGMA journal_mode = WAL").await?;
            // Planner statistics: gathered at start (sampled: bounded work) and refreshed as tables
            // grow, so member queries are driven from the members index, not a table walk.
            pool.execute("PRAGMA analysis_limit = 1000").await?;
            pool.execute("ANALYZE").await?;
            let refresh = pool.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(600));
                every.tick().await;
                loop {
                    every.tick().await;
                    if refresh.is_closed() {
                        return;
                    }
                    let _ = refresh
                        .execute("PRAGMA analysis_limit = 1000; PRAGMA optimize;")
                        .await;
                }
            });
        }
        let writer_pool = pool_options(dialect, Role::Writer, 1)
            .connect_with(options)
            .await?;
        if dialect == Dialect::Sqlite {
            spawn_checkpointer(pool.clone());
        }
        let delivery = Arc::new(delivery::Tracker::default());
        let writer = MessageWriter::start(writer_pool, dialect, write_batch_max, delivery.clone());
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
        match self.dialect {
            Dialect::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Dialect::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub(crate) fn pool(&self) -> &AnyPool {
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
            sqlx::query("SELECT 1").execute(&self.pool),
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

    /// Flushes held positions, then closes the pool.
    pub async fn close(&self) {
        if let Err(err) = self.flush_positions().await {
            tracing::error!(error = %err, "delivery positions lost at shutdown");
        }
        self.pool.close().await;
    }
}

fn pool_options(dialect: Dialect, role: Role, max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(connection_setup(dialect, role)).await?;
                Ok(())
            })
        })
}

/// Which connection a setup is for: the message writer's or one of the pool's.
#[derive(Clone, Copy)]
enum Role {
    Reader,
    Writer,
}

/// Settings every new connection gets.
fn connection_setup(dialect: Dialect, role: Role) -> &'static str {
    match (dialect, role) {
        // FULL: a commit is on disk before a sender is answered. Group commit pays for one
        // fsync per batch, not per message.
        (Dialect::Sqlite, Role::Reader) => {
            "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;"
        }
        // The writer never checkpoints the WAL inside a commit (every 1,000 pages that made
        // a group commit several times slower); `spawn_checkpointer` does it beside it.
        (Dialect::Sqlite, Role::Writer) => {
            "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;
             PRAGMA wal_autocheckpoint = 0;"
        }
        // A statement cannot hold a connection (or the writer) forever, and the server drops
        // connections whose client vanished. sqlx 0.8 has no client-side keepalive option: a
        // send that the database does not answer is bounded by the writer's timeout instead.
        (Dialect::Postgres, _) => {
            "SET statement_timeout = '10s'; SET tcp_keepalives_idle = 30;
             SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3;"
        }
    }
}

/// Copies the WAL back into the database file every 200 ms, off the writer's commits
/// (`PASSIVE`: it never waits for readers or the writer, so it cannot stall a send).
fn spawn_checkpointer(pool: AnyPool) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(200));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if pool.is_closed() {
                return;
            }
            if let Err(err) = pool.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                tracing::debug!(error = %err, "WAL checkpoint skipped");
            }
        }
    });
}

/// `sqlite://./data/tidings.db` -> creates `./data` and asks sqlx to create the file.
fn prepare_sqlite_url(url: &str) -> anyhow::Result<String> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if !path.is_empty() && path != ":memory:" {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
    }
    Ok(if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// A transaction that will write. On SQLite it takes the write lock up front (`BEGIN
/// IMMEDIATE`): a deferred transaction that reads first and writes later fails at once with
/// `SQLITE_BUSY` when another connection committed in between (busy_timeout cannot help).
pub(crate) async fn begin_write(
    pool: &AnyPool,
    dialect: Dialect,
) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
    Ok(match dialect {
        Dialect::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Dialect::Postgres => pool.begin().await?,
    })
}

/// SQL for "the larger of two values" in each dialect.
pub(crate) fn greatest(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "MAX",
        Dialect::Postgres => "GREATEST",
    }
}

pub(crate) fn flag(value: bool) -> i64 {
    i64::from(value)
}
