//! Members and mutes of conversations (E05-E10) and chat-room presence (E20, E21).

use super::json::Body;
use super::{ChatRooms, Conversations, Family, MasterKey};
use crate::app::{conversations, membership};
use crate::domain::time::iso;
use crate::error::Result;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/conversations/{id}/members",
            get(list_members).post(add_members).delete(remove_members),
        )
        .route(
            "/conversations/{id}/mutes",
            get(list_mutes).post(add_mutes).delete(remove_mutes),
        )
        .route("/chatrooms/{id}/members", get(chat_room_members))
        .route(
            "/chatrooms/{id}/members/online-count",
            get(chat_room_online_count),
        )
}

#[derive(Deserialize)]
struct ClientIds {
    client_ids: Option<Vec<String>>,
}

impl ClientIds {
    fn ids(self) -> Result<Vec<String>> {
        let ids = self.client_ids.unwrap_or_default();
        membership::check_client_ids("client_ids", &ids)?;
        Ok(ids)
    }
}

fn updated(updated_at: i64, id: &str) -> Json<Value> {
    Json(json!({"updatedAt": iso(updated_at), "objectId": id}))
}

/// E05 POST /conversations/{id}/members
async fn add_members(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<ClientIds>,
) -> Result<Json<Value>> {
    change_members(&state, &app.app_id, &id, body, true).await
}

/// E06 DELETE /conversations/{id}/members
async fn remove_members(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<ClientIds>,
) -> Result<Json<Value>> {
    change_members(&state, &app.app_id, &id, body, false).await
}

async fn change_members(
    state: &AppState,
    app: &str,
    id: &str,
    body: ClientIds,
    add: bool,
) -> Result<Json<Value>> {
    let ids = body.ids()?;
    let conv = crate::app::conversations::of_kind(state, app, id, Conversations::KINDS).await?;
    if !add {
        let at = membership::remove_members(state, app, &conv, &ids, "").await?;
        return Ok(updated(at, id));
    }
    let added = membership::add_members(state, app, &conv, &ids, "").await?;
    let mut body = updated(added.updated_at, id);
    if !added.refused.is_empty() {
        // Clients that blocked the conversation themselves are not added; named as the
        // WebSocket `failedPids` name them.
        body["failedPids"] = json!([{
            "code": crate::error::code::BLOCKED_BY_CONV,
            "reason": "BLOCKED_BY_CONV",
            "pids": added.refused,
        }]);
    }
    Ok(body)
}

/// E07 GET /conversations/{id}/members
async fn list_members(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let conv = conversations::get(&state, &app.app_id, &id, Conversations::KINDS).await?;
    Ok(Json(json!({"result": conv.members})))
}

/// E08 POST /conversations/{id}/mutes
async fn add_mutes(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<ClientIds>,
) -> Result<Json<Value>> {
    set_mutes(state, &app.app_id, &id, body, true).await
}

/// E09 DELETE /conversations/{id}/mutes
async fn remove_mutes(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<ClientIds>,
) -> Result<Json<Value>> {
    set_mutes(state, &app.app_id, &id, body, false).await
}

async fn set_mutes(
    state: AppState,
    app: &str,
    id: &str,
    body: ClientIds,
    mute: bool,
) -> Result<Json<Value>> {
    let ids = body.ids()?;
    let conv = crate::app::conversations::of_kind(&state, app, id, Conversations::KINDS).await?;
    let at = membership::set_mutes(&state, app, &conv, &ids, mute).await?;
    Ok(updated(at, id))
}

/// E10 GET /conversations/{id}/mutes
async fn list_mutes(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let conv = conversations::get(&state, &app.app_id, &id, Conversations::KINDS).await?;
    Ok(Json(json!({"result": conv.mutes})))
}

/// Online members LeanCloud samples for E20 (its v1.1 doc: at most 50).
const CHAT_ROOM_SAMPLE: usize = 50;

/// E20 GET /chatrooms/{id}/members: a sample of the online members.
async fn chat_room_members(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    crate::app::conversations::of_kind(&state, &app.app_id, &id, ChatRooms::KINDS).await?;
    let mut online = state.hub.chat_room_members(&app.app_id, &id);
    online.truncate(CHAT_ROOM_SAMPLE);
    Ok(Json(json!({"result": online})))
}

/// E21 GET /chatrooms/{id}/members/online-count
async fn chat_room_online_count(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    crate::app::conversations::of_kind(&state, &app.app_id, &id, ChatRooms::KINDS).await?;
    let count = state.hub.chat_room_members(&app.app_id, &id).len();
    Ok(Json(json!({"result": count})))
}
