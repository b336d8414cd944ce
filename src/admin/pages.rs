//! The console's pages (GET). Each checks the session first and sends strangers to the
//! sign-in page.

use super::session;
use super::{to_sign_in, view};
use crate::app::admin;
use crate::domain::conversation::Kind;
use crate::domain::message::Message;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Notices after an action, by a fixed key (never text from the request).
fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "kicked" => "The client's sessions were closed.",
        "sent" => "Message sent.",
        "broadcast" => "Broadcast sent.",
        _ => return None,
    })
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    notice: Option<String>,
    #[serde(rename = "where")]
    where_: Option<String>,
    skip: Option<String>,
    before: Option<String>,
    before_id: Option<String>,
}

pub async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if session::current(&state, &headers).await.is_some() {
        return axum::response::Redirect::to("/admin").into_response();
    }
    view::page(StatusCode::OK, "login.html", None, context! {})
}

pub async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let Some(signed) = session::current(&state, &headers).await else {
        return to_sign_in();
    };
    let apps = match admin::apps(&state, &signed.app, signed.credential).await {
        Ok(apps) => apps,
        Err(err) => return view::error(Some(&signed), &err),
    };
    let apps: Vec<_> = apps
        .into_iter()
        .map(|a| {
            json!({"app_id": a.app_id, "app_key": a.app_key, "master_key": a.master_key,
                   "settings": a.settings})
        })
        .collect();
    let counters = admin::counters(&state, &signed.app);
    let import = match admin::import_status(&state, &signed.app).await {
        Ok(status) => json!({
            "conversations": status.conversations,
            "complete": status.complete,
            "last_update": status.last_update.map(view::time),
        }),
        Err(err) => return view::error(Some(&signed), &err),
    };
    let context = context! {
        apps,
        import,
        counters => json!({"online_clients": counters.online_clients,
                           "sessions_on_server": counters.sessions_on_server}),
        notice => notice(query.notice.as_deref()),
    };
    view::page(StatusCode::OK, "overview.html", Some(&signed), context)
}

/// The overview's live numbers (polled by `console.js`).
pub async fn counters(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(signed) = session::current(&state, &headers).await else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": 401, "error": "Unauthorized."})),
        )
            .into_response();
    };
    let counters = admin::counters(&state, &signed.app);
    Json(json!({"online_clients": counters.online_clients,
                "sessions_on_server": counters.sessions_on_server}))
    .into_response()
}

pub async fn actions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let Some(signed) = session::current(&state, &headers).await else {
        return to_sign_in();
    };
    let context = context! { notice => notice(query.notice.as_deref()) };
    view::page(StatusCode::OK, "actions.html", Some(&signed), context)
}

#[derive(Serialize)]
struct ConversationRow {
    id: String,
    name: Option<String>,
    kind: &'static str,
    member_count: i64,
    members: Vec<String>,
    created_at: String,
    last_message_at: String,
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Normal => "conversation",
        Kind::Temporary => "temporary",
        Kind::ChatRoom => "chat room",
        Kind::Service => "service",
    }
}

fn row(conv: &crate::domain::conversation::Conversation) -> ConversationRow {
    ConversationRow {
        id: conv.id.clone(),
        name: conv.name.clone(),
        kind: kind_name(conv.kind),
        member_count: conv.member_count.max(conv.members.len() as i64),
        members: conv.members.clone(),
        created_at: view::time(conv.created_at),
        last_message_at: conv.last_message_at.map(view::time).unwrap_or_default(),
    }
}

pub async fn conversations(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let Some(signed) = session::current(&state, &headers).await else {
        return to_sign_in();
    };
    let where_ = query.where_.unwrap_or_default();
    let skip: i64 = query
        .skip
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
        .max(0);
    let skip_text = skip.to_string();
    let (found, count) =
        match admin::conversations(&state, &signed.app, &where_, Some(&skip_text)).await {
            Ok(found) => found,
            Err(err) => {
                let context = context! { where => where_, error => err.public_message(),
                conversations => Vec::<ConversationRow>::new(), count => 0 };
                return view::page(err.status(), "conversations.html", Some(&signed), context);
            }
        };
    let count = count.unwrap_or(found.len() as i64);
    let shown = skip + found.len() as i64;
    let next_skip = (shown < count && !found.is_empty()).then_some(shown);
    let rows: Vec<ConversationRow> = found.iter().map(row).collect();
    let context = context! { where => where_, conversations => rows, count, next_skip };
    view::page(StatusCode::OK, "conversations.html", Some(&signed), context)
}

#[derive(Serialize)]
struct HistoryRow {
    time: String,
    from: String,
    content: String,
    state: String,
}

fn history_row(message: &Message) -> HistoryRow {
    let state = if message.recalled {
        "recalled".to_owned()
    } else if let Some(at) = message.patch_timestamp {
        format!("edited {}", view::time(at))
    } else {
        String::new()
    };
    let content = if message.recalled {
        "(content recalled)".to_owned()
    } else if message.content.bin {
        format!("(binary, {} bytes base64)", message.content.data.len())
    } else {
        typed_text(&message.content.data).unwrap_or_else(|| message.content.data.clone())
    };
    HistoryRow {
        time: view::time(message.timestamp),
        from: message.content.from_client.clone(),
        content,
        state,
    }
}

pub async fn conversation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(conv_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let Some(signed) = session::current(&state, &headers).await else {
        return to_sign_in();
    };
    let before: Option<i64> = query.before.as_deref().and_then(|s| s.parse().ok());
    let before_id = query
        .before_id
        .filter(|id| !id.is_empty() && id.len() <= 64);
    let loaded = async {
        let conv = admin::conversation(&state, &signed.app, &conv_id).await?;
        let messages =
            admin::history_page(&state, &signed.app, &conv.id, before, before_id).await?;
        Ok::<_, crate::error::Error>((conv, messages))
    };
    let (conv, messages) = match loaded.await {
        Ok(loaded) => loaded,
        Err(err) => return view::error(Some(&signed), &err),
    };
    let last = messages
        .last()
        .filter(|_| messages.len() as i64 == admin::HISTORY_PAGE);
    let older = last.map(|m| m.timestamp);
    let older_id = last.map(|m| m.msg_id.clone());
    let rows: Vec<HistoryRow> = messages.iter().map(history_row).collect();
    let context = context! {
        conv => row(&conv),
        messages => rows,
        before,
        older,
        older_id,
        notice => notice(query.notice.as_deref()),
    };
    view::page(StatusCode::OK, "conversation.html", Some(&signed), context)
}

/// The text of an SDK typed text message (`{"_lctype": -1, "_lctext": ...}`).
fn typed_text(data: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(data).ok()?;
    (value.get("_lctype")?.as_i64()? == -1).then_some(())?;
    Some(value.get("_lctext")?.as_str()?.to_owned())
}
