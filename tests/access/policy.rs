//! The policy table (`docs/policy.md`), row by row, for a client that is not a member: each
//! refusal carries its code, and neither the stored state nor the members' screens show
//! anything of the attempt.

use super::support::*;
use crate::gateway_support::{Backend, Client, Server};
use reqwest::Method;
use serde_json::json;
use tidings::gateway::proto::{
    CommandType, ConvCommand, GenericCommand, JsonObjectMessage, OpType,
};

fn on(cid: &str, op: OpType) -> GenericCommand {
    conv_command(
        op,
        ConvCommand {
            cid: Some(cid.to_owned()),
            ..Default::default()
        },
    )
}

/// The failed ids of a `conv add/remove` answer, with their codes.
fn failed(reply: &GenericCommand) -> Vec<(i32, Vec<String>)> {
    assert_ne!(error_code(reply), Some(0), "{reply:?}");
    reply
        .conv_message
        .as_ref()
        .map(|c| {
            c.failed_pids
                .iter()
                .map(|f| (f.code, f.pids.clone()))
                .collect()
        })
        .unwrap_or_default()
}

async fn assert_refused(client: &mut Client, command: GenericCommand, code: i32) {
    let reply = client.request(command.clone()).await;
    assert_eq!(error_code(&reply), Some(code), "{command:?} -> {reply:?}");
}

async fn normal_conversations_are_for_members_only(backend: Backend) {
    let server = Server::start(backend).await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let cid = conversation(&mut alice, &["alice", "bob"]).await;
    bob.expect(CommandType::Conv, Some(OpType::Joined)).await;
    let mut eve = server.login("eve").await;

    assert_eq!(send_code(&mut eve, direct(&cid, "hi")).await, Some(4401));
    assert_refused(&mut eve, logs(&cid), 4312).await;
    assert_refused(&mut eve, on(&cid, OpType::Members), 4317).await;
    assert_refused(&mut eve, on(&cid, OpType::MaxRead), 4317).await;
    assert_refused(&mut eve, on(&cid, OpType::Mute), 4317).await;
    let mut update = on(&cid, OpType::Update);
    update.conv_message.as_mut().unwrap().attr = Some(JsonObjectMessage {
        data: json!({"name": "pwned"}).to_string(),
    });
    assert_refused(&mut eve, update, 4309).await;
    let invite = eve
        .request(members_command(OpType::Add, &cid, &["eve", "mallory"]))
        .await;
    assert_eq!(
        failed(&invite),
        [(4317, vec!["eve".into(), "mallory".into()])]
    );
    let kick = eve
        .request(members_command(OpType::Remove, &cid, &["bob"]))
        .await;
    assert_eq!(failed(&kick), [(4317, vec!["bob".into()])]);

    // Nothing changed, and the members saw nothing of it.
    assert_eq!(members(&server, &cid).await, ["alice", "bob"]);
    assert!(history_texts(&server, &cid).await.is_empty());
    let (_, conv) = server
        .rest(
            Method::GET,
            &format!("/1.2/rtm/conversations?where={{\"objectId\":\"{cid}\"}}"),
            None,
        )
        .await;
    assert_eq!(conv["results"][0]["name"], "private", "{conv}");
    alice.silence().await;
    bob.silence().await;

    // The same actions by a member succeed.
    assert_eq!(send_code(&mut bob, direct(&cid, "hello")).await, None);
    let members_reply = bob.request(on(&cid, OpType::Members)).await;
    assert_eq!(members_reply.op, Some(OpType::Members as i32));
    server.stop().await;
}
crate::on_both!(normal_conversations_are_for_members_only);

async fn chat_rooms_and_service_conversations(backend: Backend) {
    let server = Server::start(backend).await;
    let (_, room) = server
        .rest(
            Method::POST,
            "/1.2/rtm/chatrooms",
            Some(json!({"name": "lobby"})),
        )
        .await;
    let room = room["objectId"].as_str().unwrap().to_owned();
    let (_, sys) = server
        .rest(
            Method::POST,
            "/1.2/rtm/service-conversations",
            Some(json!({"name": "news"})),
        )
        .await;
    let sys = sys["objectId"].as_str().unwrap().to_owned();
    let mut eve = server.login("eve").await;

    // A chat room: joined clients send; nobody adds or removes others.
    assert_eq!(send_code(&mut eve, direct(&room, "hi")).await, Some(4401));
    let added = eve
        .request(members_command(OpType::Add, &room, &["eve", "bob"]))
        .await;
    assert_eq!(failed(&added), [(4308, vec!["bob".into()])]);
    assert_eq!(send_code(&mut eve, direct(&room, "hi")).await, None);
    let history = eve.request(logs(&room)).await;
    assert_eq!(history.logs_message.unwrap().logs.len(), 1);

    // A service conversation: no member list, no client updates.
    assert_refused(&mut eve, on(&sys, OpType::Members), 4317).await;
    let mut update = on(&sys, OpType::Update);
    update.conv_message.as_mut().unwrap().attr = Some(JsonObjectMessage {
        data: json!({"name": "pwned"}).to_string(),
    });
    assert_refused(&mut eve, update, 4309).await;
    let (_, found) = server
        .rest(
            Method::GET,
            &format!("/1.2/rtm/service-conversations?where={{\"objectId\":\"{sys}\"}}"),
            None,
        )
        .await;
    assert_eq!(found["results"][0]["name"], "news", "{found}");
    server.stop().await;
}
crate::on_both!(chat_rooms_and_service_conversations);

/// `conv query` is bounded: at most 1000 results whatever `limit` asks.
async fn conversation_queries_are_bounded(backend: Backend) {
    let server = Server::start(backend).await;
    let mut eve = server.login("eve").await;
    let mut query = conv_command(
        OpType::Query,
        ConvCommand {
            r#where: Some(JsonObjectMessage {
                data: json!({"name": {"$regex": "(a+)+$"}}).to_string(),
            }),
            limit: Some(1_000_000),
            skip: Some(i32::MAX),
            ..Default::default()
        },
    );
    query.cmd = Some(CommandType::Conv as i32);
    let reply = eve.request(query).await;
    assert!(
        reply.op == Some(OpType::Results as i32) || error_code(&reply).is_some(),
        "{reply:?}"
    );
    server.stop().await;
}
crate::on_both!(conversation_queries_are_bounded);
