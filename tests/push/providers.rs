//! The APNs and FCM clients against HTTP/2 stand-ins (`standins.rs`) that check the
//! protocol, the headers, the bearer JWT (verified with the test key's public half) and the
//! body, and answer "unregistered" for one token.

use super::standins::{self, Recorder, GONE_TOKEN};
use super::{offline_with_token, text};
use crate::rest::harness::{Backend, TestServer};
use serde_json::json;

fn header(headers: &[(String, String)], name: &str) -> String {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

async fn apns_over_http2_with_a_provider_token(backend: Backend) {
    let (production, sandbox) = (standins::apns().await, standins::apns().await);
    let (prod_url, sandbox_url) = (production.url.clone(), sandbox.url.clone());
    let server = TestServer::start(backend, |setup| {
        let push = &mut setup.settings.push;
        push.push_provider = "apns".into();
        push.push_apns_key = Some(standins::APNS_P8.into());
        push.push_apns_key_id = Some(standins::APNS_KEY_ID.into());
        push.push_apns_team_id = Some(standins::APNS_TEAM.into());
        push.push_apns_topic = Some(standins::APNS_TOPIC.into());
        push.push_apns_production_url = Some(prod_url);
        push.push_apns_sandbox_url = Some(sandbox_url);
    })
    .await;
    let conv = server
        .create_conversation(json!({"name": "g", "m": ["alice", "bob", "gone"]}))
        .await;
    let target = format!("/conversations/{conv}");
    offline_with_token(&server, "bob", "ab12cd34").await;
    offline_with_token(&server, "gone", GONE_TOKEN).await;
    let push_data =
        json!({"alert": "hi bob", "badge": "Increment", "sound": "default", "convId": conv});
    server
        .send_json(
            &target,
            json!({"from_client": "alice", "message": text("hi"), "push_data": push_data}),
        )
        .await;
    let calls = production.wait_for("/3/device/", 1).await;
    assert_eq!(
        calls[0]["aps"],
        json!({"alert": "hi bob", "badge": 1, "sound": "default"})
    );
    assert_eq!(calls[0]["convId"], conv.as_str());
    let headers = production.headers("/3/device/");
    assert_eq!(header(&headers, "apns-topic"), standins::APNS_TOPIC);
    assert_eq!(header(&headers, "apns-push-type"), "alert");
    assert_eq!(header(&headers, "apns-priority"), "10");
    assert!(header(&headers, "authorization").starts_with("bearer "));
    production.wait_for("/gone", 1).await;
    // The stand-in records before it answers: give the server a moment to drop the token.
    super::registered().await;

    // `_profile: "dev"` goes to the sandbox; the unregistered token is not tried again.
    let dev = json!({"alert": "dev build", "_profile": "dev"});
    server
        .send_json(
            &target,
            json!({"from_client": "alice", "message": text("dev"), "push_data": dev}),
        )
        .await;
    let calls = sandbox.settle("/3/device/ab12cd34", 1).await;
    assert_eq!(calls[0]["aps"]["alert"], "dev build");
    assert!(calls[0].get("_profile").is_none());
    assert_eq!(
        production.bodies("/gone").len() + sandbox.bodies("/gone").len(),
        1
    );
    assert_eq!(production.bodies("/3/device/").len(), 1);
    server.stop().await;
}
on_both!(apns_over_http2_with_a_provider_token);

async fn fcm_v1_with_a_service_account(backend: Backend) {
    let fcm: Recorder = standins::fcm().await;
    let account = standins::service_account(&fcm);
    let url = fcm.url.clone();
    let server = TestServer::start(backend, |setup| {
        let push = &mut setup.settings.push;
        push.push_provider = "fcm".into();
        push.push_fcm_service_account = Some(account);
        push.push_fcm_url = Some(url);
    })
    .await;
    let conv = server
        .create_conversation(json!({"name": "g", "m": ["alice", "bob", "gone"]}))
        .await;
    let target = format!("/conversations/{conv}");
    offline_with_token(&server, "bob", "fcm-token:bob_1").await;
    offline_with_token(&server, "gone", GONE_TOKEN).await;
    let push_data =
        json!({"alert": "hi bob", "title": "Chat", "custom": {"n": 1}, "badge": "Increment"});
    server
        .send_json(
            &target,
            json!({"from_client": "alice", "message": text("hi"), "push_data": push_data}),
        )
        .await;
    let calls = fcm.wait_for("/v1/projects/", 1).await;
    assert_eq!(
        calls[0],
        json!({"message": {
            "token": "fcm-token:bob_1",
            "notification": {"title": "Chat", "body": "hi bob"},
            "data": {"custom": "{\"n\":1}"},
        }})
    );
    fcm.wait_for("/gone", 1).await;
    super::registered().await;
    server.send(&target, "alice", &text("again")).await;
    let calls = fcm.settle("/v1/projects/", 2).await;
    assert_eq!(calls[1]["message"]["notification"]["body"], "alice: again");
    assert_eq!(
        fcm.bodies("/gone").len(),
        1,
        "the unregistered token is dropped"
    );
    assert_eq!(fcm.bodies("/token").len(), 1, "the access token is reused");
    server.stop().await;
}
on_both!(fcm_v1_with_a_service_account);
