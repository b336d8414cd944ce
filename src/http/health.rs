//! `GET /healthz` (the process is up) and `GET /readyz` (the database answers and the
//! message writer can take a write: 503 otherwise, 200 again once it can).

use crate::error::Result;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Value>> {
    let status = crate::app::clients::ready(&state).await?;
    Ok(Json(json!({"status": status})))
}
