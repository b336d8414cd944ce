//! Files referenced by imported messages (`_lcfile.url`): copied into Tidings' file storage
//! before the page that references them is written, and the messages rewritten to the copies
//! (`_lcfile.url` under the target's `public_url`, `_lcfile.objId` the copy's id). The
//! original URL stays in the copy's metadata (`source_url`, and `metaData._sourceUrl`).
//!
//! Resumable like the rest: a URL already copied (found by its source URL) is not fetched
//! again. A file that cannot be fetched is reported as skipped and its message keeps the
//! original URL.

use super::Report;
use crate::app::files::public_file_url;
use crate::domain::{ids, time};
use crate::files::{naming, FileStorage};
use crate::store::files::{FileRecord, FileState, NewFile};
use crate::store::import::ImportedMessage;
use crate::store::Store;
use anyhow::{bail, Context};
use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use std::time::Duration;

const FETCH_ATTEMPTS: u32 = 3;

/// Where copies go: the target's file storage and public URL.
#[derive(Debug, Clone)]
pub struct FilesTarget {
    /// The target's `files_url` (empty: beside the SQLite database).
    pub files_url: String,
    /// The target's `public_url`: copies are served under it.
    pub public_url: String,
    pub max_file_bytes: u64,
}

pub(crate) struct FileCopier {
    storage: FileStorage,
    base: String,
    max_bytes: u64,
    http: reqwest::Client,
}

impl FileCopier {
    pub fn new(target: &FilesTarget, database_url: &str) -> anyhow::Result<FileCopier> {
        let base = target.public_url.trim().trim_end_matches('/').to_owned();
        anyhow::ensure!(
            base.starts_with("http://") || base.starts_with("https://"),
            "copying files needs the target's public_url (TIDINGS_PUBLIC_URL, e.g. https://im.example.com); \
             or pass --files keep"
        );
        let storage = FileStorage::open(
            &target.files_url,
            &crate::files::storage::default_dir(database_url),
        )?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        Ok(FileCopier {
            storage,
            base,
            max_bytes: target.max_file_bytes,
            http,
        })
    }

    /// Copies the files `messages` reference and points the messages at the copies.
    pub async fn rewrite(
        &self,
        store: &Store,
        app: &str,
        messages: &mut [ImportedMessage],
        report: &Mutex<Report>,
    ) -> anyhow::Result<()> {
        for message in messages.iter_mut() {
            let Ok(Value::Object(mut content)) =
                serde_json::from_str::<Value>(&message.content.data)
            else {
                continue;
            };
            let Some(Value::Object(lcfile)) = content.get_mut("_lcfile") else {
                continue;
            };
            let Some(url) = lcfile.get("url").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            if url.starts_with(&format!("{}/files/", self.base)) {
                continue; // already ours
            }
            let meta = lcfile
                .get("metaData")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            match self.copy(store, app, &url, &meta).await {
                Ok(copy) => {
                    lcfile.insert("url".into(), json!(copy.url));
                    lcfile.insert("objId".into(), json!(copy.object_id));
                    message.content.data = serde_json::to_string(&content)?;
                }
                Err(e) => report.lock().skip(
                    format!("file {url} of message {}", message.msg_id),
                    format!("not copied, URL kept: {e:#}"),
                ),
            }
        }
        Ok(())
    }

    async fn copy(
        &self,
        store: &Store,
        app: &str,
        url: &str,
        meta: &Map<String, Value>,
    ) -> anyhow::Result<FileRecord> {
        if let Some(copy) = store.find_file_by_source(app, url).await? {
            return Ok(copy);
        }
        let (bytes, content_type) = self.fetch(url).await?;
        let name = file_name(meta, url);
        let key = naming::new_storage_key(&name);
        let stored = self.storage.put(app, &key, bytes).await?;
        let mut meta = meta.clone();
        meta.insert("size".into(), json!(stored.size));
        meta.insert("_checksum".into(), json!(stored.md5_hex));
        meta.insert("_sourceUrl".into(), json!(url));
        let now = time::now_ms();
        let record = FileRecord {
            object_id: ids::new_object_id(),
            mime_type: naming::mime_type(content_type.as_deref(), &name),
            url: public_file_url(&self.base, app, &key),
            storage_key: Some(key),
            name,
            size: stored.size as i64,
            checksum: Some(stored.md5_hex),
            owner: meta
                .get("owner")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            meta_data: serde_json::to_string(&meta)?,
            source_url: Some(url.to_owned()),
            state: FileState::Ready,
            created_at: now,
            updated_at: now,
        };
        store
            .insert_file(
                app,
                NewFile {
                    record: &record,
                    upload_token: None,
                    token_expires_at: None,
                },
            )
            .await?;
        Ok(record)
    }

    /// The bytes at `url` and their `Content-Type`, retrying network errors and 5xx.
    async fn fetch(&self, url: &str) -> anyhow::Result<(bytes::Bytes, Option<String>)> {
        anyhow::ensure!(
            url.starts_with("http://") || url.starts_with("https://"),
            "not an http(s) URL"
        );
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.http.get(url).send().await;
            let retry = match outcome {
                Ok(response) if response.status().is_success() => {
                    if response
                        .content_length()
                        .is_some_and(|n| n > self.max_bytes)
                    {
                        bail!("larger than max_file_bytes");
                    }
                    let content_type = response
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
                    let bytes = response.bytes().await.context("reading the file")?;
                    anyhow::ensure!(
                        bytes.len() as u64 <= self.max_bytes,
                        "larger than max_file_bytes"
                    );
                    return Ok((bytes, content_type));
                }
                Ok(response) if response.status().is_server_error() => {
                    format!("HTTP {}", response.status())
                }
                Ok(response) => bail!("HTTP {}", response.status()),
                Err(e) => e.to_string(),
            };
            if attempt >= FETCH_ATTEMPTS {
                bail!("{retry} after {attempt} attempts");
            }
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
    }

    /// `--verify`: every copied file of `app` is in the storage with its recorded size.
    /// Returns the problems found.
    pub async fn verify(&self, store: &Store, app: &str) -> anyhow::Result<(u64, Vec<String>)> {
        let copies = store.imported_files(app).await?;
        let mut problems = Vec::new();
        for copy in &copies {
            let Some(key) = &copy.storage_key else {
                continue;
            };
            match self.storage.size_of(app, key).await? {
                Some(size) if size as i64 == copy.size => {}
                Some(size) => problems.push(format!(
                    "{}: {size} bytes stored, {} expected",
                    copy.url, copy.size
                )),
                None => problems.push(format!("{}: missing from the file storage", copy.url)),
            }
        }
        Ok((copies.len() as u64, problems))
    }
}

/// The copy's name: `metaData.name`, else the URL's last segment, else `file`.
fn file_name(meta: &Map<String, Value>, url: &str) -> String {
    let from_url = url
        .split(['?', '#'])
        .next()
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or("");
    [
        meta.get("name").and_then(Value::as_str).unwrap_or(""),
        from_url,
    ]
    .into_iter()
    .find(|n| naming::validate_name(n).is_ok())
    .unwrap_or("file")
    .to_owned()
}

/// Whether an exported record is a `_File` object rather than a `_Conversation`.
pub fn is_file_record(value: &Value) -> bool {
    value.get("url").is_some_and(Value::is_string)
        && (value.get("mime_type").is_some() || value.get("metaData").is_some())
        && value.get("m").is_none()
}

/// A `_File` export record as an external file keeping its `objectId`, name, URL, type,
/// metadata and dates (the bytes stay where the URL points; `tidings import leancloud`
/// copies the ones messages reference).
pub fn file_record(value: &Value) -> Result<FileRecord, String> {
    let text = |field: &str| value.get(field).and_then(Value::as_str);
    let object_id = text("objectId").ok_or("a _File record without objectId")?;
    if !ids::is_object_id(object_id) {
        return Err(format!("objectId {object_id:?} is not an object id"));
    }
    let url = text("url").ok_or("a _File record without url")?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("url {url:?} is not an http(s) URL"));
    }
    let meta = value
        .get("metaData")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let name = file_name(&meta, url);
    let name = text("name")
        .filter(|n| naming::validate_name(n).is_ok())
        .map_or(name, str::to_owned);
    let created_at = value
        .get("createdAt")
        .and_then(super::convert::date)
        .unwrap_or_else(time::now_ms);
    let updated_at = value
        .get("updatedAt")
        .and_then(super::convert::date)
        .unwrap_or(created_at);
    Ok(FileRecord {
        object_id: object_id.to_owned(),
        mime_type: naming::mime_type(text("mime_type"), &name),
        name,
        storage_key: None,
        url: url.to_owned(),
        size: meta.get("size").and_then(Value::as_i64).unwrap_or(0),
        checksum: meta
            .get("_checksum")
            .and_then(Value::as_str)
            .map(str::to_owned),
        owner: meta
            .get("owner")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned(),
        meta_data: serde_json::to_string(&meta).map_err(|e| e.to_string())?,
        source_url: None,
        state: FileState::External,
        created_at,
        updated_at,
    })
}
