//! The one answer to "may this actor do this to this conversation", used by every door.
//! `docs/policy.md` is the same table in prose; `tests/rest/policy.rs` and the gateway
//! attacker tests walk it.
//!
//! - The admin (master key) may do everything.
//! - Normal and temporary conversations: only members send, read history, list members,
//!   read receipt positions, update and mute. Anyone may join (LeanCloud's model; the app
//!   can require a conversation signature for it); only members invite others. Removing
//!   others goes by role ([`removable`]): the Owner removes anyone but itself, a Manager
//!   removes Members, a plain Member removes only itself.
//! - Chat rooms: clients joined to the room send and update; history, members and counts
//!   are open.
//! - Service conversations: subscribers send *uplink* messages (to the app, never to the
//!   other subscribers); history is per subscriber; there is no member list; only the
//!   admin updates them.

use crate::app::actor::Actor;
use crate::app::member_roles::{role_of, Role};
use crate::domain::conversation::{Conversation, Kind};
use crate::error::{code, Error, Result};
use crate::state::AppState;

/// What a client can try on a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Send,
    ReadHistory,
    /// The last message's content in query results.
    ReadLastMessage,
    ListMembers,
    /// Delivery and read positions of the members (`max_read`).
    ReadPositions,
    Update,
    Mute,
    /// Join (add oneself).
    Join,
    /// Add others.
    Invite,
    /// Remove others.
    RemoveOthers,
    /// Leave (remove oneself).
    Leave,
}

/// Whether `actor` may do `action` on `conv`; the refusal carries LeanCloud's code.
pub async fn authorize(
    state: &AppState,
    actor: &Actor,
    conv: &Conversation,
    action: Action,
) -> Result<()> {
    match actor.client() {
        None => Ok(()),
        Some(client) => authorize_client(state, actor.app_id(), client, conv, action).await,
    }
}

/// [`authorize`] for a client session of `app`.
pub async fn authorize_client(
    state: &AppState,
    app: &str,
    client: &str,
    conv: &Conversation,
    action: Action,
) -> Result<()> {
    let allowed = match requirement(conv.kind, action) {
        Need::Nothing => true,
        Need::Nobody => false,
        Need::Member => is_participant(state, app, conv, client).await?,
    };
    if allowed {
        Ok(())
    } else {
        Err(refusal(conv.kind, action))
    }
}

/// Whether `client` takes part in `conv`: a member of a normal or temporary conversation,
/// joined to a chat room, or subscribed to a service conversation.
pub async fn is_participant(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    client: &str,
) -> Result<bool> {
    Ok(match conv.kind {
        Kind::Normal | Kind::Temporary => {
            if conv.members.is_empty() {
                state.store.is_member(app, &conv.id, client).await?
            } else {
                conv.members.iter().any(|m| m == client)
            }
        }
        Kind::ChatRoom => state
            .hub
            .chat_room_members(app, &conv.id)
            .iter()
            .any(|m| m == client),
        Kind::Service => state.store.is_subscribed(app, &conv.id, client).await?,
    })
}

/// The outcome of [`removable`]: who may go, and the refused ids with their code.
#[derive(Debug, Default)]
pub struct Removal {
    pub allowed: Vec<String>,
    pub refused: Vec<(i64, Vec<String>)>,
}

/// Which of `targets` the member `client` may remove from a normal or temporary
/// conversation, by role (rest-semantics.md: Owner / Manager / Member): the Owner (the
/// creator) is never removed, not even by itself (4324); anyone else may remove itself;
/// the Owner removes anyone else, a Manager
/// removes Members only, a Member nobody else (4320). The admin is not asked: the master
/// key removes anyone but the Owner.
pub async fn removable(
    state: &AppState,
    app: &str,
    client: &str,
    conv: &Conversation,
    targets: Vec<String>,
) -> Result<Removal> {
    let actor = role_of(state, app, conv, client).await?;
    let mut removal = Removal::default();
    let mut owner = Vec::new();
    let mut beyond_role = Vec::new();
    for target in targets {
        if conv.creator.as_deref() == Some(target.as_str()) {
            owner.push(target);
        } else if target == client || may_remove(actor, role_of(state, app, conv, &target).await?) {
            // Anyone may leave; removing someone else depends on both roles.
            removal.allowed.push(target);
        } else {
            beyond_role.push(target);
        }
    }
    for (code, ids) in [
        (code::CONVERSATION_NEED_OWNER, owner),
        (code::CONVERSATION_OPERATION_UNAUTHORIZED, beyond_role),
    ] {
        if !ids.is_empty() {
            removal.refused.push((code, ids));
        }
    }
    Ok(removal)
}

/// Whether a member in role `actor` may remove another member in role `target`.
fn may_remove(actor: Role, target: Role) -> bool {
    match actor {
        Role::Owner => target != Role::Owner,
        Role::Manager => target == Role::Member,
        Role::Member => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Nothing,
    Member,
    Nobody,
}

/// The policy table for client sessions.
fn requirement(kind: Kind, action: Action) -> Need {
    use Action::*;
    match (kind, action) {
        (_, Join | Leave) => Need::Nothing,
        (Kind::Normal | Kind::Temporary, _) => Need::Member,
        (Kind::ChatRoom, Send | Update) => Need::Member,
        (Kind::ChatRoom, Invite | RemoveOthers) => Need::Nobody,
        (Kind::ChatRoom, _) => Need::Nothing,
        (Kind::Service, Send | Mute | ReadLastMessage) => Need::Member,
        (Kind::Service, ReadHistory) => Need::Nothing,
        (Kind::Service, _) => Need::Nobody,
    }
}

fn refusal(kind: Kind, action: Action) -> Error {
    use Action::*;
    match action {
        Send => Error::forbidden(
            code::INVALID_MESSAGING_TARGET,
            "The sender is not a member of this conversation.",
        ),
        ReadHistory => Error::forbidden(
            code::CONVERSATION_LOG_REJECTED,
            "Only members may read this conversation's history.",
        ),
        Update => Error::forbidden(
            code::CONVERSATION_UPDATE_REJECTED,
            "Only members may update this conversation.",
        ),
        Invite | RemoveOthers if kind != Kind::Normal && kind != Kind::Temporary => {
            Error::forbidden(
                code::CONVERSATION_NOT_ALLOWED,
                "Clients join and leave this conversation only themselves.",
            )
        }
        _ => Error::forbidden(
            code::CONVERSATION_MEMBERSHIP_REQUIRED,
            "Only members may do this.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_conversations_are_for_members() {
        for action in [
            Action::Send,
            Action::ReadHistory,
            Action::ReadLastMessage,
            Action::ListMembers,
            Action::ReadPositions,
            Action::Update,
            Action::Mute,
            Action::Invite,
            Action::RemoveOthers,
        ] {
            assert_eq!(
                requirement(Kind::Normal, action),
                Need::Member,
                "{action:?}"
            );
            assert_eq!(
                requirement(Kind::Temporary, action),
                Need::Member,
                "{action:?}"
            );
        }
        assert_eq!(requirement(Kind::Normal, Action::Join), Need::Nothing);
    }

    #[test]
    fn only_owners_and_managers_remove_others() {
        assert!(may_remove(Role::Owner, Role::Manager));
        assert!(may_remove(Role::Owner, Role::Member));
        assert!(may_remove(Role::Manager, Role::Member));
        assert!(!may_remove(Role::Manager, Role::Manager));
        assert!(!may_remove(Role::Manager, Role::Owner));
        assert!(!may_remove(Role::Member, Role::Member));
    }

    #[test]
    fn service_conversations_never_relay_between_subscribers() {
        assert_eq!(requirement(Kind::Service, Action::Send), Need::Member);
        assert_eq!(requirement(Kind::Service, Action::Update), Need::Nobody);
        assert_eq!(
            requirement(Kind::Service, Action::ListMembers),
            Need::Nobody
        );
        assert_eq!(requirement(Kind::ChatRoom, Action::Send), Need::Member);
        assert_eq!(requirement(Kind::ChatRoom, Action::Invite), Need::Nobody);
    }
}
