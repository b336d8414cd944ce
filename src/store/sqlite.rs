//! SQLite, the embedded default: connect options, the `REGEXP` function, the file the
//! message writer opens, and the two background tasks a SQLite file needs beside the writer
//! (planner statistics, WAL checkpoints).

use super::db::Db;
use super::writer::WriterTarget;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The writer's page cache (negative: KiB). SQLite's default, 2 MiB, holds a few thousand
/// index pages; the message indexes outgrow it within minutes of traffic, and then every
/// insert reads index pages back from the file.
pub(crate) const WRITER_CACHE_KIB: i64 = -65536;

/// The pool's connections, and the file the message writer opens its own connection to
/// (rusqlite, on the writer's thread: `batch/native.rs`).
pub(super) async fn connect(url: &str, max_connections: u32) -> anyhow::Result<(Db, WriterTarget)> {
    let file = database_file(url)?;
    Ok((
        pool(url, max_connections).await?,
        WriterTarget::SqliteFile(file),
    ))
}

/// The pool alone (the translator's tests use it on an in-memory database).
pub(super) async fn pool(url: &str, max_connections: u32) -> anyhow::Result<Db> {
    let options = options(&prepare_url(url)?)?;
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await?;
    // Planner statistics: gathered at start (sampled: bounded work) and refreshed as tables
    // grow, so member queries are driven from the members index, not a table walk.
    sqlx::raw_sql("PRAGMA analysis_limit = 1000; ANALYZE;")
        .execute(&pool)
        .await?;
    spawn_optimizer(pool.clone());
    // The writer never checkpoints the WAL inside a commit (every 1,000 pages that made a
    // group commit several times slower); `spawn_checkpointer` does it beside it.
    spawn_checkpointer(pool.clone(), options.busy_timeout(CHECKPOINT_BUSY_TIMEOUT));
    Ok(Db::Sqlite(pool))
}

/// The database file of a `sqlite:` URL. The writer opens a connection of its own, so the
/// database must be a file that connections share: an in-memory one is refused.
fn database_file(url: &str) -> anyhow::Result<PathBuf> {
    let path = url_path(url);
    anyhow::ensure!(
        !path.is_empty() && path != ":memory:" && !url.contains("mode=memory"),
        "SQLite needs a database file (sqlite://path/to/tidings.db), not an in-memory database"
    );
    Ok(PathBuf::from(path))
}

fn url_path(url: &str) -> &str {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    path.split('?').next().unwrap_or_default()
}

/// Every connection: WAL (readers run beside the single writer), FULL sync (a commit is on
/// disk before a sender is answered; group commit pays one fsync per batch), a busy timeout,
/// foreign keys, and `REGEXP` backed by the `regex` crate (`$regex` in `where`).
fn options(url: &str) -> anyhow::Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        .with_regexp())
}

fn spawn_optimizer(pool: SqlitePool) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        every.tick().await;
        loop {
            every.tick().await;
            if pool.is_closed() {
                return;
            }
            // On a connection of its own, closed afterwards: in the 10,000-connection soak
            // the server's RSS stepped up by 7-18 MB at the optimizer's runs and stayed there
            // when it ran on a pooled connection, which keeps what the analysis allocated.
            let Ok(conn) = pool.acquire().await else {
                continue;
            };
            let mut conn = conn.detach();
            let _ = optimize(&mut conn).await;
            let _ = sqlx::Connection::close(conn).await;
        }
    });
}

async fn optimize(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    conn.execute("PRAGMA analysis_limit = 1000").await?;
    conn.execute("PRAGMA optimize").await.map(drop)
}

/// Every this many checkpoints (10 s), one that also rewinds the WAL.
const TRUNCATE_EVERY: u32 = 50;

/// How long a `TRUNCATE` checkpoint may wait, for the writer's batch and then for readers.
/// While it waits for readers it holds the write lock: with the pool's 10 s, a long read (an
/// export, a console query, the planner's statistics) held every send until it ended (a
/// send p99 of 1.9 s in the 30-minute soak). Past this it gives up, copies what it can as a
/// passive checkpoint does, and the WAL is rewound at a later turn.
const CHECKPOINT_BUSY_TIMEOUT: Duration = Duration::from_millis(100);

/// Copies the WAL back into the database file every 200 ms, off the writer's commits
/// (`PASSIVE`: it never waits for readers or the writer, so it cannot stall a send). A
/// passive checkpoint never rewinds the log, and under continuous writes the log is never
/// fully copied at the moment a writer begins, so the WAL only grew: 1.6 GB beside a 749 MB
/// database after the 30-minute, 10,000-connection soak. Every 10 s the checkpoint is
/// `TRUNCATE`: it waits for the writer's current batch, holds new ones while it copies what
/// the last passive one left (about 200 ms of writes), and empties the file; every wait
/// bounded by [`CHECKPOINT_BUSY_TIMEOUT`]. On a connection of its own, which carries that
/// short busy timeout; it is opened again after an error.
fn spawn_checkpointer(pool: SqlitePool, options: SqliteConnectOptions) {
    use sqlx::{ConnectOptions, Executor};
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(200));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks: u32 = 0;
        let mut conn: Option<sqlx::SqliteConnection> = None;
        loop {
            every.tick().await;
            if pool.is_closed() {
                if let Some(conn) = conn.take() {
                    let _ = sqlx::Connection::close(conn).await;
                }
                return;
            }
            ticks = ticks.wrapping_add(1);
            let checkpoint = if ticks % TRUNCATE_EVERY == 0 {
                "PRAGMA wal_checkpoint(TRUNCATE)"
            } else {
                "PRAGMA wal_checkpoint(PASSIVE)"
            };
            let open = match conn.as_mut() {
                Some(open) => open,
                None => match options.connect().await {
                    Ok(opened) => conn.insert(opened),
                    Err(err) => {
                        tracing::debug!(error = %err, "WAL checkpointer cannot connect");
                        continue;
                    }
                },
            };
            // A bounded wait that gives up is not an error: the pragma answers a row with
            // `busy = 1`. An error means the connection itself, which is opened again.
            if let Err(err) = open.execute(checkpoint).await {
                tracing::debug!(error = %err, "WAL checkpoint skipped");
                conn = None;
            }
        }
    });
}

/// `sqlite://./data/tidings.db` -> creates `./data` (the file is created on connect).
fn prepare_url(url: &str) -> anyhow::Result<String> {
    let path = url_path(url);
    if !path.is_empty() && path != ":memory:" {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
    }
    Ok(url.to_owned())
}
