//! Losing Redis (a private `redis-server`, killed and restarted) and losing a node (the
//! real binary, killed with SIGKILL).

use super::gateway_support::{command, Backend, Client, APP_ID, APP_KEY, MASTER_KEY};
use super::support::{self, check_online, ready_status, PrivateRedis, SharedDb};
use super::{create_conversation, rest_send, text_of};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::Duration;
use tidings::gateway::proto::{CommandType, LogsCommand, OpType};

#[tokio::test]
async fn redis_stopping_pauses_only_cross_node_delivery() {
    redis_stopping_pauses_only_cross_node_delivery_on(Backend::Sqlite).await;
    redis_stopping_pauses_only_cross_node_delivery_on(Backend::Postgres).await;
}

async fn redis_stopping_pauses_only_cross_node_delivery_on(backend: Backend) {
    let mut redis = PrivateRedis::start().await;
    let mut db = SharedDb::create(backend).await;
    let nodes = support::nodes(&db, &redis.url(), 2, |_| {}).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let _alice = a.login("alice").await;
    let mut amy = a.login("amy").await;
    let mut bob = b.login("bob").await;
    eventually!(
        "B to see A's clients",
        check_online(b, &["alice", "amy"]).await == ["alice", "amy"]
    );
    let cid = create_conversation(a, &["alice", "amy", "bob"]).await;

    redis.stop();
    for node in [a, b] {
        eventually!(
            "/readyz to say degraded (200)",
            ready_status(node).await == (200, json!({"status": "degraded"}))
        );
    }
    // Local delivery and storing go on; nothing crosses to B.
    let (status, body) = rest_send(a, &cid, "alice", "during the outage").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        text_of(&amy.expect(CommandType::Direct, None).await),
        "during the outage"
    );
    assert!(bob.try_expect(CommandType::Direct).await.is_none());

    redis.restart().await;
    for node in [a, b] {
        eventually!(
            "/readyz to say ready again",
            ready_status(node).await == (200, json!({"status": "ready"}))
        );
    }
    // Every node asks its clients to reconnect (1013): they resync from history.
    assert_eq!(bob.closed().await, Some(1013));
    let mut bob = b.login("bob").await;
    let mut logs = command(CommandType::Logs, None);
    logs.logs_message = Some(LogsCommand {
        cid: Some(cid.clone()),
        l: Some(10),
        ..Default::default()
    });
    let history = bob.request(logs).await.logs_message.unwrap().logs;
    assert!(
        history.iter().any(|m| m
            .data
            .as_deref()
            .unwrap_or("")
            .contains("during the outage")),
        "{history:?}"
    );
    // Cross-node delivery resumes.
    let mut alice = a.login("alice").await;
    eventually!(
        "presence to be exchanged again",
        check_online(a, &["bob"]).await == ["bob"]
            && check_online(b, &["alice"]).await == ["alice"]
    );
    let (status, _) = rest_send(a, &cid, "alice", "after the outage").await;
    assert_eq!(status, 200);
    assert_eq!(
        text_of(&bob.expect(CommandType::Direct, None).await),
        "after the outage"
    );
    alice.expect(CommandType::Direct, None).await;
    bob.request(super::direct(&cid, "back from B")).await;
    assert_eq!(
        text_of(&alice.expect(CommandType::Direct, None).await),
        "back from B"
    );
    for node in nodes {
        node.stop().await;
    }
    db.drop_database().await;
}

/// A third node as the real binary, so it can die without saying goodbye.
fn spawn_binary_node(db: &SharedDb, redis: &str, prefix: &str, port: u16) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tidings"))
        .env("TIDINGS_LISTEN", format!("127.0.0.1:{port}"))
        .env("TIDINGS_DATABASE_URL", &db.url)
        .env("TIDINGS_REDIS_URL", redis)
        .env("TIDINGS_REDIS_PREFIX", prefix)
        .env("TIDINGS_NODE_ID", "c")
        .env("TIDINGS_APP_ID", APP_ID)
        .env("TIDINGS_APP_KEY", APP_KEY)
        .env("TIDINGS_MASTER_KEY", MASTER_KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn a_killed_node_stops_counting_and_its_clients_move() {
    a_killed_node_stops_counting_and_its_clients_move_on(Backend::Sqlite).await;
    a_killed_node_stops_counting_and_its_clients_move_on(Backend::Postgres).await;
}

async fn a_killed_node_stops_counting_and_its_clients_move_on(backend: Backend) {
    let redis = support::shared_redis_url();
    support::require_redis(&redis).await;
    let mut db = SharedDb::create(backend).await;
    let prefix = support::fresh_prefix();
    let a = support::node(&db, &redis, &prefix, "a", |_| {}).await;
    let b = support::node(&db, &redis, &prefix, "b", |_| {}).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = spawn_binary_node(&db, &redis, &prefix, port);
    let health = format!("http://127.0.0.1:{port}/healthz");
    eventually!(
        "the binary node to listen",
        a.http.get(&health).send().await.is_ok()
    );
    let cid = create_conversation(&a, &["alice", "carol"]).await;
    let (mut carol, _) = a
        .connect_to(&format!("ws://127.0.0.1:{port}/"), Some("lc.protobuf2.3"))
        .await;
    let opened = carol.open("carol", Default::default()).await;
    assert_eq!(opened.op, Some(OpType::Opened as i32));
    eventually!(
        "A and B to see Carol on C",
        check_online(&a, &["carol"]).await == ["carol"]
            && check_online(&b, &["carol"]).await == ["carol"]
    );

    child.kill().unwrap();
    let _ = child.wait();
    let killed_at = tokio::time::Instant::now();
    drop(carol);
    eventually!(
        "the dead node's clients to stop counting",
        check_online(&a, &["carol"]).await.is_empty()
            && check_online(&b, &["carol"]).await.is_empty()
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(9),
        "took {:?}",
        killed_at.elapsed()
    );
    let (status, _) = rest_send(&a, &cid, "alice", "while Carol moved").await;
    assert_eq!(status, 200);

    // Carol reconnects to B and resyncs from history.
    let mut carol: Client = b.login("carol").await;
    let mut logs = command(CommandType::Logs, None);
    logs.logs_message = Some(LogsCommand {
        cid: Some(cid.clone()),
        l: Some(10),
        ..Default::default()
    });
    let history = carol.request(logs).await.logs_message.unwrap().logs;
    assert!(
        history.iter().any(|m| m
            .data
            .as_deref()
            .unwrap_or("")
            .contains("while Carol moved")),
        "{history:?}"
    );
    eventually!(
        "A to see Carol on B",
        check_online(&a, &["carol"]).await == ["carol"]
    );
    let (status, _) = rest_send(&a, &cid, "alice", "live again").await;
    assert_eq!(status, 200);
    assert_eq!(
        text_of(&carol.expect(CommandType::Direct, None).await),
        "live again"
    );
    a.stop().await;
    b.stop().await;
    db.drop_database().await;
}
