//! Member lists of conversations, cached: a send to a normal conversation needs its members
//! for the fan-out, and reading them was one query per message. Every path that changes
//! membership in this process (create, add, remove, delete, import) invalidates the entry.
//! Clustered, every invalidation also goes to the other nodes (the hook set by
//! `cluster::start`), which drop their entry without passing it on.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// Entries kept at most; past that the cache starts over (a burst of one-off reads).
const CAPACITY: usize = 20_000;

type Key = (String, String);

/// Called with (app, conversation) on every invalidation made in this process.
pub type ChangeHook = Box<dyn Fn(&str, &str) + Send + Sync>;

#[derive(Default)]
pub(super) struct MemberCache {
    inner: Mutex<Inner>,
    on_change: std::sync::OnceLock<ChangeHook>,
}

#[derive(Default)]
struct Inner {
    lists: HashMap<Key, Arc<Vec<String>>>,
    /// Bumped by every invalidation: a list read before one is not cached after it.
    generation: u64,
}

impl MemberCache {
    pub fn get(&self, app: &str, conv: &str) -> Result<Arc<Vec<String>>, u64> {
        let inner = self.inner.lock();
        match inner.lists.get(&(app.to_owned(), conv.to_owned())) {
            Some(list) => Ok(Arc::clone(list)),
            None => Err(inner.generation),
        }
    }

    /// Caches a list read from the database, unless membership changed since `generation`.
    pub fn put(&self, app: &str, conv: &str, generation: u64, list: Vec<String>) {
        let mut inner = self.inner.lock();
        if inner.generation != generation {
            return;
        }
        if inner.lists.len() >= CAPACITY {
            inner.lists.clear();
        }
        inner
            .lists
            .insert((app.to_owned(), conv.to_owned()), Arc::new(list));
    }

    pub fn invalidate(&self, app: &str, conv: &str) {
        self.forget(app, conv);
        if let Some(hook) = self.on_change.get() {
            hook(app, conv);
        }
    }

    /// Drops one entry without telling anyone (an invalidation from another node).
    pub fn forget(&self, app: &str, conv: &str) {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        inner.lists.remove(&(app.to_owned(), conv.to_owned()));
    }

    /// Drops every entry (invalidations from other nodes may have been missed).
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        inner.lists.clear();
    }

    pub fn set_hook(&self, hook: ChangeHook) {
        let _ = self.on_change.set(hook);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_read_before_a_change_is_not_cached_after_it() {
        let cache = MemberCache::default();
        let Err(generation) = cache.get("a", "c") else {
            panic!("empty cache")
        };
        cache.invalidate("a", "c");
        cache.put("a", "c", generation, vec!["old".into()]);
        let Err(generation) = cache.get("a", "c") else {
            panic!("stale list cached")
        };
        cache.put("a", "c", generation, vec!["new".into()]);
        assert_eq!(
            cache.get("a", "c").ok().map(|l| l[0].clone()),
            Some("new".into())
        );
    }
}
