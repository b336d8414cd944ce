//! Agora-RTM-compatible server messaging (A01 peer messages, A02 channel messages) under
//! `/dev/v2/project/{appid}/rtm/users/{user_id}/...`, in Agora's response shape
//! (`result`, `request_id`, `code` or `reason`). Auth: HTTP Basic with the app's customer id
//! and secret, or `x-agora-token` + `x-agora-uid` (the uid must be the path's user id).

use crate::app::agora::{self, PeerMessage, PeerOutcome};
use crate::domain::app::App;
use crate::domain::signature;
use crate::error::Error;
use crate::ratelimit::Family as Quota;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/dev/v2/project/{appid}/rtm/users/{user_id}/peer_messages",
            post(peer_message),
        )
        .route(
            "/dev/v2/project/{appid}/rtm/users/{user_id}/channel_messages",
            post(channel_message),
        )
}

/// A failure in Agora's shape.
struct Failure {
    status: StatusCode,
    reason: String,
    request_id: String,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body =
            json!({"result": "failed", "request_id": self.request_id, "reason": self.reason});
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

fn fail(request_id: &str, status: StatusCode, reason: impl Into<String>) -> Failure {
    Failure {
        status,
        reason: reason.into(),
        request_id: request_id.to_owned(),
    }
}

/// Maps the shared error type onto Agora's statuses.
fn from_error(request_id: &str, err: Error) -> Failure {
    let status = match &err {
        Error::Unauthorized => StatusCode::UNAUTHORIZED,
        Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Internal(_) => {
            tracing::error!(error = ?err, "agora request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    fail(request_id, status, err.public_message())
}

async fn authenticate(
    state: &AppState,
    app_id: &str,
    user_id: &str,
    headers: &HeaderMap,
) -> Result<Arc<App>, Error> {
    let app = crate::app::sessions::find_app(state, app_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(basic) = header("authorization").and_then(|v| {
        v.strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
    }) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .map_err(|_| Error::Unauthorized)?;
        let text = String::from_utf8(decoded).map_err(|_| Error::Unauthorized)?;
        let (id, secret) = text.split_once(':').ok_or(Error::Unauthorized)?;
        let settings = &app.settings;
        let (Some(want_id), Some(want_secret)) =
            (&settings.agora_customer_id, &settings.agora_customer_secret)
        else {
            return Err(Error::Unauthorized);
        };
        if want_id.is_empty()
            || !signature::same(id, want_id)
            || !signature::same(secret, want_secret)
        {
            return Err(Error::Unauthorized);
        }
        return Ok(app);
    }
    match (header("x-agora-token"), header("x-agora-uid")) {
        (Some(token), Some(uid)) if uid == user_id => {
            agora::verify_token(
                &app.app_id,
                &app.master_key,
                uid,
                token,
                state.clock.now_ms() / 1000,
            )?;
            Ok(app)
        }
        _ => Err(Error::Unauthorized),
    }
}

/// The body, read only once the caller is authenticated: an anonymous client must not make
/// the server buffer up to `max_body_bytes`.
async fn read_body(state: &AppState, body: Body) -> Result<Bytes, Error> {
    axum::body::to_bytes(body, state.config.max_body_bytes)
        .await
        .map_err(|_| Error::PayloadTooLarge)
}

/// The body as JSON, or Agora's 400 (U+0000 included, see `domain::text`).
fn parse_body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Error> {
    let invalid = |e: serde_json::Error| Error::invalid(format!("Invalid request body: {e}"));
    let value: Value = serde_json::from_slice(bytes).map_err(invalid)?;
    if crate::domain::text::json_has_nul(&value) {
        return Err(Error::invalid(crate::domain::text::NUL_REFUSED));
    }
    serde_json::from_value(value).map_err(invalid)
}

fn check_name(field: &str, value: &str) -> Result<(), Error> {
    if agora::valid_name(value) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{field} must be 1-64 characters from Agora's allowed set, without leading or trailing spaces."
        )))
    }
}

fn check_payload(payload: &str) -> Result<(), Error> {
    if payload.is_empty() {
        return Err(Error::invalid("payload must not be empty."));
    }
    if payload.len() > agora::MAX_PAYLOAD_BYTES {
        return Err(Error::invalid("payload must not exceed 32 KB."));
    }
    Ok(())
}

#[derive(Deserialize)]
struct PeerBody {
    destination: Option<String>,
    payload: Option<String>,
    #[serde(default)]
    enable_offline_messaging: bool,
    #[serde(default)]
    enable_historical_messaging: bool,
}

fn wait_for_ack(query: Option<&str>) -> Result<bool, Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|_| Error::invalid("Invalid query string."))?;
    match pairs
        .iter()
        .find(|(k, _)| k == "wait_for_ack")
        .map(|(_, v)| v.to_ascii_lowercase())
    {
        None => Ok(false),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" || v.is_empty() => Ok(false),
        Some(_) => Err(Error::invalid("wait_for_ack must be true or false.")),
    }
}

/// A01 POST .../users/{user_id}/peer_messages[?wait_for_ack=true]
async fn peer_message(
    State(state): State<AppState>,
    Path((app_id, user_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, Failure> {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let outcome = async {
        let app = authenticate(&state, &app_id, &user_id, &headers).await?;
        let body = read_body(&state, body).await?;
        let wait = wait_for_ack(query.as_deref())?;
        check_name("user_id", &user_id)?;
        let body: PeerBody = parse_body(&body)?;
        let destination = body
            .destination
            .ok_or_else(|| Error::invalid("destination is required."))?;
        check_name("destination", &destination)?;
        let payload = body
            .payload
            .ok_or_else(|| Error::invalid("payload is required."))?;
        check_payload(&payload)?;
        crate::app::quota::rest(&state, &app, Quota::Agora).await?;
        let message = PeerMessage {
            from: user_id.clone(),
            to: destination,
            payload,
            offline_messaging: body.enable_offline_messaging,
            historical: body.enable_historical_messaging,
            wait_for_ack: wait,
        };
        agora::send_peer_message(&state, &app.app_id, message).await
    }
    .await
    .map_err(|e| from_error(&request_id, e))?;
    let code = match outcome {
        PeerOutcome::Sent => "message_sent",
        PeerOutcome::Delivered => "message_delivered",
        PeerOutcome::Offline => "message_offline",
        PeerOutcome::TimedOut => {
            return Err(fail(
                &request_id,
                StatusCode::REQUEST_TIMEOUT,
                "The receiver did not acknowledge the message in time.",
            ))
        }
    };
    Ok(Json(
        json!({"result": "success", "request_id": request_id, "code": code}),
    ))
}

#[derive(Deserialize)]
struct ChannelBody {
    channel_name: Option<String>,
    payload: Option<String>,
    #[serde(default)]
    enable_historical_messaging: bool,
}

/// A02 POST .../users/{user_id}/channel_messages
async fn channel_message(
    State(state): State<AppState>,
    Path((app_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, Failure> {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    async {
        let app = authenticate(&state, &app_id, &user_id, &headers).await?;
        let body = read_body(&state, body).await?;
        check_name("user_id", &user_id)?;
        let body: ChannelBody = parse_body(&body)?;
        let channel = body
            .channel_name
            .ok_or_else(|| Error::invalid("channel_name is required."))?;
        check_name("channel_name", &channel)?;
        let payload = body
            .payload
            .ok_or_else(|| Error::invalid("payload is required."))?;
        check_payload(&payload)?;
        crate::app::quota::rest(&state, &app, Quota::Agora).await?;
        agora::send_channel_message(
            &state,
            &app.app_id,
            &user_id,
            &channel,
            payload,
            body.enable_historical_messaging,
        )
        .await
    }
    .await
    .map_err(|e| from_error(&request_id, e))?;
    Ok(Json(
        json!({"code": "message_sent", "request_id": request_id, "result": "success"}),
    ))
}
