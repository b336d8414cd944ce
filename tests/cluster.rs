//! Several nodes on one database and one Redis (issue 17, docs/cluster.md): fan-out,
//! presence, kicks, tag conflicts, receipts, cache invalidation, Agora acks and quotas across
//! nodes, official SDK clients spread over three nodes; a Redis outage; a node killed. Every
//! scenario runs on SQLite and on Postgres.
//!
//! Run: `cargo test --test cluster` (Redis at 127.0.0.1:6379, or `TIDINGS_TEST_REDIS_URL`;
//! `redis-server` on the PATH for the outage test; Postgres as for the other suites).

#![allow(clippy::unwrap_used)]

#[path = "gateway_support/mod.rs"]
mod gateway_support;
#[macro_use]
#[path = "cluster/support.rs"]
mod support;
#[path = "cluster/caches.rs"]
mod caches;
#[path = "cluster/outage.rs"]
mod outage;

use gateway_support::{command, Backend, Client, Server};
use reqwest::Method;
use serde_json::{json, Value};
use support::{check_online, shared_redis_url, SharedDb};
use tidings::gateway::proto::{
    CommandType, ConvCommand, DirectCommand, GenericCommand, JsonObjectMessage, OpType,
    SessionCommand,
};

pub(crate) fn direct(cid: &str, text: &str) -> GenericCommand {
    let mut send = command(CommandType::Direct, None);
    send.direct_message = Some(DirectCommand {
        cid: Some(cid.to_owned()),
        msg: Some(json!({"_lctype": -1, "_lctext": text}).to_string()),
        ..Default::default()
    });
    send
}

pub(crate) fn text_of(push: &GenericCommand) -> String {
    let data = push.direct_message.as_ref().unwrap().msg.clone().unwrap();
    serde_json::from_str::<Value>(&data).unwrap()["_lctext"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn rest_send(node: &Server, cid: &str, from: &str, text: &str) -> (u16, Value) {
    node.rest(
        Method::POST,
        &format!("/1.2/rtm/conversations/{cid}/messages"),
        Some(json!({
            "from_client": from,
            "message": json!({"_lctype": -1, "_lctext": text}).to_string(),
        })),
    )
    .await
}

pub(crate) async fn create_conversation(node: &Server, members: &[&str]) -> String {
    let (status, body) = node
        .rest(
            Method::POST,
            "/1.2/rtm/conversations",
            Some(json!({"name": "cluster", "m": members})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["objectId"].as_str().unwrap().to_owned()
}

async fn join_room(client: &mut Client, cid: &str, me: &str) {
    let mut join = command(CommandType::Conv, Some(OpType::Add));
    join.conv_message = Some(ConvCommand {
        cid: Some(cid.to_owned()),
        m: vec![me.to_owned()],
        ..Default::default()
    });
    let reply = client.request(join).await;
    assert_eq!(reply.op, Some(OpType::Added as i32), "{reply:?}");
}

#[tokio::test]
async fn three_nodes_behave_as_one_server() {
    three_nodes_behave_as_one_server_on(Backend::Sqlite).await;
    three_nodes_behave_as_one_server_on(Backend::Postgres).await;
}

async fn three_nodes_behave_as_one_server_on(backend: Backend) {
    let redis = shared_redis_url();
    support::require_redis(&redis).await;
    let mut db = SharedDb::create(backend).await;
    let nodes = support::nodes(&db, &redis, 3, |_| {}).await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let mut alice = a.connect("lc.protobuf2.3").await;
    let opened = alice.open("alice", SessionCommand::default()).await;
    let alice_token = opened.session_message.unwrap().st.unwrap();
    let mut bob = b.login("bob").await;
    let mut carol = c.login("carol").await;
    eventually!(
        "every node to see the three clients online",
        check_online(c, &["alice", "bob", "carol"]).await == ["alice", "bob", "carol"]
            && check_online(a, &["bob", "carol"]).await == ["bob", "carol"]
    );

    // A REST send on A reaches the members on B and C.
    let cid = create_conversation(a, &["alice", "bob", "carol"]).await;
    let (status, body) = rest_send(a, &cid, "alice", "from A").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        text_of(&bob.expect(CommandType::Direct, None).await),
        "from A"
    );
    assert_eq!(
        text_of(&carol.expect(CommandType::Direct, None).await),
        "from A"
    );
    // A REST send is synced to the sender's own sessions too.
    assert_eq!(
        text_of(&alice.expect(CommandType::Direct, None).await),
        "from A"
    );

    // A WebSocket send on B reaches A (and C), not the sending session.
    let ack = bob.request(direct(&cid, "from B")).await;
    assert_eq!(ack.cmd, Some(CommandType::Ack as i32), "{ack:?}");
    let push = alice.expect(CommandType::Direct, None).await;
    assert_eq!(text_of(&push), "from B");
    assert_eq!(
        text_of(&carol.expect(CommandType::Direct, None).await),
        "from B"
    );
    assert!(bob.try_expect(CommandType::Direct).await.is_none());

    // Receipts: Alice on A asked for them; Bob acknowledges on B.
    let mut wanting = direct(&cid, "receipt please");
    wanting.direct_message.as_mut().unwrap().r = Some(true);
    let ack = alice.request(wanting).await.ack_message.unwrap();
    let uid = ack.uid.unwrap();
    let delivered = bob.expect(CommandType::Direct, None).await;
    assert_eq!(
        delivered.direct_message.unwrap().id.as_deref(),
        Some(uid.as_str())
    );
    bob.acknowledge(&cid, &uid).await;
    let rcp = alice.receipt().await;
    assert_eq!(
        (rcp.id.as_deref(), rcp.from.as_deref()),
        (Some(uid.as_str()), Some("bob"))
    );
    carol.expect(CommandType::Direct, None).await;

    // A member added through A is reached by a send on B, whose member cache held the
    // list without her: the invalidation crossed the bus.
    let mut erin = c.login("erin").await;
    let (status, body) = a
        .rest(
            Method::POST,
            &format!("/1.2/rtm/conversations/{cid}/members"),
            Some(json!({"client_ids": ["erin"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually!(
        "C's presence of Erin to reach B",
        check_online(b, &["erin"]).await == ["erin"]
    );
    bob.request(direct(&cid, "welcome erin")).await;
    assert_eq!(
        text_of(&erin.expect(CommandType::Direct, None).await),
        "welcome erin"
    );
    assert_eq!(
        text_of(&carol.expect(CommandType::Direct, None).await),
        "welcome erin"
    );
    drop(erin);
    eventually!(
        "Erin to be offline on B",
        check_online(b, &["erin"]).await.is_empty()
    );

    // Stats count the clients of every node.
    let (_, stats) = b.rest(Method::GET, "/1.2/rtm/stats", None).await;
    assert_eq!(stats["result"]["online_user_count"], 3, "{stats}");

    // Chat rooms: members joined on three nodes are counted and reached everywhere.
    let mut start = command(CommandType::Conv, Some(OpType::Start));
    start.conv_message = Some(ConvCommand {
        transient: Some(true),
        m: vec!["alice".into()],
        attr: Some(JsonObjectMessage {
            data: json!({"name": "room"}).to_string(),
        }),
        ..Default::default()
    });
    let room = alice
        .request(start)
        .await
        .conv_message
        .unwrap()
        .cid
        .unwrap();
    join_room(&mut bob, &room, "bob").await;
    join_room(&mut carol, &room, "carol").await;
    for node in [a, b, c] {
        let count_path = format!("/1.2/rtm/chatrooms/{room}/members/online-count");
        eventually!(
            "the room's online count on every node",
            node.rest(Method::GET, &count_path, None).await.1 == json!({"result": 3})
        );
    }
    let (_, members) = c
        .rest(
            Method::GET,
            &format!("/1.2/rtm/chatrooms/{room}/members"),
            None,
        )
        .await;
    let mut members: Vec<String> = serde_json::from_value(members["result"].clone()).unwrap();
    members.sort();
    assert_eq!(members, ["alice", "bob", "carol"]);
    alice.request(direct(&room, "to the room")).await;
    assert_eq!(
        text_of(&bob.expect(CommandType::Direct, None).await),
        "to the room"
    );
    assert_eq!(
        text_of(&carol.expect(CommandType::Direct, None).await),
        "to the room"
    );

    // A kick through C closes Alice's session on A.
    let (status, _) = c
        .rest(
            Method::POST,
            "/1.2/rtm/clients/alice/kick",
            Some(json!({"reason": "bye"})),
        )
        .await;
    assert_eq!(status, 200);
    let closed = alice
        .expect(CommandType::Session, Some(OpType::Closed))
        .await;
    assert_eq!(closed.session_message.unwrap().code, Some(4115));
    eventually!(
        "Alice to be offline everywhere",
        check_online(b, &["alice"]).await.is_empty()
    );
    // The kick voided her session token on every node.
    let mut again = b.connect("lc.protobuf2.3").await;
    let refused = again
        .open(
            "alice",
            SessionCommand {
                r: Some(true),
                st: Some(alice_token),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        refused.session_message.as_ref().unwrap().code,
        Some(4112),
        "{refused:?}"
    );

    // A same-tag login on B closes the old session on A with 4111.
    let tagged = |device: &str| SessionCommand {
        tag: Some("mobile".into()),
        device_id: Some(device.into()),
        ..Default::default()
    };
    let mut phone = a.connect("lc.protobuf2.3").await;
    phone.open("dave", tagged("d1")).await;
    eventually!(
        "Dave's session on A to be known on B",
        check_online(b, &["dave"]).await == ["dave"]
    );
    let mut tablet = b.connect("lc.protobuf2.3").await;
    let opened = tablet.open("dave", tagged("d2")).await;
    assert_eq!(opened.op, Some(OpType::Opened as i32), "{opened:?}");
    let closed = phone
        .expect(CommandType::Session, Some(OpType::Closed))
        .await;
    assert_eq!(closed.session_message.unwrap().code, Some(4111));

    for node in nodes {
        node.stop().await;
    }
    db.drop_database().await;
}

#[tokio::test]
async fn a_quota_is_enforced_across_nodes() {
    a_quota_is_enforced_across_nodes_on(Backend::Sqlite).await;
    a_quota_is_enforced_across_nodes_on(Backend::Postgres).await;
}

async fn a_quota_is_enforced_across_nodes_on(backend: Backend) {
    let redis = shared_redis_url();
    support::require_redis(&redis).await;
    let mut db = SharedDb::create(backend).await;
    let nodes = support::nodes(&db, &redis, 3, |settings| {
        settings.message_rate_per_minute = 4;
        settings.client_message_rate_per_second = 3;
    })
    .await;
    // WebSocket: one client's sessions on A and B share its per-second message quota.
    let mut on_a = nodes[0].login("walt").await;
    let mut on_b = nodes[1].login("walt").await;
    let mut start = command(CommandType::Conv, Some(OpType::Start));
    start.conv_message = Some(ConvCommand {
        m: vec!["walt".into(), "zoe".into()],
        ..Default::default()
    });
    let ws_cid = on_a.request(start).await.conv_message.unwrap().cid.unwrap();
    let mut codes = Vec::new();
    for n in 0..6 {
        let session = if n % 2 == 0 { &mut on_a } else { &mut on_b };
        let ack = session.request(direct(&ws_cid, "quota")).await;
        codes.push(ack.ack_message.and_then(|a| a.code));
    }
    assert_eq!(&codes[..3], [None, None, None], "{codes:?}");
    assert!(codes[3..].contains(&Some(4116)), "{codes:?}");

    let cid = create_conversation(&nodes[0], &["alice", "bob"]).await;
    for i in 0..4 {
        let (status, body) = rest_send(&nodes[i % 3], &cid, "alice", "counted").await;
        assert_eq!(status, 200, "send {i}: {body}");
    }
    // The fifth call, on any node, is over the app's per-minute quota: 429 for a minute.
    for node in &nodes {
        let (status, body) = rest_send(node, &cid, "alice", "over").await;
        assert_eq!(status, 429, "{body}");
    }
    for node in nodes {
        node.stop().await;
    }
    db.drop_database().await;
}

#[tokio::test]
async fn official_sdk_clients_spread_over_three_nodes() {
    official_sdk_clients_spread_over_three_nodes_on(Backend::Sqlite).await;
    official_sdk_clients_spread_over_three_nodes_on(Backend::Postgres).await;
}

async fn official_sdk_clients_spread_over_three_nodes_on(backend: Backend) {
    let redis = shared_redis_url();
    support::require_redis(&redis).await;
    support::ensure_sdk_packages();
    let mut db = SharedDb::create(backend).await;
    let nodes = support::nodes(&db, &redis, 3, |_| {}).await;
    let urls: Vec<String> = nodes.iter().map(|n| format!("http://{}", n.addr)).collect();
    let run = tokio::process::Command::new("node")
        .arg("tests/cluster/sdk_cross_node.mjs")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TIDINGS_CLUSTER_NODES", urls.join(","))
        .env("TIDINGS_CLUSTER_APP_ID", gateway_support::APP_ID)
        .env("TIDINGS_CLUSTER_APP_KEY", gateway_support::APP_KEY)
        .env("TIDINGS_CLUSTER_MASTER_KEY", gateway_support::MASTER_KEY)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the SDK script finished in time")
        .expect("node is required for the SDK cluster test");
    assert!(
        output.status.success(),
        "SDK clients across nodes failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for node in nodes {
        node.stop().await;
    }
    db.drop_database().await;
}

#[tokio::test]
async fn agora_wait_for_ack_sees_an_ack_made_on_another_node() {
    agora_wait_for_ack_sees_an_ack_made_on_another_node_on(Backend::Sqlite).await;
    agora_wait_for_ack_sees_an_ack_made_on_another_node_on(Backend::Postgres).await;
}

async fn agora_wait_for_ack_sees_an_ack_made_on_another_node_on(backend: Backend) {
    let redis = shared_redis_url();
    support::require_redis(&redis).await;
    let mut db = SharedDb::create(backend).await;
    let nodes = support::nodes(&db, &redis, 2, |settings| {
        settings.agora_customer_id = Some("customer".into());
        settings.agora_customer_secret = Some("secret".into());
    })
    .await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let mut bob = b.login("bob").await;
    eventually!(
        "A to see Bob on B",
        check_online(a, &["bob"]).await == ["bob"]
    );
    let url = format!(
        "http://{}/dev/v2/project/{}/rtm/users/alice/peer_messages?wait_for_ack=true",
        a.addr,
        gateway_support::APP_ID
    );
    let request = a
        .http
        .post(url)
        .basic_auth("customer", Some("secret"))
        .json(&json!({"destination": "bob", "payload": "ping"}))
        .send();
    let waiting = tokio::spawn(request);
    let push = bob.expect(CommandType::Direct, None).await;
    let delivered = push.direct_message.unwrap();
    bob.acknowledge(&delivered.cid.unwrap(), &delivered.id.unwrap())
        .await;
    let response = waiting.await.unwrap().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "message_delivered", "{body}");
    for node in nodes {
        node.stop().await;
    }
    db.drop_database().await;
}
