//! The bytes of files, behind one `object_store::ObjectStore`: a local folder or an
//! S3-compatible bucket, chosen by `files_url`. Every object sits at `<app_id>/<key>`, where
//! both parts come from the server (never from a request path), so a download can only
//! reach a file its app's metadata names.

use anyhow::Context;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use md5::{Digest, Md5};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Parts of a streamed upload sent to the backend at a time (S3's smallest multipart part).
const PART_BYTES: usize = 5 * 1024 * 1024;

#[derive(Clone)]
pub struct FileStorage {
    inner: Arc<dyn ObjectStore>,
    /// For logs and docs: "local folder /x" or "s3://bucket/prefix".
    description: String,
}

/// What a finished upload wrote.
#[derive(Debug, Clone)]
pub struct Stored {
    pub size: u64,
    pub md5_hex: String,
}

/// Why an upload stopped; nothing is left behind in either case.
#[derive(Debug)]
pub enum UploadError {
    /// The body went past `max_bytes`.
    TooLarge,
    /// The client's body stream failed (disconnect, bad framing).
    Body(String),
    /// The backend failed.
    Storage(anyhow::Error),
}

/// A slice of a stored object and what the response needs to describe it.
pub struct Download {
    pub size: u64,
    pub body: futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>,
}

impl FileStorage {
    /// Opens the storage `files_url` names; `default_dir` is used when it is empty.
    pub fn open(files_url: &str, default_dir: &Path) -> anyhow::Result<FileStorage> {
        let url = files_url.trim();
        if let Some(rest) = url.strip_prefix("s3://") {
            return Self::open_s3(rest);
        }
        let dir = if url.is_empty() {
            default_dir.to_path_buf()
        } else {
            PathBuf::from(url.strip_prefix("file://").unwrap_or(url))
        };
        anyhow::ensure!(
            !url.contains("://") || url.starts_with("file://"),
            "files_url must be empty, a folder, file:///PATH or s3://BUCKET/PREFIX"
        );
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the files folder {}", dir.display()))?;
        let local = LocalFileSystem::new_with_prefix(&dir)
            .with_context(|| format!("opening the files folder {}", dir.display()))?;
        Ok(FileStorage {
            inner: Arc::new(local),
            description: format!("local folder {}", dir.display()),
        })
    }

    /// `bucket/prefix?aws_option=value&...`; credentials and region come from the usual
    /// `AWS_*` variables unless given as options.
    fn open_s3(rest: &str) -> anyhow::Result<FileStorage> {
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        anyhow::ensure!(
            !bucket.is_empty(),
            "files_url s3://BUCKET/PREFIX needs a bucket"
        );
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .context("files_url: malformed query string")?
        {
            let option: AmazonS3ConfigKey = key
                .parse()
                .with_context(|| format!("files_url: unknown S3 option {key}"))?;
            builder = builder.with_config(option, value);
        }
        let s3 = builder.build().context("configuring S3 file storage")?;
        let prefix = prefix.trim_matches('/');
        let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        };
        Ok(FileStorage {
            inner,
            description: format!("s3://{bucket}/{prefix}"),
        })
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    fn location(app_id: &str, key: &str) -> ObjectPath {
        ObjectPath::from_iter([app_id, key])
    }

    /// Streams `body` to `<app_id>/<key>`, counting and hashing as it goes. Past `max_bytes`,
    /// or on any error, the partial object is aborted: readers never see half a file.
    pub async fn upload<S, E>(
        &self,
        app_id: &str,
        key: &str,
        body: S,
        max_bytes: u64,
    ) -> Result<Stored, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let location = Self::location(app_id, key);
        let upload = self
            .inner
            .put_multipart(&location)
            .await
            .map_err(|e| UploadError::Storage(e.into()))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut body = body;
        let mut size: u64 = 0;
        let mut md5 = Md5::new();
        let failure = loop {
            match body.next().await {
                None => break None,
                Some(Err(e)) => break Some(UploadError::Body(e.to_string())),
                Some(Ok(chunk)) => {
                    size += chunk.len() as u64;
                    if size > max_bytes {
                        break Some(UploadError::TooLarge);
                    }
                    md5.update(&chunk);
                    if let Err(e) = writer.wait_for_capacity(4).await {
                        break Some(UploadError::Storage(e.into()));
                    }
                    writer.write(&chunk);
                }
            }
        };
        if let Some(failure) = failure {
            let _ = writer.abort().await;
            return Err(failure);
        }
        writer
            .finish()
            .await
            .map_err(|e| UploadError::Storage(e.into()))?;
        Ok(Stored {
            size,
            md5_hex: hex::encode(md5.finalize()),
        })
    }

    /// Stores `bytes` whole (imports copy files this way).
    pub async fn put(&self, app_id: &str, key: &str, bytes: Bytes) -> anyhow::Result<Stored> {
        let size = bytes.len() as u64;
        let md5_hex = hex::encode(Md5::digest(&bytes));
        self.inner
            .put(&Self::location(app_id, key), PutPayload::from_bytes(bytes))
            .await?;
        Ok(Stored { size, md5_hex })
    }

    /// The bytes of `<app_id>/<key>`, all of them or `range` (inclusive start, exclusive end).
    /// `None` when the object is missing.
    pub async fn get(
        &self,
        app_id: &str,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> anyhow::Result<Option<Download>> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        match self
            .inner
            .get_opts(&Self::location(app_id, key), options)
            .await
        {
            Ok(result) => Ok(Some(Download {
                size: result.meta.size,
                body: result.into_stream(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The stored size of `<app_id>/<key>`, `None` when missing (`import --verify`).
    pub async fn size_of(&self, app_id: &str, key: &str) -> anyhow::Result<Option<u64>> {
        match self.inner.head(&Self::location(app_id, key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `<app_id>/<key>`; a missing object is not an error.
    pub async fn delete(&self, app_id: &str, key: &str) -> anyhow::Result<()> {
        match self.inner.delete(&Self::location(app_id, key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The default folder: `files` beside a SQLite database, else `./data/files`.
pub fn default_dir(database_url: &str) -> PathBuf {
    let sqlite_path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest));
    match sqlite_path.and_then(|p| Path::new(p).parent()) {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join("files"),
        _ => PathBuf::from("./data/files"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_dir_sits_beside_the_sqlite_file() {
        assert_eq!(
            default_dir("sqlite:///var/lib/t/tidings.db?mode=rwc"),
            PathBuf::from("/var/lib/t/files")
        );
        assert_eq!(
            default_dir("postgres://u@h/db"),
            PathBuf::from("./data/files")
        );
    }
}
