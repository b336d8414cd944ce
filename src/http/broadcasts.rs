//! Global broadcasts to every client of the app: send (E49), delete (E50), list (E51).
//! Editing one is E36 on its service conversation.

use super::json::{required, Body, Query};
use super::messages::message_text;
use super::service::push_text;
use super::MasterKey;
use crate::app::send::SendRequest;
use crate::app::service::{self, SERVICE};
use crate::error::{code, Error, Result};
use crate::ratelimit::Family as Quota;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/broadcasts", get(list).post(send))
        .route("/broadcasts/{message_id}", delete(remove))
}

#[derive(Deserialize)]
struct BroadcastBody {
    from_client: Option<String>,
    conv_id: Option<String>,
    message: Option<Value>,
    valid_till: Option<i64>,
    push: Option<Value>,
    transient: Option<bool>,
}

/// E49 POST /broadcasts (broadcast quota: per minute and per day).
async fn send(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Body(body): Body<BroadcastBody>,
) -> Result<Json<Value>> {
    let from = required("from_client", body.from_client)?;
    let conv = required("conv_id", body.conv_id)?;
    let mut request = SendRequest::new(&conv, SERVICE, &from, message_text(body.message)?);
    request.transient = body.transient.unwrap_or(false);
    let push = push_text(body.push)?;
    crate::app::conversations::of_kind(&state, &app.app_id, &conv, SERVICE)
        .await
        .map_err(|_| {
            Error::bad_request(
                code::SYSTEM_CONVERSATION_REQUIRED,
                "conv_id must be a service conversation.",
            )
        })?;
    crate::app::quota::rest(&state, &app, Quota::Broadcast).await?;
    let sent =
        service::global_broadcast(&state, &app.app_id, request, body.valid_till, push).await?;
    Ok(Json(
        json!({"msg-id": sent.message.msg_id, "timestamp": sent.message.timestamp}),
    ))
}

/// E50 DELETE /broadcasts/{message_id}: clients that have not received it never will.
async fn remove(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(message_id): Path<String>,
) -> Result<Json<Value>> {
    if !service::delete_global_broadcast(&state, &app.app_id, &message_id).await? {
        return Err(Error::message_not_found());
    }
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct ListQuery {
    conv_id: Option<String>,
    limit: Option<String>,
    skip: Option<String>,
}

fn number(field: &str, value: Option<&str>, default: i64) -> Result<i64> {
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some(text) => text.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            Error::bad_request(
                code::INVALID_TYPE,
                format!("{field} must be a non-negative integer."),
            )
        }),
    }
}

/// E51 GET /broadcasts?conv_id=&limit=&skip=: the broadcasts still valid, newest first.
async fn list(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>> {
    let conv = required("conv_id", query.conv_id)?;
    let limit = number("limit", query.limit.as_deref(), 100)?.min(1000);
    let skip = number("skip", query.skip.as_deref(), 0)?;
    let found = service::valid_global_broadcasts(&state, &app.app_id, &conv, skip, limit).await?;
    let items: Vec<Value> = found
        .iter()
        .map(|b| {
            json!({
                "msg-id": b.msg_id,
                "conv-id": b.conv_id,
                "from": b.from_client,
                "data": b.data,
                "timestamp": b.timestamp,
                "valid_till": b.valid_till,
                "push": b.push.as_deref().and_then(|p| serde_json::from_str::<Value>(p).ok().or(Some(Value::String(p.to_owned())))),
            })
        })
        .collect();
    Ok(Json(Value::Array(items)))
}
