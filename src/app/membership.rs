//! Members and mutes of conversations, with the pushes that tell online clients.

use crate::domain::client_id;
use crate::domain::conversation::{Conversation, Kind, MAX_MEMBERS, MAX_TEMPORARY_MEMBERS};
use crate::domain::time;
use crate::error::{Error, Result};
use crate::hub::{Event, MembershipChange, Recipients};
use crate::state::AppState;

/// At most this many ids in one members or mutes call.
pub const MAX_CLIENT_IDS_PER_CALL: usize = MAX_MEMBERS;

pub fn check_client_ids(field: &str, clients: &[String]) -> Result<()> {
    if clients.is_empty() {
        return Err(Error::bad_request(
            crate::error::code::MISSING_REQUIRED,
            format!("{field} must not be empty."),
        ));
    }
    if clients.len() > MAX_CLIENT_IDS_PER_CALL {
        return Err(Error::invalid(format!(
            "{field} holds at most {MAX_CLIENT_IDS_PER_CALL} ids."
        )));
    }
    clients
        .iter()
        .try_for_each(|c| client_id::validate(field, c))
}

/// Adds members to a normal (or temporary) conversation and pushes `joined` to them and
/// `members_joined` to the others. Returns the new `updatedAt`.
pub async fn add_members(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    clients: &[String],
    initiator: &str,
) -> Result<i64> {
    check_client_ids("client_ids", clients)?;
    let limit = if conv.kind == Kind::Temporary {
        MAX_TEMPORARY_MEMBERS
    } else {
        MAX_MEMBERS
    };
    let now = time::now_ms().max(conv.updated_at + 1);
    let (updated_at, added) = state
        .store
        .add_members(app, conv, clients, limit, now)
        .await?;
    if !added.is_empty() {
        let members = state.store.members(app, &conv.id).await?;
        announce(state, app, &conv.id, &added, &members, initiator, true);
    }
    Ok(updated_at)
}

/// Removes members and pushes `left` to them and `members_left` to the rest.
pub async fn remove_members(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    clients: &[String],
    initiator: &str,
) -> Result<i64> {
    check_client_ids("client_ids", clients)?;
    let now = time::now_ms().max(conv.updated_at + 1);
    let (updated_at, removed) = state.store.remove_members(app, conv, clients, now).await?;
    if !removed.is_empty() {
        let members = state.store.members(app, &conv.id).await?;
        announce(state, app, &conv.id, &removed, &members, initiator, false);
    }
    Ok(updated_at)
}

fn announce(
    state: &AppState,
    app: &str,
    conv: &str,
    changed: &[String],
    members: &[String],
    initiator: &str,
    joined: bool,
) {
    let (to_changed, to_others) = if joined {
        (MembershipChange::Joined, MembershipChange::MembersJoined)
    } else {
        (MembershipChange::Left, MembershipChange::MembersLeft)
    };
    let others: Vec<String> = members
        .iter()
        .filter(|m| !changed.contains(m))
        .cloned()
        .collect();
    let event = |change| Event::Membership {
        conv_id: conv.to_owned(),
        change,
        members: changed.to_vec(),
        initiator: initiator.to_owned(),
    };
    state.hub.publish(
        app,
        Recipients::Clients(changed.to_vec()),
        event(to_changed),
    );
    if !others.is_empty() {
        state
            .hub
            .publish(app, Recipients::Clients(others), event(to_others));
    }
}

/// Adds or removes mutes (no offline push for those clients). Returns `updatedAt`.
pub async fn set_mutes(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    clients: &[String],
    mute: bool,
) -> Result<i64> {
    check_client_ids("client_ids", clients)?;
    let now = time::now_ms().max(conv.updated_at + 1);
    state
        .store
        .set_mutes(app, &conv.id, clients, mute, now)
        .await
}
