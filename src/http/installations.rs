//! LeanStorage's installations, for apps that register devices that way:
//! `POST /1.1/installations` and `PUT /1.1/installations/{id}` with the app key. An
//! installation is bound to a client when a session opens with its `installationId` as
//! `deviceId` or with its `deviceToken` (`app::push`).

use super::json::Body;
use super::AppKey;
use crate::app::push;
use crate::error::Result;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{post, put};
use axum::{Json, Router};
use serde_json::{Map, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/1.1/installations", post(create))
        .route("/1.1/installations/{id}", put(update))
}

/// POST /1.1/installations: 201 with `objectId`, `createdAt` (200 with `updatedAt` when the
/// token was registered already).
async fn create(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    Body(body): Body<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>)> {
    let (created, answer) = push::save_installation(&state, &app, None, body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(answer)))
}

/// PUT /1.1/installations/{id}: `updatedAt`; 404 (101) for an unknown id.
async fn update(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    Path(id): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>> {
    let (_, answer) = push::save_installation(&state, &app, Some(&id), body).await?;
    Ok(Json(answer))
}
