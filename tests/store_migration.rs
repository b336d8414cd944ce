//! Upgrading a Postgres database written by an earlier version: migration 0030 turns the
//! 0/1 flags into `boolean` and the JSON text into `jsonb` in place, and the store reads
//! every converted value back as it was written.

#![allow(clippy::unwrap_used)]

use sqlx::{Connection, Executor};
use std::path::Path;
use store_support::{create_postgres_database, postgres_base};
use tidings::store::Store;

mod store_support;

/// The migrations as they were before 0030, applied by sqlx's own migrator (so the
/// database records them exactly as an earlier release did).
async fn migrate_to_before_native_types(url: &str) {
    let old = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < "0030" {
            std::fs::copy(&path, old.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    migrator.run(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn flags_and_json_written_by_an_earlier_version_survive_the_upgrade() {
    let name = create_postgres_database("tidings_upgrade").await;
    let url = format!("{}/{name}", postgres_base());
    migrate_to_before_native_types(&url).await;

    // Rows as the earlier version wrote them: integer flags, JSON as text.
    let mut old = sqlx::PgConnection::connect(&url).await.unwrap();
    old.execute(
        r#"INSERT INTO apps (app_id, app_key, master_key, settings, created_at)
               VALUES ('app', 'key', 'master', '{"message_rate_per_minute": 77}', 1);
           INSERT INTO conversations (app_id, id, kind, name, creator, is_unique, unique_id,
               attrs, member_count, last_seq, created_at, updated_at)
               VALUES ('app', 'conv1', 0, 'old', 'Tom', 1, 'u1',
                       '{"attr": {"color": "red"}, "level": 5}', 2, 1, 1000, 1000);
           INSERT INTO members (app_id, conv_id, client_id, joined_at)
               VALUES ('app', 'conv1', 'Tom', 1000), ('app', 'conv1', 'Jerry', 1000);
           INSERT INTO messages (app_id, conv_id, seq, msg_id, timestamp, from_client, data,
               bin, kind, conv_kind, no_sync, priority, mention_all, mention_pids, to_clients,
               recalled)
               VALUES ('app', 'conv1', 1, 'msg1', 2000, 'Tom', 'aGk=', 1, 0, 0, 1, 2, 1,
                       '["Jerry"]', NULL, 0);"#,
    )
    .await
    .unwrap();
    old.close().await.unwrap();

    let store = Store::connect(&url, 2, 16).await.unwrap();
    store.migrate().await.unwrap();
    let app = store.find_app("app").await.unwrap().unwrap();
    assert_eq!(app.settings.message_rate_per_minute, 77);
    let conv = store
        .find_conversation("app", "conv1")
        .await
        .unwrap()
        .unwrap();
    assert!(conv.is_unique);
    assert_eq!(
        serde_json::Value::Object(conv.attrs.clone()),
        serde_json::json!({"attr": {"color": "red"}, "level": 5})
    );
    let message = store
        .find_message("app", "conv1", "msg1")
        .await
        .unwrap()
        .unwrap();
    assert!(
        message.content.bin
            && message.content.no_sync
            && message.content.mention_all
            && !message.recalled
    );
    assert_eq!(message.content.mention_pids, vec!["Jerry".to_owned()]);
    assert!(message.content.to_clients.is_empty());

    // The converted columns are native now, and a `where` on custom fields still matches.
    let mut check = sqlx::PgConnection::connect(&url).await.unwrap();
    let (attrs_type, flag_type): (String, String) = sqlx::query_as(
        "SELECT (SELECT data_type FROM information_schema.columns
                  WHERE table_name = 'conversations' AND column_name = 'attrs'),
                (SELECT data_type FROM information_schema.columns
                  WHERE table_name = 'messages' AND column_name = 'recalled')",
    )
    .fetch_one(&mut check)
    .await
    .unwrap();
    assert_eq!(
        (attrs_type.as_str(), flag_type.as_str()),
        ("jsonb", "boolean")
    );
    check.close().await.unwrap();
    let listing = tidings::store::conversations::ConversationListing {
        kinds: vec![tidings::domain::conversation::Kind::Normal],
        filter: serde_json::json!({"attr.color": "red", "unique": true}),
        order: String::new(),
        skip: 0,
        limit: 10,
        with_count: false,
    };
    let (found, _) = store.list_conversations("app", &listing).await.unwrap();
    assert_eq!(
        found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["conv1"]
    );

    store.close().await;
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", postgres_base()))
        .await
        .unwrap();
    admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
}
