//! Harness for store-level tests: a `Store` over a fresh SQLite file or a fresh Postgres
//! database (127.0.0.1:5432 as `postgres`, or `TIDINGS_TEST_POSTGRES`), migrated, with one
//! app. The guard keeps the file or names the database so that a test can reopen it.

#![allow(dead_code, clippy::unwrap_used)]

use sqlx::{Connection, Executor};
use tidings::domain::conversation::Kind;
use tidings::store::conversations::NewConversation;
use tidings::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Guard {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub fn postgres_base() -> String {
    std::env::var("TIDINGS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

pub async fn open(backend: Backend) -> (Store, Guard) {
    let guard = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            Guard {
                url: format!("sqlite://{}", dir.path().join("store.db").display()),
                _dir: Some(dir),
            }
        }
        Backend::Postgres => {
            let name = create_postgres_database("tidings_store").await;
            Guard {
                url: format!("{}/{name}", postgres_base()),
                _dir: None,
            }
        }
    };
    let store = reopen(&guard).await;
    store.upsert_app("app", "key", "master").await.unwrap();
    (store, guard)
}

/// Creates a fresh, uniquely named database on the local Postgres and returns its name.
pub async fn create_postgres_database(prefix: &str) -> String {
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        tidings::domain::ids::random_alphanumeric(8).to_lowercase()
    );
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", postgres_base()))
        .await
        .unwrap();
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let _ = admin.close().await;
    name
}

pub async fn reopen(guard: &Guard) -> Store {
    let store = Store::connect(&guard.url, 4, 256).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// A normal conversation with these members.
pub async fn conversation(store: &Store, app: &str, members: &[&str]) -> String {
    let (conv, _) = store
        .create_conversation(
            app,
            NewConversation {
                id: tidings::domain::ids::new_object_id(),
                kind: Kind::Normal,
                name: Some("test".into()),
                creator: members.first().map(|m| (*m).to_owned()),
                members: members.iter().map(|m| (*m).to_owned()).collect(),
                unique: false,
                attrs: serde_json::Map::new(),
                expires_at: None,
                now: tidings::domain::time::now_ms(),
            },
        )
        .await
        .unwrap();
    conv.id
}
