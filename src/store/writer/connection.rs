//! The writer's connection: one of sqlx's pooled connections (Postgres), or on SQLite a
//! rusqlite connection the writer's thread opens and drives itself (`batch/native.rs`).

use super::{NewMessage, Written};
use crate::error::Result;
use crate::store::batch::{self, native, native::NativeBatch, PooledBatch};
use crate::store::db::{self, Conn, Db};
use crate::store::Dialect;
use std::path::PathBuf;
use std::time::Instant;

/// Where the writer gets its connection from.
pub(crate) enum WriterTarget {
    /// A pool of the writers' own (each writer keeps one of its connections).
    Pool(Db),
    /// The SQLite file, opened with rusqlite on the writer's thread.
    SqliteFile(PathBuf),
}

/// The connection a writer holds between batches.
pub(super) enum WriterConn {
    Pooled(Conn),
    Native(rusqlite::Connection),
}

impl WriterTarget {
    /// A connection made from the writer's thread. The pool may hold one opened on the
    /// server's runtime (by `connect`), whose socket that runtime's I/O driver would wake;
    /// it is closed so that the pool opens a replacement here.
    pub(super) async fn connect(&self) -> Result<WriterConn> {
        match self {
            WriterTarget::Pool(pool) => {
                let inherited = pool.acquire().await?;
                inherited.close().await?;
                Ok(WriterConn::Pooled(pool.acquire().await?))
            }
            WriterTarget::SqliteFile(path) => Ok(WriterConn::Native(native::open(path)?)),
        }
    }
}

impl WriterConn {
    /// Writes a batch in one transaction (see `batch/mod.rs`).
    pub(super) async fn write_batch(
        &mut self,
        dialect: Dialect,
        messages: &[NewMessage],
    ) -> Result<Vec<Result<Written>>> {
        let started = Instant::now();
        match self {
            WriterConn::Pooled(conn) => {
                let tx = PooledBatch::begin(conn, dialect).await?;
                batch::write_batch(tx, messages, started).await
            }
            WriterConn::Native(conn) => {
                batch::write_batch(NativeBatch::begin(conn)?, messages, started).await
            }
        }
    }

    /// Takes the write lock (SQLite) or a transaction (Postgres) and lets it go.
    pub(super) async fn probe(&mut self) -> Result<()> {
        match self {
            WriterConn::Pooled(conn) => {
                let mut tx = conn.begin_write().await?;
                db::query("SELECT 1").execute(&mut tx).await?;
                tx.rollback().await?;
            }
            WriterConn::Native(conn) => {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                tx.query_row("SELECT 1", [], |_| Ok(()))?;
                tx.rollback()?;
            }
        }
        Ok(())
    }
}
