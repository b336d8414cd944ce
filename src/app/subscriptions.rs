//! The admin's side of service conversations: subscribers (E31-E34, E44) and which quota
//! family an edit or recall of a service message counts against.

use crate::domain::message::MessageKind;
use crate::error::{Error, Result};
use crate::ratelimit::Family;
use crate::state::AppState;

pub use crate::store::subscriptions::{Subscription, SubscriptionCursor};

pub async fn subscribe(state: &AppState, app: &str, conv: &str, client: &str) -> Result<()> {
    state
        .store
        .subscribe(app, conv, client, state.clock.now_ms())
        .await
}

pub async fn unsubscribe(state: &AppState, app: &str, conv: &str, client: &str) -> Result<()> {
    state.store.unsubscribe(app, conv, client).await
}

/// Subscribers ordered by client id, after the exclusive cursor `after`.
pub async fn subscribers_page(
    state: &AppState,
    app: &str,
    conv: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Subscription>> {
    state.store.subscribers_page(app, conv, after, limit).await
}

pub async fn subscriber_count(state: &AppState, app: &str, conv: &str) -> Result<i64> {
    state.store.subscriber_count(app, conv).await
}

/// A client's subscriptions (E44).
pub async fn of_client(
    state: &AppState,
    app: &str,
    client: &str,
    cursor: Option<&SubscriptionCursor>,
    newest_first: bool,
    limit: i64,
) -> Result<Vec<Subscription>> {
    state
        .store
        .subscriptions_of_client(app, client, cursor, newest_first, limit)
        .await
}

/// The quota an edit or recall counts against: that of the message's own family.
pub async fn patch_family(state: &AppState, app: &str, conv: &str, msg_id: &str) -> Result<Family> {
    let found = state
        .store
        .find_message(app, conv, msg_id)
        .await?
        .ok_or_else(Error::message_not_found)?;
    Ok(match found.content.kind {
        MessageKind::SubscriberBroadcast => Family::Subscription,
        MessageKind::GlobalBroadcast => Family::Broadcast,
        _ => Family::Messages,
    })
}
