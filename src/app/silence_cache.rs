//! Whether a sender is silenced in a conversation, cached: every send by a client asked the
//! database, one query per message. Every path that changes silences in this process (SDK
//! `add_shutup` / `remove_shutup`, the admin's `silenced-members` routes, a conversation
//! delete) calls [`changed`], which forgets the conversation's entries here and, clustered,
//! on the other nodes (`Body::Silences`, as member-list invalidations travel).
//!
//! Silences have no time limit in Tidings (LeanCloud's temporary silence with a `ttl` is
//! not served), so correctness rests on the invalidations; entries still expire after
//! [`TTL`], which bounds how long a frame lost on the bus can leave a node wrong, and a
//! node back from a Redis outage clears everything. Bounded by [`CAPACITY`] answers: past
//! that the cache starts over, as the member-list cache does.

use crate::state::AppState;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long an answer is trusted without an invalidation.
pub const TTL: Duration = Duration::from_secs(30);
/// Answers kept at most (over all conversations).
pub const CAPACITY: usize = 50_000;

type ConvKey = (String, String);

#[derive(Default)]
pub struct SilenceCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// (app, conversation) -> client -> (silenced, read at).
    convs: HashMap<ConvKey, HashMap<String, (bool, Instant)>>,
    answers: usize,
    /// Bumped by every invalidation: an answer read before one is not cached after it.
    generation: u64,
}

impl SilenceCache {
    /// The cached answer, or the generation to hand back to [`SilenceCache::put`].
    pub fn get(&self, app: &str, conv: &str, client: &str) -> Result<bool, u64> {
        let inner = self.inner.lock();
        let key = (app.to_owned(), conv.to_owned());
        match inner.convs.get(&key).and_then(|c| c.get(client)) {
            Some((silenced, at)) if at.elapsed() < TTL => Ok(*silenced),
            _ => Err(inner.generation),
        }
    }

    /// Caches an answer read from the database, unless silences changed since `generation`.
    pub fn put(&self, app: &str, conv: &str, client: &str, generation: u64, silenced: bool) {
        let mut inner = self.inner.lock();
        if inner.generation != generation {
            return;
        }
        if inner.answers >= CAPACITY {
            inner.convs.clear();
            inner.answers = 0;
        }
        let clients = inner
            .convs
            .entry((app.to_owned(), conv.to_owned()))
            .or_default();
        let fresh = clients
            .insert(client.to_owned(), (silenced, Instant::now()))
            .is_none();
        if fresh {
            inner.answers += 1;
        }
    }

    /// Drops a conversation's answers without telling anyone (a change made elsewhere).
    pub fn forget(&self, app: &str, conv: &str) {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        if let Some(clients) = inner.convs.remove(&(app.to_owned(), conv.to_owned())) {
            inner.answers -= clients.len();
        }
    }

    /// Drops every answer (invalidations from other nodes may have been missed).
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        inner.convs.clear();
        inner.answers = 0;
    }

    /// Answers held (tests check the bound).
    pub fn len(&self) -> usize {
        self.inner.lock().answers
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The silences of `conv` changed in this process: forget them here and on the other nodes.
pub fn changed(state: &AppState, app: &str, conv: &str) {
    state.silences.forget(app, conv);
    if let Some(cluster) = state.hub.cluster() {
        cluster.broadcast(crate::cluster::wire::Body::Silences {
            app: app.to_owned(),
            conv: conv.to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generation of a miss (a hit here is a test failure).
    fn miss(cache: &SilenceCache, conv: &str, client: &str) -> u64 {
        match cache.get("a", conv, client) {
            Err(generation) => generation,
            Ok(hit) => panic!("unexpected cached answer {hit}"),
        }
    }

    #[test]
    fn an_invalidation_drops_the_conversation_and_a_racing_read() {
        let cache = SilenceCache::default();
        let generation = miss(&cache, "c", "bob");
        cache.put("a", "c", "bob", generation, true);
        assert_eq!(cache.get("a", "c", "bob"), Ok(true));
        // A read that started before an invalidation is not cached after it.
        let stale = miss(&cache, "c", "eve");
        cache.forget("a", "c");
        cache.put("a", "c", "eve", stale, true);
        assert!(cache.get("a", "c", "eve").is_err());
        assert!(cache.get("a", "c", "bob").is_err());
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = SilenceCache::default();
        for i in 0..(CAPACITY + 10) {
            let generation = miss(&cache, "c", "x");
            cache.put(
                "a",
                &format!("c{}", i % 100),
                &format!("m{i}"),
                generation,
                false,
            );
        }
        assert!(cache.len() <= CAPACITY, "{}", cache.len());
    }
}
