//! LeanEngine-compatible hooks: the app's own cloud functions, called the way LeanCloud's
//! realtime server called them (`docs/hooks.md`). `POST {hook_url}/1.1/functions/<name>`
//! with `X-LC-Id`, a master `X-LC-Sign` and `X-LC-Hook-Key`; the answer is
//! `{"result": ...}`. Blocking hooks ([`ask`]) sit inside the use cases and have a short
//! timeout; the others ([`notify`]) run in the background with retries. A failed call
//! (timeout, refused, unreachable) is ignored unless the app's `hook_failure_policy` is
//! `reject`.

pub mod conversation;
pub mod message;
pub mod presence;

use crate::domain::app::App;
use crate::domain::signature::rest_sign;
use crate::domain::time;
use crate::error::{code, Error, Result};
use crate::state::AppState;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Calls in flight per app; more wait for a permit (within the call's timeout).
const CONCURRENCY_PER_APP: usize = 64;
const BLOCKING_TIMEOUT: Duration = Duration::from_millis(3000);
const BACKGROUND_TIMEOUT: Duration = Duration::from_millis(10_000);
/// Background hooks are tried this many more times after a failure.
const BACKGROUND_RETRIES: u32 = 2;

/// Every hook of `rest-semantics.md` section 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    MessageReceived,
    MessageSent,
    MessageUpdate,
    ReceiversOffline,
    ConversationStart,
    ConversationStarted,
    ConversationAdd,
    ConversationAdded,
    ConversationRemove,
    ConversationRemoved,
    ConversationUpdate,
    ClientOnline,
    ClientOffline,
    RtmClientSign,
}

impl Hook {
    pub fn name(self) -> &'static str {
        match self {
            Hook::MessageReceived => "_messageReceived",
            Hook::MessageSent => "_messageSent",
            Hook::MessageUpdate => "_messageUpdate",
            Hook::ReceiversOffline => "_receiversOffline",
            Hook::ConversationStart => "_conversationStart",
            Hook::ConversationStarted => "_conversationStarted",
            Hook::ConversationAdd => "_conversationAdd",
            Hook::ConversationAdded => "_conversationAdded",
            Hook::ConversationRemove => "_conversationRemove",
            Hook::ConversationRemoved => "_conversationRemoved",
            Hook::ConversationUpdate => "_conversationUpdate",
            Hook::ClientOnline => "_clientOnline",
            Hook::ClientOffline => "_clientOffline",
            Hook::RtmClientSign => "_rtmClientSign",
        }
    }

    /// The code a client sees when this hook refuses (or fails under `reject`).
    pub fn rejection_code(self) -> i64 {
        match self {
            Hook::MessageReceived => code::MESSAGE_REJECTED_BY_APP,
            Hook::MessageUpdate => code::MESSAGE_UPDATE_REJECTED_BY_APP,
            Hook::RtmClientSign => code::UNAUTHORIZED,
            _ => code::CONVERSATION_REJECTED_BY_APP,
        }
    }
}

/// The shared HTTP client (connection reuse) and the per-app concurrency bounds.
#[derive(Default)]
pub struct Hooks {
    http: reqwest::Client,
    permits: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Hooks {
    /// The shared client (also used for the user service of `clients/sign`).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn permits(&self, app: &str) -> Arc<Semaphore> {
        let mut map = match self.permits.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(
            map.entry(app.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(CONCURRENCY_PER_APP))),
        )
    }
}

/// Whether the app defined `hook` (a hook URL and the name in `hooks`, or `all`).
pub fn defined(app: &App, hook: Hook) -> bool {
    let settings = &app.settings;
    settings.hook_url.is_some()
        && settings
            .hooks
            .split(',')
            .map(str::trim)
            .any(|name| name == "all" || name == hook.name())
}

fn timeout(app: &App, blocking: bool) -> Duration {
    match app.settings.hook_timeout_ms {
        0 if blocking => BLOCKING_TIMEOUT,
        0 => BACKGROUND_TIMEOUT,
        ms => Duration::from_millis(ms),
    }
}

fn rejects_on_failure(app: &App) -> bool {
    app.settings
        .hook_failure_policy
        .eq_ignore_ascii_case("reject")
}

/// Calls a blocking hook: `Ok(None)` when the app did not define it or the call failed
/// under the `ignore` policy, `Ok(Some(result))` with the function's `result`.
pub async fn ask(state: &AppState, app: &App, hook: Hook, params: Value) -> Result<Option<Value>> {
    if !defined(app, hook) {
        return Ok(None);
    }
    match call(state, app, hook, &params, timeout(app, true)).await {
        Ok(result) => Ok(Some(result)),
        Err(failure) => {
            tracing::warn!(app = %app.app_id, hook = hook.name(), %failure, "hook failed");
            if rejects_on_failure(app) {
                Err(Error::forbidden(
                    hook.rejection_code(),
                    format!("The app's {} hook failed.", hook.name()),
                ))
            } else {
                Ok(None)
            }
        }
    }
}

/// Calls a non-blocking hook in the background, with retries; its result is ignored.
pub fn notify(state: &AppState, app: &Arc<App>, hook: Hook, params: Value) {
    if !defined(app, hook) {
        return;
    }
    let state = state.clone();
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let _ = call_with_retries(&state, &app, hook, &params).await;
    });
}

/// A background call whose result matters (`_receiversOffline`): retried, never an error.
pub async fn call_with_retries(
    state: &AppState,
    app: &App,
    hook: Hook,
    params: &Value,
) -> Option<Value> {
    for attempt in 0..=BACKGROUND_RETRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
        match call(state, app, hook, params, timeout(app, false)).await {
            Ok(result) => return Some(result),
            Err(failure) => {
                tracing::debug!(app = %app.app_id, hook = hook.name(), %failure, attempt, "hook failed")
            }
        }
    }
    tracing::warn!(app = %app.app_id, hook = hook.name(), "hook failed after retries");
    None
}

/// Why a hook call did not answer with a result.
#[derive(Debug)]
pub enum Failure {
    /// The function answered with an error status (a thrown `AV.Cloud.Error`, 401...).
    Refused { status: u16, error: Option<String> },
    /// Timeout, unreachable, or not JSON.
    Unanswered(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused { status, error } => {
                write!(f, "status {status}: {}", error.as_deref().unwrap_or("-"))
            }
            Failure::Unanswered(why) => f.write_str(why),
        }
    }
}

/// A blocking call with the failure itself, for callers that read a refusal
/// (`_rtmClientSign` denies by throwing); `ask` is the usual entry.
pub async fn call_blocking(
    state: &AppState,
    app: &App,
    hook: Hook,
    params: &Value,
) -> Result<Value, Failure> {
    call(state, app, hook, params, timeout(app, true)).await
}

/// Whether failed calls refuse the action (`hook_failure_policy = reject`).
pub fn failure_rejects(app: &App) -> bool {
    rejects_on_failure(app)
}

/// One signed POST, bounded by `limit` including the wait for a concurrency permit.
/// Answers the function's `result`.
async fn call(
    state: &AppState,
    app: &App,
    hook: Hook,
    params: &Value,
    limit: Duration,
) -> Result<Value, Failure> {
    let unanswered = |e: &dyn std::fmt::Display| Failure::Unanswered(e.to_string());
    let base = app.settings.hook_url.as_deref().unwrap_or_default();
    let url = format!(
        "{}/1.1/functions/{}",
        base.trim_end_matches('/'),
        hook.name()
    );
    let permits = state.hooks.permits(&app.app_id);
    let attempt = async {
        let _permit = permits.acquire().await.map_err(|e| unanswered(&e))?;
        let now = time::now_ms().to_string();
        let sign = format!("{},{now},master", rest_sign(&now, &app.master_key));
        let response = state
            .hooks
            .http
            .post(&url)
            .header("X-LC-Id", &app.app_id)
            .header("X-LC-Sign", sign)
            .header(
                "X-LC-Hook-Key",
                app.settings.hook_key.as_deref().unwrap_or_default(),
            )
            .json(params)
            .send()
            .await
            .map_err(|e| unanswered(&e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let error = body.get("error").and_then(Value::as_str).map(str::to_owned);
            return Err(Failure::Refused {
                status: status.as_u16(),
                error,
            });
        }
        Ok(body.get("result").cloned().unwrap_or(Value::Null))
    };
    tokio::time::timeout(limit, attempt)
        .await
        .map_err(|_| Failure::Unanswered(format!("no answer within {} ms", limit.as_millis())))?
}

/// JavaScript truthiness of a result field (LeanEngine apps return `drop: 1`, `"yes"`...).
pub fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// The refusal in a hook's result (`drop` for messages, `reject` for conversations), as
/// the error the client sees, with the app's `code`/`detail` in the message.
pub fn refusal(hook: Hook, result: &Value, flag: &str) -> Option<Error> {
    if !truthy(result.get(flag)) {
        return None;
    }
    let detail = result
        .get("detail")
        .and_then(Value::as_str)
        .unwrap_or("Rejected by the app.");
    let message = match result.get("code").and_then(Value::as_i64) {
        Some(app_code) => format!("{detail} (app code {app_code})"),
        None => detail.to_owned(),
    };
    Some(Error::forbidden(hook.rejection_code(), message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_follows_javascript() {
        assert!(truthy(Some(&json!(true))));
        assert!(truthy(Some(&json!(1))));
        assert!(truthy(Some(&json!("x"))));
        assert!(!truthy(Some(&json!(0))));
        assert!(!truthy(Some(&json!(""))));
        assert!(!truthy(None));
    }

    #[test]
    fn refusal_carries_the_hook_code() {
        let err = refusal(
            Hook::MessageReceived,
            &json!({"drop": true, "code": 7, "detail": "spam"}),
            "drop",
        );
        let err = err.map(|e| (e.code(), e.to_string()));
        assert_eq!(err, Some((4402, "spam (app code 7)".to_owned())));
        assert!(refusal(Hook::ConversationStart, &json!({}), "reject").is_none());
    }
}
