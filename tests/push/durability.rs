//! A provider that is down for a while: the push waits in the queue (across a restart) and
//! is delivered once when the provider is back.

use super::standins;
use super::{offline_with_token, text, tokens, with_webhook};
use crate::rest::harness::Backend;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

async fn outage_then_restart_delivers_once(backend: Backend) {
    let hook = standins::webhook().await;
    let mut server = with_webhook(backend, &hook, |_| {}).await;
    let conv = server
        .create_conversation(json!({"name": "g", "m": ["alice", "bob"]}))
        .await;
    offline_with_token(&server, "bob", "b0b0").await;
    hook.status.store(503, Ordering::SeqCst);
    let sent = server
        .send(
            &format!("/conversations/{conv}"),
            "alice",
            &text("while down"),
        )
        .await;
    // A few failed attempts (100, 200, 400 ms ...), then a restart while still down.
    tokio::time::sleep(Duration::from_millis(900)).await;
    server.restart().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(hook.bodies("/push").is_empty());
    hook.status.store(200, Ordering::SeqCst);
    let calls = hook.wait_for("/push", 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.bodies("/push").len(), 1, "delivered exactly once");
    assert_eq!(calls[0]["msg"], sent.msg_id.as_str());
    assert_eq!(tokens(&calls[0]), ["b0b0"]);
    server.stop().await;
}
on_both!(outage_then_restart_delivers_once);
