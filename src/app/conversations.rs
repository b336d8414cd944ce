//! Creating, querying, updating and deleting conversations of every kind.

use super::fields;
use crate::domain::conversation::{Conversation, Kind, MAX_MEMBERS, MAX_TEMPORARY_MEMBERS};
use crate::domain::{client_id, ids, time};
use crate::error::{code, Error, Result};
use crate::state::AppState;
use crate::store::conversations::{ConversationListing, NewConversation};
use serde_json::{Map, Value};

/// What a client asks to create.
#[derive(Debug, Clone, Default)]
pub struct CreateConversation {
    pub name: Option<String>,
    pub members: Vec<String>,
    pub unique: bool,
    pub creator: Option<String>,
    pub attrs: Map<String, Value>,
    /// Seconds a temporary conversation lives; `Some` makes it temporary.
    pub temporary_ttl_secs: Option<i64>,
}

/// Temporary conversations: default one day, at most 30 days.
pub const TEMPORARY_TTL_DEFAULT_SECS: i64 = 86_400;
pub const TEMPORARY_TTL_MAX_SECS: i64 = 30 * 86_400;

/// Creates a conversation of `kind`. Returns it and whether it was newly created (a unique
/// create may return an existing conversation).
pub async fn create(
    state: &AppState,
    app: &str,
    kind: Kind,
    mut request: CreateConversation,
) -> Result<(Conversation, bool)> {
    for member in &request.members {
        client_id::validate("m", member)?;
    }
    let mut seen = std::collections::HashSet::new();
    request.members.retain(|m| seen.insert(m.clone()));
    for (key, value) in &request.attrs {
        fields::check_key(key)?;
        fields::check_value(value, 0)?;
    }
    fields::check_size(&request.attrs, None)?;
    let now = time::now_ms();
    let (id, expires_at, limit) = match request.temporary_ttl_secs {
        Some(ttl) => {
            let ttl = if ttl <= 0 {
                TEMPORARY_TTL_DEFAULT_SECS
            } else {
                ttl.min(TEMPORARY_TTL_MAX_SECS)
            };
            (
                format!("_tmp:{}", ids::random_token(16)),
                Some(now + ttl * 1000),
                MAX_TEMPORARY_MEMBERS,
            )
        }
        None => (ids::new_object_id(), None, MAX_MEMBERS),
    };
    if request.members.len() > limit {
        return Err(Error::bad_request(
            code::CONVERSATION_FULL,
            format!("A conversation holds at most {limit} members."),
        ));
    }
    let kind = if expires_at.is_some() {
        Kind::Temporary
    } else {
        kind
    };
    // Chat rooms and service conversations keep no member list.
    let members = if matches!(kind, Kind::Normal | Kind::Temporary) {
        request.members
    } else {
        Vec::new()
    };
    let new = NewConversation {
        id,
        kind,
        name: request.name,
        creator: request.creator,
        unique: request.unique && kind == Kind::Normal,
        members,
        attrs: request.attrs,
        expires_at,
        now,
    };
    state.store.create_conversation(app, new).await
}

/// One conversation of one of `kinds`, with its member and mute lists.
pub async fn get(state: &AppState, app: &str, id: &str, kinds: &[Kind]) -> Result<Conversation> {
    let mut conv = state.store.conversation_of_kind(app, id, kinds).await?;
    state
        .store
        .fill_member_lists(app, std::slice::from_mut(&mut conv))
        .await?;
    Ok(conv)
}

/// A LeanStorage-style listing; see [`ListParams::parse`] for LeanCloud's coercions.
pub async fn list(
    state: &AppState,
    app: &str,
    kinds: &[Kind],
    params: &ListParams,
) -> Result<(Vec<Conversation>, Option<i64>)> {
    let listing = ConversationListing {
        kinds: kinds.to_vec(),
        filter: params.filter.clone(),
        order: params.order.clone(),
        skip: params.skip,
        limit: params.limit,
        with_count: params.count,
    };
    state.store.list_conversations(app, &listing).await
}

/// Parsed `where`, `order`, `skip`, `limit`, `count`, `keys`.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub filter: Value,
    pub order: String,
    pub skip: i64,
    pub limit: i64,
    pub count: bool,
    pub keys: Option<String>,
}

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;
const MAX_SKIP: i64 = 1_000_000;

impl ListParams {
    /// From raw query-string values. `limit` outside 1..=1000 becomes 100, except `0`,
    /// which (with `count`) returns no rows.
    pub fn parse(
        where_: Option<&str>,
        order: Option<&str>,
        skip: Option<&str>,
        limit: Option<&str>,
        count: Option<&str>,
        keys: Option<&str>,
    ) -> Result<ListParams> {
        let filter = match where_.map(str::trim) {
            None | Some("") => Value::Object(Map::new()),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                Error::bad_request(
                    code::MALFORMED_JSON,
                    format!("where is not valid JSON: {e}"),
                )
            })?,
        };
        if !filter.is_object() && !filter.is_array() {
            return Err(Error::bad_request(
                code::INVALID_TYPE,
                "where must be a JSON object.",
            ));
        }
        let count = matches!(count.map(str::trim), Some("1" | "true"));
        let limit = match limit.map(str::trim) {
            None | Some("") => DEFAULT_LIMIT,
            Some(text) => match text.parse::<i64>() {
                Ok(0) => 0,
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                Ok(_) => DEFAULT_LIMIT,
                Err(_) => {
                    return Err(Error::bad_request(
                        code::INVALID_TYPE,
                        "limit must be an integer.",
                    ))
                }
            },
        };
        let skip = match skip.map(str::trim) {
            None | Some("") => 0,
            Some(text) => text
                .parse::<i64>()
                .map_err(|_| Error::bad_request(code::INVALID_TYPE, "skip must be an integer."))?
                .clamp(0, MAX_SKIP),
        };
        Ok(ListParams {
            filter,
            order: order.unwrap_or_default().trim().to_owned(),
            skip,
            limit,
            count,
            keys: keys.map(str::to_owned),
        })
    }
}

/// Updates name and custom fields from a PUT body. `m` and other server-managed fields are
/// refused. Returns the new `updatedAt` and the updated conversation.
pub async fn update(
    state: &AppState,
    app: &str,
    id: &str,
    kinds: &[Kind],
    body: Map<String, Value>,
) -> Result<(i64, Conversation)> {
    if body.contains_key("m") {
        return Err(Error::bad_request(
            code::READ_ONLY_KEY,
            "m cannot be changed here: use the members endpoints.",
        ));
    }
    let conv = state.store.conversation_of_kind(app, id, kinds).await?;
    let (name, custom) = fields::split_body(body, &[])?;
    let mut attrs = conv.attrs.clone();
    fields::apply_updates(&mut attrs, &custom)?;
    fields::check_size(&attrs, Some(&conv.attrs))?;
    let now = time::now_ms().max(conv.updated_at + 1);
    let updated_at = state
        .store
        .update_conversation(app, &conv, name.clone(), attrs.clone(), now)
        .await?;
    let updated = Conversation {
        name: name.unwrap_or(conv.name.clone()),
        attrs,
        updated_at,
        ..conv
    };
    Ok((updated_at, updated))
}

pub async fn delete(state: &AppState, app: &str, id: &str, kinds: &[Kind]) -> Result<()> {
    state.store.conversation_of_kind(app, id, kinds).await?;
    state.store.delete_conversation(app, id).await?;
    crate::app::silence_cache::changed(state, app, id);
    Ok(())
}

/// One conversation of one of `kinds` (no member lists); 404 for the others.
pub async fn of_kind(
    state: &AppState,
    app: &str,
    id: &str,
    kinds: &[Kind],
) -> Result<Conversation> {
    state.store.conversation_of_kind(app, id, kinds).await
}
