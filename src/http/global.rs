//! App-wide endpoints: every conversation (E48), every message (E52) and what one client
//! sent (E45).

use super::conversations::{list_kinds, ListQuery};
use super::json::Query;
use super::MasterKey;
use crate::app::history::HistoryScope;
use crate::app::history::{self, HistoryParams};
use crate::app::render;
use crate::domain::client_id;
use crate::domain::conversation::Kind;
use crate::error::Result;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/all-conversations", get(all_conversations))
        .route("/messages", get(all_messages))
        .route("/clients/{client_id}/messages", get(client_messages))
}

/// E48 GET /all-conversations: every kind (temporary conversations are not in the table).
async fn all_conversations(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>> {
    list_kinds(
        &state,
        &app.app_id,
        &[Kind::Normal, Kind::ChatRoom, Kind::Service],
        &query,
    )
    .await
}

/// E52 GET /messages: every message of the app.
async fn all_messages(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Query(params): Query<HistoryParams>,
) -> Result<Json<Value>> {
    let messages = history::history(&state, &app, HistoryScope::App, &params).await?;
    Ok(Json(Value::Array(
        messages.iter().map(render::history_item).collect(),
    )))
}

/// E45 GET /clients/{client_id}/messages: what the client sent in conversations and chat rooms.
async fn client_messages(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(client): Path<String>,
    Query(params): Query<HistoryParams>,
) -> Result<Json<Value>> {
    client_id::validate("client_id", &client)?;
    let messages = history::history(&state, &app, HistoryScope::Sender(&client), &params).await?;
    Ok(Json(Value::Array(
        messages.iter().map(render::history_item).collect(),
    )))
}
