//! Service conversations beyond create/query/update/delete: subscribers (E31-E34, E44),
//! broadcasts and per-user messages (E35-E38) and what a subscriber received (E39, E40).

use super::json::{required, Body, Query};
use super::messages::{message_ref, message_text, timestamp_field, DeleteQuery, SendBody};
use super::MasterKey;
use crate::app::history::HistoryScope;
use crate::app::history::{self, HistoryParams};
use crate::app::service::{self, SERVICE};
use crate::app::subscriptions::{self, Subscription, SubscriptionCursor};
use crate::app::{patch, render};
use crate::domain::app::App;
use crate::domain::client_id;
use crate::domain::message::check_client_list;
use crate::error::{code, Error, Result};
use crate::ratelimit::Family as Quota;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

const BASE: &str = "/service-conversations/{id}";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{BASE}/subscribers"),
            get(list_subscribers).post(subscribe),
        )
        .route(&format!("{BASE}/subscribers/count"), get(count_subscribers))
        .route(
            &format!("{BASE}/subscribers/{{client_id}}"),
            delete(unsubscribe),
        )
        .route(
            &format!("{BASE}/subscribers/{{client_id}}/messages"),
            get(subscriber_messages),
        )
        .route(
            &format!("{BASE}/subscribers/{{client_id}}/messages/{{message_id}}"),
            delete(delete_for_subscriber),
        )
        .route(&format!("{BASE}/broadcasts"), post(broadcast))
        .route(&format!("{BASE}/messages"), post(send_to_subscribers))
        .route(&format!("{BASE}/messages/{{message_id}}"), put(edit))
        .route(
            &format!("{BASE}/messages/{{message_id}}/recall"),
            put(recall),
        )
        .route(
            "/clients/{client_id}/service-conversations",
            get(subscriptions_of_client),
        )
}

/// Subscriber listings: default and maximum 50.
const SUBSCRIBER_PAGE: i64 = 50;

fn subscription_item(s: &Subscription) -> Value {
    json!({"timestamp": s.subscribed_at, "subscriber": s.client_id, "conv_id": s.conv_id})
}

#[derive(Deserialize)]
struct SubscribeBody {
    client_id: Option<String>,
}

/// E31 POST .../subscribers: idempotent.
async fn subscribe(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<SubscribeBody>,
) -> Result<Json<Value>> {
    let client = required("client_id", body.client_id)?;
    client_id::validate("client_id", &client)?;
    crate::app::conversations::of_kind(&state, &app.app_id, &id, SERVICE).await?;
    subscriptions::subscribe(&state, &app.app_id, &id, &client).await?;
    Ok(Json(json!({})))
}

/// E32 DELETE .../subscribers/{client_id}: idempotent.
async fn unsubscribe(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path((id, client)): Path<(String, String)>,
) -> Result<Json<Value>> {
    crate::app::conversations::of_kind(&state, &app.app_id, &id, SERVICE).await?;
    subscriptions::unsubscribe(&state, &app.app_id, &id, &client).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct SubscriberPage {
    limit: Option<String>,
    client_id: Option<String>,
}

/// `limit`: default `default`, at most `max`; not a positive integer is a 400.
fn page_limit(limit: Option<&str>, default: i64, max: i64) -> Result<i64> {
    match limit.map(str::trim) {
        None | Some("") => Ok(default),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(Error::bad_request(
                code::INVALID_TYPE,
                "limit must be a positive integer.",
            )),
        },
    }
}

/// E33 GET .../subscribers?limit=&client_id=: ordered by client id, `client_id` an exclusive cursor.
async fn list_subscribers(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Query(page): Query<SubscriberPage>,
) -> Result<Json<Value>> {
    let limit = page_limit(page.limit.as_deref(), SUBSCRIBER_PAGE, SUBSCRIBER_PAGE)?;
    crate::app::conversations::of_kind(&state, &app.app_id, &id, SERVICE).await?;
    let found =
        subscriptions::subscribers_page(&state, &app.app_id, &id, page.client_id.as_deref(), limit)
            .await?;
    Ok(Json(Value::Array(
        found.iter().map(subscription_item).collect(),
    )))
}

/// E34 GET .../subscribers/count
async fn count_subscribers(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    crate::app::conversations::of_kind(&state, &app.app_id, &id, SERVICE).await?;
    let count = subscriptions::subscriber_count(&state, &app.app_id, &id).await?;
    Ok(Json(json!({"count": count})))
}

#[derive(Deserialize)]
struct BroadcastBody {
    from_client: Option<String>,
    message: Option<Value>,
    push: Option<Value>,
}

/// `push` as an object or a string, stored as text.
pub(super) fn push_text(push: Option<Value>) -> Result<Option<String>> {
    match push {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(value @ Value::Object(_)) => Ok(Some(value.to_string())),
        Some(_) => Err(Error::bad_request(
            code::INVALID_TYPE,
            "push must be a string or an object.",
        )),
    }
}

/// E35 POST .../broadcasts: to every subscriber (subscription quota: per minute and per day).
async fn broadcast(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<BroadcastBody>,
) -> Result<Json<Value>> {
    let from = required("from_client", body.from_client)?;
    let mut request =
        crate::app::send::SendRequest::new(&id, SERVICE, &from, message_text(body.message)?);
    request.content.push_data = push_text(body.push)?;
    crate::app::quota::rest(&state, &app, Quota::Subscription).await?;
    let sent = service::broadcast_to_subscribers(&state, &app.app_id, request).await?;
    Ok(Json(
        json!({"msg-id": sent.message.msg_id, "timestamp": sent.message.timestamp}),
    ))
}

#[derive(Deserialize)]
struct PerUserBody {
    to_clients: Option<Vec<String>>,
    #[serde(flatten)]
    send: SendBody,
}

/// E38 POST .../messages: to up to 20 chosen subscribers (normal message quota).
async fn send_to_subscribers(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<PerUserBody>,
) -> Result<Json<Value>> {
    let mut request = body.send.into_request(&id, SERVICE)?;
    request.content.to_clients = body.to_clients.unwrap_or_default();
    check_client_list("to_clients", &request.content.to_clients)?;
    crate::app::quota::rest(&state, &app, Quota::Messages).await?;
    let sent = service::send_to_subscribers(&state, &app.app_id, request).await?;
    Ok(Json(
        json!({"msg-id": sent.message.msg_id, "timestamp": sent.message.timestamp}),
    ))
}

#[derive(Deserialize)]
struct ServicePatchBody {
    from_client: Option<String>,
    message: Option<Value>,
    timestamp: Option<Value>,
    to_clients: Option<Vec<String>>,
}

/// E36 PUT .../messages/{message_id}: a broadcast (only for those who have not received it
/// yet) or a per-user message.
async fn edit(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path((id, message_id)): Path<(String, String)>,
    Body(body): Body<ServicePatchBody>,
) -> Result<Json<Value>> {
    let data = message_text(body.message.clone())?;
    patch_message(&state, &app, id, message_id, body, Some(data)).await
}

/// E37 PUT .../messages/{message_id}/recall
async fn recall(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path((id, message_id)): Path<(String, String)>,
    Body(body): Body<ServicePatchBody>,
) -> Result<Json<Value>> {
    patch_message(&state, &app, id, message_id, body, None).await
}

/// Edits (`Some(data)`) or recalls (`None`) a service-conversation message, counted against
/// the quota of the message's own family.
async fn patch_message(
    state: &AppState,
    app: &App,
    conv: String,
    message_id: String,
    body: ServicePatchBody,
    data: Option<String>,
) -> Result<Json<Value>> {
    check_client_list("to_clients", body.to_clients.as_deref().unwrap_or_default())?;
    let target = message_ref(conv, message_id, body.from_client, body.timestamp)?;
    let quota =
        subscriptions::patch_family(state, &app.app_id, &target.conv_id, &target.msg_id).await?;
    crate::app::quota::rest(state, app, quota).await?;
    patch::patch(state, &app.app_id, SERVICE, &target, data, false).await?;
    Ok(Json(json!({})))
}

/// E39 DELETE .../subscribers/{client_id}/messages/{message_id}?from_client=&timestamp=
async fn delete_for_subscriber(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path((id, client, message_id)): Path<(String, String, String)>,
    Query(query): Query<DeleteQuery>,
) -> Result<Json<Value>> {
    let (from_client, timestamp) = query.into_parts();
    let target = message_ref(id, message_id, from_client, timestamp.map(Value::String))?;
    service::delete_for_subscriber(&state, &app.app_id, &target, &client).await?;
    Ok(Json(json!({})))
}

/// E40 GET .../subscribers/{client_id}/messages: broadcasts and per-user messages it got.
async fn subscriber_messages(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path((id, client)): Path<(String, String)>,
    Query(params): Query<HistoryParams>,
) -> Result<Json<Value>> {
    crate::app::conversations::of_kind(&state, &app.app_id, &id, SERVICE).await?;
    let scope = HistoryScope::Subscriber {
        conv: &id,
        client: &client,
    };
    let messages = history::history(&state, &app, scope, &params).await?;
    Ok(Json(Value::Array(
        messages.iter().map(render::history_item).collect(),
    )))
}

#[derive(Deserialize)]
struct ClientSubscriptionsQuery {
    conv_id: Option<String>,
    timestamp: Option<String>,
    limit: Option<String>,
    direction: Option<String>,
}

/// E44 GET /clients/{client_id}/service-conversations?conv_id=&timestamp=&limit=&direction=
async fn subscriptions_of_client(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(client): Path<String>,
    Query(query): Query<ClientSubscriptionsQuery>,
) -> Result<Json<Value>> {
    client_id::validate("client_id", &client)?;
    let limit = page_limit(query.limit.as_deref(), SUBSCRIBER_PAGE, 1000)?;
    let newest_first = match query.direction.as_deref().map(str::trim) {
        None | Some("") | Some("new") => false,
        Some("old") => true,
        Some(_) => return Err(Error::invalid("direction must be old or new.")),
    };
    let cursor = match (query.conv_id, query.timestamp) {
        (Some(conv_id), Some(ts)) => Some(SubscriptionCursor {
            subscribed_at: timestamp_field(Some(Value::String(ts)))?,
            conv_id,
        }),
        (None, None) => None,
        _ => {
            return Err(Error::invalid(
                "conv_id and timestamp make one cursor: give both or neither.",
            ))
        }
    };
    let found = subscriptions::of_client(
        &state,
        &app.app_id,
        &client,
        cursor.as_ref(),
        newest_first,
        limit,
    )
    .await?;
    Ok(Json(Value::Array(
        found.iter().map(subscription_item).collect(),
    )))
}
