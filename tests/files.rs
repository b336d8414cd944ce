//! Files (issue 14): the LeanStorage upload flow (`/1.1/fileTokens`, the upload URL,
//! `/1.1/fileCallback`), external files (`POST /1.1/files`), fetch and delete, downloads with
//! types, validators and ranges, and the refusals. Every scenario runs on SQLite and on
//! Postgres with the bytes in a local folder, and on SQLite with the bytes in S3 (a local
//! moto server).
//!
//! Run: `cargo test --test files` (Postgres at 127.0.0.1:5432, `moto_server` on the PATH).

#![allow(clippy::unwrap_used, dead_code)]

mod rest {
    // The REST suite's harness (server, databases, clients); its macros are not used here.
    #[allow(unused_macros)]
    pub mod harness;
}
mod files_support;

use files_support::{
    file_token, one_off_client, put_bytes, reply, sample_bytes, save_file, storage_call,
    storage_call_as, FilesAt,
};
use reqwest::Method;
use rest::harness::{Backend, Setup, TestServer};
use serde_json::json;

/// One test per place the bytes can be: `sqlite` and `postgres` (local folder), `s3`.
macro_rules! file_tests {
    ($scenario:ident) => {
        file_tests!($scenario, |_: &mut Setup| {});
    };
    ($scenario:ident, $configure:expr) => {
        mod $scenario {
            use super::*;

            async fn run(backend: Backend, files: FilesAt) {
                let server = TestServer::start(backend, |setup| {
                    files.configure(setup);
                    ($configure)(setup);
                })
                .await;
                super::$scenario(&server, &files).await;
                server.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite, FilesAt::local()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres, FilesAt::local()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3() {
                run(Backend::Sqlite, FilesAt::s3().await).await;
            }
        }
    };
}

file_tests!(upload_serve_and_delete);
async fn upload_serve_and_delete(server: &TestServer, _files: &FilesAt) {
    let bytes = sample_bytes(70_000);
    let token = save_file(server, "cat.png", "image/png", &bytes).await;
    for key in [
        "objectId",
        "token",
        "upload_url",
        "url",
        "bucket",
        "key",
        "mime_type",
    ] {
        assert!(
            token[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key} in {token}"
        );
    }
    assert_eq!(token["provider"], "s3");
    assert_eq!(token["mime_type"], "image/png");
    let url = token["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&server.base_url),
        "the file is served by Tidings: {url}"
    );

    // The whole file: same bytes, type, validators, shown inline.
    let whole = server.http.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    let headers = whole.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert!(headers.contains_key("last-modified"));
    assert!(
        !headers.contains_key("content-disposition"),
        "images are shown inline"
    );
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        whole.bytes().await.unwrap().to_vec(),
        bytes,
        "the bytes come back"
    );

    // A slice, as a player seeking in audio or video asks.
    let part = server
        .http
        .get(&url)
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 1000-1999/70000");
    assert_eq!(
        part.bytes().await.unwrap().to_vec(),
        bytes[1000..2000].to_vec()
    );
    let tail = server
        .http
        .get(&url)
        .header("Range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(
        tail.bytes().await.unwrap().to_vec(),
        bytes[69_990..].to_vec()
    );
    let beyond = server
        .http
        .get(&url)
        .header("Range", "bytes=90000-")
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), 416);
    assert_eq!(beyond.headers()["content-range"], "bytes */70000");
    let cached = server
        .http
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    let head = server.http.head(&url).send().await.unwrap();
    assert_eq!(
        (
            head.status().as_u16(),
            head.headers()["content-length"].to_str().unwrap()
        ),
        (200, "70000")
    );

    // The metadata, as AV.File#fetch reads it.
    let id = token["objectId"].as_str().unwrap();
    let (status, file) = reply(storage_call(server, Method::GET, &format!("/files/{id}"))).await;
    assert_eq!(status, 200, "{file}");
    assert_eq!(file["name"], "cat.png");
    assert_eq!(file["url"], url.as_str());
    assert_eq!(file["mime_type"], "image/png");
    assert_eq!(file["metaData"]["size"], 70_000);
    assert_eq!(file["metaData"]["owner"], "unknown");
    assert_eq!(
        format!("\"{}\"", file["metaData"]["_checksum"].as_str().unwrap()),
        etag
    );

    // Deleting needs the master key; then neither the object nor the bytes remain.
    let path = format!("/files/{id}");
    let (status, _) = reply(storage_call(server, Method::DELETE, &path)).await;
    assert_eq!(status, 401, "the app key cannot delete files");
    let master = format!("{},master", server.app.master_key);
    let app_id = &server.app.app_id;
    let (status, body) = reply(storage_call_as(
        server,
        app_id,
        &master,
        Method::DELETE,
        &path,
    ))
    .await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(server.http.get(&url).send().await.unwrap().status(), 404);
    let (status, body) = reply(storage_call(server, Method::GET, &path)).await;
    assert_eq!((status, body["code"].clone()), (404, json!(101)));
}

file_tests!(documents_download_as_attachments);
async fn documents_download_as_attachments(server: &TestServer, _files: &FilesAt) {
    let token = save_file(server, "rapport d'été.pdf", "", b"%PDF-1.4 tiny").await;
    assert_eq!(
        token["mime_type"], "application/pdf",
        "guessed from the name"
    );
    let page = server
        .http
        .get(token["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["content-type"], "application/pdf");
    let disposition = page.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''rapport%20d%27%C3%A9t%C3%A9.pdf"),
        "{disposition}"
    );
    // HTML is never rendered on the server's origin.
    let html = save_file(
        server,
        "page.html",
        "text/html",
        b"<script>alert(1)</script>",
    )
    .await;
    let page = server
        .http
        .get(html["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(page.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
}

file_tests!(external_urls_are_saved_as_files);
async fn external_urls_are_saved_as_files(server: &TestServer, _files: &FilesAt) {
    let body = json!({
        "name": "remote.jpg",
        "url": "https://cdn.example.com/remote.jpg",
        "mime_type": "image/jpeg",
        "metaData": {"__source": "external", "owner": "unknown", "size": 0},
        "ACL": {"*": {"read": true}},
    });
    let (status, created) = reply(storage_call(server, Method::POST, "/files").json(&body)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["objectId"].as_str().unwrap();
    let (status, file) = reply(storage_call(server, Method::GET, &format!("/files/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(file["url"], "https://cdn.example.com/remote.jpg");
    assert_eq!(file["metaData"]["__source"], "external");
    let bad = json!({"name": "x.jpg", "url": "file:///etc/passwd"});
    let (status, error) = reply(storage_call(server, Method::POST, "/files").json(&bad)).await;
    assert_eq!((status, error["code"].clone()), (400, json!(1)), "{error}");
}

file_tests!(uploads_are_refused_without_credentials_or_a_fresh_token);
async fn uploads_are_refused_without_credentials_or_a_fresh_token(
    server: &TestServer,
    files: &FilesAt,
) {
    let anonymous = server
        .http
        .post(format!("{}/1.1/fileTokens", server.base_url))
        .json(&json!({"name": "a.png"}));
    let (status, body) = reply(anonymous).await;
    assert_eq!(
        (status, body),
        (401, json!({"code": 401, "error": "Unauthorized."}))
    );
    let app_id = &server.app.app_id;
    let wrong_key = storage_call_as(server, app_id, "not-the-key", Method::POST, "/fileTokens")
        .json(&json!({"name": "a.png"}));
    assert_eq!(reply(wrong_key).await.0, 401);

    // A token is spent by its upload: a second PUT is refused and the first bytes stay.
    let token = save_file(server, "once.txt", "text/plain", b"first").await;
    let upload_url = token["upload_url"].as_str().unwrap();
    assert_eq!(
        put_bytes(server, upload_url, "text/plain", b"second".to_vec()).await,
        403
    );
    let served = server
        .http
        .get(token["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.bytes().await.unwrap().as_ref(), b"first");

    // Unknown tokens and path tricks in the upload URL.
    let unknown = format!("{}/uploads/nope", server.base_url);
    assert_eq!(
        put_bytes(server, &unknown, "text/plain", b"x".to_vec()).await,
        403
    );
    let tricks = format!("{}/uploads/..%2F..%2Fetc%2Fpasswd", server.base_url);
    assert_eq!(
        put_bytes(server, &tricks, "text/plain", b"x".to_vec()).await,
        403
    );
    assert_eq!(
        files.object_count().await,
        1,
        "only the one good upload is stored"
    );
}

file_tests!(expired_tokens_are_refused, |setup: &mut Setup| {
    setup.config.file_token_ttl_secs = 1;
});
async fn expired_tokens_are_refused(server: &TestServer, files: &FilesAt) {
    let token = file_token(server, "late.bin", "application/octet-stream").await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let upload_url = token["upload_url"].as_str().unwrap();
    assert_eq!(
        put_bytes(
            server,
            upload_url,
            "application/octet-stream",
            b"late".to_vec()
        )
        .await,
        403
    );
    assert_eq!(files.object_count().await, 0);
    let id = token["objectId"].as_str().unwrap();
    assert_eq!(
        reply(storage_call(server, Method::GET, &format!("/files/{id}")))
            .await
            .0,
        404
    );
}

file_tests!(oversized_uploads_leave_nothing, |setup: &mut Setup| {
    setup.config.max_file_bytes = 64 * 1024;
});
async fn oversized_uploads_leave_nothing(server: &TestServer, files: &FilesAt) {
    let token = file_token(server, "big.mp4", "video/mp4").await;
    let upload_url = token["upload_url"].as_str().unwrap();
    let response = one_off_client()
        .put(upload_url)
        .body(sample_bytes(64 * 1024 + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], 413);
    // A body without a length (chunked) is cut off at the limit the same way.
    let token = file_token(server, "big2.mp4", "video/mp4").await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(sample_bytes(8 * 1024))).collect();
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = one_off_client()
        .put(token["upload_url"].as_str().unwrap())
        .body(stream)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(files.object_count().await, 0, "no partial file is left");
    for id in [&token["objectId"]] {
        let path = format!("/files/{}", id.as_str().unwrap());
        assert_eq!(reply(storage_call(server, Method::GET, &path)).await.0, 404);
    }
    // Exactly at the limit is fine.
    save_file(server, "fits.mp4", "video/mp4", &sample_bytes(64 * 1024)).await;
}

file_tests!(names_with_path_tricks_are_refused);
async fn names_with_path_tricks_are_refused(server: &TestServer, files: &FilesAt) {
    for name in [
        "../../etc/passwd",
        "a/b.png",
        "..\\win.ini",
        "..",
        "",
        "nul\u{0}.png",
    ] {
        let (status, body) =
            reply(storage_call(server, Method::POST, "/fileTokens").json(&json!({"name": name})))
                .await;
        // NUL is refused before the name is looked at, like in every JSON body (code 1).
        let expected = if name.contains('\u{0}') { 1 } else { 122 };
        assert_eq!(
            (status, body["code"].clone()),
            (400, json!(expected)),
            "{name:?}: {body}"
        );
    }
    let (status, body) =
        reply(storage_call(server, Method::POST, "/fileTokens").json(&json!({}))).await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!(113)),
        "name is required: {body}"
    );
    // Download paths only reach keys the app's metadata names.
    let token = save_file(server, "ok.png", "image/png", b"png").await;
    let key = token["key"].as_str().unwrap();
    let app = &server.app.app_id;
    for path in [
        format!("/files/{app}/..%2F..%2Ftidings.db"),
        format!("/files/{app}/{key}%2F.."),
        format!("/files/{}/{key}", server.other_app.app_id),
        format!("/files/..%2F{app}/{key}"),
    ] {
        let response = server
            .http
            .get(format!("{}{path}", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    // The other app cannot fetch this app's file object either.
    let id = token["objectId"].as_str().unwrap();
    let other = &server.other_app;
    let path = format!("/files/{id}");
    let other = storage_call_as(server, &other.app_id, &other.app_key, Method::GET, &path);
    assert_eq!(reply(other).await.0, 404);
    assert_eq!(files.object_count().await, 1);
}

file_tests!(a_failed_callback_drops_the_file);
async fn a_failed_callback_drops_the_file(server: &TestServer, files: &FilesAt) {
    let token = file_token(server, "gone.txt", "text/plain").await;
    assert_eq!(
        put_bytes(
            server,
            token["upload_url"].as_str().unwrap(),
            "text/plain",
            b"x".to_vec()
        )
        .await,
        200
    );
    let callback = json!({"token": token["token"], "result": false});
    let (status, _) =
        reply(storage_call(server, Method::POST, "/fileCallback").json(&callback)).await;
    assert_eq!(status, 200);
    assert_eq!(
        server
            .http
            .get(token["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(files.object_count().await, 0);
}
