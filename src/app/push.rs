//! Offline push use cases (`docs/push.md`): device registrations (from `session open`,
//! `report/upload` and `/1.1/installations`), who gets a push for a stored message, and
//! the `push` of E35 / E49. Delivery itself is `crate::push` (a persistent queue).

use crate::app::hooks::message::OfflinePush;
use crate::domain::app::App;
use crate::domain::conversation::{Conversation, Kind};
use crate::domain::message::{Message, MessageKind};
use crate::domain::{ids, time};
use crate::error::{code, Error, Result};
use crate::push::device::{platform_of, valid_token};
use crate::push::payload::{self, TemplateInput};
use crate::push::Job;
use crate::state::AppState;
use crate::store::push::Device;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::Arc;

/// A device a client (or an installation) wants pushes on.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub token: String,
    /// `ios`, `android` or `unknown`.
    pub platform: String,
    /// The SDK's `deviceId` (JS, Java: the installation id) or `tag`.
    pub device_id: Option<String>,
    /// `dev` for APNs' sandbox.
    pub profile: Option<String>,
}

/// Whether the app pushes at all (apps without a provider pay nothing for push).
pub fn enabled(app: &App) -> bool {
    app.settings.push.provider().is_some()
}

/// `session open` with a `deviceToken`, or `report/upload` of type `token`: the client's
/// device gets pushes from now on (a changed token replaces the device's old one).
pub async fn register_device(
    state: &AppState,
    app: &App,
    client: &str,
    registration: Registration,
) -> Result<()> {
    if !valid_token(&registration.token) {
        return Err(Error::invalid("deviceToken is not a device token."));
    }
    let device = Device {
        object_id: ids::random_alphanumeric(24),
        token: registration.token,
        platform: registration.platform,
        client_id: Some(client.to_owned()),
        device_id: registration.device_id,
        profile: registration.profile,
    };
    state
        .store
        .save_push_device(&app.app_id, &device, "{}", time::now_ms())
        .await?;
    Ok(())
}

/// `session open` without a token but with a `deviceId`: installations registered over
/// REST with that id are bound to the client (LeanCloud's auto-binding).
pub async fn bind_installation(
    state: &AppState,
    app: &App,
    client: &str,
    device_id: &str,
) -> Result<()> {
    if enabled(app) {
        state
            .store
            .bind_push_device(&app.app_id, device_id, client, time::now_ms())
            .await?;
    }
    Ok(())
}

/// Logout (`session close`): the device (every device of the client when the session had
/// no device id) stops getting the client's pushes.
pub async fn forget_device(
    state: &AppState,
    app: &App,
    client: &str,
    device_id: Option<&str>,
) -> Result<()> {
    state
        .store
        .unbind_push_devices(&app.app_id, client, device_id)
        .await?;
    Ok(())
}

/// What `session open` says about the device.
pub struct LoginDevice<'a> {
    pub token: Option<&'a str>,
    pub device_type: Option<i32>,
    pub user_agent: Option<&'a str>,
    pub device_id: Option<&'a str>,
}

/// After a successful `session open` (in the background: the login is answered already).
/// A `deviceToken` registers the device; without one, a `deviceId` binds the installation.
pub fn after_login(state: &AppState, app: &Arc<App>, client: &str, login: LoginDevice<'_>) {
    let token = login.token.filter(|t| !t.is_empty()).map(str::to_owned);
    let device_id = login.device_id.map(str::to_owned);
    if token.is_none() && (device_id.is_none() || !enabled(app)) {
        return;
    }
    let platform = platform_of(login.device_type, login.user_agent);
    let (state, app, client) = (state.clone(), Arc::clone(app), client.to_owned());
    tokio::spawn(async move {
        let done = match (token, device_id) {
            (Some(token), device_id) => {
                let registration = Registration {
                    token,
                    platform,
                    device_id,
                    profile: None,
                };
                register_device(&state, &app, &client, registration).await
            }
            (None, Some(device_id)) => bind_installation(&state, &app, &client, &device_id).await,
            (None, None) => Ok(()),
        };
        if let Err(e) = done {
            tracing::debug!(app = %app.app_id, error = %e, "device not registered at login");
        }
    });
}

/// `report/upload {type: "token", data}` (Swift, after a token change).
pub fn reported(
    state: &AppState,
    app: &Arc<App>,
    client: &str,
    device_id: Option<&str>,
    kind: Option<&str>,
    data: Option<&str>,
) {
    let (Some("token"), Some(token)) = (kind, data) else {
        return;
    };
    let registration = Registration {
        token: token.to_owned(),
        platform: "ios".to_owned(),
        device_id: device_id.map(str::to_owned),
        profile: None,
    };
    let (state, app, client) = (state.clone(), Arc::clone(app), client.to_owned());
    tokio::spawn(async move {
        if let Err(e) = register_device(&state, &app, &client, registration).await {
            tracing::debug!(app = %app.app_id, error = %e, "reported token not registered");
        }
    });
}

/// After `session close` (logout), in the background.
pub fn after_logout(state: &AppState, app: &Arc<App>, client: &str, device_id: Option<&str>) {
    let (state, app, client) = (state.clone(), Arc::clone(app), client.to_owned());
    let device_id = device_id.map(str::to_owned);
    tokio::spawn(async move {
        if let Err(e) = forget_device(&state, &app, &client, device_id.as_deref()).await {
            tracing::warn!(app = %app.app_id, error = %e, "devices not unbound at logout");
        }
    });
}

/// Whether a send must look for offline recipients: a stored, non-chat-room message of an
/// app that pushes.
pub fn wants_offline_push(app: &App, conv: &Conversation, message: &Message) -> bool {
    enabled(app)
        && conv.kind != Kind::ChatRoom
        && !message.transient
        && matches!(
            message.content.kind,
            MessageKind::Conversation | MessageKind::PerUser
        )
}

/// The offline recipients of `message` as decided (by `_receiversOffline` or by default):
/// one push per registered device, muted members skipped unless `force`.
pub async fn offline_push(
    state: &AppState,
    app: &App,
    conv: &Conversation,
    message: &Message,
    push: OfflinePush,
) -> Result<()> {
    let Some(provider) = app.settings.push.provider() else {
        return Ok(());
    };
    // `find_conversation` does not load mutes: ask for them (only when they matter).
    let mutes = if push.force || conv.kind == Kind::Service {
        Vec::new()
    } else {
        state.store.mutes(&app.app_id, &conv.id).await?
    };
    let muted: HashSet<&String> = mutes.iter().collect();
    let mut peers: Vec<String> = push
        .offline_peers
        .into_iter()
        .filter(|p| !muted.contains(p) && *p != message.content.from_client)
        .collect();
    peers.sort_unstable();
    peers.dedup();
    if peers.is_empty() {
        return Ok(());
    }
    let devices = state.store.push_devices_of(&app.app_id, &peers).await?;
    if devices.is_empty() {
        return Ok(());
    }
    let payload = push
        .push_message
        .as_ref()
        .and_then(payload::from_given)
        .or_else(|| message.content.push_data.as_deref().map(payload::from_text))
        .unwrap_or_else(|| {
            let input = TemplateInput {
                conv_id: &message.conv_id,
                from_client: &message.content.from_client,
                timestamp: message.timestamp,
                data: &message.content.data,
                bin: message.content.bin,
            };
            payload::from_template(app.settings.push.push_template.as_deref(), &input)
        });
    let job = job_for(message, "message", payload, devices);
    state
        .push
        .enqueue(&state.store, &app.app_id, provider, job)
        .await
}

fn job_for(message: &Message, kind: &str, payload: Value, devices: Vec<Device>) -> Job {
    Job {
        conv: message.conv_id.clone(),
        msg: message.msg_id.clone(),
        from: message.content.from_client.clone(),
        timestamp: message.timestamp,
        kind: kind.to_owned(),
        payload,
        devices,
    }
}

/// E35 (`subscribers_only`: the conversation's subscribers) and E49 (every bound device of
/// the app): the broadcast's `push`, online or not, as LeanCloud documents. The broadcast
/// is sent already, so a failure to queue is logged, not answered.
pub async fn broadcast_push(
    state: &AppState,
    app_id: &str,
    message: &Message,
    push: Option<&str>,
    subscribers_only: bool,
) {
    let queued = queue_broadcast(state, app_id, message, push, subscribers_only).await;
    if let Err(e) = queued {
        tracing::warn!(app = %app_id, msg = %message.msg_id, error = %e, "broadcast push not queued");
    }
}

async fn queue_broadcast(
    state: &AppState,
    app_id: &str,
    message: &Message,
    push: Option<&str>,
    subscribers_only: bool,
) -> Result<()> {
    let Some(push) = push else { return Ok(()) };
    let Some(app) = state.apps.get(&state.store, app_id).await? else {
        return Ok(());
    };
    let Some(provider) = app.settings.push.provider() else {
        return Ok(());
    };
    let payload = payload::from_text(push);
    if subscribers_only {
        let devices = state
            .store
            .push_devices_of_subscribers(app_id, &message.conv_id)
            .await?;
        if !devices.is_empty() {
            let job = job_for(message, "subscribers", payload, devices);
            state
                .push
                .enqueue(&state.store, app_id, provider, job)
                .await?;
        }
        return Ok(());
    }
    let page = crate::push::DEVICES_PER_JOB as i64;
    let mut after = String::new();
    loop {
        let devices = state.store.push_devices_page(app_id, &after, page).await?;
        let Some(last) = devices.last() else { break };
        after = last.object_id.clone();
        let full = devices.len() as i64 == page;
        let job = job_for(message, "broadcast", payload.clone(), devices);
        state
            .push
            .enqueue(&state.store, app_id, provider, job)
            .await?;
        if !full {
            break;
        }
    }
    Ok(())
}

/// `POST /1.1/installations` (create, or update the installation holding the token) and
/// `PUT /1.1/installations/{id}`: `deviceType`, `deviceToken` (or, on Android, the
/// `registrationId` / `installationId`), `installationId`, `deviceProfile`; other fields
/// are kept as they came. Answers `(created, body)`.
pub async fn save_installation(
    state: &AppState,
    app: &App,
    object_id: Option<&str>,
    body: Map<String, Value>,
) -> Result<(bool, Value)> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let existing = match object_id {
        Some(id) => Some(
            state
                .store
                .find_push_device(&app.app_id, id)
                .await?
                .ok_or_else(|| {
                    Error::not_found(code::OBJECT_NOT_FOUND, "Could not find installation.")
                })?,
        ),
        None => None,
    };
    let platform = text("deviceType")
        .map(|t| t.to_ascii_lowercase())
        .or_else(|| existing.as_ref().map(|d| d.platform.clone()))
        .unwrap_or_else(|| "unknown".to_owned());
    let installation_id = text("installationId");
    let token = text("deviceToken")
        .or_else(|| text("registrationId"))
        .or_else(|| installation_id.clone())
        .or_else(|| existing.as_ref().map(|d| d.token.clone()))
        .ok_or_else(|| {
            Error::bad_request(code::MISSING_REQUIRED, "deviceToken must be specified.")
        })?;
    if !valid_token(&token) {
        return Err(Error::invalid("deviceToken is not a device token."));
    }
    let new_id = ids::random_alphanumeric(24);
    let device = Device {
        object_id: existing
            .as_ref()
            .map_or(new_id.clone(), |d| d.object_id.clone()),
        token,
        platform,
        client_id: existing.as_ref().and_then(|d| d.client_id.clone()),
        device_id: installation_id.or_else(|| existing.as_ref().and_then(|d| d.device_id.clone())),
        profile: text("deviceProfile")
            .or_else(|| existing.as_ref().and_then(|d| d.profile.clone())),
    };
    if let Some(old) = existing.as_ref().filter(|old| old.token != device.token) {
        state
            .store
            .delete_push_token(&app.app_id, &old.token)
            .await?;
    }
    let extra = Value::Object(body).to_string();
    let now = time::now_ms();
    let saved = state
        .store
        .save_push_device(&app.app_id, &device, &extra, now)
        .await?;
    let stamp = time::iso(now);
    let created = existing.is_none() && saved.object_id == new_id;
    let answer = if created {
        json!({ "objectId": saved.object_id, "createdAt": stamp })
    } else {
        json!({ "objectId": saved.object_id, "updatedAt": stamp })
    };
    Ok((created, answer))
}
