//! `GET /1.2/rtm/service-conversations/{id}/uplink-messages?limit=&before=` (master key):
//! what subscribers sent to a service conversation (LeanCloud's `_SysMessage`), newest
//! first; `before` (ms, exclusive) pages back. Tidings' own route: LeanCloud exposed these
//! through its storage class instead.

use super::json::Query;
use super::MasterKey;
use crate::app::service::SERVICE;
use crate::app::{conversations, uplink};
use crate::error::{code, Error, Result};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/service-conversations/{id}/uplink-messages", get(list))
}

#[derive(Deserialize)]
struct Page {
    limit: Option<String>,
    before: Option<String>,
}

fn number(field: &str, value: Option<&str>) -> Result<Option<i64>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| {
                Error::bad_request(
                    code::INVALID_TYPE,
                    format!("{field} must be a positive integer."),
                )
            }),
    }
}

async fn list(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<Value>> {
    let limit = number("limit", page.limit.as_deref())?
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT);
    let before = number("before", page.before.as_deref())?;
    conversations::of_kind(&state, &app.app_id, &id, SERVICE).await?;
    let found = uplink::list(&state, &app.app_id, &id, before, limit).await?;
    Ok(Json(Value::Array(
        found.iter().map(uplink::render).collect(),
    )))
}
