//! Caches that other nodes must drop at once, on two nodes over Redis, on both stores:
//! who is silenced in a conversation (asked on every send, now answered from memory) when a
//! silence changes on the other node, by the SDK or by the admin; and an app's settings when `tidings app set`
//! changes them (the real binary, run as an operator would).

use crate::gateway_support::{command, Backend, Client, Server, APP_ID};
use crate::support::{self, shared_redis_url, SharedDb};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use tidings::app::moderation::ClientList;
use tidings::gateway::proto::{CommandType, ConvCommand, GenericCommand, OpType, SessionCommand};

/// Well under the caches' own expiry (silences 30 s, apps 5 s): an answer within this long
/// came from an invalidation, not from the entry running out.
const AT_ONCE: Duration = Duration::from_millis(1500);

fn shutup(cid: &str, op: OpType, ids: &[&str]) -> GenericCommand {
    let mut c = command(CommandType::Conv, Some(op));
    c.conv_message = Some(ConvCommand {
        cid: Some(cid.to_owned()),
        m: ids.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    });
    c
}

/// The ack code of a send by `client` (None when it was accepted).
async fn send_code(client: &mut Client, cid: &str) -> Option<i32> {
    let ack = client.request(crate::direct(cid, "hello")).await;
    assert_eq!(ack.cmd, Some(CommandType::Ack as i32), "{ack:?}");
    ack.ack_message.and_then(|a| a.code)
}

/// Runs `attempt` every 50 ms until it answers `Ok`; past `deadline`, panics with `what`
/// and the last answer.
async fn retry_until(
    deadline: tokio::time::Instant,
    what: &str,
    mut attempt: impl AsyncFnMut() -> Result<(), String>,
) {
    loop {
        let last = match attempt().await {
            Ok(()) => return,
            Err(last) => last,
        };
        assert!(tokio::time::Instant::now() < deadline, "{what}: {last}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends until the ack code is `want`, for at most [`AT_ONCE`]; panics naming `what`.
async fn send_until(client: &mut Client, cid: &str, want: Option<i32>, what: &str) {
    let deadline = tokio::time::Instant::now() + AT_ONCE;
    retry_until(deadline, what, async || {
        let got = send_code(client, cid).await;
        if got == want {
            Ok(())
        } else {
            Err(format!("still {got:?}, wanted {want:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn a_silence_changed_on_one_node_applies_on_the_other_at_once() {
    silences_on(Backend::Sqlite).await;
    silences_on(Backend::Postgres).await;
}

async fn silences_on(backend: Backend) {
    let redis = shared_redis_url();
    support::require_redis(&redis).await;
    let mut db = SharedDb::create(backend).await;
    let nodes = support::nodes(&db, &redis, 2, |_| {}).await;
    let mut owner = nodes[0].login("owner").await;
    let mut carol = nodes[1].login("carol").await;
    let mut start = command(CommandType::Conv, Some(OpType::Start));
    start.conv_message = Some(ConvCommand {
        m: vec!["owner".into(), "carol".into()],
        ..Default::default()
    });
    let cid = owner
        .request(start)
        .await
        .conv_message
        .unwrap()
        .cid
        .unwrap();
    // Node B answers "not silenced" and keeps that answer: a silence written to the
    // database behind the nodes' backs (another process, no invalidation) is not seen.
    assert_eq!(send_code(&mut carol, &cid).await, None);
    let behind = tidings::store::Store::connect(&db.url, 1, 1).await.unwrap();
    behind
        .add_to_list(ClientList::Silenced, APP_ID, &cid, &["carol".into()], 1)
        .await
        .unwrap();
    assert_eq!(
        send_code(&mut carol, &cid).await,
        None,
        "answered from the cache"
    );
    behind
        .remove_from_list(ClientList::Silenced, APP_ID, &cid, &["carol".into()])
        .await
        .unwrap();

    // The owner silences carol on A (SDK): B refuses her next sends.
    let reply = owner
        .request(shutup(&cid, OpType::AddShutup, &["carol"]))
        .await;
    assert_eq!(reply.cmd, Some(CommandType::Conv as i32), "{reply:?}");
    send_until(&mut carol, &cid, Some(4563), "silenced on A, sending on B").await;

    // The admin lifts it on A (REST): B accepts again.
    let path = format!("/1.2/rtm/conversations/{cid}/silenced-members");
    let ids = json!({"client_ids": ["carol"]});
    let (status, body) = nodes[0]
        .rest(Method::DELETE, &path, Some(ids.clone()))
        .await;
    assert_eq!(status, 200, "{body}");
    send_until(&mut carol, &cid, None, "unsilenced on A, sending on B").await;

    // On B itself: the admin silences her there, the very next send is refused.
    let (status, body) = nodes[1].rest(Method::POST, &path, Some(ids)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(send_code(&mut carol, &cid).await, Some(4563));
    for node in nodes {
        node.stop().await;
    }
    db.drop_database().await;
}

/// `session open` on `node` for a fresh client: the close code when refused.
async fn login_refusal(node: &Server, client: &str) -> Option<i32> {
    let mut ws = node.connect("lc.protobuf2.3").await;
    let opened = ws.open(client, SessionCommand::default()).await;
    (opened.op == Some(OpType::Closed as i32))
        .then(|| opened.session_message.and_then(|s| s.code))
        .flatten()
}

#[tokio::test]
async fn app_settings_changed_by_the_cli_apply_on_every_node_at_once() {
    app_settings_on(Backend::Sqlite).await;
    app_settings_on(Backend::Postgres).await;
}

async fn app_settings_on(backend: Backend) {
    let redis = shared_redis_url();
    support::require_redis(&redis).await;
    let mut db = SharedDb::create(backend).await;
    let prefix = support::fresh_prefix();
    let a = support::node(&db, &redis, &prefix, "a", |_| {}).await;
    let b = support::node(&db, &redis, &prefix, "b", |_| {}).await;
    // Both nodes hold the app (no login signature required) in their caches.
    assert_eq!(login_refusal(&a, "first-a").await, None);
    assert_eq!(login_refusal(&b, "first-b").await, None);

    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["app", "set", APP_ID, "login_signature_required", "true"])
        .env("TIDINGS_DATABASE_URL", &db.url)
        .env("TIDINGS_REDIS_URL", &redis)
        .env("TIDINGS_REDIS_PREFIX", &prefix)
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success(), "tidings app set failed");

    // Within well under the 5 s cache TTL, both nodes ask for a login signature.
    let deadline = tokio::time::Instant::now() + AT_ONCE;
    for (name, node) in [("a", &a), ("b", &b)] {
        let what = format!("node {name} still lets an unsigned login in");
        retry_until(deadline, &what, async || {
            match login_refusal(node, &format!("later-{name}")).await {
                Some(4102) => Ok(()),
                refused => Err(format!("{refused:?}")),
            }
        })
        .await;
    }
    a.stop().await;
    b.stop().await;
    db.drop_database().await;
}

#[tokio::test]
async fn keys_saved_by_a_starting_node_apply_on_the_running_nodes_at_once() {
    let redis = shared_redis_url();
    support::require_redis(&redis).await;
    let mut db = SharedDb::create(Backend::Sqlite).await;
    let prefix = support::fresh_prefix();
    let a = support::node(&db, &redis, &prefix, "a", |_| {}).await;
    let (status, _) = a.rest(Method::GET, "/1.2/rtm/conversations", None).await;
    assert_eq!(
        status, 200,
        "node a holds the app with its first master key"
    );

    // A node started with a rotated master key saves it for the app.
    let rotated = "rotated-master-key";
    let (db_url, redis_url, b_prefix) = (db.url.clone(), redis.clone(), prefix.clone());
    let b = Server::start_with(Backend::Sqlite, move |config, _| {
        config.database_url = db_url;
        config.redis_url = redis_url;
        config.redis_prefix = b_prefix;
        config.node_id = "b".into();
        config.master_key = rotated.into();
    })
    .await;

    let deadline = tokio::time::Instant::now() + AT_ONCE;
    let key = format!("{rotated},master");
    retry_until(
        deadline,
        "node a still refuses the rotated master key",
        async || {
            let (status, body) = a
                .rest_with(Method::GET, "/1.2/rtm/conversations", None, &key)
                .await;
            match status {
                200 => Ok(()),
                _ => Err(format!("{status} {body}")),
            }
        },
    )
    .await;
    a.stop().await;
    b.stop().await;
    db.drop_database().await;
}
