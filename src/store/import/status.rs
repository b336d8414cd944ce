//! How far imports into an app have got, for the console: conversations whose history import
//! started, those finished, and when the last one moved.

use crate::error::Result;
use crate::store::db;
use crate::store::Store;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportStatus {
    /// Conversations whose history import has started.
    pub conversations: i64,
    /// Of those, the ones whose scan reached the end of the source's history.
    pub complete: i64,
    /// When the import state last changed (ms), if ever.
    pub last_update: Option<i64>,
}

impl Store {
    pub async fn import_status(&self, app: &str) -> Result<ImportStatus> {
        let row = db::query(
            "SELECT COUNT(*) AS conversations, MAX(updated_at) AS last_update FROM import_state WHERE app_id = $1",
        )
        .bind(app)
        .fetch_one(self.pool())
        .await?;
        let complete: i64 =
            db::query("SELECT COUNT(*) FROM import_state WHERE app_id = $1 AND complete = TRUE")
                .bind(app)
                .fetch_one(self.pool())
                .await?
                .try_get(0)?;
        Ok(ImportStatus {
            conversations: row.try_get("conversations")?,
            complete,
            last_update: row.try_get("last_update")?,
        })
    }
}
