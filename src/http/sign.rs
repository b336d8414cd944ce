//! E46 `GET /1.2/rtm/clients/sign?session_token=` and `POST /1.1/rtm/sign` (what
//! `createIMClient(AV.User)` calls): a login signature for a LeanStorage user.

use super::json::{Body, Query};
use super::AppKey;
use crate::app::client_sign;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

/// Under `/1.2/rtm`.
pub fn router() -> Router<AppState> {
    Router::new().route("/clients/sign", get(sign_v12))
}

/// At the root: the v1.1 path.
pub fn sdk_router() -> Router<AppState> {
    Router::new().route("/1.1/rtm/sign", post(sign_v11))
}

#[derive(Deserialize)]
struct SignParams {
    session_token: Option<String>,
}

async fn sign_v12(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    Query(params): Query<SignParams>,
) -> crate::error::Result<Json<client_sign::ClientSignature>> {
    let token = params.session_token.unwrap_or_default();
    Ok(Json(client_sign::sign(&state, &app, &token).await?))
}

async fn sign_v11(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    Body(params): Body<SignParams>,
) -> crate::error::Result<Json<client_sign::ClientSignature>> {
    let token = params.session_token.unwrap_or_default();
    Ok(Json(client_sign::sign(&state, &app, &token).await?))
}
