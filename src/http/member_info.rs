//! What the IM SDKs read over LeanStorage REST with their session token: member roles
//! (`GET /1.1/classes/_ConversationMemberInfo`, protocol.md 7.3) and the permanent
//! notifications missed while offline (`GET /1.1/rtm/notifications`, 7.2). The master key
//! works too (any client, any conversation).

use super::json::{required, Query};
use super::ImCaller;
use crate::app::actor::Actor;
use crate::app::{member_roles, notifications};
use crate::domain::time::iso;
use crate::error::{code, Error, Result};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/1.1/classes/_ConversationMemberInfo", get(member_infos))
        .route("/1.1/rtm/notifications", get(fetch_notifications))
}

#[derive(Deserialize)]
struct InfoQuery {
    r#where: Option<String>,
    client_id: Option<String>,
    limit: Option<String>,
    skip: Option<String>,
}

fn number(field: &str, value: Option<&str>, default: i64, max: i64) -> Result<i64> {
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| n.min(max))
            .ok_or_else(|| {
                Error::bad_request(code::INVALID_TYPE, format!("{field} must be a number."))
            }),
    }
}

async fn member_infos(
    State(state): State<AppState>,
    ImCaller(actor): ImCaller,
    Query(query): Query<InfoQuery>,
) -> Result<Json<Value>> {
    let filter: Value = serde_json::from_str(query.r#where.as_deref().unwrap_or("{}"))
        .map_err(|_| Error::bad_request(code::MALFORMED_JSON, "where must be JSON."))?;
    let cid = filter["cid"]
        .as_str()
        .ok_or_else(|| Error::bad_request(code::MISSING_REQUIRED, "where needs a cid."))?
        .to_owned();
    let client = query
        .client_id
        .or_else(|| filter["clientId"].as_str().map(str::to_owned));
    let limit = number("limit", query.limit.as_deref(), 100, 1000)?;
    let skip = number("skip", query.skip.as_deref(), 0, 1_000_000)?;
    let found =
        member_roles::member_infos_for(&state, &actor, &cid, client.as_deref(), skip, limit)
            .await?;
    let results: Vec<Value> = found
        .into_iter()
        .map(|(client, role, at)| {
            json!({
                "objectId": format!("{cid}-{client}"),
                "cid": cid,
                "clientId": client,
                "role": role,
                "createdAt": iso(at),
                "updatedAt": iso(at),
            })
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}

#[derive(Deserialize)]
struct NotificationsQuery {
    client_id: Option<String>,
    start_ts: Option<String>,
    notification_type: Option<String>,
}

/// JS asks with `notification_type=permanent` and reads `notifications`/`hasMore`; Swift
/// asks without it and reads `permanent`/`droppable`.
async fn fetch_notifications(
    State(state): State<AppState>,
    ImCaller(actor): ImCaller,
    Query(query): Query<NotificationsQuery>,
) -> Result<Json<Value>> {
    let client = required("client_id", query.client_id)?;
    if let Actor::Client(session) = &actor {
        if *session.client != *client {
            return Err(Error::Unauthorized);
        }
    }
    let since = number("start_ts", query.start_ts.as_deref(), 0, i64::MAX)?;
    let js = query.notification_type.is_some();
    let (items, more) = notifications::fetch(&state, actor.app_id(), &client, since, js).await?;
    Ok(Json(if js {
        json!({"notifications": items, "hasMore": more})
    } else {
        json!({
            "permanent": {"notifications": items, "hasMore": more},
            "droppable": {"invalidLocalConvCache": false, "notifications": []},
        })
    }))
}
