//! `logs` for a client session: the same cursor semantics as REST history, through the
//! policy (members only in normal conversations; per subscriber in service ones).

use crate::app::actor::ClientSession;
use crate::app::client_conversations::find;
use crate::app::history::{HistoryQuery, HistoryScope, Position, MAX_LIMIT};
use crate::app::policy::{self, Action};
use crate::domain::conversation::Kind;
use crate::domain::message::Message;
use crate::error::Result;
use crate::state::AppState;
use serde_json::Value;

/// With an `lctype` filter, pages scanned before answering with what was found.
const LCTYPE_MAX_PAGES: usize = 10;

/// Messages of `cid` in query order, only those of `lctype` when given.
pub async fn logs(
    state: &AppState,
    session: &ClientSession,
    cid: &str,
    query: HistoryQuery,
    lctype: Option<i32>,
) -> Result<Vec<Message>> {
    let app = session.app_id();
    let conv = find(state, session, cid).await?;
    policy::authorize_client(state, app, &session.client, &conv, Action::ReadHistory).await?;
    let scope = match conv.kind {
        Kind::Service => HistoryScope::Subscriber {
            conv: cid,
            client: &session.client,
        },
        _ => HistoryScope::Conversation(cid),
    };
    match lctype {
        None => state.store.history(app, scope, &query).await,
        Some(lctype) => filtered(state, app, scope, query, lctype).await,
    }
}

/// Scans pages in query order until `limit` messages of `lctype` match or history ends.
async fn filtered(
    state: &AppState,
    app: &str,
    scope: HistoryScope<'_>,
    mut query: HistoryQuery,
    lctype: i32,
) -> Result<Vec<Message>> {
    let wanted = query.limit.max(0) as usize;
    let page = (query.limit * 2).clamp(50, MAX_LIMIT);
    query.limit = page;
    let mut found = Vec::new();
    for _ in 0..LCTYPE_MAX_PAGES {
        if found.len() >= wanted {
            break;
        }
        let batch = state.store.history(app, scope, &query).await?;
        let Some(last) = batch.last() else { break };
        query.start = Some(Position {
            timestamp: last.timestamp,
            msg_id: Some(last.msg_id.clone()),
        });
        query.include_start = false;
        let exhausted = (batch.len() as i64) < page;
        found.extend(batch.into_iter().filter(|m| has_type(m, lctype)));
        if exhausted {
            break;
        }
    }
    found.truncate(wanted);
    Ok(found)
}

fn has_type(message: &Message, lctype: i32) -> bool {
    !message.content.bin
        && serde_json::from_str::<Value>(&message.content.data)
            .ok()
            .and_then(|v| v.get("_lctype").and_then(Value::as_i64))
            == Some(i64::from(lctype))
}
