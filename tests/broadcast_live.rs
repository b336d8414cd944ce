//! Global broadcasts (E49-E50) over the WebSocket: live to who is online, at the next login to
//! who was not (while still valid), the latest one to a brand-new client, never twice, and
//! never when expired or deleted. Subscriber broadcasts (E35) reach online subscribers live.

#![allow(clippy::unwrap_used)]

#[path = "gateway_support/mod.rs"]
mod gateway_support;

use gateway_support::{Backend, Client, Server};
use reqwest::Method;
use serde_json::{json, Value};
use tidings::gateway::proto::{CommandType, GenericCommand};

async fn service(server: &Server) -> String {
    let (status, body) = server
        .rest(
            Method::POST,
            "/1.2/rtm/service-conversations",
            Some(json!({"name": "news"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["objectId"].as_str().unwrap().to_owned()
}

async fn broadcast(server: &Server, conv: &str, text: &str, valid_till: Option<i64>) -> Value {
    let mut body = json!({"from_client": "news", "conv_id": conv, "message": text});
    if let Some(till) = valid_till {
        body["valid_till"] = json!(till);
    }
    let (status, reply) = server
        .rest(Method::POST, "/1.2/rtm/broadcasts", Some(body))
        .await;
    assert_eq!(status, 200, "{reply}");
    reply
}

fn text(push: &GenericCommand) -> String {
    push.direct_message
        .as_ref()
        .and_then(|d| d.msg.clone())
        .unwrap_or_default()
}

/// The direct pushes a fresh login brings, in order, until the line goes quiet.
async fn login_texts(server: &Server, client: &str) -> (Client, Vec<String>) {
    let mut c = server.login(client).await;
    let mut texts = Vec::new();
    while let Some(push) = c.try_expect(CommandType::Direct).await {
        texts.push(text(&push));
    }
    (c, texts)
}

#[tokio::test]
async fn global_broadcasts_reach_online_clients_live_and_offline_ones_at_login_once() {
    let server = Server::start(Backend::Sqlite).await;
    let conv = service(&server).await;
    // carol has been seen before, then goes offline.
    let (carol, _) = login_texts(&server, "carol").await;
    drop(carol);
    let mut alice = server.login("alice").await;
    broadcast(&server, &conv, "one", None).await;
    let live = alice.expect(CommandType::Direct, None).await;
    assert_eq!(text(&live), "one");
    assert_eq!(
        live.direct_message.unwrap().cid.as_deref(),
        Some(conv.as_str())
    );
    broadcast(&server, &conv, "two", None).await;
    assert_eq!(text(&alice.expect(CommandType::Direct, None).await), "two");
    drop(alice);

    let (_carol, texts) = login_texts(&server, "carol").await;
    assert_eq!(
        texts,
        ["one", "two"],
        "an offline client gets what it missed, oldest first"
    );
    let (_alice, texts) = login_texts(&server, "alice").await;
    assert!(
        texts.is_empty(),
        "what was received live does not come again: {texts:?}"
    );
    let (_dave, texts) = login_texts(&server, "dave").await;
    assert_eq!(
        texts,
        ["two"],
        "a brand-new client gets the latest valid one"
    );
    server.stop().await;
}

#[tokio::test]
async fn expired_and_deleted_broadcasts_are_not_delivered_at_login() {
    let server = Server::start(Backend::Sqlite).await;
    let conv = service(&server).await;
    let (erin, _) = login_texts(&server, "erin").await;
    drop(erin);
    let now = tidings::domain::time::now_ms();
    broadcast(&server, &conv, "short-lived", Some(now + 1_000)).await;
    let doomed = broadcast(&server, &conv, "deleted", None).await;
    let (status, _) = server
        .rest(
            Method::DELETE,
            &format!("/1.2/rtm/broadcasts/{}", doomed["msg-id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let (_erin, texts) = login_texts(&server, "erin").await;
    assert!(
        texts.is_empty(),
        "expired and deleted broadcasts stay away: {texts:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_subscriber_broadcast_reaches_online_subscribers_only() {
    let server = Server::start(Backend::Sqlite).await;
    let conv = service(&server).await;
    let (status, _) = server
        .rest(
            Method::POST,
            &format!("/1.2/rtm/service-conversations/{conv}/subscribers"),
            Some(json!({"client_id": "sub"})),
        )
        .await;
    assert_eq!(status, 200);
    let mut subscriber = server.login("sub").await;
    let mut outsider = server.login("outsider").await;
    let (status, _) = server
        .rest(
            Method::POST,
            &format!("/1.2/rtm/service-conversations/{conv}/broadcasts"),
            Some(json!({"from_client": "news", "message": "subs only"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        text(&subscriber.expect(CommandType::Direct, None).await),
        "subs only"
    );
    outsider.silence().await;
    server.stop().await;
}
