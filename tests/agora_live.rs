//! Agora-style peer and channel messages reaching SDK-protocol clients live: the three
//! response codes, the acknowledgement timeout, offline delivery at login, and chat rooms.

#![allow(clippy::unwrap_used)]

#[path = "gateway_support/mod.rs"]
mod gateway_support;

use gateway_support::{command, Backend, Server};
use serde_json::{json, Value};
use tidings::gateway::proto::{AckCommand, CommandType, ConvCommand, GenericCommand, OpType};

const ID: &str = "customer";
const SECRET: &str = "secret";

async fn start() -> Server {
    Server::start_with(Backend::Sqlite, |_, settings| {
        settings.agora_customer_id = Some(ID.into());
        settings.agora_customer_secret = Some(SECRET.into());
    })
    .await
}

fn peer_url(server: &Server, from: &str, wait: bool) -> String {
    let app = gateway_support::APP_ID;
    format!(
        "http://{}/dev/v2/project/{app}/rtm/users/{from}/peer_messages?wait_for_ack={wait}",
        server.addr
    )
}

async fn post(http: reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = http
        .post(url)
        .basic_auth(ID, Some(SECRET))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

fn payload_of(push: &GenericCommand) -> String {
    push.direct_message
        .as_ref()
        .and_then(|d| d.msg.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_peer_message_waiting_for_the_ack_is_delivered_live_and_reported_delivered() {
    let server = start().await;
    let mut bob = server.login("bob").await;
    let request = tokio::spawn(post(
        server.http.clone(),
        peer_url(&server, "alice", true),
        json!({"destination": "bob", "payload": "ping"}),
    ));
    let push = bob.expect(CommandType::Direct, None).await;
    assert_eq!(payload_of(&push), "ping");
    let direct = push.direct_message.clone().unwrap();
    assert_eq!(direct.from_peer_id.as_deref(), Some("alice"));
    let mut ack = command(CommandType::Ack, None);
    ack.ack_message = Some(AckCommand {
        cid: direct.cid.clone(),
        mid: direct.id.clone(),
        ..Default::default()
    });
    bob.send(&ack).await;
    let (status, body) = request.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["result"].clone(), body["code"].clone()),
        (json!("success"), json!("message_delivered"))
    );
    server.stop().await;
}

#[tokio::test]
async fn without_waiting_the_answer_is_message_sent_and_the_receiver_still_gets_it() {
    let server = start().await;
    let mut bob = server.login("bob").await;
    let (status, body) = post(
        server.http.clone(),
        peer_url(&server, "alice", false),
        json!({"destination": "bob", "payload": "hi"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (200, json!("message_sent")),
        "{body}"
    );
    assert_eq!(
        payload_of(&bob.expect(CommandType::Direct, None).await),
        "hi"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_online_receiver_that_never_acknowledges_times_out_with_408() {
    let server = start().await;
    let mut bob = server.login("bob").await;
    let started = std::time::Instant::now();
    let request = tokio::spawn(post(
        server.http.clone(),
        peer_url(&server, "alice", true),
        json!({"destination": "bob", "payload": "ignored"}),
    ));
    bob.expect(CommandType::Direct, None).await;
    let (status, body) = request.await.unwrap();
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["result"], "failed");
    assert!(body["request_id"].is_string());
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(9),
        "waited for the timeout"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_offline_receiver_gets_a_kept_message_at_login() {
    let server = start().await;
    let (status, body) = post(
        server.http.clone(),
        peer_url(&server, "alice", true),
        json!({"destination": "carol", "payload": "while you were out", "enable_offline_messaging": true}),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (200, json!("message_offline")),
        "{body}"
    );
    let mut carol = server.login("carol").await;
    let unread = carol.expect(CommandType::Unread, None).await;
    let convs = unread.unread_message.unwrap().convs;
    assert_eq!(convs.len(), 1, "{convs:?}");
    assert_eq!(convs[0].unread, 1);
    assert_eq!(convs[0].data.as_deref(), Some("while you were out"));
    server.stop().await;
}

#[tokio::test]
async fn a_channel_message_reaches_the_members_of_the_channels_chat_room() {
    let server = start().await;
    let mut bob = server.login("bob").await;
    let room = tidings::app::agora::channel_room_id("lobby");
    let url = format!(
        "http://{}/dev/v2/project/{}/rtm/users/alice/channel_messages",
        server.addr,
        gateway_support::APP_ID
    );
    // The first message creates the room; bob then joins it like any chat room.
    let (status, body) = post(
        server.http.clone(),
        url.clone(),
        json!({"channel_name": "lobby", "payload": "first"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (200, json!("message_sent")),
        "{body}"
    );
    let mut join = command(CommandType::Conv, Some(OpType::Add));
    join.conv_message = Some(ConvCommand {
        cid: Some(room.clone()),
        m: vec!["bob".into()],
        ..Default::default()
    });
    bob.request(join).await;
    let (status, body) = post(
        server.http.clone(),
        url,
        json!({"channel_name": "lobby", "payload": "hello room"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let push = bob.expect(CommandType::Direct, None).await;
    assert_eq!(payload_of(&push), "hello room");
    assert_eq!(
        push.direct_message.unwrap().cid.as_deref(),
        Some(room.as_str())
    );
    server.stop().await;
}
