//! Agora-RTM-compatible server messaging (A01, A02) over REST: auth, validation, storage and
//! the rate limit. Live delivery to SDK-protocol clients is in the gateway suite.

use super::harness::*;
use serde_json::{json, Value};

const CUSTOMER_ID: &str = "customer-id";
const CUSTOMER_SECRET: &str = "customer-secret";

fn agora_credentials(setup: &mut Setup) {
    setup.settings.agora_customer_id = Some(CUSTOMER_ID.into());
    setup.settings.agora_customer_secret = Some(CUSTOMER_SECRET.into());
    setup.settings.agora_rate_per_second = 5;
}

fn url(server: &TestServer, user: &str, kind: &str) -> String {
    format!(
        "{}/dev/v2/project/{}/rtm/users/{user}/{kind}",
        server.base_url, server.app.app_id
    )
}

async fn post(server: &TestServer, url: &str, body: Value, auth: Option<(&str, &str)>) -> Reply {
    let mut request = server.http.post(url).json(&body);
    if let Some((id, secret)) = auth {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("the request is answered");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Reply { status, body }
}

const BASIC: Option<(&str, &str)> = Some((CUSTOMER_ID, CUSTOMER_SECRET));

fn peer(destination: &str, history: bool) -> Value {
    json!({"destination": destination, "enable_offline_messaging": false, "enable_historical_messaging": history, "payload": "Hello"})
}

fn assert_success(reply: &Reply, code: &str) {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["result"], "success", "{reply:?}");
    assert_eq!(reply.body["code"], code, "{reply:?}");
    assert!(
        reply.body["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{reply:?}"
    );
}

fn assert_failed(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {reply:?}");
    assert_eq!(reply.body["result"], "failed", "{what}: {reply:?}");
    assert!(reply.body["request_id"].is_string(), "{what}: {reply:?}");
}

/// The one-on-one conversation of two users, as the SDKs would find it.
async fn conversation_of(server: &TestServer, a: &str, b: &str) -> Option<String> {
    let found = server.list("/conversations", &[]).await;
    found.iter().find_map(|c| {
        let members: Vec<&str> = c["m"]
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        (members.len() == 2 && members.contains(&a) && members.contains(&b))
            .then(|| c["objectId"].as_str().unwrap_or_default().to_owned())
    })
}

async fn the_seed_peer_message_example_is_sent_and_kept_only_with_history(server: &TestServer) {
    let sent = post(
        server,
        &url(server, "userA", "peer_messages"),
        peer("userB", false),
        BASIC,
    )
    .await;
    assert_success(&sent, "message_sent");
    let conv = conversation_of(server, "userA", "userB")
        .await
        .expect("the unique one-on-one conversation exists");
    assert!(
        server
            .history(&format!("/conversations/{conv}/messages"), &[])
            .await
            .is_empty(),
        "not stored without history"
    );
    let kept = post(
        server,
        &url(server, "userA", "peer_messages"),
        peer("userB", true),
        BASIC,
    )
    .await;
    assert_success(&kept, "message_sent");
    let history = server
        .history(&format!("/conversations/{conv}/messages"), &[])
        .await;
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0]["from"].clone(), history[0]["data"].clone()),
        (json!("userA"), json!("Hello"))
    );
    assert_eq!(
        conversation_of(server, "userB", "userA").await.as_deref(),
        Some(conv.as_str()),
        "one conversation"
    );
}
both_backends!(
    the_seed_peer_message_example_is_sent_and_kept_only_with_history,
    agora_credentials
);

async fn waiting_for_an_offline_receiver_answers_message_offline_and_keeps_it_when_asked(
    server: &TestServer,
) {
    let url = format!(
        "{}?wait_for_ack=true",
        url(server, "userA", "peer_messages")
    );
    let body =
        json!({"destination": "userC", "enable_offline_messaging": true, "payload": "later"});
    let reply = post(server, &url, body, BASIC).await;
    assert_success(&reply, "message_offline");
    let conv = conversation_of(server, "userA", "userC")
        .await
        .expect("conversation");
    let history = server
        .history(&format!("/conversations/{conv}/messages"), &[])
        .await;
    assert_eq!(history.len(), 1, "kept for the offline receiver");
}
both_backends!(
    waiting_for_an_offline_receiver_answers_message_offline_and_keeps_it_when_asked,
    agora_credentials
);

async fn a_channel_message_goes_to_the_chat_room_named_after_the_channel(server: &TestServer) {
    let reply = post(
        server,
        &url(server, "userA", "channel_messages"),
        json!({"channel_name": "lobby", "payload": "hi all", "enable_historical_messaging": true}),
        BASIC,
    )
    .await;
    assert_success(&reply, "message_sent");
    let rooms = server
        .list("/chatrooms", &[("where", r#"{"name":"lobby"}"#)])
        .await;
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    let room = rooms[0]["objectId"].as_str().unwrap_or_default();
    let history = server
        .history(&format!("/chatrooms/{room}/messages"), &[])
        .await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["data"], "hi all");
    let again = post(
        server,
        &url(server, "userB", "channel_messages"),
        json!({"channel_name": "lobby", "payload": "not kept"}),
        BASIC,
    )
    .await;
    assert_success(&again, "message_sent");
    assert_eq!(
        server
            .list("/chatrooms", &[("where", r#"{"name":"lobby"}"#)])
            .await
            .len(),
        1,
        "the same room"
    );
    assert_eq!(
        server
            .history(&format!("/chatrooms/{room}/messages"), &[])
            .await
            .len(),
        1
    );
}
both_backends!(
    a_channel_message_goes_to_the_chat_room_named_after_the_channel,
    agora_credentials
);

async fn wrong_or_missing_credentials_are_401_and_tokens_must_match_the_uid(server: &TestServer) {
    let target = url(server, "userA", "peer_messages");
    assert_failed(
        &post(server, &target, peer("userB", false), None).await,
        401,
        "no credentials",
    );
    assert_failed(
        &post(
            server,
            &target,
            peer("userB", false),
            Some((CUSTOMER_ID, "wrong")),
        )
        .await,
        401,
        "a wrong secret",
    );
    let token = tidings::app::agora::mint_token(
        &server.app.app_id,
        &server.app.master_key,
        "userA",
        now_ms() / 1000 + 600,
    );
    let with_token = |uid: &str, user: &str| {
        server
            .http
            .post(url(server, user, "peer_messages"))
            .header("x-agora-token", token.clone())
            .header("x-agora-uid", uid)
            .json(&peer("userB", false))
    };
    let ok = with_token("userA", "userA").send().await.expect("answered");
    assert_eq!(ok.status().as_u16(), 200);
    let other_user = with_token("userA", "userZ").send().await.expect("answered");
    assert_eq!(
        other_user.status().as_u16(),
        401,
        "the path's user must be the token's uid"
    );
    let other_uid = with_token("userZ", "userZ").send().await.expect("answered");
    assert_eq!(other_uid.status().as_u16(), 401, "a token is for one uid");
    let expired = tidings::app::agora::mint_token(
        &server.app.app_id,
        &server.app.master_key,
        "userA",
        now_ms() / 1000 - 1,
    );
    let old = server
        .http
        .post(&target)
        .header("x-agora-token", expired)
        .header("x-agora-uid", "userA")
        .json(&peer("userB", false))
        .send()
        .await
        .expect("answered");
    assert_eq!(old.status().as_u16(), 401, "an expired token");
    let other_app = format!(
        "{}/dev/v2/project/{}/rtm/users/userA/peer_messages",
        server.base_url, server.other_app.app_id
    );
    assert_failed(
        &post(server, &other_app, peer("userB", false), BASIC).await,
        401,
        "another app's project",
    );
}
both_backends!(
    wrong_or_missing_credentials_are_401_and_tokens_must_match_the_uid,
    agora_credentials
);

async fn names_and_payloads_are_checked_at_their_edges(server: &TestServer) {
    let ok_name = "a".repeat(64);
    let target = url(server, &ok_name, "peer_messages");
    assert_success(
        &post(server, &target, peer("b", false), BASIC).await,
        "message_sent",
    );
    let long = url(server, &"a".repeat(65), "peer_messages");
    assert_failed(
        &post(server, &long, peer("b", false), BASIC).await,
        400,
        "a 65-character user id",
    );
    let me = url(server, "userA", "peer_messages");
    for (body, what) in [
        (peer(&"b".repeat(65), false), "a 65-character destination"),
        (peer(" lead", false), "a leading space"),
        (peer("trail ", false), "a trailing space"),
        (peer("slash/", false), "a character outside the allowed set"),
        (
            json!({"destination": "b", "payload": ""}),
            "an empty payload",
        ),
        (json!({"destination": "b"}), "no payload"),
        (json!({"payload": "x"}), "no destination"),
        (
            json!({"destination": "b", "payload": "x".repeat(32 * 1024 + 1)}),
            "a payload over 32 KB",
        ),
    ] {
        assert_failed(&post(server, &me, body, BASIC).await, 400, what);
    }
    let max = json!({"destination": "b", "payload": "x".repeat(32 * 1024)});
    assert_success(&post(server, &me, max, BASIC).await, "message_sent");
    let room = url(server, "userA", "channel_messages");
    assert_failed(
        &post(
            server,
            &room,
            json!({"channel_name": "", "payload": "x"}),
            BASIC,
        )
        .await,
        400,
        "an empty channel",
    );
    assert_failed(
        &post(
            server,
            &room,
            json!({"channel_name": "c".repeat(65), "payload": "x"}),
            BASIC,
        )
        .await,
        400,
        "a long channel",
    );
    let malformed = server
        .http
        .post(&me)
        .basic_auth(CUSTOMER_ID, Some(CUSTOMER_SECRET))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .expect("answered");
    assert_eq!(malformed.status().as_u16(), 400, "malformed JSON");
}
both_backends!(
    names_and_payloads_are_checked_at_their_edges,
    agora_credentials
);

async fn peer_and_channel_messages_share_a_per_second_limit(server: &TestServer) {
    let peer_url = url(server, "userA", "peer_messages");
    let room_url = url(server, "userA", "channel_messages");
    let mut statuses = Vec::new();
    for i in 0..6 {
        let reply = if i % 2 == 0 {
            post(server, &peer_url, peer("userB", false), BASIC).await
        } else {
            post(
                server,
                &room_url,
                json!({"channel_name": "c", "payload": "x"}),
                BASIC,
            )
            .await
        };
        statuses.push(reply.status);
        if reply.status == 429 {
            assert_failed(&reply, 429, "over the limit");
        }
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 429],
        "5 per second, both endpoints together"
    );
    server.clock.advance(std::time::Duration::from_secs(2));
    assert_success(
        &post(server, &peer_url, peer("userB", false), BASIC).await,
        "message_sent",
    );
}
both_backends!(
    peer_and_channel_messages_share_a_per_second_limit,
    agora_credentials
);
