//! LeanEngine-style hooks (issue 15) against the real server and a hook receiver started by
//! each test (`hooks/receiver.rs`, checking LeanEngine's wire format), on SQLite and
//! Postgres: `_messageReceived` drop/rewrite on the one send path (REST door here; the SDK
//! door is `tests/sdk/test/14-hooks.test.mjs`), timeouts and the failure policy,
//! `_conversationAdd` refusals, `_messageSent`, `_clientOffline` after kicks
//! (`hooks/presence.rs`, over WebSocket clients), and E46 / `POST /1.1/rtm/sign`.
//!
//! Run: `cargo test --test hooks`.

#![allow(clippy::unwrap_used)]

#[macro_use]
#[allow(unused_macros, dead_code)]
#[path = "rest/harness.rs"]
pub mod harness;
/// The harness's macros name `crate::rest::harness`.
mod rest {
    pub use super::harness;
}
#[path = "gateway_support/mod.rs"]
mod gateway_support;
#[path = "hooks/receiver.rs"]
mod receiver;

use receiver::{Answer, Receiver, HOOK_KEY};
use rest::harness::{Backend, Keys, TestServer};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::rest::harness::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::rest::harness::Backend::Postgres).await;
            }
        }
    };
}

#[path = "hooks/presence.rs"]
mod presence;

/// A server whose app calls `hooks` on a fresh receiver answering with `answer`.
async fn start(
    backend: Backend,
    hooks: &str,
    tweak: impl FnOnce(&mut tidings::domain::app::AppSettings),
    answer: Answer,
) -> (TestServer, Receiver) {
    let keys = Keys::random();
    let receiver = Receiver::start(&keys.app_id, &keys.master_key, answer).await;
    let url = receiver.url.clone();
    let server = TestServer::start(backend, |setup| {
        setup.app = keys;
        setup.settings.hook_url = Some(url.clone());
        setup.settings.hook_key = Some(HOOK_KEY.to_owned());
        setup.settings.hooks = hooks.to_owned();
        setup.settings.user_service_url = Some(url);
        tweak(&mut setup.settings);
    })
    .await;
    (server, receiver)
}

fn answer(f: impl Fn(&str, &Value) -> Value + Send + Sync + 'static) -> Answer {
    Arc::new(move |name, body| (200, json!({ "result": f(name, body) }), Duration::ZERO))
}

fn text(message: &str) -> String {
    json!({"_lctype": -1, "_lctext": message}).to_string()
}

async fn history_texts(server: &TestServer, conv: &str) -> Vec<String> {
    let items = server
        .history(&format!("/conversations/{conv}/messages"), &[])
        .await;
    items
        .iter()
        .map(|m| m["data"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn message_received_drops_and_rewrites(backend: Backend) {
    let (server, receiver) = start(
        backend,
        "_messageReceived,_messageSent",
        |_| {},
        answer(|name, body| {
            let content = body["content"].as_str().unwrap_or_default();
            match name {
                "_messageReceived" if content.contains("spam") => {
                    json!({"drop": true, "code": 42, "detail": "no spam"})
                }
                "_messageReceived" => json!({"content": content.replace("darn", "****")}),
                _ => json!({}),
            }
        }),
    )
    .await;
    let conv = server
        .create_conversation(json!({"name": "g", "m": ["alice", "bob"]}))
        .await;
    let target = format!("/conversations/{conv}");
    let dropped = server
        .post(
            &format!("{target}/messages"),
            json!({"from_client": "alice", "message": text("buy spam")}),
        )
        .await;
    dropped.assert_error(403, 4402, "a message dropped by _messageReceived");
    assert!(dropped.body["error"].as_str().unwrap().contains("no spam"));
    server.send(&target, "alice", &text("oh darn")).await;
    assert_eq!(history_texts(&server, &conv).await, [text("oh ****")]);

    let calls = receiver.calls("_messageReceived");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["fromPeer"], "alice");
    assert_eq!(calls[0]["convId"], conv.as_str());
    assert_eq!(calls[0]["toPeers"], json!(["bob"]));
    assert_eq!(calls[0]["bin"], false);
    assert_eq!(calls[0]["transient"], false);
    assert!(calls[0]["timestamp"].is_i64());
    let sent = receiver.wait_for("_messageSent", 1).await;
    assert_eq!(sent[0]["content"], text("oh ****").as_str());
    assert_eq!(sent[0]["onlinePeers"], json!([]));
    assert_eq!(sent[0]["offlinePeers"], json!(["bob"]));
    assert!(sent[0]["msgId"].is_string());
    server.stop().await;
}
on_both!(message_received_drops_and_rewrites);

fn slow(delay: Duration) -> Answer {
    Arc::new(move |_, _| (200, json!({"result": {"drop": true}}), delay))
}

async fn a_hook_that_times_out_is_ignored_by_default(backend: Backend) {
    let (server, _receiver) = start(
        backend,
        "all",
        |s| s.hook_timeout_ms = 300,
        slow(Duration::from_secs(5)),
    )
    .await;
    let conv = server
        .create_conversation(json!({"name": "g", "m": ["alice", "bob"]}))
        .await;
    let started = Instant::now();
    server
        .send(&format!("/conversations/{conv}"), "alice", &text("hi"))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(history_texts(&server, &conv).await, [text("hi")]);
    server.stop().await;
}
on_both!(a_hook_that_times_out_is_ignored_by_default);

async fn a_failing_hook_rejects_under_the_reject_policy(backend: Backend) {
    let failing: Answer = Arc::new(|name, _| match name {
        "_messageReceived" => (200, json!({"result": {}}), Duration::from_secs(5)),
        _ => (500, json!({"code": 141, "error": "boom"}), Duration::ZERO),
    });
    let (server, _receiver) = start(
        backend,
        "all",
        |s| {
            s.hook_timeout_ms = 300;
            s.hook_failure_policy = "reject".into();
        },
        failing,
    )
    .await;
    let conv = server
        .create_conversation(json!({"name": "g", "m": ["alice"]}))
        .await;
    let started = Instant::now();
    let refused = server
        .post(
            &format!("/conversations/{conv}/messages"),
            json!({"from_client": "alice", "message": text("hi")}),
        )
        .await;
    refused.assert_error(403, 4402, "a timed-out hook under reject");
    assert!(started.elapsed() < Duration::from_secs(2));
    let add = server
        .post(
            &format!("/conversations/{conv}/members"),
            json!({"client_ids": ["carol"]}),
        )
        .await;
    add.assert_error(403, 4305, "an erroring _conversationAdd under reject");
    assert!(history_texts(&server, &conv).await.is_empty());
    server.stop().await;
}
on_both!(a_failing_hook_rejects_under_the_reject_policy);

async fn conversation_add_can_refuse_members(backend: Backend) {
    let (server, receiver) = start(
        backend,
        "_conversationAdd,_conversationAdded",
        |_| {},
        answer(|name, body| match name {
            "_conversationAdd" if body["members"] == json!(["mallory"]) => {
                json!({"reject": true, "code": 9, "detail": "not mallory"})
            }
            _ => json!({}),
        }),
    )
    .await;
    let conv = server
        .create_conversation(json!({"name": "g", "m": ["alice"]}))
        .await;
    let path = format!("/conversations/{conv}/members");
    let refused = server.post(&path, json!({"client_ids": ["mallory"]})).await;
    refused.assert_error(403, 4305, "a member refused by _conversationAdd");
    let added = server.post(&path, json!({"client_ids": ["carol"]})).await;
    added.assert_success("a member allowed by _conversationAdd");
    let members = server.get(&path, &[]).await;
    let mut listed: Vec<String> = serde_json::from_value(members.body["result"].clone())
        .unwrap_or_else(|_| serde_json::from_value(members.body.clone()).unwrap_or_default());
    listed.sort();
    assert_eq!(listed, ["alice", "carol"], "{members:?}");
    let after = receiver.wait_for("_conversationAdded", 1).await;
    assert_eq!(after[0]["members"], json!(["carol"]));
    assert_eq!(after[0]["convId"], conv.as_str());
    server.stop().await;
}
on_both!(conversation_add_can_refuse_members);

/// `POST /1.1/rtm/sign` with the app key, as `createIMClient(AV.User)` calls it.
async fn sign_v11(server: &TestServer, token: &str) -> (u16, Value) {
    let response = server
        .http
        .post(format!("{}/1.1/rtm/sign", server.base_url))
        .header("X-LC-Id", &server.app.app_id)
        .header("X-LC-Key", &server.app.app_key)
        .json(&json!({ "session_token": token }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn clients_sign_signs_users_the_hook_allows(backend: Backend) {
    let (server, receiver) = start(
        backend,
        "_rtmClientSign",
        |_| {},
        Arc::new(|_, user| {
            if user["objectId"] == "u-banned" {
                (
                    400,
                    json!({"code": 1, "error": "banned user"}),
                    Duration::ZERO,
                )
            } else {
                (200, json!({"result": true}), Duration::ZERO)
            }
        }),
    )
    .await;
    let signed = server
        .with_app_key(reqwest::Method::GET, "/clients/sign")
        .query(&[("session_token", "good-token")])
        .send()
        .await;
    assert_eq!(signed.status, 200, "{signed:?}");
    let body = &signed.body;
    assert_eq!(body["client_id"], "u-alice");
    let (ts, nonce) = (
        body["timestamp"].as_i64().unwrap(),
        body["nonce"].as_str().unwrap(),
    );
    let expected = tidings::domain::signature::realtime_sign(
        &server.app.master_key,
        &[&server.app.app_id, "u-alice", "", &ts.to_string(), nonce],
    );
    assert_eq!(body["signature"], expected.as_str());
    let user = &receiver.calls("_rtmClientSign")[0];
    assert_eq!(user["username"], "alice");
    assert!(user.get("password").is_none(), "{user}");

    let v11 = sign_v11(&server, "good-token").await;
    assert_eq!(v11.0, 200, "{v11:?}");
    assert_eq!(v11.1["client_id"], "u-alice");
    assert_ne!(v11.1["nonce"], body["nonce"], "a new nonce each call");

    let unknown = server
        .with_app_key(reqwest::Method::GET, "/clients/sign")
        .query(&[("session_token", "nope")])
        .send()
        .await;
    unknown.assert_error(400, 211, "an unknown session token");
    let banned = sign_v11(&server, "banned-token").await;
    assert_eq!(banned, (403, json!({"code": 401, "error": "banned user"})));
    server.stop().await;
}
on_both!(clients_sign_signs_users_the_hook_allows);

/// Median of `rounds` REST sends, in microseconds.
async fn median_send_us(server: &TestServer, conv: &str, rounds: usize) -> u128 {
    let mut took = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let started = Instant::now();
        server
            .send(
                &format!("/conversations/{conv}"),
                "alice",
                &text(&format!("m{i}")),
            )
            .await;
        took.push(started.elapsed().as_micros());
    }
    took.sort_unstable();
    took[rounds / 2]
}

/// Not a pass/fail test: prints what `_messageReceived` adds to a send, next to the hook's
/// own round trip. `cargo test --release --test hooks added_latency -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn added_latency() {
    let rounds = 300;
    for hooks in ["", "_messageReceived"] {
        let (server, receiver) =
            start(Backend::Sqlite, hooks, |_| {}, answer(|_, _| json!({}))).await;
        let conv = server
            .create_conversation(json!({"name": "g", "m": ["alice", "bob"]}))
            .await;
        median_send_us(&server, &conv, 50).await;
        let send = median_send_us(&server, &conv, rounds).await;
        let mut trips = Vec::new();
        for _ in 0..rounds {
            let started = Instant::now();
            let keys = &server.app;
            let now = tidings::domain::time::now_ms().to_string();
            let sign = format!(
                "{},{now},master",
                tidings::domain::signature::rest_sign(&now, &keys.master_key)
            );
            server
                .http
                .post(format!("{}/1.1/functions/_messageReceived", receiver.url))
                .header("X-LC-Id", &keys.app_id)
                .header("X-LC-Sign", sign)
                .header("X-LC-Hook-Key", HOOK_KEY)
                .json(&json!({"content": "x", "toPeers": ["bob"]}))
                .send()
                .await
                .unwrap();
            trips.push(started.elapsed().as_micros());
        }
        trips.sort_unstable();
        println!(
            "hooks={hooks:?}: median REST send {send} us; hook round trip alone {} us",
            trips[rounds / 2]
        );
        server.stop().await;
    }
}
