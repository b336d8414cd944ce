//! Apps by id, cached for a few seconds so authentication does not cost a query per
//! request. Changes made with `tidings app ...` on a running server apply within the TTL.

use crate::domain::app::App;
use crate::error::Result;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(5);

/// When an entry was loaded, and the app (or its absence).
type Entry = (Instant, Option<Arc<App>>);

#[derive(Default)]
pub struct AppDirectory {
    cache: RwLock<HashMap<String, Entry>>,
}

impl AppDirectory {
    pub async fn get(&self, store: &Store, app_id: &str) -> Result<Option<Arc<App>>> {
        if let Ok(cache) = self.cache.read() {
            if let Some((at, app)) = cache.get(app_id) {
                if at.elapsed() < TTL {
                    return Ok(app.clone());
                }
            }
        }
        let app = store.find_app(app_id).await?.map(Arc::new);
        if let Ok(mut cache) = self.cache.write() {
            // Unknown ids are cached too (briefly), but the map is bounded against floods.
            if cache.len() > 10_000 {
                cache.retain(|_, (at, app)| app.is_some() && at.elapsed() < TTL);
            }
            cache.insert(app_id.to_owned(), (Instant::now(), app.clone()));
        }
        Ok(app)
    }

    /// Forgets a cached app (after its settings changed in this process).
    pub fn invalidate(&self, app_id: &str) {
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(app_id);
        }
    }
}
