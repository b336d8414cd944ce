//! Apps by id, cached for a few seconds so authentication does not cost a query per
//! request. Changes made with `tidings app ...` on a running server apply within the TTL.
//!
//! The id comes straight from a client header (`X-LC-Id`, `appId`), so it is checked for
//! shape before any lookup, and unknown ids are cached in a separate map bounded by count:
//! a flood of distinct made-up ids costs at most [`MAX_MISSES`] × [`MAX_APP_ID_BYTES`].

use crate::domain::app::App;
use crate::error::Result;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(5);

/// The longest app id accepted anywhere (LeanCloud's are 24 to ~33 characters).
pub const MAX_APP_ID_BYTES: usize = 128;

/// Unknown ids remembered at once. Past this, expired misses are dropped, and if none had
/// expired the new miss is simply not cached.
const MAX_MISSES: usize = 1024;

/// The shape every app id has: 1 to [`MAX_APP_ID_BYTES`] of ASCII letters, digits, `-`,
/// `_` and `.`. Anything else cannot name an app, so it is refused without a query.
pub fn is_valid_app_id(app_id: &str) -> bool {
    !app_id.is_empty()
        && app_id.len() <= MAX_APP_ID_BYTES
        && app_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[derive(Default)]
pub struct AppDirectory {
    cache: RwLock<Cache>,
}

#[derive(Default)]
struct Cache {
    /// Known apps and when each was loaded (bounded by the apps that exist).
    apps: HashMap<String, (Instant, Arc<App>)>,
    /// Ids that named no app, and when that was seen.
    misses: HashMap<String, Instant>,
}

enum Cached {
    App(Arc<App>),
    Missing,
}

impl AppDirectory {
    pub async fn get(&self, store: &Store, app_id: &str) -> Result<Option<Arc<App>>> {
        if !is_valid_app_id(app_id) {
            return Ok(None);
        }
        match self.cached(app_id) {
            Some(Cached::App(app)) => return Ok(Some(app)),
            Some(Cached::Missing) => return Ok(None),
            None => {}
        }
        let app = store.find_app(app_id).await?.map(Arc::new);
        if let Ok(mut cache) = self.cache.write() {
            match &app {
                Some(app) => {
                    cache.misses.remove(app_id);
                    cache
                        .apps
                        .insert(app_id.to_owned(), (Instant::now(), Arc::clone(app)));
                }
                None => cache.remember_miss(app_id),
            }
        }
        Ok(app)
    }

    fn cached(&self, app_id: &str) -> Option<Cached> {
        let cache = self.cache.read().ok()?;
        if let Some((at, app)) = cache.apps.get(app_id) {
            if at.elapsed() < TTL {
                return Some(Cached::App(Arc::clone(app)));
            }
        }
        match cache.misses.get(app_id) {
            Some(at) if at.elapsed() < TTL => Some(Cached::Missing),
            _ => None,
        }
    }

    /// Forgets a cached app (after its settings changed in this process).
    pub fn invalidate(&self, app_id: &str) {
        if let Ok(mut cache) = self.cache.write() {
            cache.apps.remove(app_id);
            cache.misses.remove(app_id);
        }
    }

    /// Cached unknown ids (tests check the bound).
    pub fn cached_misses(&self) -> usize {
        self.cache.read().map(|c| c.misses.len()).unwrap_or(0)
    }
}

impl Cache {
    fn remember_miss(&mut self, app_id: &str) {
        if self.misses.len() >= MAX_MISSES {
            self.misses.retain(|_, at| at.elapsed() < TTL);
        }
        if self.misses.len() < MAX_MISSES {
            self.misses.insert(app_id.to_owned(), Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_id_shapes() {
        assert!(is_valid_app_id("tidingsSdkE2eApp00000001"));
        assert!(is_valid_app_id("xxxxxxxx-gzGzoHsz"));
        assert!(is_valid_app_id("gateway-test-app-id"));
        assert!(!is_valid_app_id(""));
        assert!(!is_valid_app_id(&"a".repeat(MAX_APP_ID_BYTES + 1)));
        assert!(!is_valid_app_id("bad id"));
        assert!(!is_valid_app_id("naïve"));
    }

    #[test]
    fn misses_stay_bounded() {
        let mut cache = Cache::default();
        for i in 0..(MAX_MISSES * 3) {
            cache.remember_miss(&format!("missing-{i}"));
        }
        assert_eq!(cache.misses.len(), MAX_MISSES);
    }
}
