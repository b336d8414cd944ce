//! What a client may read about a conversation besides its messages: member counts, the
//! member list (or a chat room's online members), membership checks and the members'
//! delivery/read positions. Each through the policy.

use crate::app::actor::ClientSession;
use crate::app::client_conversations::find;
use crate::app::policy::{self, Action};
use crate::domain::conversation::Kind;
use crate::error::Result;
use crate::state::AppState;

pub use crate::store::positions::MemberPositions;

/// Conversations checked by one `is_member` at most.
const MAX_MEMBERSHIP_CHECKS: usize = 100;

/// Members of a normal conversation, online members of a chat room, subscribers of a
/// service conversation.
pub async fn count(state: &AppState, session: &ClientSession, conv_id: &str) -> Result<i64> {
    let app = session.app_id();
    let conv = find(state, session, conv_id).await?;
    Ok(match conv.kind {
        Kind::ChatRoom => state.hub.chat_room_members(app, &conv.id).len() as i64,
        Kind::Service => state.store.subscriber_count(app, &conv.id).await?,
        Kind::Normal | Kind::Temporary => conv.member_count,
    })
}

/// At most `limit` member ids (online ones for a chat room).
pub async fn members(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
    limit: usize,
) -> Result<Vec<String>> {
    let app = session.app_id();
    let conv = find(state, session, conv_id).await?;
    policy::authorize_client(state, app, &session.client, &conv, Action::ListMembers).await?;
    let mut found = match conv.kind {
        Kind::ChatRoom => state.hub.chat_room_members(app, &conv.id),
        _ => state.store.members(app, &conv.id).await?,
    };
    found.truncate(limit);
    Ok(found)
}

/// For each id, whether the client takes part in that conversation.
pub async fn is_member(
    state: &AppState,
    session: &ClientSession,
    ids: &[String],
) -> Result<Vec<(String, bool)>> {
    let app = session.app_id();
    let mut results = Vec::new();
    for id in ids.iter().take(MAX_MEMBERSHIP_CHECKS) {
        let member = match state.store.find_conversation(app, id).await? {
            Some(conv) if conv.kind != Kind::Service => {
                policy::is_participant(state, app, &conv, &session.client).await?
            }
            _ => false,
        };
        results.push((id.clone(), member));
    }
    Ok(results)
}

/// Every member's delivery and read times (members only).
pub async fn positions(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
) -> Result<Vec<MemberPositions>> {
    let app = session.app_id();
    let conv = find(state, session, conv_id).await?;
    policy::authorize_client(state, app, &session.client, &conv, Action::ReadPositions).await?;
    state.store.member_positions(app, &conv.id).await
}
