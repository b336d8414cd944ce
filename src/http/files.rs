//! Files, as LeanStorage's SDKs call them (`app::files` has the rules):
//! `POST /1.1/fileTokens`, `POST /1.1/fileCallback`, `POST /1.1/files`,
//! `GET|DELETE /1.1/files/{id}`; the upload target `PUT /uploads/{token}` (the token is the
//! credential, as with S3's presigned URLs); and downloads `GET|HEAD /files/{app_id}/{key}`.

use super::json::Body;
use super::{AppKey, MasterKey};
use crate::app::files::{self, ExternalRequest, Served, TokenRequest};
use crate::error::Result;
use crate::state::AppState;
use axum::body::Body as HttpBody;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/1.1/fileTokens", post(create_token))
        .route("/1.1/fileCallback", post(callback))
        .route("/1.1/files", post(create_external))
        .route("/1.1/files/{id}", get(fetch).delete(delete))
        .route("/uploads/{token}", put(upload))
        .route("/files/{app_id}/{key}", get(download))
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    files::base_url(
        &state.config.public_url,
        header_str(headers, header::HOST),
        headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok()),
    )
}

/// POST /1.1/fileTokens: a pending file and where to PUT its bytes.
async fn create_token(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    headers: HeaderMap,
    Body(body): Body<TokenRequest>,
) -> Result<Json<Value>> {
    let base = base_url(&state, &headers);
    Ok(Json(files::create_upload(&state, &app, &base, body).await?))
}

/// PUT /uploads/{token}: the bytes, streamed; answers like S3 (200, `ETag`).
async fn upload(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: HttpBody,
) -> Result<Response> {
    let declared = header_str(&headers, header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    let md5 = files::upload(&state, &token, declared, body.into_data_stream()).await?;
    let mut response = StatusCode::OK.into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{md5}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct CallbackBody {
    token: String,
    #[serde(default)]
    result: bool,
}

/// POST /1.1/fileCallback: the SDK's report on its upload.
async fn callback(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    Body(body): Body<CallbackBody>,
) -> Result<Json<Value>> {
    Ok(Json(
        files::callback(&state, &app, &body.token, body.result).await?,
    ))
}

/// POST /1.1/files: `AV.File.withURL(...).save()`.
async fn create_external(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    Body(body): Body<ExternalRequest>,
) -> Result<(StatusCode, Json<Value>)> {
    let created = files::create_external(&state, &app, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// GET /1.1/files/{id}
async fn fetch(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(files::fetch(&state, &app, &id).await?))
}

/// DELETE /1.1/files/{id} (master key)
async fn delete(
    State(state): State<AppState>,
    MasterKey(app): MasterKey,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(files::delete(&state, &app, &id).await?))
}

/// GET|HEAD /files/{app_id}/{key}: the bytes, with validators and ranges.
async fn download(
    State(state): State<AppState>,
    Path((app_id, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let served = files::download(
        &state,
        &app_id,
        &key,
        header_str(&headers, header::RANGE),
        header_str(&headers, header::IF_NONE_MATCH),
    )
    .await?;
    let mut out = HeaderMap::new();
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    let (status, body) = match served {
        Served::Unsatisfiable { size } => {
            insert(&mut out, header::CONTENT_RANGE, format!("bytes */{size}"));
            (StatusCode::RANGE_NOT_SATISFIABLE, HttpBody::empty())
        }
        Served::NotModified { file } => {
            describe(&mut out, &file);
            (StatusCode::NOT_MODIFIED, HttpBody::empty())
        }
        Served::Bytes {
            file,
            part,
            download,
        } => {
            describe(&mut out, &file);
            let status = match part {
                Some((range, total)) => {
                    let last = range.end.saturating_sub(1);
                    insert(
                        &mut out,
                        header::CONTENT_RANGE,
                        format!("bytes {}-{last}/{total}", range.start),
                    );
                    insert(
                        &mut out,
                        header::CONTENT_LENGTH,
                        (range.end - range.start).to_string(),
                    );
                    StatusCode::PARTIAL_CONTENT
                }
                None => {
                    insert(&mut out, header::CONTENT_LENGTH, download.size.to_string());
                    StatusCode::OK
                }
            };
            (status, HttpBody::from_stream(download.body))
        }
    };
    Ok((status, out, body).into_response())
}

/// Type, validators, caching and disposition of a stored file.
fn describe(out: &mut HeaderMap, file: &crate::app::files::FileRecord) {
    insert(out, header::CONTENT_TYPE, file.mime_type.clone());
    insert(out, header::ETAG, files::etag(file));
    insert(out, header::LAST_MODIFIED, http_date(file.updated_at));
    // Keys are never reused: a stored file's bytes never change.
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000"),
    );
    if !crate::files::naming::served_inline(&file.mime_type) {
        insert(
            out,
            header::CONTENT_DISPOSITION,
            crate::files::naming::attachment_disposition(&file.name),
        );
    }
}

fn insert(out: &mut HeaderMap, name: header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        out.insert(name, value);
    }
}

/// IMF-fixdate, e.g. `Tue, 01 Dec 2026 21:00:00 GMT`.
fn http_date(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}
