//! Subscribers' messages to a service conversation (LeanCloud's `_SysMessage`): one-way,
//! to the app, never to the other subscribers. Stored, readable by the admin over REST
//! (`GET /1.2/rtm/service-conversations/{id}/uplink-messages`), and POSTed in batches (a
//! JSON array) to the app's `service_callback_url` when one is set: 5 s timeout, up to 3
//! retries, then given up (logged). Pending messages are rows, so a restart resumes them.

use crate::app::send::SendRequest;
use crate::domain::conversation::Conversation;
use crate::domain::time;
use crate::error::Result;
use crate::state::AppState;
use crate::store::access::SysMessage;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub use crate::store::access::SysMessage as UplinkMessage;

const BATCH: i64 = 100;
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);
const RETRIES: u32 = 3;
/// Pending messages are looked for at least this often (and at once after a store).
const POLL: Duration = Duration::from_secs(5);

/// Wakes the dispatcher when a message is stored.
#[derive(Default)]
pub struct UplinkSignal(Notify);

/// Stores a subscriber's message; the dispatcher hands it to the callback.
pub async fn store(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    request: &SendRequest,
    msg_id: String,
) -> Result<SysMessage> {
    let message = SysMessage {
        conv_id: conv.id.clone(),
        msg_id,
        from_client: request.content.from_client.clone(),
        data: request.content.data.clone(),
        bin: request.content.bin,
        from_ip: request.content.from_ip.clone(),
        timestamp: time::now_ms(),
    };
    let app_settings = state.apps.get(&state.store, app).await?;
    let for_callback = app_settings
        .as_ref()
        .is_some_and(|a| a.settings.service_callback_url.is_some());
    state
        .store
        .insert_sys_message(app, &message, for_callback)
        .await?;
    if for_callback {
        state.uplink.0.notify_one();
    }
    Ok(message)
}

/// The JSON of one uplink message (the REST listing and the callback batches).
pub fn render(message: &SysMessage) -> Value {
    json!({
        "conv-id": message.conv_id,
        "msg-id": message.msg_id,
        "from": message.from_client,
        "data": message.data,
        "bin": message.bin,
        "timestamp": message.timestamp,
        "from-ip": message.from_ip,
    })
}

/// Admin listing, newest first, before `before` (ms).
pub async fn list(
    state: &AppState,
    app: &str,
    conv: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<SysMessage>> {
    state.store.sys_messages(app, conv, before, limit).await
}

/// Runs until shutdown: hands pending messages of every app with a callback to it.
pub fn spawn_dispatcher(state: AppState) {
    let client = reqwest::Client::builder()
        .timeout(CALLBACK_TIMEOUT)
        .build()
        .unwrap_or_default();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                _ = state.uplink.0.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
            if let Err(err) = dispatch_all(&state, &client).await {
                tracing::warn!(error = %err, "service-conversation callbacks not delivered");
            }
        }
    });
}

async fn dispatch_all(state: &AppState, client: &reqwest::Client) -> Result<()> {
    for app in state.store.list_apps().await? {
        let Some(url) = app.settings.service_callback_url.clone() else {
            continue;
        };
        loop {
            let pending = state.store.pending_sys_messages(&app.app_id, BATCH).await?;
            if pending.is_empty() {
                break;
            }
            let delivered = post_batch(client, &url, &app.app_id, &pending).await;
            if !delivered {
                tracing::warn!(app = %app.app_id, count = pending.len(),
                    "service-conversation callback failed after retries; batch dropped");
            }
            let ids: Vec<String> = pending.iter().map(|m| m.msg_id.clone()).collect();
            state
                .store
                .mark_sys_messages_done(&app.app_id, &ids)
                .await?;
            if (pending.len() as i64) < BATCH {
                break;
            }
        }
    }
    Ok(())
}

async fn post_batch(client: &reqwest::Client, url: &str, app: &str, batch: &[SysMessage]) -> bool {
    let body = Value::Array(batch.iter().map(render).collect());
    let body = Arc::new(body);
    for attempt in 0..=RETRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
        let sent = client
            .post(url)
            .header("X-LC-Id", app)
            .json(&*body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => return true,
            Ok(response) => tracing::debug!(status = %response.status(), "callback refused"),
            Err(err) => tracing::debug!(error = %err, "callback unreachable"),
        }
    }
    false
}
