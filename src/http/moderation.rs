//! Moderation with the master key (Tidings' own routes; LeanCloud's REST v1.2 documents
//! none): `GET /conversations/{id}/member-roles`, `PUT .../member-roles/{client_id}`
//! `{"role"}`, and `GET | POST | DELETE /conversations/{id}/silenced-members` and
//! `.../blocked-members` with `{"client_ids": [...]}`. See docs/policy.md.

use super::json::Body;
use super::MasterKey;
use crate::app::moderation::ClientList;
use crate::app::{member_roles, moderation_admin};
use crate::domain::time::iso;
use crate::error::{code, Error, Result};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations/{id}/member-roles", get(roles))
        .route(
            "/conversations/{id}/member-roles/{client_id}",
            put(set_role),
        )
        .route(
            "/conversations/{id}/silenced-members",
            get(list_silenced).post(silence).delete(unsilence),
        )
        .route(
            "/conversations/{id}/blocked-members",
            get(list_blocked).post(block).delete(unblock),
        )
}

async fn roles(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let found = member_roles::member_infos(&state, &app.app_id, &id, None, 0, 1000).await?;
    let results: Vec<Value> = found
        .into_iter()
        .map(|(client, role, at)| json!({"client_id": client, "role": role, "updatedAt": iso(at)}))
        .collect();
    Ok(Json(json!({ "results": results })))
}

#[derive(Deserialize)]
struct RoleBody {
    role: Option<String>,
}

async fn set_role(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path((id, client)): Path<(String, String)>,
    Body(body): Body<RoleBody>,
) -> Result<Json<Value>> {
    let role = body.role.ok_or_else(|| {
        Error::bad_request(code::MISSING_REQUIRED, "Missing required field: role.")
    })?;
    moderation_admin::set_role(&state, &app.app_id, &id, &client, &role).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct Ids {
    client_ids: Option<Vec<String>>,
}

impl Ids {
    fn ids(self) -> Result<Vec<String>> {
        self.client_ids.ok_or_else(|| {
            Error::bad_request(
                code::MISSING_REQUIRED,
                "Missing required field: client_ids.",
            )
        })
    }
}

async fn listed(state: &AppState, app: &str, id: &str, which: ClientList) -> Result<Json<Value>> {
    let found = moderation_admin::list(state, app, id, which).await?;
    Ok(Json(json!({ "result": found })))
}

async fn changed(
    state: &AppState,
    app: &str,
    id: &str,
    which: ClientList,
    body: Ids,
    add: bool,
) -> Result<Json<Value>> {
    moderation_admin::change(state, app, id, which, body.ids()?, add).await?;
    Ok(Json(json!({})))
}

async fn list_silenced(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    listed(&state, &app.app_id, &id, ClientList::Silenced).await
}

async fn silence(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<Ids>,
) -> Result<Json<Value>> {
    changed(&state, &app.app_id, &id, ClientList::Silenced, body, true).await
}

async fn unsilence(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<Ids>,
) -> Result<Json<Value>> {
    changed(&state, &app.app_id, &id, ClientList::Silenced, body, false).await
}

async fn list_blocked(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    listed(&state, &app.app_id, &id, ClientList::Blocked).await
}

async fn block(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<Ids>,
) -> Result<Json<Value>> {
    changed(&state, &app.app_id, &id, ClientList::Blocked, body, true).await
}

async fn unblock(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
    Body(body): Body<Ids>,
) -> Result<Json<Value>> {
    changed(&state, &app.app_id, &id, ClientList::Blocked, body, false).await
}
