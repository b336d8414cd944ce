//! What the web console (`src/admin/`) can do: sign in, look at apps, conversations and
//! history, kick a client, send a message or a global broadcast. Each action goes through
//! the same use cases as REST; only sign-in and the read models are the console's own.

use super::conversations::{self, ListParams};
use super::send::{self, SendRequest};
use super::service;
use crate::domain::app::App;
use crate::domain::conversation::{Conversation, Kind};
use crate::domain::message::Message;
use crate::domain::{client_id, signature};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::import::status::ImportStatus;
use crate::store::messages::{HistoryQuery, HistoryScope, Position};
use std::sync::Arc;

/// The console shows every kind of conversation.
pub const ALL_KINDS: &[Kind] = &[Kind::Normal, Kind::Temporary, Kind::ChatRoom, Kind::Service];

/// Messages per history page in the console.
pub const HISTORY_PAGE: i64 = 20;

/// How a console user proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The app's master key.
    MasterKey,
    /// The server-wide admin token from the configuration.
    AdminToken,
}

/// Checks `key` against the app's master key, then the configured admin token. Unknown
/// apps and wrong keys are the same refusal.
pub async fn sign_in(state: &AppState, app_id: &str, key: &str) -> Result<(Arc<App>, Credential)> {
    let app = find_app(state, app_id).await?.ok_or(Error::Unauthorized)?;
    if !key.is_empty() && signature::same(key, &app.master_key) {
        return Ok((app, Credential::MasterKey));
    }
    let token = &state.config.admin_token;
    if !token.is_empty() && signature::same(key, token) {
        return Ok((app, Credential::AdminToken));
    }
    Err(Error::Unauthorized)
}

/// The secret a console session of `app` is signed with: what the user signed in with, so
/// changing the master key (or the admin token) ends the sessions it opened.
pub fn session_secret(state: &AppState, app: &App, credential: Credential) -> Option<String> {
    match credential {
        Credential::MasterKey => Some(app.master_key.clone()),
        Credential::AdminToken => {
            let token = &state.config.admin_token;
            (!token.is_empty()).then(|| token.clone())
        }
    }
}

pub async fn find_app(state: &AppState, app_id: &str) -> Result<Option<Arc<App>>> {
    if app_id.is_empty() || app_id.len() > 64 {
        return Ok(None);
    }
    state.apps.get(&state.store, app_id).await
}

/// An app as the console shows it: secrets masked.
pub struct AppSummary {
    pub app_id: String,
    pub app_key: String,
    pub master_key: String,
    pub settings: Vec<(String, String)>,
}

/// Live numbers of the signed-in app and of the server.
pub struct Counters {
    pub online_clients: usize,
    pub sessions_on_server: usize,
}

pub fn counters(state: &AppState, app: &App) -> Counters {
    Counters {
        online_clients: state.hub.online_count(&app.app_id),
        sessions_on_server: state.hub.session_count(),
    }
}

/// The signed-in app, or every app when signed in with the admin token.
pub async fn apps(state: &AppState, app: &App, credential: Credential) -> Result<Vec<AppSummary>> {
    let apps = match credential {
        Credential::MasterKey => vec![app.clone()],
        Credential::AdminToken => state.store.list_apps().await?,
    };
    Ok(apps.iter().map(summary).collect())
}

fn summary(app: &App) -> AppSummary {
    let settings = serde_json::to_value(&app.settings)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let settings = settings
        .into_iter()
        .map(|(key, value)| {
            let secret = key.contains("secret")
                || crate::push::settings::SECRET_KEYS.contains(&key.as_str());
            let shown = if secret && !value.is_null() {
                mask(value.as_str().unwrap_or_default())
            } else {
                value.to_string()
            };
            (key, shown)
        })
        .collect();
    AppSummary {
        app_id: app.app_id.clone(),
        app_key: mask(&app.app_key),
        master_key: mask(&app.master_key),
        settings,
    }
}

/// The first two characters and the length: enough to tell keys apart, not to use one.
pub fn mask(secret: &str) -> String {
    let shown: String = secret.chars().take(2).collect();
    format!("{shown}… ({} characters)", secret.chars().count())
}

/// Conversations matching `where` (LeanStorage query language), any kind.
pub async fn conversations(
    state: &AppState,
    app: &App,
    where_: &str,
    skip: Option<&str>,
) -> Result<(Vec<Conversation>, Option<i64>)> {
    let params = ListParams::parse(
        Some(where_),
        Some("-updatedAt"),
        skip,
        Some("20"),
        Some("1"),
        None,
    )?;
    conversations::list(state, &app.app_id, ALL_KINDS, &params).await
}

pub async fn conversation(state: &AppState, app: &App, id: &str) -> Result<Conversation> {
    conversations::get(state, &app.app_id, id, ALL_KINDS).await
}

/// One page of history, newest first, after the message `before_id` at `before` (ms), or
/// strictly older than `before` without an id. The
/// console is a master-key door: no history signature.
pub async fn history_page(
    state: &AppState,
    app: &App,
    conv: &str,
    before: Option<i64>,
    before_id: Option<String>,
) -> Result<Vec<Message>> {
    let query = HistoryQuery {
        start: before.map(|timestamp| Position {
            timestamp,
            msg_id: before_id,
        }),
        end: None,
        include_start: false,
        include_end: false,
        newest_first: true,
        limit: HISTORY_PAGE,
    };
    state
        .store
        .history(&app.app_id, HistoryScope::Conversation(conv), &query)
        .await
}

/// Closes every session of `client` with 4115 and voids its earlier tokens: REST E43's
/// use case.
pub async fn kick(state: &AppState, app: &App, client: &str) -> Result<()> {
    client_id::validate("client_id", client)?;
    crate::app::sessions::kick(state, app, client, "KICKED_BY_APP".to_owned()).await
}

/// Sends a text message from `from` to a conversation of any kind but service.
pub async fn send_message(
    state: &AppState,
    app: &App,
    conv: &str,
    from: &str,
    text: &str,
) -> Result<Message> {
    let request = SendRequest::new(
        conv,
        &[Kind::Normal, Kind::Temporary, Kind::ChatRoom],
        from,
        text_message(text),
    );
    let sent = send::send(state, &app.app_id, request).await?;
    Ok((*sent.message).clone())
}

/// A global broadcast (E49) from a service conversation to every client of the app.
pub async fn broadcast(
    state: &AppState,
    app: &App,
    conv: &str,
    from: &str,
    text: &str,
) -> Result<Message> {
    let request = SendRequest::new(conv, service::SERVICE, from, text_message(text));
    let sent = service::global_broadcast(state, &app.app_id, request, None, None).await?;
    Ok((*sent.message).clone())
}

/// The console's text as the SDKs' typed text message, so they show it as a `TextMessage`.
fn text_message(text: &str) -> String {
    serde_json::json!({"_lctype": -1, "_lctext": text}).to_string()
}

/// How far `tidings import` has got for this app (the importer itself runs from the CLI).
pub async fn import_status(state: &AppState, app: &App) -> Result<ImportStatus> {
    state.store.import_status(&app.app_id).await
}
