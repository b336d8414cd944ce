//! sqlx errors reach callers as LeanCloud's shapes: a unique key already taken is a
//! conflict (409, code 137), on both stores.

#![allow(clippy::unwrap_used)]

mod store_support;

use store_support::Backend;
use tidings::domain::conversation::Kind;
use tidings::error::Error;
use tidings::store::conversations::NewConversation;

fn conversation(id: &str) -> NewConversation {
    NewConversation {
        id: id.to_owned(),
        kind: Kind::Normal,
        name: None,
        creator: Some("Tom".into()),
        members: vec!["Tom".into()],
        unique: false,
        attrs: serde_json::Map::new(),
        expires_at: None,
        now: 1,
    }
}

async fn a_taken_key_is_a_conflict(backend: Backend) {
    let (store, _guard) = store_support::open(backend).await;
    store
        .create_conversation("app", conversation("same-id"))
        .await
        .unwrap();
    let again = store
        .create_conversation("app", conversation("same-id"))
        .await;
    match again {
        Err(err @ Error::Conflict { .. }) => {
            assert_eq!((err.status().as_u16(), err.code()), (409, 137));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Nothing half-written: the first conversation is intact.
    let found = store
        .find_conversation("app", "same-id")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.member_count, 1);
}

#[tokio::test]
async fn a_taken_key_is_a_conflict_sqlite() {
    a_taken_key_is_a_conflict(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_taken_key_is_a_conflict_postgres() {
    a_taken_key_is_a_conflict(Backend::Postgres).await;
}
