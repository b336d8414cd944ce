//! The four holes found in review, each with a test that failed before the fix:
//! will messages skipping authorization, clients broadcasting through service
//! conversations, non-members reading content, and an unlimited WebSocket.

use super::support::*;
use crate::gateway_support::{command, Backend, Server};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use tidings::gateway::proto::{CommandType, ConvCommand, JsonObjectMessage, OpType};

/// A non-member's will message is refused when kept, and nothing reaches the conversation
/// after the attacker's connection drops. A member's will still works.
async fn will_messages_are_authorized_like_sends(backend: Backend) {
    let server = Server::start(backend).await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let cid = conversation(&mut alice, &["alice", "bob"]).await;
    bob.expect(CommandType::Conv, Some(OpType::Joined)).await;

    let mut mallory = server.login("mallory").await;
    let mut will = direct(&cid, "FAKE will from mallory");
    will.direct_message.as_mut().unwrap().will = Some(true);
    assert_eq!(send_code(&mut mallory, will).await, Some(4401));
    drop(mallory); // a TCP reset: an unexpected disconnect
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(bob.try_expect(CommandType::Direct).await.is_none());
    assert!(history_texts(&server, &cid).await.is_empty());

    // A member's will is kept and sent after its unexpected disconnect.
    let mut will = direct(&cid, "bob's last words");
    will.direct_message.as_mut().unwrap().will = Some(true);
    assert_eq!(send_code(&mut bob, will).await, None);
    drop(bob);
    let push = alice.expect(CommandType::Direct, None).await;
    assert!(push
        .direct_message
        .unwrap()
        .msg
        .unwrap()
        .contains("bob's last words"));
    assert_eq!(history_texts(&server, &cid).await, ["bob's last words"]);
    server.stop().await;
}
crate::on_both!(will_messages_are_authorized_like_sends);

/// A subscriber's message to a service conversation is an uplink message: stored for the
/// admin and POSTed to the callback, never delivered to the other subscribers.
async fn service_conversation_messages_never_reach_other_subscribers(backend: Backend) {
    let (callback_url, mut batches) = callback_receiver().await;
    let server = Server::start_with(backend, |_, settings| {
        settings.service_callback_url = Some(callback_url.clone());
    })
    .await;
    let (status, created) = server
        .rest(
            Method::POST,
            "/1.2/rtm/service-conversations",
            Some(json!({"name": "Official"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let sys = created["objectId"].as_str().unwrap().to_owned();
    let mut reader = server.login("reader").await;
    let mut attacker = server.login("attacker").await;
    for (client, name) in [(&mut reader, "reader"), (&mut attacker, "attacker")] {
        let join = conv_command(
            OpType::Add,
            ConvCommand {
                cid: Some(sys.clone()),
                m: vec![name.to_owned()],
                ..Default::default()
            },
        );
        let added = client.request(join).await;
        assert_eq!(added.op, Some(OpType::Added as i32), "{added:?}");
    }
    assert_eq!(
        send_code(&mut attacker, direct(&sys, "FAKE OFFICIAL NOTICE")).await,
        None
    );
    assert!(reader.try_expect(CommandType::Direct).await.is_none());

    let batch = tokio::time::timeout(Duration::from_secs(10), batches.recv())
        .await
        .unwrap()
        .unwrap();
    let items = batch.as_array().unwrap();
    assert_eq!(items.len(), 1, "{batch}");
    assert_eq!(items[0]["from"], "attacker");
    assert_eq!(items[0]["conv-id"], sys.as_str());
    assert!(items[0]["data"]
        .as_str()
        .unwrap()
        .contains("FAKE OFFICIAL NOTICE"));

    let (status, uplink) = server
        .rest(
            Method::GET,
            &format!("/1.2/rtm/service-conversations/{sys}/uplink-messages"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{uplink}");
    assert_eq!(uplink.as_array().unwrap().len(), 1, "{uplink}");
    // Nobody's subscriber history shows it.
    let history = reader.request(logs(&sys)).await;
    assert!(history.logs_message.unwrap_or_default().logs.is_empty());
    // A client that is not subscribed cannot even do that.
    let mut stranger = server.login("stranger").await;
    assert_eq!(
        send_code(&mut stranger, direct(&sys, "hi")).await,
        Some(4401)
    );
    server.stop().await;
}
crate::on_both!(service_conversation_messages_never_reach_other_subscribers);

/// A local HTTP receiver standing in for the app's service-conversation callback.
async fn callback_receiver() -> (String, tokio::sync::mpsc::Receiver<Value>) {
    use axum::routing::post;
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    let app = axum::Router::new().route(
        "/callback",
        post(move |axum::Json(body): axum::Json<Value>| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(body).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, receiver)
}

/// A non-member can find a conversation but sees no message content, and cannot read its
/// history, until it joins (LeanCloud lets anyone join unless signatures are required).
async fn non_members_never_see_content(backend: Backend) {
    let server = Server::start(backend).await;
    let mut alice = server.login("alice").await;
    let cid = conversation(&mut alice, &["alice", "bob"]).await;
    assert_eq!(
        send_code(&mut alice, direct(&cid, "secret plans")).await,
        None
    );

    let mut eve = server.login("eve").await;
    let mut query = command(CommandType::Conv, Some(OpType::Query));
    query.conv_message = Some(ConvCommand {
        r#where: Some(JsonObjectMessage {
            data: json!({"objectId": cid}).to_string(),
        }),
        ..Default::default()
    });
    let found = eve.request(query.clone()).await;
    let results: Value =
        serde_json::from_str(&found.conv_message.unwrap().results.unwrap().data).unwrap();
    assert_eq!(results.as_array().unwrap().len(), 1, "{results}");
    assert!(results[0].get("msg").is_none(), "{results}");
    assert!(!results.to_string().contains("secret plans"), "{results}");
    let mut wide = command(CommandType::Conv, Some(OpType::Query));
    wide.conv_message = Some(ConvCommand {
        r#where: Some(JsonObjectMessage {
            data: json!({"name": "private"}).to_string(),
        }),
        ..Default::default()
    });
    let found = eve.request(wide).await;
    assert!(!found
        .conv_message
        .unwrap()
        .results
        .unwrap()
        .data
        .contains("secret plans"));
    assert_eq!(error_code(&eve.request(logs(&cid)).await), Some(4312));

    // Joining is allowed; then history is readable.
    let join = conv_command(
        OpType::Add,
        ConvCommand {
            cid: Some(cid.clone()),
            m: vec!["eve".into()],
            ..Default::default()
        },
    );
    assert_eq!(eve.request(join).await.op, Some(OpType::Added as i32));
    let history = eve.request(logs(&cid)).await;
    assert_eq!(history.logs_message.unwrap().logs.len(), 1);
    let found = eve.request(query).await;
    assert!(found
        .conv_message
        .unwrap()
        .results
        .unwrap()
        .data
        .contains("secret plans"));
    server.stop().await;
}
crate::on_both!(non_members_never_see_content);

/// 2,000 sends in a burst from one client: over `client_message_rate_per_second` the acks
/// carry 4116 and nothing is stored for them.
async fn the_websocket_has_a_message_quota(backend: Backend) {
    let server = Server::start_with(backend, |_, settings| {
        settings.client_message_rate_per_second = 20;
    })
    .await;
    let mut spammer = server.login("spammer").await;
    let cid = conversation(&mut spammer, &["spammer", "victim"]).await;
    let (mut accepted, mut refused) = (0, 0);
    for n in 0..200 {
        match send_code(&mut spammer, direct(&cid, &format!("spam {n}"))).await {
            None => accepted += 1,
            Some(4116) => refused += 1,
            Some(other) => panic!("unexpected code {other}"),
        }
    }
    assert!(refused > 0, "accepted {accepted}");
    assert!(accepted >= 20, "accepted {accepted}");
    assert_eq!(history_texts(&server, &cid).await.len(), accepted);
    server.stop().await;
}
crate::on_both!(the_websocket_has_a_message_quota);
