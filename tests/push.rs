//! Offline push (issue 16) against the real server, on SQLite and Postgres: registrations
//! from `session open` / `report` / `/1.1/installations`, who gets a push (offline members
//! with a token, not online or muted ones unless a hook forces), `_receiversOffline` skip
//! and rewrite, E35 / E49 `push`, the APNs and FCM clients against HTTP/2 stand-ins that
//! check what Apple and Google require, and a webhook outage across a restart.
//!
//! Run: `cargo test --test push`.

#![allow(clippy::unwrap_used)]

#[macro_use]
#[allow(unused_macros, dead_code)]
#[path = "rest/harness.rs"]
pub mod harness;
/// The harness's macros name `crate::rest::harness`.
mod rest {
    pub use super::harness;
}
#[allow(dead_code)]
#[path = "hooks/receiver.rs"]
mod receiver;
#[path = "push/standins.rs"]
mod standins;
#[allow(dead_code)]
#[path = "push/ws.rs"]
mod ws;
/// Scenario `name(backend)` on both stores.
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::logs();
                super::$name(crate::rest::harness::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::logs();
                super::$name(crate::rest::harness::Backend::Postgres).await;
            }
        }
    };
}

#[path = "push/durability.rs"]
mod durability;
#[path = "push/offline.rs"]
mod offline;
#[path = "push/providers.rs"]
mod providers;

use rest::harness::{Backend, TestServer};
use serde_json::{json, Value};
use standins::Recorder;
use std::time::Duration;
use ws::Ws;

/// Server logs in the test output, filtered by `RUST_LOG` (default `warn`).
pub fn logs() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(filter)
        .try_init();
}

/// A server whose app pushes through `webhook`, retrying fast.
pub async fn with_webhook(
    backend: Backend,
    webhook: &Recorder,
    tweak: impl FnOnce(&mut rest::harness::Setup),
) -> TestServer {
    let url = webhook.url.clone();
    TestServer::start(backend, |setup| {
        setup.config.push_retry_base_ms = 100;
        setup.settings.push.push_provider = "webhook".into();
        setup.settings.push.push_webhook_url = Some(url);
        setup.settings.push.push_webhook_key = Some(standins::WEBHOOK_KEY.into());
        tweak(setup);
    })
    .await
}

/// Logs `client` in with `token` (as Swift does) and leaves without logging out: the client
/// is offline with a registered device.
pub async fn offline_with_token(server: &TestServer, client: &str, token: &str) {
    let ws = Ws::login(
        &server.base_url,
        &server.app.app_id,
        client,
        ws::swift_session(token),
    )
    .await;
    registered().await;
    ws.disconnect().await;
}

/// Registrations are written in the background after the login answer.
pub async fn registered() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// A text message as the SDKs send it.
pub fn text(message: &str) -> String {
    json!({"_lctype": -1, "_lctext": message}).to_string()
}

/// The tokens of a webhook call, sorted.
pub fn tokens(call: &Value) -> Vec<String> {
    let mut tokens: Vec<String> = call["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["token"].as_str().unwrap().to_owned())
        .collect();
    tokens.sort();
    tokens
}

/// POST or PUT on `/1.1/installations[/{id}]` with the app key (or `key`).
pub async fn installation(
    server: &TestServer,
    method: reqwest::Method,
    id: Option<&str>,
    key: &str,
    body: Value,
) -> (u16, Value) {
    let path = match id {
        Some(id) => format!("{}/1.1/installations/{id}", server.base_url),
        None => format!("{}/1.1/installations", server.base_url),
    };
    let response = server
        .http
        .request(method, path)
        .header("X-LC-Id", &server.app.app_id)
        .header("X-LC-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
