//! Clients and their sessions: kick (E43), online check (E41), unread count (E42), stats
//! (E47).
//!
//! Unread counts come from stored positions: the sum over the client's conversations of
//! `last_seq - read_seq`. A client's own WebSocket sends move its read position, so its
//! own messages are not counted; messages sent "from" it over REST are.

use super::json::{Body, Query};
use super::{AppKey, MasterKey};
use crate::app::{clients, sessions};
use crate::domain::client_id;
use crate::error::{code, Error, Result};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

const MAX_REASON_CHARS: usize = 20;
const MAX_CHECK_IDS: usize = 20;

/// Routes under `/1.2/rtm`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/clients/{client_id}/kick", post(kick))
        .route("/clients/check-online", post(check_online))
        .route("/clients/{client_id}/unread-count", get(unread_count))
        .route("/stats", get(stats))
}

#[derive(Deserialize)]
struct KickBody {
    reason: Option<String>,
}

/// E43 POST /clients/{client_id}/kick: every session of the client gets
/// `session closed {code: 4115, reason}`, then its connection closes.
async fn kick(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(client): Path<String>,
    Body(body): Body<KickBody>,
) -> Result<Json<Value>> {
    client_id::validate("client_id", &client)?;
    let reason = body.reason.unwrap_or_else(|| "KICKED_BY_APP".to_owned());
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(Error::invalid(format!(
            "reason is at most {MAX_REASON_CHARS} characters."
        )));
    }
    sessions::kick(&state, &app, &client, reason).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct CheckOnline {
    client_ids: Option<Vec<String>>,
}

/// E41 POST /clients/check-online: `{"results": [online ids]}`.
async fn check_online(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Body(body): Body<CheckOnline>,
) -> Result<Json<Value>> {
    let ids = body.client_ids.ok_or_else(|| {
        Error::bad_request(
            code::MISSING_REQUIRED,
            "Missing required field: client_ids.",
        )
    })?;
    if ids.len() > MAX_CHECK_IDS {
        return Err(Error::invalid(format!(
            "client_ids holds at most {MAX_CHECK_IDS} ids."
        )));
    }
    let online = sessions::online(&state, &app.app_id, &ids);
    Ok(Json(json!({ "results": online })))
}

#[derive(Deserialize)]
struct UnreadQuery {
    conv_id: Option<String>,
}

/// E42 GET /clients/{client_id}/unread-count[?conv_id=]: `{"count": N}` (app key suffices).
async fn unread_count(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    Path(client): Path<String>,
    Query(query): Query<UnreadQuery>,
) -> Result<Json<Value>> {
    client_id::validate("client_id", &client)?;
    let conv = query.conv_id.filter(|c| !c.is_empty());
    let count = clients::unread_count(&state, &app.app_id, &client, conv.as_deref()).await?;
    Ok(Json(json!({ "count": count })))
}

/// E47 GET /stats: clients online now and distinct clients that logged in today (UTC).
async fn stats(State(state): State<AppState>, MasterKey(app): MasterKey) -> Result<Json<Value>> {
    let (online, today) = clients::stats(&state, &app.app_id).await?;
    Ok(Json(json!({"result": {
        "online_user_count": online,
        "user_count_today": today,
    }})))
}
