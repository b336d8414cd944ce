//! A client's own blacklist: the conversations it blocked. While blocked, nobody else may
//! add the client to them (4548); the client lists and unblocks them itself.

use crate::app::actor::ClientSession;
use crate::app::moderation::{DEFAULT_PAGE, MAX_PAGE};
use crate::app::signatures::{self, Signed};
use crate::domain::time;
use crate::error::Result;
use crate::state::AppState;

/// Whether `client` blocked `conv` itself (its own blacklist): nobody else may add it to
/// that conversation.
pub async fn blocked_conversation(
    state: &AppState,
    app: &str,
    client: &str,
    conv: &str,
) -> Result<bool> {
    state.store.has_client_block(app, client, conv).await
}

/// A client blocks (`on`) or unblocks conversations: kept and listed (`blacklist query` with
/// `srcPid`); while blocked, invites by others (SDK `conv add`, REST members) refuse it
/// with 4548.
pub async fn client_block(
    state: &AppState,
    session: &ClientSession,
    convs: Vec<String>,
    on: bool,
    signed: &Signed,
) -> Result<Vec<String>> {
    let action = if on {
        "client-block-conversations"
    } else {
        "client-unblock-conversations"
    };
    for conv in &convs {
        signatures::verify_blacklist(state, session, conv, &[], action, signed)?;
    }
    let convs: Vec<String> = convs.into_iter().take(MAX_PAGE as usize).collect();
    state
        .store
        .set_client_blocks(
            session.app_id(),
            &session.client,
            &convs,
            on,
            time::now_ms(),
        )
        .await?;
    Ok(convs)
}

/// The conversations a client blocked, paged by id.
pub async fn client_blocks(
    state: &AppState,
    session: &ClientSession,
    limit: Option<i32>,
    next: Option<&str>,
) -> Result<(Vec<String>, Option<String>)> {
    let limit = limit.map_or(DEFAULT_PAGE, |l| i64::from(l).clamp(1, MAX_PAGE));
    let mut found = state
        .store
        .client_blocks(
            session.app_id(),
            &session.client,
            next.filter(|n| !n.is_empty()),
            limit + 1,
        )
        .await?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let next = more.then(|| found.last().cloned()).flatten();
    Ok((found, next))
}
