//! Messages of conversations and chat rooms: send (E11, E22), history (E12, E23), edit
//! (E13, E24), recall (E14, E25) and delete (E15, E26).

use super::json::{required, Body, Query};
use super::{Family, MasterKey};
use crate::app::history::HistoryScope;
use crate::app::history::{self, HistoryParams};
use crate::app::patch::{self, MessageRef};
use crate::app::render;
use crate::app::send::{self, SendRequest};
use crate::domain::conversation::Kind;
use crate::domain::message::Priority;
use crate::error::{code, Error, Result};
use crate::ratelimit::Family as Quota;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router<F: Family>(base: &str) -> Router<AppState> {
    Router::new()
        .route(
            &format!("{base}/{{id}}/messages"),
            get(list::<F>).post(send_message::<F>),
        )
        .route(
            &format!("{base}/{{id}}/messages/{{message_id}}"),
            put(edit::<F>).delete(delete::<F>),
        )
        .route(
            &format!("{base}/{{id}}/messages/{{message_id}}/recall"),
            put(recall::<F>),
        )
}

#[derive(Deserialize)]
pub(super) struct SendBody {
    from_client: Option<String>,
    message: Option<Value>,
    transient: Option<bool>,
    no_sync: Option<bool>,
    push_data: Option<Value>,
    priority: Option<String>,
    mention_all: Option<bool>,
    mention_client_ids: Option<Vec<String>>,
}

/// `message` is a string; an object is accepted and stored as its JSON text.
pub(super) fn message_text(value: Option<Value>) -> Result<String> {
    match value {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(Value::Object(map)) => Ok(Value::Object(map).to_string()),
        None | Some(Value::Null) | Some(Value::String(_)) => Err(Error::bad_request(
            code::MISSING_REQUIRED,
            "Missing required field: message.",
        )),
        Some(_) => Err(Error::bad_request(
            code::INVALID_TYPE,
            "message must be a string.",
        )),
    }
}

impl SendBody {
    pub(super) fn into_request(self, conv_id: &str, kinds: &'static [Kind]) -> Result<SendRequest> {
        let from_client = required("from_client", self.from_client)?;
        let mut request =
            SendRequest::new(conv_id, kinds, &from_client, message_text(self.message)?);
        request.transient = self.transient.unwrap_or(false);
        // Chat rooms never echo to the sender's own devices.
        request.content.no_sync = self.no_sync.unwrap_or(false) || kinds.contains(&Kind::ChatRoom);
        request.content.push_data = match self.push_data {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text),
            Some(value @ Value::Object(_)) => Some(value.to_string()),
            Some(_) => {
                return Err(Error::bad_request(
                    code::INVALID_TYPE,
                    "push_data must be an object.",
                ))
            }
        };
        request.content.priority = match &self.priority {
            Some(p) => Priority::parse(p)?,
            None => Priority::Normal,
        };
        request.content.mention_all = self.mention_all.unwrap_or(false);
        request.content.mention_pids = self.mention_client_ids.unwrap_or_default();
        Ok(request)
    }
}

/// E11 / E22 POST `{family}/{id}/messages`: answered once the message is stored.
async fn send_message<F: Family>(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<SendBody>,
) -> Result<Json<Value>> {
    let request = body.into_request(&id, F::KINDS)?;
    crate::app::quota::rest(&state, &app, Quota::Messages).await?;
    let sent = send::send(&state, &app.app_id, request).await?;
    Ok(Json(
        json!({"msg-id": sent.message.msg_id, "timestamp": sent.message.timestamp}),
    ))
}

/// E12 / E23 GET `{family}/{id}/messages`
async fn list<F: Family>(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Query(params): Query<HistoryParams>,
) -> Result<Json<Value>> {
    crate::app::conversations::of_kind(&state, &app.app_id, &id, F::KINDS).await?;
    let messages = history::history(&state, &app, HistoryScope::Conversation(&id), &params).await?;
    Ok(Json(Value::Array(
        messages.iter().map(render::history_item).collect(),
    )))
}

#[derive(Deserialize)]
pub(super) struct PatchBody {
    from_client: Option<String>,
    message: Option<Value>,
    timestamp: Option<Value>,
}

/// `timestamp` as a number or a numeric string.
pub(super) fn timestamp_field(value: Option<Value>) -> Result<i64> {
    match value {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| Error::bad_request(code::INVALID_TYPE, "timestamp must be an integer.")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| Error::bad_request(code::INVALID_TYPE, "timestamp must be an integer.")),
        None | Some(Value::Null) => Err(Error::bad_request(
            code::MISSING_REQUIRED,
            "Missing required field: timestamp.",
        )),
        Some(_) => Err(Error::bad_request(
            code::INVALID_TYPE,
            "timestamp must be an integer.",
        )),
    }
}

pub(super) fn message_ref(
    conv_id: String,
    msg_id: String,
    from_client: Option<String>,
    timestamp: Option<Value>,
) -> Result<MessageRef> {
    Ok(MessageRef {
        conv_id,
        msg_id,
        from_client: required("from_client", from_client)?,
        timestamp: timestamp_field(timestamp)?,
    })
}

/// E13 / E24 PUT `{family}/{id}/messages/{message_id}`
async fn edit<F: Family>(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path((id, message_id)): Path<(String, String)>,
    Body(body): Body<PatchBody>,
) -> Result<Json<Value>> {
    let data = message_text(body.message)?;
    let target = message_ref(id, message_id, body.from_client, body.timestamp)?;
    crate::app::quota::rest(&state, &app, Quota::Messages).await?;
    patch::patch(&state, &app.app_id, F::KINDS, &target, Some(data), false).await?;
    Ok(Json(json!({})))
}

/// E14 / E25 PUT `{family}/{id}/messages/{message_id}/recall`
async fn recall<F: Family>(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path((id, message_id)): Path<(String, String)>,
    Body(body): Body<PatchBody>,
) -> Result<Json<Value>> {
    let target = message_ref(id, message_id, body.from_client, body.timestamp)?;
    crate::app::quota::rest(&state, &app, Quota::Messages).await?;
    patch::patch(&state, &app.app_id, F::KINDS, &target, None, false).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub(super) struct DeleteQuery {
    from_client: Option<String>,
    timestamp: Option<String>,
}

impl DeleteQuery {
    pub(super) fn into_parts(self) -> (Option<String>, Option<String>) {
        (self.from_client, self.timestamp)
    }
}

/// E15 / E26 DELETE `{family}/{id}/messages/{message_id}?from_client=&timestamp=`
async fn delete<F: Family>(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path((id, message_id)): Path<(String, String)>,
    Query(query): Query<DeleteQuery>,
) -> Result<Json<Value>> {
    let target = message_ref(
        id,
        message_id,
        query.from_client,
        query.timestamp.map(Value::String),
    )?;
    patch::delete(&state, &app.app_id, F::KINDS, &target).await?;
    Ok(Json(json!({})))
}
