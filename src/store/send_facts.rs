//! What a send must know about its conversation before the writer: that it exists, its kind
//! and its expiry. Reading the row was one `SELECT` (and a pool ping) per message, as much
//! database work as the message's share of the group commit.
//!
//! None of these facts change after creation; only a delete (or a re-import) ends them. So entries live until
//! the delete drops them (or the cache starts over at its capacity). A send that slips past a
//! stale entry (the conversation was deleted on another node, or between the check and the
//! write) is still refused: the writer advances the conversation's sequence inside the batch
//! and answers "not found" for a conversation that has no row.

use super::Store;
use crate::domain::conversation::{Conversation, Kind};
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::HashMap;

/// Entries kept at most; past that the cache starts over.
const CAPACITY: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendFacts {
    pub kind: Kind,
    pub expires_at: Option<i64>,
}

#[derive(Default)]
pub(super) struct SendFactsCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    facts: HashMap<(String, String), SendFacts>,
    /// Bumped by every delete: facts read before one are not cached after it.
    generation: u64,
}

impl SendFactsCache {
    pub fn get(&self, app: &str, conv: &str) -> Result<SendFacts, u64> {
        let inner = self.inner.lock();
        match inner.facts.get(&(app.to_owned(), conv.to_owned())) {
            Some(facts) => Ok(*facts),
            None => Err(inner.generation),
        }
    }

    /// Caches facts read from the database, unless a delete happened since `generation`.
    pub fn put(&self, app: &str, conv: &str, generation: u64, facts: SendFacts) {
        let mut inner = self.inner.lock();
        if inner.generation != generation {
            return;
        }
        if inner.facts.len() >= CAPACITY {
            inner.facts.clear();
        }
        inner.facts.insert((app.to_owned(), conv.to_owned()), facts);
    }

    pub fn forget(&self, app: &str, conv: &str) {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        inner.facts.remove(&(app.to_owned(), conv.to_owned()));
    }
}

impl Store {
    /// Drops what is cached about sending to `conv` (its row was deleted or replaced).
    pub(super) fn forget_send_facts(&self, app: &str, conv: &str) {
        self.send_facts.forget(app, conv);
    }

    /// What a send needs of its conversation (cached, see `send_facts.rs`): a
    /// `Conversation` carrying only `id`, `kind` and `expires_at`; members, mutes and fields
    /// are left empty (ask `Store::is_member` and `Store::members`). 404 as
    /// `Store::conversation_of_kind` when it does not exist or is of another kind.
    pub async fn conversation_to_send_to(
        &self,
        app: &str,
        id: &str,
        kinds: &[Kind],
    ) -> Result<Conversation> {
        let facts = match self.send_facts.get(app, id) {
            Ok(facts) => facts,
            Err(generation) => {
                let Some(found) = self.find_conversation(app, id).await? else {
                    return Err(Error::conversation_not_found());
                };
                let facts = SendFacts {
                    kind: found.kind,
                    expires_at: found.expires_at,
                };
                self.send_facts.put(app, id, generation, facts);
                facts
            }
        };
        if !kinds.contains(&facts.kind) {
            return Err(Error::conversation_not_found());
        }
        Ok(Conversation {
            id: id.to_owned(),
            kind: facts.kind,
            name: None,
            creator: None,
            is_unique: false,
            unique_id: None,
            attrs: serde_json::Map::new(),
            member_count: 0,
            last_seq: 0,
            last_message_at: None,
            expires_at: facts.expires_at,
            created_at: 0,
            updated_at: 0,
            members: Vec::new(),
            mutes: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS: SendFacts = SendFacts {
        kind: Kind::Normal,
        expires_at: None,
    };

    #[test]
    fn a_read_that_raced_a_delete_is_not_cached() {
        let cache = SendFactsCache::default();
        let Err(generation) = cache.get("app", "c") else {
            panic!("empty cache");
        };
        cache.forget("app", "c");
        cache.put("app", "c", generation, FACTS);
        assert!(cache.get("app", "c").is_err());
    }

    #[test]
    fn facts_stay_until_the_conversation_is_deleted() {
        let cache = SendFactsCache::default();
        let Err(generation) = cache.get("app", "c") else {
            panic!("empty cache");
        };
        cache.put("app", "c", generation, FACTS);
        assert_eq!(cache.get("app", "c"), Ok(FACTS));
        assert_eq!(cache.get("other", "c").map(|_| ()), Err(0));
        cache.forget("app", "c");
        assert!(cache.get("app", "c").is_err());
    }
}
