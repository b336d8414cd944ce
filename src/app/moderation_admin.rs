//! The admin's side of moderation (master key over REST): roles, silenced members and the
//! blacklist of a normal conversation, with the same pushes and notifications as the SDK
//! commands (`initBy` empty: the app itself).

use crate::app::member_roles::{MANAGER, MEMBER, OWNER};
use crate::app::membership;
use crate::app::moderation::ClientList;
use crate::app::notifications;
use crate::domain::conversation::{Conversation, Kind};
use crate::domain::{client_id, time};
use crate::error::{code, Error, Result};
use crate::proto::{ConvCommand, ConvMemberInfo, OpType};
use crate::state::AppState;

/// Ids in one admin call at most.
const MAX_IDS: usize = 100;

async fn group(state: &AppState, app: &str, conv_id: &str) -> Result<Conversation> {
    state
        .store
        .conversation_of_kind(app, conv_id, &[Kind::Normal, Kind::Temporary])
        .await
}

fn check_ids(ids: &[String]) -> Result<()> {
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(Error::invalid(format!(
            "client_ids holds 1 to {MAX_IDS} ids."
        )));
    }
    ids.iter()
        .try_for_each(|c| client_id::validate("client_ids", c))
}

/// Sets a member's role (Manager or Member; the creator stays the Owner).
pub async fn set_role(
    state: &AppState,
    app: &str,
    conv_id: &str,
    client: &str,
    role: &str,
) -> Result<()> {
    let conv = group(state, app, conv_id).await?;
    client_id::validate("client_id", client)?;
    if role != MANAGER && role != MEMBER {
        return Err(Error::bad_request(
            code::UNKNOWN_CONVERSATION_ROLE,
            "role is Manager or Member.",
        ));
    }
    if conv.creator.as_deref() == Some(client) {
        return Err(Error::forbidden(
            code::CONVERSATION_OPERATION_UNAUTHORIZED,
            format!("The creator is always the {OWNER}."),
        ));
    }
    if !state.store.is_member(app, &conv.id, client).await? {
        return Err(Error::forbidden(
            code::CONVERSATION_MEMBERSHIP_REQUIRED,
            "The client is not a member.",
        ));
    }
    state
        .store
        .set_member_role(app, &conv.id, client, role, time::now_ms())
        .await?;
    let members = state.store.members(app, &conv.id).await?;
    let body = ConvCommand {
        cid: Some(conv.id.clone()),
        init_by: Some(String::new()),
        info: Some(ConvMemberInfo {
            pid: Some(client.to_owned()),
            role: Some(role.to_owned()),
            info_id: None,
        }),
        ..Default::default()
    };
    notifications::conv(state, app, members, OpType::MemberInfoChanged, body, None).await
}

/// The ids on a conversation's silence list or blacklist (at most 1000, by id).
pub async fn list(
    state: &AppState,
    app: &str,
    conv_id: &str,
    which: ClientList,
) -> Result<Vec<String>> {
    let conv = group(state, app, conv_id).await?;
    state
        .store
        .list_page(which, app, &conv.id, None, 1000)
        .await
}

/// Adds to or removes from the silence list or the blacklist; blocking removes members.
pub async fn change(
    state: &AppState,
    app: &str,
    conv_id: &str,
    which: ClientList,
    ids: Vec<String>,
    add: bool,
) -> Result<()> {
    let conv = group(state, app, conv_id).await?;
    check_ids(&ids)?;
    if add {
        state
            .store
            .add_to_list(which, app, &conv.id, &ids, time::now_ms())
            .await?;
    } else {
        state
            .store
            .remove_from_list(which, app, &conv.id, &ids)
            .await?;
    }
    if which == ClientList::Silenced {
        crate::app::silence_cache::changed(state, app, &conv.id);
    }
    let (to_them, to_others) = match (which, add) {
        (ClientList::Silenced, true) => (OpType::Shutuped, OpType::MembersShutuped),
        (ClientList::Silenced, false) => (OpType::Unshutuped, OpType::MembersUnshutuped),
        (ClientList::Blocked, true) => (OpType::Blocked, OpType::MembersBlocked),
        (ClientList::Blocked, false) => (OpType::Unblocked, OpType::MembersUnblocked),
    };
    let members = state.store.members(app, &conv.id).await?;
    let body = |m: Vec<String>| ConvCommand {
        cid: Some(conv.id.clone()),
        init_by: Some(String::new()),
        m,
        ..Default::default()
    };
    notifications::conv(state, app, ids.clone(), to_them, body(Vec::new()), None).await?;
    let others: Vec<String> = members
        .iter()
        .filter(|m| !ids.contains(m))
        .cloned()
        .collect();
    notifications::conv(state, app, others, to_others, body(ids.clone()), None).await?;
    if which == ClientList::Blocked && add {
        let leaving: Vec<String> = ids.into_iter().filter(|id| members.contains(id)).collect();
        if !leaving.is_empty() {
            membership::remove_members(state, app, &conv, &leaving, "").await?;
        }
    }
    Ok(())
}
