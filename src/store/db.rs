//! The native drivers behind the store. `Db` is one of sqlx's native pools (`SqlitePool`,
//! `PgPool`); `query` builds a statement once, in the SQL both dialects share (`$n`
//! placeholders), and runs it on whichever backend the store has, with that driver's own
//! types: SQLite rows stay `SqliteRow`s, Postgres `jsonb` and `boolean` columns decode
//! natively. The per-backend settings (connect options, pragmas, the `REGEXP` function, how a
//! write transaction starts) live in `sqlite.rs` and `postgres.rs`; the hot path (the
//! group-commit writer) runs its statements natively per backend with `QueryBuilder`.

use serde_json::value::RawValue;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, Encode, FromRow, Postgres, Sqlite, Transaction, Type};

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;
type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// The store's pool: one native driver or the other.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// A transaction on either backend.
pub(crate) enum Tx<'c> {
    Sqlite(Transaction<'c, Sqlite>),
    Postgres(Transaction<'c, Postgres>),
}

/// A connection held out of a pool (the message writer keeps one).
pub(crate) enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// A row of either backend.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

/// What a statement ran on.
pub(crate) enum Exec<'e, 'c> {
    Pool(&'e Db),
    Tx(&'e mut Tx<'c>),
}

impl<'e> From<&'e Db> for Exec<'e, 'static> {
    fn from(db: &'e Db) -> Self {
        Exec::Pool(db)
    }
}

impl<'e, 'c> From<&'e mut Tx<'c>> for Exec<'e, 'c> {
    fn from(tx: &'e mut Tx<'c>) -> Self {
        Exec::Tx(tx)
    }
}

impl Db {
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Db::Sqlite(pool) => pool.is_closed(),
            Db::Postgres(pool) => pool.is_closed(),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// Connections open, idle, and the most the pool opens (for `/metrics`).
    pub(crate) fn gauges(&self) -> (u32, usize, u32) {
        match self {
            Db::Sqlite(pool) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
            Db::Postgres(pool) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
        }
    }

    /// A plain (deferred) transaction.
    pub(crate) async fn begin(&self) -> Result<Tx<'static>, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// A transaction that will write. On SQLite it takes the write lock up front (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads first and writes later fails at once
    /// with `SQLITE_BUSY` when another connection committed in between (busy_timeout cannot
    /// help).
    pub(crate) async fn begin_write(&self) -> Result<Tx<'static>, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Runs a script of several statements without parameters.
    #[cfg(test)]
    pub(crate) async fn execute_script(&self, script: &str) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(pool) => sqlx::raw_sql(script).execute(pool).await.map(drop),
            Db::Postgres(pool) => sqlx::raw_sql(script).execute(pool).await.map(drop),
        }
    }

    pub(crate) async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Conn::Sqlite(pool.acquire().await?),
            Db::Postgres(pool) => Conn::Postgres(pool.acquire().await?),
        })
    }
}

impl Conn {
    /// A write transaction on this connection (see [`Db::begin_write`]).
    pub(crate) async fn begin_write(&mut self) -> Result<Tx<'_>, sqlx::Error> {
        use sqlx::Connection;
        Ok(match self {
            Conn::Sqlite(conn) => Tx::Sqlite(conn.begin_with("BEGIN IMMEDIATE").await?),
            Conn::Postgres(conn) => Tx::Postgres(conn.begin().await?),
        })
    }

    /// Closes the connection instead of returning it to its pool.
    pub(crate) async fn close(self) -> Result<(), sqlx::Error> {
        match self {
            Conn::Sqlite(conn) => conn.close().await,
            Conn::Postgres(conn) => conn.close().await,
        }
    }
}

impl Tx<'_> {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }
}

impl Row {
    /// A column's value, decoded by the backend's own driver.
    pub(crate) fn try_get<'r, T, I>(&'r self, index: I) -> Result<T, sqlx::Error>
    where
        T: Decode<'r, Sqlite> + Type<Sqlite> + Decode<'r, Postgres> + Type<Postgres>,
        I: ColumnIndex<SqliteRow> + ColumnIndex<PgRow>,
    {
        use sqlx::Row as _;
        match self {
            Row::Sqlite(row) => row.try_get(index),
            Row::Postgres(row) => row.try_get(index),
        }
    }
}

impl Row {
    /// The row as a `FromRow` type (derived once, decoded by either driver).
    pub(crate) fn decode<T>(&self) -> Result<T, sqlx::Error>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow>,
    {
        match self {
            Row::Sqlite(row) => T::from_row(row),
            Row::Postgres(row) => T::from_row(row),
        }
    }

    /// A JSON column (`jsonb` on Postgres, text on SQLite) as the JSON text it holds.
    pub(crate) fn json_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        let value: Option<Json<Box<RawValue>>> = self.try_get(column)?;
        Ok(value.map(|json| json.0.get().to_owned()))
    }
}

/// JSON the caller holds as text, bound for a JSON column: `jsonb` on Postgres (which
/// refuses a text parameter there), text on SQLite. Text that is not JSON is refused.
pub(crate) fn json_text(text: &str) -> Result<Json<Box<RawValue>>, sqlx::Error> {
    RawValue::from_string(text.to_owned())
        .map(Json)
        .map_err(|err| sqlx::Error::Encode(Box::new(err)))
}

/// A value either backend can bind.
trait Bind<'q>: Send + 'q {
    fn sqlite(self: Box<Self>, query: SqliteQuery<'q>) -> SqliteQuery<'q>;
    fn postgres(self: Box<Self>, query: PgQuery<'q>) -> PgQuery<'q>;
}

impl<'q, T> Bind<'q> for T
where
    T: Send + 'q + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres>,
{
    fn sqlite(self: Box<Self>, query: SqliteQuery<'q>) -> SqliteQuery<'q> {
        query.bind(*self)
    }

    fn postgres(self: Box<Self>, query: PgQuery<'q>) -> PgQuery<'q> {
        query.bind(*self)
    }
}

/// A statement in the shared SQL with its parameters, not yet tied to a backend.
pub(crate) struct Query<'q> {
    sql: &'q str,
    binds: Vec<Box<dyn Bind<'q>>>,
}

/// What `execute` reports.
pub(crate) struct Done {
    rows_affected: u64,
}

impl Done {
    pub(crate) fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

/// A statement to bind and run (the shape of `sqlx::query`).
pub(crate) fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        binds: Vec::new(),
    }
}

impl<'q> Query<'q> {
    pub(crate) fn bind<T>(mut self, value: T) -> Self
    where
        T: Send + 'q + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres>,
    {
        self.binds.push(Box::new(value));
        self
    }

    fn sqlite(self) -> SqliteQuery<'q> {
        self.binds
            .into_iter()
            .fold(sqlx::query(self.sql), |query, value| value.sqlite(query))
    }

    fn postgres(self) -> PgQuery<'q> {
        self.binds
            .into_iter()
            .fold(sqlx::query(self.sql), |query, value| value.postgres(query))
    }

    pub(crate) async fn execute<'e, 'c: 'e>(
        self,
        on: impl Into<Exec<'e, 'c>>,
    ) -> Result<Done, sqlx::Error> {
        let rows_affected = match on.into() {
            Exec::Pool(Db::Sqlite(pool)) => self.sqlite().execute(pool).await?.rows_affected(),
            Exec::Pool(Db::Postgres(pool)) => self.postgres().execute(pool).await?.rows_affected(),
            Exec::Tx(Tx::Sqlite(tx)) => self.sqlite().execute(&mut **tx).await?.rows_affected(),
            Exec::Tx(Tx::Postgres(tx)) => self.postgres().execute(&mut **tx).await?.rows_affected(),
        };
        Ok(Done { rows_affected })
    }

    pub(crate) async fn fetch_all<'e, 'c: 'e>(
        self,
        on: impl Into<Exec<'e, 'c>>,
    ) -> Result<Vec<Row>, sqlx::Error> {
        Ok(match on.into() {
            Exec::Pool(Db::Sqlite(pool)) => sqlite_rows(self.sqlite().fetch_all(pool).await?),
            Exec::Pool(Db::Postgres(pool)) => pg_rows(self.postgres().fetch_all(pool).await?),
            Exec::Tx(Tx::Sqlite(tx)) => sqlite_rows(self.sqlite().fetch_all(&mut **tx).await?),
            Exec::Tx(Tx::Postgres(tx)) => pg_rows(self.postgres().fetch_all(&mut **tx).await?),
        })
    }

    pub(crate) async fn fetch_optional<'e, 'c: 'e>(
        self,
        on: impl Into<Exec<'e, 'c>>,
    ) -> Result<Option<Row>, sqlx::Error> {
        Ok(match on.into() {
            Exec::Pool(Db::Sqlite(pool)) => {
                self.sqlite().fetch_optional(pool).await?.map(Row::Sqlite)
            }
            Exec::Pool(Db::Postgres(pool)) => self
                .postgres()
                .fetch_optional(pool)
                .await?
                .map(Row::Postgres),
            Exec::Tx(Tx::Sqlite(tx)) => self
                .sqlite()
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Sqlite),
            Exec::Tx(Tx::Postgres(tx)) => self
                .postgres()
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Postgres),
        })
    }

    pub(crate) async fn fetch_one<'e, 'c: 'e>(
        self,
        on: impl Into<Exec<'e, 'c>>,
    ) -> Result<Row, sqlx::Error> {
        self.fetch_optional(on)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }
}

fn sqlite_rows(rows: Vec<SqliteRow>) -> Vec<Row> {
    rows.into_iter().map(Row::Sqlite).collect()
}

fn pg_rows(rows: Vec<PgRow>) -> Vec<Row> {
    rows.into_iter().map(Row::Postgres).collect()
}
