//! Member roles: the creator is always the Owner; Managers and Members are recorded
//! (`member_info_update`, REST `_ConversationMemberInfo`). Who may change whose role is in
//! `docs/policy.md`.

use crate::app::actor::ClientSession;
use crate::app::moderation::{moderator, unauthorized};
use crate::app::notifications;
use crate::app::policy::{self, Action};
use crate::domain::client_id;
use crate::domain::conversation::Conversation;
use crate::domain::time;
use crate::error::{code, Error, Result};
use crate::proto::{ConvCommand, ConvMemberInfo, OpType};
use crate::state::AppState;

pub const OWNER: &str = "Owner";
pub const MANAGER: &str = "Manager";
pub const MEMBER: &str = "Member";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Manager,
    Owner,
}

impl Role {
    pub(super) fn name(self) -> &'static str {
        match self {
            Role::Owner => OWNER,
            Role::Manager => MANAGER,
            Role::Member => MEMBER,
        }
    }
}

/// A member's role: the creator is the Owner; others as recorded, Member by default.
pub async fn role_of(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    client: &str,
) -> Result<Role> {
    if conv.creator.as_deref() == Some(client) {
        return Ok(Role::Owner);
    }
    let found = state
        .store
        .member_roles(app, &conv.id, Some(client), 0, 1)
        .await?;
    Ok(match found.first().map(|(_, role, _)| role.as_str()) {
        Some(MANAGER) => Role::Manager,
        _ => Role::Member,
    })
}

/// `member_info_update`: the Owner sets Managers and Members; a Manager promotes Members.
pub async fn update_role(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
    target: &str,
    role: &str,
) -> Result<()> {
    let app = session.app_id();
    let (conv, actor) = moderator(state, session, conv_id).await?;
    let new_role = match role {
        MANAGER => Role::Manager,
        MEMBER => Role::Member,
        OWNER => return Err(unauthorized()),
        _ => {
            return Err(Error::bad_request(
                code::UNKNOWN_CONVERSATION_ROLE,
                "role is Manager or Member.",
            ))
        }
    };
    client_id::validate("targetClientId", target)?;
    if !conv.members.iter().any(|m| m == target)
        && !state.store.is_member(app, &conv.id, target).await?
    {
        return Err(Error::forbidden(
            code::CONVERSATION_MEMBERSHIP_REQUIRED,
            "The target is not a member.",
        ));
    }
    let current = role_of(state, app, &conv, target).await?;
    let allowed = target != &*session.client
        && match actor {
            Role::Owner => current != Role::Owner,
            Role::Manager => current == Role::Member && new_role == Role::Manager,
            Role::Member => false,
        };
    if !allowed {
        return Err(unauthorized());
    }
    state
        .store
        .set_member_role(app, &conv.id, target, new_role.name(), time::now_ms())
        .await?;
    let members = state.store.members(app, &conv.id).await?;
    let body = ConvCommand {
        cid: Some(conv.id.clone()),
        init_by: Some(session.client.to_string()),
        info: Some(ConvMemberInfo {
            pid: Some(target.to_owned()),
            role: Some(new_role.name().to_owned()),
            info_id: None,
        }),
        ..Default::default()
    };
    notifications::conv(state, app, members, OpType::MemberInfoChanged, body, None).await
}

/// `(clientId, role)` of every member with a role, the Owner first (REST
/// `_ConversationMemberInfo`).
pub async fn member_infos(
    state: &AppState,
    app: &str,
    conv_id: &str,
    client: Option<&str>,
    skip: i64,
    limit: i64,
) -> Result<Vec<(String, String, i64)>> {
    let conv = state.store.find_conversation(app, conv_id).await?;
    let Some(conv) = conv else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    if let Some(owner) = &conv.creator {
        if skip == 0 && client.is_none_or(|c| c == owner) {
            found.push((owner.clone(), OWNER.to_owned(), conv.created_at));
        }
    }
    let skip = if conv.creator.is_some() && client.is_none() {
        (skip - 1).max(0)
    } else {
        skip
    };
    found.extend(
        state
            .store
            .member_roles(app, &conv.id, client, skip, limit)
            .await?
            .into_iter()
            .filter(|(c, _, _)| Some(c) != conv.creator.as_ref()),
    );
    found.truncate(limit.max(0) as usize);
    Ok(found)
}

/// [`member_infos`] for a caller: the admin, or a member of the conversation.
pub async fn member_infos_for(
    state: &AppState,
    actor: &crate::app::actor::Actor,
    conv_id: &str,
    client: Option<&str>,
    skip: i64,
    limit: i64,
) -> Result<Vec<(String, String, i64)>> {
    let app = actor.app_id();
    let conv = state
        .store
        .conversation_of_kind(app, conv_id, crate::app::client_conversations::ALL_KINDS)
        .await?;
    policy::authorize(state, actor, &conv, Action::ListMembers).await?;
    member_infos(state, app, conv_id, client, skip, limit).await
}
