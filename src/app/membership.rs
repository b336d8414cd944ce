//! Members and mutes of conversations, with the pushes that tell online clients.

use crate::app::actor::ClientSession;
use crate::app::client_conversations::{find, join_room, leave_room};
use crate::app::hooks::conversation as hooks;
use crate::app::policy::{self, Action};
use crate::app::signatures::{self, Signed, Signing};
use crate::app::{client_blocks, moderation, notifications};
use crate::domain::client_id;
use crate::domain::conversation::{Conversation, Kind, MAX_MEMBERS, MAX_TEMPORARY_MEMBERS};
use crate::domain::time;
use crate::error::{code, Error, Result};
use crate::hub::{Event, MembershipChange, Recipients};
use crate::proto::{ConvCommand, OpType};
use crate::state::AppState;

/// At most this many ids in one members or mutes call.
pub const MAX_CLIENT_IDS_PER_CALL: usize = MAX_MEMBERS;

pub fn check_client_ids(field: &str, clients: &[String]) -> Result<()> {
    if clients.is_empty() {
        return Err(Error::bad_request(
            code::MISSING_REQUIRED,
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

/// What [`add_members`] did.
#[derive(Debug)]
pub struct Added {
    pub updated_at: i64,
    /// Invitees that blocked the conversation themselves (their own blacklist): refused
    /// with 4548, as a client the conversation blocked is.
    pub refused: Vec<String>,
}

/// Adds members to a normal (or temporary) conversation and pushes `joined` to them and
/// `members_joined` to the others. Clients that blocked the conversation are not added by
/// anyone but themselves.
pub async fn add_members(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    clients: &[String],
    initiator: &str,
) -> Result<Added> {
    check_client_ids("client_ids", clients)?;
    let mut welcome = Vec::with_capacity(clients.len());
    let mut refused = Vec::new();
    for client in clients {
        let invited = client != initiator;
        if invited && client_blocks::blocked_conversation(state, app, client, &conv.id).await? {
            refused.push(client.clone());
        } else {
            welcome.push(client.clone());
        }
    }
    if welcome.is_empty() {
        return Ok(Added {
            updated_at: conv.updated_at,
            refused,
        });
    }
    let limit = if conv.kind == Kind::Temporary {
        MAX_TEMPORARY_MEMBERS
    } else {
        MAX_MEMBERS
    };
    hooks::before_change(state, app, &conv.id, initiator, &welcome, true).await?;
    let now = time::now_ms().max(conv.updated_at + 1);
    let (updated_at, added) = state
        .store
        .add_members(app, conv, &welcome, limit, now)
        .await?;
    if !added.is_empty() {
        let members = state.store.members(app, &conv.id).await?;
        announce(state, app, &conv.id, &added, &members, initiator, true).await?;
    }
    hooks::after_change(state, app, &conv.id, initiator, &added, true).await?;
    Ok(Added {
        updated_at,
        refused,
    })
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
    hooks::before_change(state, app, &conv.id, initiator, clients, false).await?;
    let now = time::now_ms().max(conv.updated_at + 1);
    let (updated_at, removed) = state.store.remove_members(app, conv, clients, now).await?;
    if !removed.is_empty() {
        let members = state.store.members(app, &conv.id).await?;
        announce(state, app, &conv.id, &removed, &members, initiator, false).await?;
    }
    hooks::after_change(state, app, &conv.id, initiator, &removed, false).await?;
    Ok(updated_at)
}

/// Pushes `joined`/`left` to the changed clients and `members_joined`/`members_left` to
/// the others, and keeps both as permanent notifications.
async fn announce(
    state: &AppState,
    app: &str,
    conv: &str,
    changed: &[String],
    members: &[String],
    initiator: &str,
    joined: bool,
) -> Result<()> {
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
    let body = ConvCommand {
        cid: Some(conv.to_owned()),
        init_by: Some(initiator.to_owned()),
        m: changed.to_vec(),
        udate: Some(time::iso(time::now_ms())),
        ..Default::default()
    };
    let (op_changed, op_others) = if joined {
        (OpType::Joined, OpType::MembersJoined)
    } else {
        (OpType::Left, OpType::MembersLeft)
    };
    notifications::record(state, app, changed, op_changed, &body).await?;
    notifications::record(state, app, &others, op_others, &body).await?;
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
    Ok(())
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

/// What a client's `conv add` / `conv remove` did, per client id.
#[derive(Debug, Default)]
pub struct ClientChange {
    pub allowed: Vec<String>,
    /// Refused ids with their LeanCloud code.
    pub failed: Vec<(i64, Vec<String>)>,
    pub updated_at: i64,
}

impl ClientChange {
    fn fail(&mut self, code: i64, ids: Vec<String>) {
        if !ids.is_empty() {
            self.failed.push((code, ids));
        }
    }
}

/// A client adds or removes ids (itself to join or leave; others to invite or remove).
/// Normal and temporary conversations: anyone may join, members invite, removing others
/// goes by role ([`policy::removable`]: 4320 beyond it) and the owner cannot be removed
/// (4324). Chat rooms (online presence) and service conversations
/// (subscriptions): only oneself (4308 for others).
pub async fn client_change(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
    mut ids: Vec<String>,
    adding: bool,
    signed: &Signed,
) -> Result<ClientChange> {
    let conv = find(state, session, conv_id).await?;
    ids.dedup();
    let (invalid, ids): (Vec<String>, Vec<String>) =
        ids.into_iter().partition(|id| !client_id::is_valid(id));
    let mut change = ClientChange {
        updated_at: conv.updated_at,
        ..Default::default()
    };
    change.fail(code::INVALID_LOGIN, invalid);
    let me = &*session.client;
    let only_self = ids.iter().all(|id| id == me);
    if ids.is_empty() {
        return Ok(change);
    }
    if adding || !only_self {
        let action = if adding {
            signatures::INVITE
        } else {
            signatures::KICK
        };
        signatures::verify(
            state,
            session,
            Signing::Member {
                conv_id: &conv.id,
                members: &ids,
                action,
            },
            signed,
        )?;
    }
    match conv.kind {
        Kind::ChatRoom | Kind::Service => {
            let (mine, others): (Vec<String>, Vec<String>) =
                ids.into_iter().partition(|id| id == me);
            change.fail(code::CONVERSATION_NOT_ALLOWED, others);
            if !mine.is_empty() {
                self_only(state, session, &conv, adding).await?;
                change.allowed = mine;
            }
        }
        Kind::Normal | Kind::Temporary => {
            members(state, session, &conv, ids, adding, only_self, &mut change).await?;
        }
    }
    Ok(change)
}

async fn self_only(
    state: &AppState,
    session: &ClientSession,
    conv: &Conversation,
    adding: bool,
) -> Result<()> {
    let app = session.app_id();
    let me = [session.client.to_string()];
    hooks::before_change(state, app, &conv.id, &session.client, &me, adding).await?;
    match (conv.kind, adding) {
        (Kind::ChatRoom, true) => join_room(state, session, &conv.id),
        (Kind::ChatRoom, false) => leave_room(state, session, &conv.id),
        (_, true) => {
            state
                .store
                .subscribe(app, &conv.id, &session.client, time::now_ms())
                .await?
        }
        (_, false) => {
            state
                .store
                .unsubscribe(app, &conv.id, &session.client)
                .await?
        }
    }
    hooks::after_change(state, app, &conv.id, &session.client, &me, adding).await
}

async fn members(
    state: &AppState,
    session: &ClientSession,
    conv: &Conversation,
    ids: Vec<String>,
    adding: bool,
    only_self: bool,
    change: &mut ClientChange,
) -> Result<()> {
    let app = session.app_id();
    if conv.expires_at.is_some_and(|at| at <= time::now_ms()) {
        return Err(Error::bad_request(
            code::TEMPORARY_CONVERSATION_EXPIRED,
            "The temporary conversation has expired.",
        ));
    }
    if !only_self {
        let action = if adding {
            Action::Invite
        } else {
            Action::RemoveOthers
        };
        if policy::authorize_client(state, app, &session.client, conv, action)
            .await
            .is_err()
        {
            change.fail(code::CONVERSATION_MEMBERSHIP_REQUIRED, ids);
            return Ok(());
        }
    }
    let ids = if adding {
        let mut welcome = Vec::new();
        let mut blocked = Vec::new();
        for id in ids {
            if moderation::is_blocked(state, app, &conv.id, &id).await? {
                blocked.push(id);
            } else {
                welcome.push(id);
            }
        }
        change.fail(code::BLOCKED_BY_CONV, blocked);
        welcome
    } else {
        let removal = policy::removable(state, app, &session.client, conv, ids).await?;
        for (code, refused) in removal.refused {
            change.fail(code, refused);
        }
        removal.allowed
    };
    if ids.is_empty() {
        return Ok(());
    }
    if adding {
        let added = add_members(state, app, conv, &ids, &session.client).await?;
        change.updated_at = added.updated_at;
        change.allowed = ids
            .into_iter()
            .filter(|id| !added.refused.contains(id))
            .collect();
        change.fail(code::BLOCKED_BY_CONV, added.refused);
    } else {
        change.updated_at = remove_members(state, app, conv, &ids, &session.client).await?;
        change.allowed = ids;
    }
    Ok(())
}
