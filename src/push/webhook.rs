//! The app's own push gateway: one `POST {push_webhook_url}` per job with
//! `{"app", "conv", "msg", "from", "timestamp", "kind", "payload", "devices": [...]}`
//! (`docs/push.md`), `X-Tidings-Push-Key` when the app set `push_webhook_key`. A 2xx answer
//! delivers every device; `{"unregistered": [token, ...]}` in it drops those tokens; 408,
//! 429 and 5xx (or no answer) are retried, other statuses give up.

use super::{Job, Outcome, PushService};
use crate::domain::app::App;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Outcome per device, in the order of `job.devices`.
pub async fn send(service: &PushService, app: &App, job: &Job) -> Vec<Outcome> {
    let all = |outcome: Outcome| job.devices.iter().map(|_| outcome.clone()).collect();
    let Some(url) = app.settings.push.push_webhook_url.as_deref() else {
        return all(Outcome::Failed("no push_webhook_url".into()));
    };
    let devices: Vec<Value> = job
        .devices
        .iter()
        .map(|d| {
            json!({
                "client": d.client_id, "token": d.token, "platform": d.platform,
                "device_id": d.device_id, "profile": d.profile,
            })
        })
        .collect();
    let body = json!({
        "app": app.app_id, "conv": job.conv, "msg": job.msg, "from": job.from,
        "timestamp": job.timestamp, "kind": job.kind, "payload": job.payload,
        "devices": devices,
    });
    let mut request = service.http.post(url).timeout(TIMEOUT).json(&body);
    if let Some(key) = app.settings.push.push_webhook_key.as_deref() {
        request = request.header("X-Tidings-Push-Key", key);
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return all(Outcome::Retry(format!("webhook unreachable: {e}"))),
    };
    let status = response.status().as_u16();
    match status {
        200..=299 => {}
        408 | 429 | 500..=599 => return all(Outcome::Retry(format!("webhook answered {status}"))),
        _ => return all(Outcome::Failed(format!("webhook answered {status}"))),
    }
    let answer = response.json::<Value>().await.unwrap_or(Value::Null);
    let gone: HashSet<&str> = answer
        .get("unregistered")
        .and_then(Value::as_array)
        .map(|tokens| tokens.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    job.devices
        .iter()
        .map(|d| {
            if gone.contains(d.token.as_str()) {
                Outcome::Unregistered
            } else {
                Outcome::Sent
            }
        })
        .collect()
}
