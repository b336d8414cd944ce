//! File metadata (`_File` objects), per app. The upload token is single use: spending it is
//! one conditional UPDATE, so two uploads racing on one token cannot both win.

use super::Store;
use crate::error::Result;
use crate::store::db::{self, Row};

/// Where a file's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// A token was handed out; no bytes yet.
    Pending,
    /// The token is spent and the bytes are being written.
    Uploading,
    /// The bytes are stored.
    Ready,
    /// A URL saved with `AV.File.withURL`: no bytes here.
    External,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Pending => "pending",
            FileState::Uploading => "uploading",
            FileState::Ready => "ready",
            FileState::External => "external",
        }
    }

    fn parse(text: &str) -> FileState {
        match text {
            "pending" => FileState::Pending,
            "uploading" => FileState::Uploading,
            "external" => FileState::External,
            _ => FileState::Ready,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FileRecord {
    pub object_id: String,
    pub name: String,
    pub storage_key: Option<String>,
    pub url: String,
    pub mime_type: String,
    pub size: i64,
    pub checksum: Option<String>,
    pub owner: String,
    /// The client's `metaData` as JSON text.
    pub meta_data: String,
    pub source_url: Option<String>,
    pub state: FileState,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new row: with an upload token (SDK uploads) or without (external URLs, imports).
pub struct NewFile<'a> {
    pub record: &'a FileRecord,
    pub upload_token: Option<&'a str>,
    pub token_expires_at: Option<i64>,
}

const COLUMNS: &str = "object_id, name, storage_key, url, mime_type, size, checksum, owner, \
                       meta_data, source_url, state, created_at, updated_at";

fn record_from_row(row: &Row) -> Result<FileRecord> {
    Ok(FileRecord {
        object_id: row.try_get("object_id")?,
        name: row.try_get("name")?,
        storage_key: row.try_get("storage_key")?,
        url: row.try_get("url")?,
        mime_type: row.try_get("mime_type")?,
        size: row.try_get("size")?,
        checksum: row.try_get("checksum")?,
        owner: row.try_get("owner")?,
        meta_data: row.json_text("meta_data")?.unwrap_or_default(),
        source_url: row.try_get("source_url")?,
        state: FileState::parse(&row.try_get::<String, _>("state")?),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn insert_file(&self, app: &str, new: NewFile<'_>) -> Result<()> {
        let file = new.record;
        db::query(
            "INSERT INTO files (app_id, object_id, name, storage_key, url, mime_type, size, checksum,
                 owner, meta_data, source_url, state, upload_token, token_expires_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(app)
        .bind(file.object_id.as_str())
        .bind(file.name.as_str())
        .bind(file.storage_key.as_deref())
        .bind(file.url.as_str())
        .bind(file.mime_type.as_str())
        .bind(file.size)
        .bind(file.checksum.as_deref())
        .bind(file.owner.as_str())
        .bind(db::json_text(&file.meta_data)?)
        .bind(file.source_url.as_deref())
        .bind(file.state.as_str())
        .bind(new.upload_token)
        .bind(new.token_expires_at)
        .bind(file.created_at)
        .bind(file.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn find_file(&self, app: &str, object_id: &str) -> Result<Option<FileRecord>> {
        let row = db::query(&format!(
            "SELECT {COLUMNS} FROM files WHERE app_id = $1 AND object_id = $2"
        ))
        .bind(app)
        .bind(object_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// A stored file by its storage key (downloads).
    pub async fn find_file_by_key(&self, app: &str, key: &str) -> Result<Option<FileRecord>> {
        let row = db::query(&format!(
            "SELECT {COLUMNS} FROM files WHERE app_id = $1 AND storage_key = $2"
        ))
        .bind(app)
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// The copy of an imported file, by the URL it was copied from.
    pub async fn find_file_by_source(&self, app: &str, url: &str) -> Result<Option<FileRecord>> {
        let row = db::query(&format!(
            "SELECT {COLUMNS} FROM files WHERE app_id = $1 AND source_url = $2"
        ))
        .bind(app)
        .bind(url)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Spends an upload token: the pending file it names, now `uploading`, or `None` when
    /// the token is unknown, expired or already spent. The token is kept (spent) so that
    /// `/1.1/fileCallback` can still name the file.
    pub async fn spend_upload_token(
        &self,
        token: &str,
        now_ms: i64,
    ) -> Result<Option<(String, FileRecord)>> {
        let row = db::query(&format!(
            "UPDATE files SET state = 'uploading', updated_at = $2
             WHERE upload_token = $1 AND state = 'pending' AND token_expires_at > $2
             RETURNING app_id, {COLUMNS}"
        ))
        .bind(token)
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => Ok(Some((row.try_get("app_id")?, record_from_row(&row)?))),
            None => Ok(None),
        }
    }

    /// Marks an uploaded file stored, with what the upload measured.
    pub async fn mark_file_ready(
        &self,
        app: &str,
        object_id: &str,
        size: i64,
        checksum: &str,
        meta_data: &str,
        now_ms: i64,
    ) -> Result<()> {
        db::query(
            "UPDATE files SET state = 'ready', size = $3, checksum = $4, meta_data = $5, updated_at = $6
             WHERE app_id = $1 AND object_id = $2",
        )
        .bind(app)
        .bind(object_id)
        .bind(size)
        .bind(checksum)
        .bind(db::json_text(meta_data)?)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The file an upload token was handed out for, spent or not (`/1.1/fileCallback`).
    pub async fn find_file_by_token(&self, app: &str, token: &str) -> Result<Option<FileRecord>> {
        let row = db::query(&format!(
            "SELECT {COLUMNS} FROM files WHERE app_id = $1 AND upload_token = $2"
        ))
        .bind(app)
        .bind(token)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    pub async fn delete_file(&self, app: &str, object_id: &str) -> Result<bool> {
        let done = db::query("DELETE FROM files WHERE app_id = $1 AND object_id = $2")
            .bind(app)
            .bind(object_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Tokens handed out but never used, past their expiry: their rows hold no bytes.
    pub async fn delete_expired_pending_files(&self, now_ms: i64) -> Result<u64> {
        let done =
            db::query("DELETE FROM files WHERE state = 'pending' AND token_expires_at <= $1")
                .bind(now_ms)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// Files copied by an import (they have a source URL), for `import --verify`.
    pub async fn imported_files(&self, app: &str) -> Result<Vec<FileRecord>> {
        let rows = db::query(&format!(
            "SELECT {COLUMNS} FROM files WHERE app_id = $1 AND source_url IS NOT NULL ORDER BY object_id"
        ))
        .bind(app)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(record_from_row).collect()
    }
}

impl Store {
    /// Creates or replaces an exported `_File` object (import of a console export); returns
    /// whether it was new. Files stored here (with bytes) are never replaced.
    pub async fn import_external_file(&self, app: &str, file: &FileRecord) -> Result<bool> {
        let existed = self.find_file(app, &file.object_id).await?;
        match existed {
            Some(existing) if existing.storage_key.is_some() => Ok(false),
            Some(_) => {
                db::query(
                    "UPDATE files SET name = $3, url = $4, mime_type = $5, size = $6, meta_data = $7,
                         owner = $8, updated_at = $9 WHERE app_id = $1 AND object_id = $2",
                )
                .bind(app)
                .bind(file.object_id.as_str())
                .bind(file.name.as_str())
                .bind(file.url.as_str())
                .bind(file.mime_type.as_str())
                .bind(file.size)
                .bind(db::json_text(&file.meta_data)?)
                .bind(file.owner.as_str())
                .bind(file.updated_at)
                .execute(self.pool())
                .await?;
                Ok(false)
            }
            None => {
                self.insert_file(
                    app,
                    NewFile {
                        record: file,
                        upload_token: None,
                        token_expires_at: None,
                    },
                )
                .await?;
                Ok(true)
            }
        }
    }
}
