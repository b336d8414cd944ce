-- Files (issue 14): LeanStorage `_File` objects, per app. Bytes live in the file storage
-- (`files_url`: a local folder or S3) under `<app_id>/<storage_key>`; this table is the only
-- way to reach them, so nothing outside an app's own files can be served.
-- state: 'pending' (token handed out, no bytes yet), 'uploading' (token spent, bytes on their
-- way), 'ready' (bytes stored), 'external' (a URL saved with AV.File.withURL, no bytes here).
CREATE TABLE files (
    app_id           TEXT NOT NULL,
    object_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    storage_key      TEXT,                        -- NULL for external files
    url              TEXT NOT NULL,
    mime_type        TEXT NOT NULL,
    size             BIGINT NOT NULL DEFAULT 0,
    checksum         TEXT,                        -- md5 hex of the bytes
    owner            TEXT NOT NULL DEFAULT 'unknown',
    meta_data        TEXT NOT NULL DEFAULT '{}',  -- the client's metaData, JSON
    source_url       TEXT,                        -- imported files: the URL they were copied from
    state            TEXT NOT NULL,
    upload_token     TEXT,                        -- single use; cleared when spent
    token_expires_at BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (app_id, object_id)
);
CREATE UNIQUE INDEX files_by_token ON files (upload_token) WHERE upload_token IS NOT NULL;
CREATE UNIQUE INDEX files_by_key ON files (app_id, storage_key) WHERE storage_key IS NOT NULL;
CREATE INDEX files_by_source ON files (app_id, source_url) WHERE source_url IS NOT NULL;
