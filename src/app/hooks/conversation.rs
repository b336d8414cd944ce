//! Conversation hooks: `_conversationStart` / `_conversationUpdate` (client door, blocking),
//! `_conversationAdd` / `_conversationRemove` (every door into the membership use cases,
//! blocking) and their non-blocking `...ed` twins.

use super::{ask, defined, notify, refusal, Hook};
use crate::domain::app::App;
use crate::error::Result;
use crate::state::AppState;
use serde_json::{json, Map, Value};
use std::sync::Arc;

async fn app_with(state: &AppState, app: &str, hook: Hook) -> Result<Option<Arc<App>>> {
    Ok(state
        .apps
        .get(&state.store, app)
        .await?
        .filter(|a| defined(a, hook)))
}

/// `_conversationStart` before a client creates a conversation: may refuse (4305).
pub async fn start(
    state: &AppState,
    app: &App,
    init_by: &str,
    members: &[String],
    name: Option<&str>,
    attrs: &Map<String, Value>,
) -> Result<()> {
    if !defined(app, Hook::ConversationStart) {
        return Ok(());
    }
    let mut attr = attrs.clone();
    if let Some(name) = name {
        attr.insert("name".to_owned(), json!(name));
    }
    let params = json!({ "initBy": init_by, "members": members, "attr": attr });
    match ask(state, app, Hook::ConversationStart, params).await? {
        Some(result) => refusal(Hook::ConversationStart, &result, "reject").map_or(Ok(()), Err),
        None => Ok(()),
    }
}

/// `_conversationStarted` after a creation.
pub fn started(state: &AppState, app: &Arc<App>, conv_id: &str) {
    notify(
        state,
        app,
        Hook::ConversationStarted,
        json!({ "convId": conv_id }),
    );
}

/// `_conversationUpdate` for an attribute change; returns the attributes to apply.
pub async fn update_attr(
    state: &AppState,
    app: &App,
    init_by: &str,
    conv_id: &str,
    attr: Map<String, Value>,
) -> Result<Map<String, Value>> {
    match update(
        state,
        app,
        init_by,
        conv_id,
        UpdateChange::Attr(attr.clone()),
    )
    .await?
    {
        UpdateChange::Attr(rewritten) => Ok(rewritten),
        UpdateChange::Mute(_) => Ok(attr),
    }
}

/// `_conversationUpdate` for a mute toggle; returns whether to mute.
pub async fn update_mute(
    state: &AppState,
    app: &App,
    init_by: &str,
    conv_id: &str,
    on: bool,
) -> Result<bool> {
    match update(state, app, init_by, conv_id, UpdateChange::Mute(on)).await? {
        UpdateChange::Mute(rewritten) => Ok(rewritten),
        UpdateChange::Attr(_) => Ok(on),
    }
}

/// What a client's update becomes after `_conversationUpdate`.
enum UpdateChange {
    Attr(Map<String, Value>),
    Mute(bool),
}

/// `_conversationUpdate` before an attribute change or a mute toggle: may refuse (4305)
/// or rewrite the same one of `attr` / `mute`.
async fn update(
    state: &AppState,
    app: &App,
    init_by: &str,
    conv_id: &str,
    change: UpdateChange,
) -> Result<UpdateChange> {
    if !defined(app, Hook::ConversationUpdate) {
        return Ok(change);
    }
    let params = match &change {
        UpdateChange::Attr(attr) => json!({ "initBy": init_by, "convId": conv_id, "attr": attr }),
        UpdateChange::Mute(on) => json!({ "initBy": init_by, "convId": conv_id, "mute": on }),
    };
    let Some(result) = ask(state, app, Hook::ConversationUpdate, params).await? else {
        return Ok(change);
    };
    if let Some(refused) = refusal(Hook::ConversationUpdate, &result, "reject") {
        return Err(refused);
    }
    Ok(match change {
        UpdateChange::Attr(attr) => UpdateChange::Attr(
            result
                .get("attr")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or(attr),
        ),
        UpdateChange::Mute(on) => {
            UpdateChange::Mute(result.get("mute").and_then(Value::as_bool).unwrap_or(on))
        }
    })
}

/// `_conversationAdd` (joins and invites) or `_conversationRemove` (removing others; not
/// fired when a client leaves by itself): may refuse (4305).
pub async fn before_change(
    state: &AppState,
    app: &str,
    conv_id: &str,
    init_by: &str,
    members: &[String],
    adding: bool,
) -> Result<()> {
    let hook = if adding {
        Hook::ConversationAdd
    } else {
        Hook::ConversationRemove
    };
    if !adding && members.iter().all(|m| m == init_by) {
        return Ok(());
    }
    let Some(app) = app_with(state, app, hook).await? else {
        return Ok(());
    };
    let params = json!({ "initBy": init_by, "members": members, "convId": conv_id });
    match ask(state, &app, hook, params).await? {
        Some(result) => refusal(hook, &result, "reject").map_or(Ok(()), Err),
        None => Ok(()),
    }
}

/// `_conversationAdded` / `_conversationRemoved` after the change.
pub async fn after_change(
    state: &AppState,
    app: &str,
    conv_id: &str,
    init_by: &str,
    members: &[String],
    adding: bool,
) -> Result<()> {
    let hook = if adding {
        Hook::ConversationAdded
    } else {
        Hook::ConversationRemoved
    };
    if members.is_empty() {
        return Ok(());
    }
    if let Some(app) = app_with(state, app, hook).await? {
        let params = json!({ "initBy": init_by, "convId": conv_id, "members": members });
        notify(state, &app, hook, params);
    }
    Ok(())
}
