//! Forced kicks (E43) void the client's session tokens and signatures issued before them,
//! as LeanCloud documents: a kicked client cannot log straight back in with its old `st`.
//! Revocations are stored (tokens survive restarts, so must their revocation) and kept in
//! memory for the checks on every login. Clustered, a revocation also travels on the bus to
//! the other nodes' memory (and each reloads the stored ones after a bus outage).

use crate::error::Result;
use crate::store::Store;
use parking_lot::RwLock;
use std::collections::HashMap;

#[derive(Default)]
pub struct Revocations {
    /// (app, client) -> tokens and signatures issued at or before this time (ms) are void.
    by_client: RwLock<HashMap<(String, String), i64>>,
}

impl Revocations {
    /// Loads the revocations that can still matter (newer than the oldest valid token).
    pub async fn load(store: &Store, since: i64) -> Result<Revocations> {
        let rows = store.revocations_since(since).await?;
        let by_client = rows
            .into_iter()
            .map(|(app, client, at)| ((app, client), at))
            .collect();
        Ok(Revocations {
            by_client: RwLock::new(by_client),
        })
    }

    pub async fn revoke(&self, store: &Store, app: &str, client: &str, at: i64) -> Result<()> {
        store.revoke_client(app, client, at).await?;
        self.by_client
            .write()
            .insert((app.to_owned(), client.to_owned()), at);
        Ok(())
    }

    /// A revocation made on another node (already stored there).
    pub fn remember(&self, app: &str, client: &str, at: i64) {
        let mut by_client = self.by_client.write();
        let entry = by_client
            .entry((app.to_owned(), client.to_owned()))
            .or_insert(at);
        *entry = (*entry).max(at);
    }

    /// Reads the stored revocations again (after an outage of the bus, which may have lost
    /// some made on other nodes).
    pub async fn reload(&self, store: &Store, since: i64) -> Result<()> {
        for (app, client, at) in store.revocations_since(since).await? {
            self.remember(&app, &client, at);
        }
        Ok(())
    }

    /// Whether a token or signature of `client` made at `issued_at` (ms) was revoked.
    pub fn is_revoked(&self, app: &str, client: &str, issued_at: i64) -> bool {
        self.by_client
            .read()
            .get(&(app.to_owned(), client.to_owned()))
            .is_some_and(|revoked_at| issued_at <= *revoked_at)
    }
}
