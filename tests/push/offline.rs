//! Who gets a push for a stored message, through the webhook provider.

use super::standins::{self, GONE_TOKEN};
use super::{installation, offline_with_token, registered, text, tokens, with_webhook, ws, Ws};
use crate::receiver::{Answer, Receiver, HOOK_KEY};
use crate::rest::harness::{Backend, Keys, TestServer};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tidings::proto::SessionCommand;

/// `client` logs in with a Swift device token; online until dropped or disconnected.
async fn swift_online(server: &TestServer, client: &str, token: &str) -> Ws {
    Ws::login(
        &server.base_url,
        &server.app.app_id,
        client,
        ws::swift_session(token),
    )
    .await
}

/// `client` has a device token and muted `conv`, then went offline.
async fn muted_offline(server: &TestServer, conv: &str, client: &str, token: &str) {
    let mut member = swift_online(server, client, token).await;
    member.mute(conv).await;
    member.disconnect().await;
}

/// Offline members with a token get one push per message (the message's `push_data`, else
/// the template); online, muted and logged-out ones none; transient messages none; a token
/// the provider calls unregistered is dropped.
async fn offline_members_get_one_push_each(backend: Backend) {
    let hook = standins::webhook().await;
    let server = with_webhook(backend, &hook, |_| {}).await;
    let members = ["alice", "bob", "carol", "dave", "erin", "frank", "gone"];
    let conv = server
        .create_conversation(json!({"name": "g", "m": members}))
        .await;
    let target = format!("/conversations/{conv}");
    offline_with_token(&server, "bob", "b0b0").await;
    let carol = swift_online(&server, "carol", "ca401").await;
    muted_offline(&server, &conv, "dave", "da7e").await;
    let erin = swift_online(&server, "erin", "e4170").await;
    registered().await;
    erin.logout().await;
    // A JS-style login without a token, then Swift's `report/upload` of one.
    let js = SessionCommand {
        ua: Some("js/5.0.0".into()),
        ..Default::default()
    };
    let mut frank = Ws::login(&server.base_url, &server.app.app_id, "frank", js).await;
    frank.report_token("f4a2c").await;
    registered().await;
    frank.disconnect().await;
    offline_with_token(&server, "gone", GONE_TOKEN).await;
    registered().await;

    let push_data = json!({"alert": "hi from alice", "badge": "Increment", "sound": "default"});
    let first = server
        .send_json(
            &target,
            json!({"from_client": "alice", "message": text("hello"), "push_data": push_data}),
        )
        .await;
    let calls = hook.wait_for("/push", 1).await;
    let call = &calls[0];
    assert_eq!(tokens(call), [GONE_TOKEN, "b0b0", "f4a2c"], "{call:#}");
    assert_eq!(call["payload"], push_data);
    assert_eq!(call["app"], server.app.app_id.as_str());
    assert_eq!(call["conv"], conv.as_str());
    assert_eq!(call["msg"], first.msg_id.as_str());
    assert_eq!(call["from"], "alice");
    assert_eq!(call["kind"], "message");
    let bob = call["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["token"] == "b0b0")
        .unwrap();
    assert_eq!(bob["client"], "bob");
    assert_eq!(bob["platform"], "ios");

    // No push_data: the built-in template; the unregistered token is gone (dropped as the
    // webhook's answer arrives: give that a moment).
    registered().await;
    server.send(&target, "alice", &text("second")).await;
    server
        .send_json(
            &target,
            json!({"from_client": "alice", "message": text("fleeting"), "transient": true}),
        )
        .await;
    let calls = hook.settle("/push", 2).await;
    assert_eq!(tokens(&calls[1]), ["b0b0", "f4a2c"]);
    assert_eq!(calls[1]["payload"]["alert"], "alice: second");
    drop(carol);
    server.stop().await;
}
on_both!(offline_members_get_one_push_each);

/// `_receiversOffline` may skip, filter and rewrite, and force a push to a muted member.
async fn receivers_offline_decides(backend: Backend) {
    let hook = standins::webhook().await;
    let keys = Keys::random();
    let answer: Answer = Arc::new(|_name, body: &Value| {
        let content = body["content"].as_str().unwrap_or_default();
        let result = if content.contains("skip") {
            json!({"skip": true})
        } else if content.contains("rewrite") {
            json!({"offlinePeers": ["bob"], "pushMessage": "{\"alert\":\"rewritten\"}"})
        } else if content.contains("force") {
            json!({"force": true})
        } else {
            json!({})
        };
        (200, json!({ "result": result }), Duration::ZERO)
    });
    let receiver = Receiver::start(&keys.app_id, &keys.master_key, answer).await;
    let url = receiver.url.clone();
    let server = with_webhook(backend, &hook, |setup| {
        setup.app = keys;
        setup.settings.hook_url = Some(url);
        setup.settings.hook_key = Some(HOOK_KEY.to_owned());
        setup.settings.hooks = "_receiversOffline".into();
    })
    .await;
    let conv = server
        .create_conversation(json!({"name": "g", "m": ["alice", "bob", "carl", "dave"]}))
        .await;
    let target = format!("/conversations/{conv}");
    offline_with_token(&server, "bob", "b0b0").await;
    offline_with_token(&server, "carl", "ca41").await;
    muted_offline(&server, &conv, "dave", "da7e").await;
    registered().await;

    for message in ["skip this", "rewrite this", "force this", "plain"] {
        server.send(&target, "alice", &text(message)).await;
        // One at a time: the hook runs in the background, in any order otherwise.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let calls = hook.settle("/push", 3).await;
    assert_eq!(tokens(&calls[0]), ["b0b0"]);
    assert_eq!(calls[0]["payload"], json!({"alert": "rewritten"}));
    assert_eq!(
        tokens(&calls[1]),
        ["b0b0", "ca41", "da7e"],
        "force reaches the muted member"
    );
    assert_eq!(calls[1]["payload"]["alert"], "alice: force this");
    assert_eq!(tokens(&calls[2]), ["b0b0", "ca41"]);
    let asked = receiver.calls("_receiversOffline");
    assert_eq!(asked.len(), 4);
    let mut offline: Vec<String> =
        serde_json::from_value(asked[0]["offlinePeers"].clone()).unwrap();
    offline.sort();
    assert_eq!(offline, ["bob", "carl", "dave"]);
    server.stop().await;
}
on_both!(receivers_offline_decides);

/// E35's `push` reaches every subscriber's devices (online or not), E49's every device.
async fn broadcasts_push_to_every_device(backend: Backend) {
    let hook = standins::webhook().await;
    let server = with_webhook(backend, &hook, |_| {}).await;
    let service = server.create_service_conversation("news").await;
    for client in ["sub1", "sub2"] {
        let reply = server
            .post(
                &format!("/service-conversations/{service}/subscribers"),
                json!({"client_id": client}),
            )
            .await;
        reply.assert_success("subscribing");
    }
    offline_with_token(&server, "sub1", "5001").await;
    let online = swift_online(&server, "sub2", "5002").await;
    offline_with_token(&server, "other", "0e4e").await;
    registered().await;

    let reply = server
        .post(
            &format!("/service-conversations/{service}/broadcasts"),
            json!({"from_client": "admin", "message": text("news"), "push": {"alert": "news!"}}),
        )
        .await;
    reply.assert_success("E35");
    let calls = hook.wait_for("/push", 1).await;
    assert_eq!(tokens(&calls[0]), ["5001", "5002"]);
    assert_eq!(calls[0]["kind"], "subscribers");
    assert_eq!(calls[0]["payload"], json!({"alert": "news!"}));

    let reply = server
        .post("/broadcasts", json!({"from_client": "admin", "conv_id": service, "message": text("all"), "push": "to everyone"}))
        .await;
    reply.assert_success("E49");
    let calls = hook.settle("/push", 2).await;
    assert_eq!(tokens(&calls[1]), ["0e4e", "5001", "5002"]);
    assert_eq!(calls[1]["kind"], "broadcast");
    assert_eq!(calls[1]["payload"], json!({"alert": "to everyone"}));
    drop(online);
    server.stop().await;
}
on_both!(broadcasts_push_to_every_device);

/// `POST /1.1/installations` then a login with that `deviceId` binds it; `PUT` changes
/// the token; bad input gets LeanCloud's error shape.
async fn installations_bind_to_clients(backend: Backend) {
    let hook = standins::webhook().await;
    let server = with_webhook(backend, &hook, |_| {}).await;
    let key = server.app.app_key.clone();
    let post = reqwest::Method::POST;
    let body = json!({"deviceType": "android", "installationId": "inst-1", "deviceToken": "70c1", "timeZone": "UTC"});
    let (status, created) =
        super::installation(&server, post.clone(), None, &key, body.clone()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["objectId"].as_str().unwrap().to_owned();
    assert!(created["createdAt"].is_string());
    let (status, again) = installation(&server, post.clone(), None, &key, body).await;
    assert_eq!(
        (status, again["objectId"].as_str()),
        (200, Some(id.as_str()))
    );
    let (status, _) = installation(
        &server,
        post.clone(),
        None,
        "wrong-key",
        json!({"deviceToken": "aa"}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, missing) =
        installation(&server, post, None, &key, json!({"deviceType": "ios"})).await;
    assert_eq!(
        (status, missing["code"].as_i64()),
        (400, Some(113)),
        "{missing}"
    );
    let put = reqwest::Method::PUT;
    let (status, unknown) = installation(&server, put.clone(), Some("nope"), &key, json!({})).await;
    assert_eq!(
        (status, unknown["code"].as_i64()),
        (404, Some(101)),
        "{unknown}"
    );

    let conv = server
        .create_conversation(json!({"name": "g", "m": ["alice", "ian"]}))
        .await;
    let target = format!("/conversations/{conv}");
    let java = SessionCommand {
        device_id: Some("inst-1".into()),
        ua: Some("java/8".into()),
        ..Default::default()
    };
    let ian = Ws::login(&server.base_url, &server.app.app_id, "ian", java).await;
    registered().await;
    ian.disconnect().await;
    server.send(&target, "alice", &text("one")).await;
    let calls = hook.wait_for("/push", 1).await;
    assert_eq!(tokens(&calls[0]), ["70c1"]);
    assert_eq!(calls[0]["devices"][0]["client"], "ian");
    assert_eq!(calls[0]["devices"][0]["platform"], "android");

    let (status, updated) = installation(
        &server,
        put,
        Some(&id),
        &key,
        json!({"deviceToken": "70c2"}),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert!(updated["updatedAt"].is_string());
    server.send(&target, "alice", &text("two")).await;
    let calls = hook.settle("/push", 2).await;
    assert_eq!(tokens(&calls[1]), ["70c2"]);
    server.stop().await;
}
on_both!(installations_bind_to_clients);
