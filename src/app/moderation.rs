//! Group management by clients: member roles (the creator is always the Owner; Managers
//! and Members are recorded), silenced members and the conversation's blacklist. Who may
//! do what is in `docs/policy.md`: Owners and Managers moderate, nobody moderates the
//! Owner, and a Manager does not moderate other Managers.

use crate::app::actor::ClientSession;
use crate::app::client_conversations::find;
use crate::app::member_roles::{role_of, Role};
use crate::app::membership::{self, ClientChange};
use crate::app::notifications;
use crate::app::policy::{self, Action};
use crate::app::signatures::{self, Signed};
use crate::app::silence_cache;
use crate::domain::conversation::{Conversation, Kind};
use crate::domain::{client_id, time};
use crate::error::{code, Error, Result};
use crate::proto::{ConvCommand, OpType};
use crate::state::AppState;
pub use crate::store::moderation::ClientList;

/// Ids in one silence or blacklist page at most (JS documents a server default of 10).
pub(super) const DEFAULT_PAGE: i64 = 10;
pub(super) const MAX_PAGE: i64 = 100;

pub(super) fn unauthorized() -> Error {
    Error::forbidden(
        code::CONVERSATION_OPERATION_UNAUTHORIZED,
        "Your role does not allow this.",
    )
}

/// The acting member's role in a normal conversation it belongs to.
pub(super) async fn moderator(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
) -> Result<(Conversation, Role)> {
    let conv = find(state, session, conv_id).await?;
    if !matches!(conv.kind, Kind::Normal | Kind::Temporary) {
        return Err(Error::bad_request(
            code::NORMAL_CONVERSATION_REQUIRED,
            "Only group conversations have roles.",
        ));
    }
    let app = session.app_id();
    policy::authorize_client(state, app, &session.client, &conv, Action::ListMembers).await?;
    let role = role_of(state, app, &conv, &session.client).await?;
    Ok((conv, role))
}

/// Whether `actor` may moderate `target` (silence, block, change its role).
async fn may_moderate(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    actor: Role,
    target: &str,
) -> Result<bool> {
    let target = role_of(state, app, conv, target).await?;
    Ok(actor == Role::Owner && target != Role::Owner
        || actor == Role::Manager && target == Role::Member)
}

/// The ids a moderator may act on, and the outcome so far with the refused ones: invalid
/// ids (4103) and those its role does not reach (4320). A plain Member reaches nobody.
async fn targets(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    actor: Role,
    ids: Vec<String>,
) -> Result<(ClientChange, Vec<String>)> {
    if actor == Role::Member {
        return Err(unauthorized());
    }
    let mut change = ClientChange {
        updated_at: conv.updated_at,
        ..Default::default()
    };
    let mut allowed = Vec::new();
    let mut refused = Vec::new();
    for id in ids {
        if !client_id::is_valid(&id) {
            change.failed.push((code::INVALID_LOGIN, vec![id]));
        } else if may_moderate(state, app, conv, actor, &id).await? {
            allowed.push(id);
        } else {
            refused.push(id);
        }
    }
    if !refused.is_empty() {
        change
            .failed
            .push((code::CONVERSATION_OPERATION_UNAUTHORIZED, refused));
    }
    Ok((change, allowed))
}

/// Silences (`on`) or unsilences members; pushes `shutuped`/`unshutuped` to them and
/// `members_shutuped`/`members_unshutuped` to the others.
pub async fn silence(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
    ids: Vec<String>,
    on: bool,
) -> Result<ClientChange> {
    let app = session.app_id();
    let (conv, actor) = moderator(state, session, conv_id).await?;
    let (mut change, allowed) = targets(state, app, &conv, actor, ids).await?;
    if allowed.is_empty() {
        return Ok(change);
    }
    let now = time::now_ms();
    if on {
        state
            .store
            .add_to_list(ClientList::Silenced, app, &conv.id, &allowed, now)
            .await?;
    } else {
        state
            .store
            .remove_from_list(ClientList::Silenced, app, &conv.id, &allowed)
            .await?;
    }
    silence_cache::changed(state, app, &conv.id);
    let (to_them, to_others) = if on {
        (OpType::Shutuped, OpType::MembersShutuped)
    } else {
        (OpType::Unshutuped, OpType::MembersUnshutuped)
    };
    tell(
        state,
        app,
        &conv,
        &session.client,
        &allowed,
        to_them,
        to_others,
    )
    .await?;
    change.allowed = allowed;
    Ok(change)
}

/// `to_them` to the clients concerned, `to_others` (naming them) to the other members.
async fn tell(
    state: &AppState,
    app: &str,
    conv: &Conversation,
    by: &str,
    concerned: &[String],
    to_them: OpType,
    to_others: OpType,
) -> Result<()> {
    let body = |m: Vec<String>| ConvCommand {
        cid: Some(conv.id.clone()),
        init_by: Some(by.to_owned()),
        m,
        ..Default::default()
    };
    notifications::conv(
        state,
        app,
        concerned.to_vec(),
        to_them,
        body(Vec::new()),
        None,
    )
    .await?;
    let others: Vec<String> = state
        .store
        .members(app, &conv.id)
        .await?
        .into_iter()
        .filter(|m| !concerned.contains(m))
        .collect();
    notifications::conv(
        state,
        app,
        others,
        to_others,
        body(concerned.to_vec()),
        None,
    )
    .await
}

/// Whether `client` is silenced in `conv` (its sends get 4563): asked on every send, so
/// answered from [`silence_cache`] when it can be.
pub async fn is_silenced(state: &AppState, app: &str, conv: &str, client: &str) -> Result<bool> {
    let generation = match state.silences.get(app, conv, client) {
        Ok(silenced) => return Ok(silenced),
        Err(generation) => generation,
    };
    let silenced = !state
        .store
        .on_list(ClientList::Silenced, app, conv, &[client.to_owned()])
        .await?
        .is_empty();
    state.silences.put(app, conv, client, generation, silenced);
    Ok(silenced)
}

/// Whether `client` is blocked by `conv` (it cannot re-join: 4548).
pub async fn is_blocked(state: &AppState, app: &str, conv: &str, client: &str) -> Result<bool> {
    Ok(!state
        .store
        .on_list(ClientList::Blocked, app, conv, &[client.to_owned()])
        .await?
        .is_empty())
}

/// A page of silenced or blocked ids (members may look), and the cursor of the next page.
pub async fn page(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
    list: ClientList,
    limit: Option<i32>,
    next: Option<&str>,
) -> Result<(Vec<String>, Option<String>)> {
    let (conv, _) = moderator(state, session, conv_id).await?;
    let limit = limit.map_or(DEFAULT_PAGE, |l| i64::from(l).clamp(1, MAX_PAGE));
    let mut found = state
        .store
        .list_page(
            list,
            session.app_id(),
            &conv.id,
            next.filter(|n| !n.is_empty()),
            limit + 1,
        )
        .await?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let next = more.then(|| found.last().cloned()).flatten();
    Ok((found, next))
}

/// Which of `ids` are on the list.
pub async fn check(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
    list: ClientList,
    ids: &[String],
) -> Result<Vec<String>> {
    let (conv, _) = moderator(state, session, conv_id).await?;
    let ids: Vec<String> = ids.iter().take(MAX_PAGE as usize).cloned().collect();
    state
        .store
        .on_list(list, session.app_id(), &conv.id, &ids)
        .await
}

/// The conversation blocks (`on`) or unblocks clients. Blocking removes them: they get
/// `blocked` and `left`, the others `members_blocked` and `members_left`.
pub async fn block(
    state: &AppState,
    session: &ClientSession,
    conv_id: &str,
    ids: Vec<String>,
    on: bool,
    signed: &Signed,
) -> Result<ClientChange> {
    let app = session.app_id();
    let (conv, actor) = moderator(state, session, conv_id).await?;
    let action = if on {
        "conversation-block-clients"
    } else {
        "conversation-unblock-clients"
    };
    signatures::verify_blacklist(state, session, &conv.id, &ids, action, signed)?;
    let (mut change, allowed) = targets(state, app, &conv, actor, ids).await?;
    if allowed.is_empty() {
        return Ok(change);
    }
    let now = time::now_ms();
    if on {
        state
            .store
            .add_to_list(ClientList::Blocked, app, &conv.id, &allowed, now)
            .await?;
        tell(
            state,
            app,
            &conv,
            &session.client,
            &allowed,
            OpType::Blocked,
            OpType::MembersBlocked,
        )
        .await?;
        let members = state.store.members(app, &conv.id).await?;
        let leaving: Vec<String> = allowed
            .iter()
            .filter(|id| members.contains(id))
            .cloned()
            .collect();
        if !leaving.is_empty() {
            change.updated_at =
                membership::remove_members(state, app, &conv, &leaving, &session.client).await?;
        }
    } else {
        state
            .store
            .remove_from_list(ClientList::Blocked, app, &conv.id, &allowed)
            .await?;
        tell(
            state,
            app,
            &conv,
            &session.client,
            &allowed,
            OpType::Unblocked,
            OpType::MembersUnblocked,
        )
        .await?;
    }
    change.allowed = allowed;
    Ok(change)
}
