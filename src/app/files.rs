//! File use cases (LeanStorage `_File`), as the `leancloud-storage` SDK drives them:
//!
//! 1. `POST /1.1/fileTokens` ([`create_upload`]): a pending file with a single-use, expiring
//!    upload token; the answer mimics LeanCloud's S3 provider, whose `upload_url` is ours.
//! 2. `PUT {upload_url}` ([`upload`]): spends the token, streams the bytes to the storage
//!    (size-limited, hashed), marks the file ready. A failed upload leaves nothing behind.
//! 3. `POST /1.1/fileCallback` ([`callback`]): `result: false` drops the file.
//!
//! Plus external URLs (`AV.File.withURL(...).save()`), fetch, delete, and downloads.

use crate::domain::app::App;
use crate::domain::{ids, time};
use crate::error::{code, Error, Result};
use crate::files::naming;
use crate::files::range::Requested;
use crate::files::storage::{Download, UploadError};
use crate::state::AppState;
pub use crate::store::files::FileRecord;
use crate::store::files::{FileState, NewFile};
use bytes::Bytes;
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The provider the SDK must pick: its S3 uploader is one plain `PUT` of the bytes.
const PROVIDER: &str = "s3";
/// The bucket name shown in `_File` objects.
const BUCKET: &str = "tidings";
const MAX_URL_CHARS: usize = 2048;
const TOKEN_BYTES: usize = 24;

/// The body of `POST /1.1/fileTokens` (the SDK also sends `ACL`, `keep_file_name` and `key`,
/// which do not change where Tidings keeps the bytes).
#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    pub name: String,
    pub mime_type: Option<String>,
    #[serde(rename = "metaData")]
    pub meta_data: Option<Map<String, Value>>,
}

/// The body of `POST /1.1/files` (an external file: a URL, no bytes).
#[derive(Debug, Deserialize)]
pub struct ExternalRequest {
    pub name: String,
    pub url: String,
    pub mime_type: Option<String>,
    #[serde(rename = "metaData")]
    pub meta_data: Option<Map<String, Value>>,
}

/// `http(s)://host` without a trailing slash: `public_url`, or else from the request.
pub fn base_url(public_url: &str, host: Option<&str>, forwarded_proto: Option<&str>) -> String {
    let public_url = public_url.trim().trim_end_matches('/');
    if public_url.is_empty() {
        let host = host
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost");
        let proto = if forwarded_proto == Some("https") {
            "https"
        } else {
            "http"
        };
        format!("{proto}://{host}")
    } else if public_url.contains("://") {
        public_url.to_owned()
    } else {
        format!("https://{public_url}")
    }
}

/// Where a stored file is served: `{base}/files/{app_id}/{key}`.
pub fn public_file_url(base: &str, app_id: &str, key: &str) -> String {
    format!("{base}/files/{app_id}/{key}")
}

fn owner_of(meta: &Map<String, Value>) -> String {
    meta.get("owner")
        .and_then(Value::as_str)
        .filter(|o| !o.is_empty() && o.len() <= 64)
        .unwrap_or("unknown")
        .to_owned()
}

fn meta_text(meta: &Map<String, Value>) -> Result<String> {
    serde_json::to_string(meta).map_err(|e| Error::Internal(e.into()))
}

/// `POST /1.1/fileTokens`.
pub async fn create_upload(
    state: &AppState,
    app: &App,
    base: &str,
    request: TokenRequest,
) -> Result<Value> {
    naming::validate_name(&request.name)?;
    let mime_type = naming::mime_type(request.mime_type.as_deref(), &request.name);
    let meta = request.meta_data.unwrap_or_default();
    let key = naming::new_storage_key(&request.name);
    let now = time::now_ms();
    let record = FileRecord {
        object_id: ids::new_object_id(),
        name: request.name,
        url: public_file_url(base, &app.app_id, &key),
        storage_key: Some(key.clone()),
        mime_type: mime_type.clone(),
        size: 0,
        checksum: None,
        owner: owner_of(&meta),
        meta_data: meta_text(&meta)?,
        source_url: None,
        state: FileState::Pending,
        created_at: now,
        updated_at: now,
    };
    let token = ids::random_token(TOKEN_BYTES);
    let expires_at = now + state.config.file_token_ttl_secs as i64 * 1000;
    state
        .store
        .insert_file(
            &app.app_id,
            NewFile {
                record: &record,
                upload_token: Some(&token),
                token_expires_at: Some(expires_at),
            },
        )
        .await?;
    Ok(json!({
        "objectId": record.object_id,
        "token": token,
        "upload_url": format!("{base}/uploads/{token}"),
        "url": record.url,
        "provider": PROVIDER,
        "bucket": BUCKET,
        "key": key,
        "mime_type": mime_type,
        "expires_at": time::iso(expires_at),
    }))
}

/// `PUT /uploads/{token}`: the bytes. `declared_len` is the request's `Content-Length`.
pub async fn upload<S, E>(
    state: &AppState,
    token: &str,
    declared_len: Option<u64>,
    body: S,
) -> Result<String>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let now = time::now_ms();
    let Some((app_id, file)) = state.store.spend_upload_token(token, now).await? else {
        return Err(Error::forbidden(
            code::FORBIDDEN,
            "The upload token is invalid, expired or already used.",
        ));
    };
    let Some(key) = file.storage_key.clone() else {
        return Err(Error::internal("a pending file without a storage key"));
    };
    let max = state.config.max_file_bytes;
    let outcome = if declared_len.is_some_and(|len| len > max) {
        Err(UploadError::TooLarge)
    } else {
        state.files.upload(&app_id, &key, body, max).await
    };
    let stored = match outcome {
        Ok(stored) => stored,
        Err(failure) => {
            // The file never existed: no row, no bytes (the storage aborted the partial object).
            state.store.delete_file(&app_id, &file.object_id).await?;
            return Err(match failure {
                UploadError::TooLarge => Error::PayloadTooLarge,
                UploadError::Body(e) => Error::invalid(format!("The upload body failed: {e}")),
                UploadError::Storage(e) => Error::Internal(e),
            });
        }
    };
    let mut meta: Map<String, Value> = serde_json::from_str(&file.meta_data).unwrap_or_default();
    meta.insert("size".into(), json!(stored.size));
    meta.insert("_checksum".into(), json!(stored.md5_hex));
    meta.insert("owner".into(), json!(file.owner));
    state
        .store
        .mark_file_ready(
            &app_id,
            &file.object_id,
            stored.size as i64,
            &stored.md5_hex,
            &meta_text(&meta)?,
            time::now_ms(),
        )
        .await?;
    Ok(stored.md5_hex)
}

/// `POST /1.1/fileCallback`: `result: false` means the client gave up; the file goes.
pub async fn callback(state: &AppState, app: &App, token: &str, result: bool) -> Result<Value> {
    let Some(file) = state.store.find_file_by_token(&app.app_id, token).await? else {
        return Err(Error::not_found(
            code::OBJECT_NOT_FOUND,
            "Unknown upload token.",
        ));
    };
    if !result {
        remove(state, &app.app_id, &file).await?;
    }
    Ok(json!({}))
}

/// `POST /1.1/files`: a file that lives at an external URL.
pub async fn create_external(
    state: &AppState,
    app: &App,
    request: ExternalRequest,
) -> Result<Value> {
    naming::validate_name(&request.name)?;
    let url = request.url.trim();
    let web = url.starts_with("http://") || url.starts_with("https://");
    if !web || url.chars().count() > MAX_URL_CHARS || url.chars().any(char::is_whitespace) {
        return Err(Error::invalid(
            "url must be an http(s) URL of at most 2048 characters.",
        ));
    }
    let meta = request.meta_data.unwrap_or_default();
    let now = time::now_ms();
    let record = FileRecord {
        object_id: ids::new_object_id(),
        mime_type: naming::mime_type(request.mime_type.as_deref(), &request.name),
        name: request.name,
        storage_key: None,
        url: url.to_owned(),
        size: meta.get("size").and_then(Value::as_i64).unwrap_or(0),
        checksum: None,
        owner: owner_of(&meta),
        meta_data: meta_text(&meta)?,
        source_url: None,
        state: FileState::External,
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .insert_file(
            &app.app_id,
            NewFile {
                record: &record,
                upload_token: None,
                token_expires_at: None,
            },
        )
        .await?;
    Ok(json!({
        "objectId": record.object_id,
        "createdAt": time::iso(now),
        "url": record.url,
        "name": record.name,
    }))
}

/// A file the app can see: stored or external (a pending upload is not a file yet).
async fn visible(state: &AppState, app_id: &str, object_id: &str) -> Result<FileRecord> {
    let found = if ids::is_object_id(object_id) {
        state.store.find_file(app_id, object_id).await?
    } else {
        None
    };
    match found {
        Some(file) if matches!(file.state, FileState::Ready | FileState::External) => Ok(file),
        _ => Err(Error::not_found(
            code::OBJECT_NOT_FOUND,
            "Could not find file.",
        )),
    }
}

/// `GET /1.1/files/{id}`.
pub async fn fetch(state: &AppState, app: &App, object_id: &str) -> Result<Value> {
    Ok(render(&visible(state, &app.app_id, object_id).await?))
}

/// `DELETE /1.1/files/{id}` (master key): the metadata, then the bytes.
pub async fn delete(state: &AppState, app: &App, object_id: &str) -> Result<Value> {
    let file = visible(state, &app.app_id, object_id).await?;
    remove(state, &app.app_id, &file).await?;
    Ok(json!({}))
}

async fn remove(state: &AppState, app_id: &str, file: &FileRecord) -> Result<()> {
    state.store.delete_file(app_id, &file.object_id).await?;
    if let Some(key) = &file.storage_key {
        state.files.delete(app_id, key).await?;
    }
    Ok(())
}

/// A `_File` object as LeanStorage renders it.
pub fn render(file: &FileRecord) -> Value {
    let meta: Value = serde_json::from_str(&file.meta_data).unwrap_or_else(|_| json!({}));
    let mut out = json!({
        "objectId": file.object_id,
        "name": file.name,
        "url": file.url,
        "mime_type": file.mime_type,
        "metaData": meta,
        "createdAt": time::iso(file.created_at),
        "updatedAt": time::iso(file.updated_at),
    });
    if let (Some(key), Value::Object(map)) = (&file.storage_key, &mut out) {
        map.insert("key".into(), json!(key));
        map.insert("bucket".into(), json!(BUCKET));
        map.insert("provider".into(), json!(PROVIDER));
    }
    out
}

/// What a download answers.
pub enum Served {
    /// 200 or 206 with these bytes.
    Bytes {
        file: FileRecord,
        /// `Some` for a 206: the slice and the total size.
        part: Option<(std::ops::Range<u64>, u64)>,
        download: Download,
    },
    /// 304: the client's copy is current.
    NotModified { file: FileRecord },
    /// 416 for a file of this size.
    Unsatisfiable { size: u64 },
}

/// `GET /files/{app_id}/{key}`: only keys the app's metadata names, only stored files.
pub async fn download(
    state: &AppState,
    app_id: &str,
    key: &str,
    range: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<Served> {
    let not_found = || Error::not_found(code::OBJECT_NOT_FOUND, "Could not find file.");
    if !naming::is_storage_key(key) || app_id.is_empty() || app_id.len() > 64 {
        return Err(not_found());
    }
    let file = match state.store.find_file_by_key(app_id, key).await? {
        Some(file) if file.state == FileState::Ready => file,
        _ => return Err(not_found()),
    };
    let etag = etag(&file);
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return Ok(Served::NotModified { file });
    }
    let size = u64::try_from(file.size).unwrap_or(0);
    let slice = match crate::files::range::requested(range, size) {
        Requested::Whole => None,
        Requested::Part(part) => Some(part),
        Requested::Unsatisfiable => return Ok(Served::Unsatisfiable { size }),
    };
    let Some(download) = state.files.get(app_id, key, slice.clone()).await? else {
        return Err(not_found());
    };
    Ok(Served::Bytes {
        part: slice.map(|s| (s, size)),
        file,
        download,
    })
}

/// The strong validator of a stored file: its md5, quoted.
pub fn etag(file: &FileRecord) -> String {
    format!(
        "\"{}\"",
        file.checksum.as_deref().unwrap_or(&file.object_id)
    )
}
