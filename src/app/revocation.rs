//! Forced kicks (E43) void the client's session tokens and signatures issued before them,
//! as LeanCloud documents: a kicked client cannot log straight back in with its old `st`.
//! Revocations are stored (tokens survive restarts, so must their revocation) and kept in
//! memory for the checks on every login.

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

    /// Whether a token or signature of `client` made at `issued_at` (ms) was revoked.
    pub fn is_revoked(&self, app: &str, client: &str, issued_at: i64) -> bool {
        self.by_client
            .read()
            .get(&(app.to_owned(), client.to_owned()))
            .is_some_and(|revoked_at| issued_at <= *revoked_at)
    }
}
