//! Create, query, update and delete for the three conversation families:
//! E01-E04 (`/conversations`), E16-E19 (`/chatrooms`), E27-E30 (`/service-conversations`).

use super::json::{Body, Query};
use super::{Family, MasterKey};
use crate::app::conversations::{self, CreateConversation, ListParams};
use crate::app::{fields, render};
use crate::domain::conversation::Kind;
use crate::domain::time::iso;
use crate::error::{code, Error, Result};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub fn router<F: Family>(base: &str) -> Router<AppState> {
    Router::new()
        .route(base, get(list::<F>).post(create::<F>))
        .route(
            &format!("{base}/{{id}}"),
            put(update::<F>).delete(delete::<F>),
        )
}

/// `where`, `order`, `skip`, `limit`, `count`, `keys` as the query string carries them.
#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "where")]
    filter: Option<String>,
    order: Option<String>,
    skip: Option<String>,
    limit: Option<String>,
    count: Option<String>,
    keys: Option<String>,
}

/// POST `{family}`: E01 answers with the whole object, E16/E27 with `objectId`+`createdAt`.
async fn create<F: Family>(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>> {
    let mut body = body;
    let members = match body.remove("m") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => serde_json::from_value::<Vec<String>>(value).map_err(|_| {
            Error::bad_request(code::INVALID_TYPE, "m must be an array of client ids.")
        })?,
    };
    let unique = match body.remove("unique") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            return Err(Error::bad_request(
                code::INVALID_TYPE,
                "unique must be a boolean.",
            ))
        }
    };
    let creator = match body.remove("c") {
        Some(Value::String(c)) => Some(c),
        _ => None,
    };
    let (name, attrs) = fields::split_body(
        body,
        &[
            "tr",
            "sys",
            "mu",
            "uniqueId",
            "objectId",
            "createdAt",
            "updatedAt",
            "lm",
            "ACL",
        ],
    )?;
    let request = CreateConversation {
        name: name.flatten(),
        members: if F::KIND == Kind::Normal {
            members
        } else {
            Vec::new()
        },
        unique,
        creator,
        attrs,
        temporary_ttl_secs: None,
    };
    let (conv, _created) = conversations::create(&state, &app.app_id, F::KIND, request).await?;
    Ok(Json(if F::FULL_CREATE_RESPONSE {
        render::conversation(&conv)
    } else {
        json!({"objectId": conv.id, "createdAt": iso(conv.created_at)})
    }))
}

/// GET `{family}`: a LeanStorage query, `{"results": [...]}` (plus `count` when asked).
async fn list<F: Family>(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>> {
    list_kinds(&state, &app.app_id, F::KINDS, &query).await
}

pub(super) async fn list_kinds(
    state: &AppState,
    app: &str,
    kinds: &[Kind],
    query: &ListQuery,
) -> Result<Json<Value>> {
    let params = ListParams::parse(
        query.filter.as_deref(),
        query.order.as_deref(),
        query.skip.as_deref(),
        query.limit.as_deref(),
        query.count.as_deref(),
        query.keys.as_deref(),
    )?;
    let (found, count) = conversations::list(state, app, kinds, &params).await?;
    let results: Vec<Value> = found
        .iter()
        .map(|conv| {
            let object = render::conversation(conv);
            match &params.keys {
                Some(keys) => render::project(object, keys),
                None => object,
            }
        })
        .collect();
    let mut body = json!({ "results": results });
    if let (Some(count), Value::Object(map)) = (count, &mut body) {
        map.insert("count".into(), json!(count));
    }
    Ok(Json(body))
}

/// PUT `{family}/{id}`: any field but `m`.
async fn update<F: Family>(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Json<Value>> {
    let updated_at =
        crate::app::client_conversations::admin_update(&state, &app.app_id, &id, F::KINDS, body)
            .await?;
    Ok(Json(json!({"updatedAt": iso(updated_at), "objectId": id})))
}

/// DELETE `{family}/{id}`.
async fn delete<F: Family>(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    conversations::delete(&state, &app.app_id, &id, F::KINDS).await?;
    Ok(Json(json!({})))
}
