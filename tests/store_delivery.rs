//! Delivered positions held in memory and written in batches (issue 12): each message is
//! reported newly delivered once per receiver, the first delivery is stamped once, nothing
//! acknowledged comes back at login, and positions survive a clean restart. Each scenario runs
//! on SQLite and on Postgres (127.0.0.1:5432 as `postgres`, or `TIDINGS_TEST_POSTGRES`).

#![allow(clippy::unwrap_used)]

mod store_support;

use store_support::{open, Backend};
use tidings::domain::message::Content;
use tidings::store::positions::UpTo;
use tidings::store::{NewMessage, Store};

const APP: &str = "app";

async fn send(store: &Store, conv: &str, from: &str, text: &str) -> (String, i64) {
    // Each message in a millisecond of its own: an ack by time range (`tots`) covers every
    // message stamped at or before it, so two sends in one millisecond would be acked as one.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let written = store
        .writer()
        .write(NewMessage {
            app_id: APP.into(),
            conv_id: conv.into(),
            msg_id: tidings::domain::ids::new_message_id(),
            content: Content::text(from, text.into()),
            dedup_key: None,
            now: tidings::domain::time::now_ms(),
        })
        .await
        .unwrap();
    (written.message.msg_id, written.message.timestamp)
}

async fn delivered_ids(store: &Store, conv: &str, client: &str, upto: UpTo<'_>) -> Vec<String> {
    let now = tidings::domain::time::now_ms();
    let mut ids: Vec<String> = store
        .mark_delivered(APP, conv, client, upto, now, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.msg_id)
        .collect();
    ids.sort();
    ids
}

async fn acks_deliver_each_message_once_and_reach_the_database(backend: Backend) {
    let (store, _guard) = open(backend).await;
    let conv = store_support::conversation(&store, APP, &["alice", "bob", "carol"]).await;
    let (m1, _) = send(&store, &conv, "alice", "one").await;
    let (m2, t2) = send(&store, &conv, "alice", "two").await;
    let (own, _) = send(&store, &conv, "bob", "bob's own").await;

    // Android form, one message at a time; then a repeat, then the JS form over a range.
    assert_eq!(
        delivered_ids(&store, &conv, "bob", UpTo::Message(&m1)).await,
        vec![m1.clone()]
    );
    assert!(delivered_ids(&store, &conv, "bob", UpTo::Message(&m1))
        .await
        .is_empty());
    let mut both = vec![m1.clone(), m2.clone()];
    both.sort();
    assert_eq!(
        delivered_ids(&store, &conv, "carol", UpTo::Time(t2)).await,
        both
    );
    // Bob's own message is not delivered to Bob.
    assert_eq!(
        delivered_ids(&store, &conv, "bob", UpTo::Message(&own)).await,
        vec![m2.clone()]
    );
    // A non-member's ack moves nothing.
    assert!(delivered_ids(&store, &conv, "mallory", UpTo::Message(&m2))
        .await
        .is_empty());

    // Not written yet, but a login's catch-up already sees it.
    assert!(store.undelivered(APP, "bob", 100).await.unwrap().is_empty());
    let carol_left: Vec<_> = store
        .undelivered(APP, "carol", 100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.msg_id)
        .collect();
    assert_eq!(carol_left, vec![own.clone()]);

    store.flush_positions().await.unwrap();
    let positions = store.member_positions(APP, &conv).await.unwrap();
    let delivered: Vec<_> = positions
        .iter()
        .map(|p| (p.client_id.as_str(), p.delivered_at > 0))
        .collect();
    assert_eq!(
        delivered,
        [("alice", false), ("bob", true), ("carol", true)]
    );
    let stored = store.find_message(APP, &conv, &m1).await.unwrap().unwrap();
    assert!(stored.ack_at.is_some(), "first delivery stamped");
    let stored = store.find_message(APP, &conv, &own).await.unwrap().unwrap();
    assert!(stored.ack_at.is_none(), "nobody else acknowledged it");
}

#[tokio::test]
async fn acks_deliver_each_message_once_and_reach_the_database_on_sqlite() {
    acks_deliver_each_message_once_and_reach_the_database(Backend::Sqlite).await;
}

#[tokio::test]
async fn acks_deliver_each_message_once_and_reach_the_database_on_postgres() {
    acks_deliver_each_message_once_and_reach_the_database(Backend::Postgres).await;
}

async fn positions_survive_a_clean_restart(backend: Backend) {
    let (store, guard) = open(backend).await;
    let conv = store_support::conversation(&store, APP, &["alice", "bob"]).await;
    let (m1, _) = send(&store, &conv, "alice", "one").await;
    let (m2, _) = send(&store, &conv, "alice", "two").await;
    assert_eq!(
        delivered_ids(&store, &conv, "bob", UpTo::Message(&m1)).await,
        vec![m1.clone()]
    );
    // Alice's own send counts as read for her.
    store.advance_own(APP, &conv, "alice", 2).await.unwrap();
    store.close().await;

    let store = store_support::reopen(&guard).await;
    assert_eq!(store.unread_count(APP, "alice", None).await.unwrap(), 0);
    assert_eq!(store.unread_count(APP, "bob", None).await.unwrap(), 2);
    let left: Vec<_> = store
        .undelivered(APP, "bob", 100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.msg_id)
        .collect();
    assert_eq!(left, vec![m2.clone()]);
    // After the restart nothing is recent: the ack is resolved from the database, and
    // still reports only what is new.
    assert_eq!(
        delivered_ids(&store, &conv, "bob", UpTo::Message(&m2)).await,
        vec![m2.clone()]
    );
    store.flush_positions().await.unwrap();
    let stored = store.find_message(APP, &conv, &m2).await.unwrap().unwrap();
    assert!(stored.ack_at.is_some());
    store.close().await;
}

#[tokio::test]
async fn positions_survive_a_clean_restart_on_sqlite() {
    positions_survive_a_clean_restart(Backend::Sqlite).await;
}

#[tokio::test]
async fn positions_survive_a_clean_restart_on_postgres() {
    positions_survive_a_clean_restart(Backend::Postgres).await;
}

async fn a_member_who_left_and_came_back_is_not_sent_old_deliveries(backend: Backend) {
    let (store, _guard) = open(backend).await;
    let conv = store_support::conversation(&store, APP, &["alice", "bob"]).await;
    let (m1, _) = send(&store, &conv, "alice", "one").await;
    assert_eq!(
        delivered_ids(&store, &conv, "bob", UpTo::Message(&m1)).await,
        vec![m1.clone()]
    );
    let found = store.find_conversation(APP, &conv).await.unwrap().unwrap();
    store
        .remove_members(APP, &found, &["bob".to_owned()], 1)
        .await
        .unwrap();
    let (m2, _) = send(&store, &conv, "alice", "while away").await;
    store
        .add_members(APP, &found, &["bob".to_owned()], 500, 2)
        .await
        .unwrap();
    let (m3, _) = send(&store, &conv, "alice", "back").await;
    // Joining starts at the conversation's last message: only m3 is new for Bob.
    assert_eq!(
        delivered_ids(&store, &conv, "bob", UpTo::Message(&m3)).await,
        vec![m3.clone()]
    );
    assert!(delivered_ids(&store, &conv, "bob", UpTo::Message(&m2))
        .await
        .is_empty());
}

#[tokio::test]
async fn a_member_who_left_and_came_back_is_not_sent_old_deliveries_on_sqlite() {
    a_member_who_left_and_came_back_is_not_sent_old_deliveries(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_member_who_left_and_came_back_is_not_sent_old_deliveries_on_postgres() {
    a_member_who_left_and_came_back_is_not_sent_old_deliveries(Backend::Postgres).await;
}

async fn member_lists_follow_membership_changes(backend: Backend) {
    let (store, _guard) = open(backend).await;
    let conv = store_support::conversation(&store, APP, &["alice", "bob"]).await;
    assert_eq!(store.members(APP, &conv).await.unwrap(), ["alice", "bob"]);
    let found = store.find_conversation(APP, &conv).await.unwrap().unwrap();
    store
        .add_members(APP, &found, &["carol".to_owned()], 500, 1)
        .await
        .unwrap();
    assert_eq!(
        store.members(APP, &conv).await.unwrap(),
        ["alice", "bob", "carol"]
    );
    store
        .remove_members(APP, &found, &["alice".to_owned()], 2)
        .await
        .unwrap();
    assert_eq!(store.members(APP, &conv).await.unwrap(), ["bob", "carol"]);
    store.delete_conversation(APP, &conv).await.unwrap();
    assert!(store.members(APP, &conv).await.unwrap().is_empty());
}

#[tokio::test]
async fn member_lists_follow_membership_changes_on_sqlite() {
    member_lists_follow_membership_changes(Backend::Sqlite).await;
}

#[tokio::test]
async fn member_lists_follow_membership_changes_on_postgres() {
    member_lists_follow_membership_changes(Backend::Postgres).await;
}
