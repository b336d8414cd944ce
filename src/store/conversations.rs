//! Conversations of every kind: create, find, list, update, delete. Their members and
//! mutes are in `membership.rs`.

use super::query::{self, SqlFragment, SqlValue};
use super::{Dialect, Store};
use crate::domain::conversation::{self, Conversation, Kind};
use crate::error::{Error, Result};
use crate::store::db::{self, Row};
use sqlx::types::Json;

pub(super) const COLUMNS: &str =
    "c.id, c.kind, c.name, c.creator, c.is_unique, c.unique_id, c.attrs, c.member_count, \
     c.last_seq, c.last_message_at, c.expires_at, c.created_at, c.updated_at";

/// What a create call stores.
#[derive(Debug, Clone)]
pub struct NewConversation {
    pub id: String,
    pub kind: Kind,
    pub name: Option<String>,
    pub creator: Option<String>,
    pub members: Vec<String>,
    pub unique: bool,
    pub attrs: serde_json::Map<String, serde_json::Value>,
    pub expires_at: Option<i64>,
    pub now: i64,
}

/// A LeanStorage-style listing: which kinds, the translated `where`, order and page.
#[derive(Debug, Clone)]
pub struct ConversationListing {
    pub kinds: Vec<Kind>,
    pub filter: serde_json::Value,
    pub order: String,
    pub skip: i64,
    pub limit: i64,
    pub with_count: bool,
}

impl Store {
    /// Creates a conversation. With `unique`, an existing unique conversation whose current
    /// member set equals the requested one is returned instead (`created = false`).
    pub async fn create_conversation(
        &self,
        app: &str,
        new: NewConversation,
    ) -> Result<(Conversation, bool)> {
        let mut tx = self.pool().begin_write().await?;
        let member_key = new
            .unique
            .then(|| conversation::member_set_key(&new.members));
        if let Some(key) = &member_key {
            if self.dialect() == Dialect::Postgres {
                // Serialise concurrent unique creates of the same member set.
                db::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                    .bind(format!("{app}\u{1}{key}"))
                    .execute(&mut tx)
                    .await?;
            }
            let existing = db::query(&format!(
                "SELECT {COLUMNS} FROM conversations c WHERE c.app_id = $1 AND c.member_key = $2 AND c.kind = $3 \
                 ORDER BY c.created_at LIMIT 1"
            ))
            .bind(app)
            .bind(key.as_str())
            .bind(new.kind.as_i64())
            .fetch_optional(&mut tx)
            .await?;
            if let Some(row) = existing {
                tx.commit().await?;
                let mut found = conversation_from_row(&row)?;
                self.fill_member_lists(app, std::slice::from_mut(&mut found))
                    .await?;
                return Ok((found, false));
            }
        }
        let unique_id = new.unique.then(|| conversation::unique_id(&new.members));
        db::query(
            "INSERT INTO conversations (app_id, id, kind, name, creator, is_unique, unique_id, member_key, attrs,
                member_count, expires_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        )
        .bind(app)
        .bind(new.id.as_str())
        .bind(new.kind.as_i64())
        .bind(new.name.clone())
        .bind(new.creator.clone())
        .bind(new.unique)
        .bind(unique_id.clone())
        .bind(member_key)
        .bind(Json(new.attrs.clone()))
        .bind(new.members.len() as i64)
        .bind(new.expires_at)
        .bind(new.now)
        .execute(&mut tx)
        .await?;
        // `joined_at` = creation time + position, so listings (ordered by `joined_at`) show `m`
        // in the order it was given, as LeanCloud's array does.
        for (position, member) in new.members.iter().enumerate() {
            db::query(
                "INSERT INTO members (app_id, conv_id, client_id, joined_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(app)
            .bind(new.id.as_str())
            .bind(member.as_str())
            .bind(new.now + position as i64)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        self.member_cache.invalidate(app, &new.id);
        let created = Conversation {
            id: new.id,
            kind: new.kind,
            name: new.name,
            creator: new.creator,
            is_unique: new.unique,
            unique_id,
            attrs: new.attrs,
            member_count: new.members.len() as i64,
            last_seq: 0,
            last_message_at: None,
            expires_at: new.expires_at,
            created_at: new.now,
            updated_at: new.now,
            members: new.members,
            mutes: Vec::new(),
        };
        Ok((created, true))
    }

    /// One conversation, without its member list.
    pub async fn find_conversation(&self, app: &str, id: &str) -> Result<Option<Conversation>> {
        let row = db::query(&format!(
            "SELECT {COLUMNS} FROM conversations c WHERE c.app_id = $1 AND c.id = $2"
        ))
        .bind(app)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| conversation_from_row(&row)).transpose()
    }

    /// One conversation of one of `kinds`, or 404 with CONVERSATION_NOT_FOUND.
    pub async fn conversation_of_kind(
        &self,
        app: &str,
        id: &str,
        kinds: &[Kind],
    ) -> Result<Conversation> {
        match self.find_conversation(app, id).await? {
            Some(found) if kinds.contains(&found.kind) => Ok(found),
            _ => Err(Error::conversation_not_found()),
        }
    }

    /// A LeanStorage query over conversations. Returns the page (members and mutes filled
    /// for normal conversations) and, when asked, the total count.
    pub async fn list_conversations(
        &self,
        app: &str,
        listing: &ConversationListing,
    ) -> Result<(Vec<Conversation>, Option<i64>)> {
        let filter = query::conversation_filter(self.dialect(), &listing.filter, 2)?;
        let order = query::conversation_order(self.dialect(), &listing.order)?;
        let kinds = listing
            .kinds
            .iter()
            .map(|k| k.as_i64().to_string())
            .collect::<Vec<_>>()
            .join(",");
        // On SQLite the kind test is written `+c.kind` so the planner cannot pick the kind index
        // and walk every conversation of the app: it drives from the `where` (members index).
        let kind_column = if self.dialect() == Dialect::Sqlite {
            "+c.kind"
        } else {
            "c.kind"
        };
        let scope = format!(
            "c.app_id = $1 AND {kind_column} IN ({kinds}) AND ({})",
            filter.sql
        );
        let count = if listing.with_count {
            let sql = format!("SELECT COUNT(*) AS n FROM conversations c WHERE {scope}");
            let row = bind(db::query(&sql).bind(app), &filter)
                .fetch_one(self.pool())
                .await?;
            Some(row.try_get::<i64, _>("n")?)
        } else {
            None
        };
        if listing.limit == 0 {
            return Ok((Vec::new(), count));
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM conversations c WHERE {scope} ORDER BY {order} LIMIT {} OFFSET {}",
            listing.limit.max(0),
            listing.skip.max(0)
        );
        let rows = bind(db::query(&sql).bind(app), &filter)
            .fetch_all(self.pool())
            .await?;
        let mut found = rows
            .iter()
            .map(conversation_from_row)
            .collect::<Result<Vec<_>>>()?;
        self.fill_member_lists(app, &mut found).await?;
        Ok((found, count))
    }

    /// Fills `members` and `mutes` of normal and temporary conversations with one query each.
    pub async fn fill_member_lists(
        &self,
        app: &str,
        conversations: &mut [Conversation],
    ) -> Result<()> {
        let ids: Vec<String> = conversations
            .iter()
            .filter(|c| matches!(c.kind, Kind::Normal | Kind::Temporary))
            .map(|c| c.id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        for table in ["members", "mutes"] {
            let placeholders = (0..ids.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(",");
            let order = if table == "members" {
                "joined_at, client_id"
            } else {
                "client_id"
            };
            let sql = format!(
                "SELECT conv_id, client_id FROM {table} WHERE app_id = $1 AND conv_id IN ({placeholders}) ORDER BY {order}"
            );
            let mut q = db::query(&sql).bind(app);
            for id in &ids {
                q = q.bind(id.as_str());
            }
            for row in q.fetch_all(self.pool()).await? {
                let conv: String = row.try_get("conv_id")?;
                let client: String = row.try_get("client_id")?;
                if let Some(target) = conversations.iter_mut().find(|c| c.id == conv) {
                    if table == "members" {
                        target.members.push(client);
                    } else {
                        target.mutes.push(client);
                    }
                }
            }
        }
        Ok(())
    }

    /// Replaces the name (when given) and merges `set` into the custom fields, removing
    /// `unset`. Returns the new `updatedAt`.
    pub async fn update_conversation(
        &self,
        app: &str,
        conv: &Conversation,
        name: Option<Option<String>>,
        attrs: serde_json::Map<String, serde_json::Value>,
        now: i64,
    ) -> Result<i64> {
        let name = name.unwrap_or_else(|| conv.name.clone());
        let done = db::query("UPDATE conversations SET name = $1, attrs = $2, updated_at = $3 WHERE app_id = $4 AND id = $5")
            .bind(name)
            .bind(Json(attrs))
            .bind(now)
            .bind(app)
            .bind(conv.id.as_str())
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::conversation_not_found());
        }
        Ok(now)
    }

    /// Deletes a conversation with its members, mutes, subscriptions and messages.
    pub async fn delete_conversation(&self, app: &str, conv: &str) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let done = db::query("DELETE FROM conversations WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(conv)
            .execute(&mut tx)
            .await?;
        for table in [
            "members",
            "mutes",
            "subscriptions",
            "messages",
            "message_targets",
        ] {
            db::query(&format!(
                "DELETE FROM {table} WHERE app_id = $1 AND conv_id = $2"
            ))
            .bind(app)
            .bind(conv)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        self.member_cache.invalidate(app, conv);
        self.send_facts.forget(app, conv);
        self.delivery.forget_conversation(app, conv);
        Ok(done.rows_affected() > 0)
    }
}

/// Binds a fragment's parameters after those already bound.
pub(crate) fn bind<'q>(mut q: db::Query<'q>, fragment: &'q SqlFragment) -> db::Query<'q> {
    for value in &fragment.binds {
        q = match value {
            SqlValue::Null => q.bind(Option::<String>::None),
            SqlValue::Int(v) => q.bind(*v),
            SqlValue::Float(v) => q.bind(*v),
            SqlValue::Text(v) => q.bind(v.as_str()),
        };
    }
    q
}

/// A row of `conversations` as [`COLUMNS`] selects it.
#[derive(sqlx::FromRow)]
struct ConversationRow {
    id: String,
    kind: i64,
    name: Option<String>,
    creator: Option<String>,
    is_unique: bool,
    unique_id: Option<String>,
    attrs: Json<serde_json::Map<String, serde_json::Value>>,
    member_count: i64,
    last_seq: i64,
    last_message_at: Option<i64>,
    expires_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

pub(super) fn conversation_from_row(row: &Row) -> Result<Conversation> {
    let row: ConversationRow = row.decode()?;
    Ok(Conversation {
        id: row.id,
        kind: Kind::from_i64(row.kind)
            .ok_or_else(|| Error::internal(format!("unknown conversation kind {}", row.kind)))?,
        name: row.name,
        creator: row.creator,
        is_unique: row.is_unique,
        unique_id: row.unique_id,
        attrs: row.attrs.0,
        member_count: row.member_count,
        last_seq: row.last_seq,
        last_message_at: row.last_message_at,
        expires_at: row.expires_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        members: Vec::new(),
        mutes: Vec::new(),
    })
}
