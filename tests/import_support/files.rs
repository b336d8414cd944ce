//! Files in an import: a source playing LeanCloud serves the files its messages reference
//! (`_lcfile.url`); after `tidings import leancloud` the source is stopped and the target
//! serves every file, byte-identical, under its own `public_url`.

use super::{generous_settings, Database, Keys, Server};
use serde_json::{json, Value};
use tidings::import::files::FilesTarget;
use tidings::import::leancloud::{self, Options};
use tidings::import::verify;
use tokio::net::TcpListener;

/// Saves `bytes` on `server` through the LeanStorage upload flow: `(objectId, url)`.
async fn upload(
    server: &Server,
    keys: &Keys,
    name: &str,
    mime: &str,
    bytes: &[u8],
) -> (String, String) {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/1.1/fileTokens", server.rest.base))
        .header("X-LC-Id", &keys.app_id)
        .header("X-LC-Key", &keys.app_key)
        .json(&json!({"name": name, "mime_type": mime}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("fileTokens: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("fileTokens body: {e}"));
    let upload_url = token["upload_url"].as_str().unwrap_or_default();
    http.put(upload_url)
        .body(bytes.to_vec())
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("upload: {e}"));
    let field = |k: &str| token[k].as_str().unwrap_or_default().to_owned();
    (field("objectId"), field("url"))
}

fn typed(lctype: i64, id: &str, url: &str, name: &str, size: usize) -> String {
    json!({"_lctype": lctype, "_lctext": "", "_lcfile": {"url": url, "objId": id, "metaData": {"name": name, "size": size}}})
        .to_string()
}

pub async fn files_move_with_their_messages(target: Database) {
    let keys = Keys::random();
    let source_db = Database::sqlite();
    let source = Server::start(&source_db.url, &keys, Some(generous_settings())).await;
    let image: Vec<u8> = (0..40_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let voice: Vec<u8> = (0..9_000u32).map(|i| (i * 3 % 253) as u8).collect();
    let (image_id, image_url) = upload(&source, &keys, "cat.png", "image/png", &image).await;
    let (voice_id, voice_url) = upload(&source, &keys, "hello.mp3", "audio/mpeg", &voice).await;

    let conv = source
        .rest
        .post(
            "/conversations",
            &json!({"name": "media", "m": ["alice", "bob"]}),
        )
        .await;
    let conv_id = conv["objectId"].as_str().unwrap_or_default().to_owned();
    let contents = [
        typed(-2, &image_id, &image_url, "cat.png", image.len()),
        typed(-3, &voice_id, &voice_url, "hello.mp3", voice.len()),
        "plain text".to_owned(),
        typed(-2, &image_id, &image_url, "cat.png", image.len()), // the same file again
    ];
    for content in &contents {
        source
            .rest
            .post(
                &format!("/conversations/{conv_id}/messages"),
                &json!({"from_client": "alice", "message": content}),
            )
            .await;
    }

    // The target's address is known before the import: copies are served under it.
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let public_url = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let files_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut options = Options::new(
        &source.rest.base,
        &keys.app_id,
        &keys.app_key,
        &keys.master_key,
        &target.url,
    );
    options.rate = 0;
    options.progress_every = None;
    options.files = Some(FilesTarget {
        files_url: files_dir.path().display().to_string(),
        public_url: public_url.clone(),
        max_file_bytes: 10 * 1024 * 1024,
    });
    let report = leancloud::run(options.clone())
        .await
        .unwrap_or_else(|e| panic!("import: {e:#}"));
    assert!(report.complete && report.skipped_total == 0, "{report}");
    let again = leancloud::run(options.clone())
        .await
        .unwrap_or_else(|e| panic!("re-run: {e:#}"));
    assert!(again.complete && again.skipped_total == 0, "{again}");
    let checked = verify::run(options.clone())
        .await
        .unwrap_or_else(|e| panic!("verify: {e:#}"));
    assert!(checked.ok(), "{checked}");
    assert_eq!(
        checked.files_checked, 2,
        "two distinct files copied once each: {checked}"
    );

    // A copy gone from the storage is what --verify reports.
    let stored = walk(files_dir.path());
    assert_eq!(stored.len(), 2, "{stored:?}");
    let aside = std::fs::read(&stored[0]).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(&stored[0]).unwrap_or_else(|e| panic!("{e}"));
    let broken = verify::run(options.clone())
        .await
        .unwrap_or_else(|e| panic!("verify: {e:#}"));
    assert!(!broken.ok() && broken.file_problems.len() == 1, "{broken}");
    std::fs::write(&stored[0], aside).unwrap_or_else(|e| panic!("{e}"));
    source.stop().await;

    // LeanCloud is gone: the target serves every file from its own storage.
    let dir = files_dir.path().display().to_string();
    let target_server = Server::start_on(listener, &target.url, &keys, None, |config| {
        config.public_url = public_url.clone();
        config.files_url = dir;
    })
    .await;
    let history = target_server
        .rest
        .full_history(&format!("/conversations/{conv_id}/messages"), 100)
        .await;
    assert_eq!(history.len(), 4);
    let http = reqwest::Client::new();
    let mut copies = Vec::new();
    for (item, original) in history
        .iter()
        .zip([Some(&image), Some(&voice), None, Some(&image)])
    {
        let data = item["data"].as_str().unwrap_or_default();
        let Some(original) = original else {
            assert_eq!(data, "plain text");
            continue;
        };
        let content: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{data}: {e}"));
        let url = content["_lcfile"]["url"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            url.starts_with(&format!("{public_url}/files/")),
            "rewritten to the target: {url}"
        );
        assert_ne!(content["_lcfile"]["objId"], json!(image_id));
        let got = http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(got.status(), 200, "{url}");
        assert_eq!(
            got.bytes().await.unwrap_or_default().as_ref(),
            original.as_slice(),
            "{url}"
        );
        let id = content["_lcfile"]["objId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let file: Value = http
            .get(format!("{public_url}/1.1/files/{id}"))
            .header("X-LC-Id", &keys.app_id)
            .header("X-LC-Key", &keys.app_key)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("GET /1.1/files/{id}: {e}"))
            .json()
            .await
            .unwrap_or_default();
        assert!(
            file["metaData"]["_sourceUrl"]
                .as_str()
                .is_some_and(|u| u == image_url || u == voice_url),
            "{file}"
        );
        copies.push(url);
    }
    assert_eq!(
        copies[0], copies[2],
        "one copy for the file referenced twice"
    );
    let part = http
        .get(&copies[1])
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.bytes().await.unwrap_or_default().as_ref(),
        &voice[100..200]
    );
    target_server.stop().await;
    drop(target);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A console export of `_File` (one object per line): file objects keep their objectId,
/// name, URL, type and metadata; a broken record is reported, not fatal; verify agrees.
pub async fn file_export_is_accepted(target: Database) {
    use tidings::import::file::{self, FileOptions};
    let keys = Keys::random();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let records = [
        json!({"objectId": "5f1e4c3b2a1d0c9b8a7f6e5d", "name": "cat.png", "url": "https://files.example.com/abc.png",
               "mime_type": "image/png", "metaData": {"size": 1234, "owner": "u1", "_checksum": "00ff"},
               "createdAt": "2020-07-27T03:04:05.678Z", "updatedAt": "2020-07-27T03:04:05.678Z",
               "key": "abc.png", "bucket": "xyz", "provider": "qiniu"}),
        json!({"objectId": "5f1e4c3b2a1d0c9b8a7f6e5e", "name": "voice.mp3", "url": "https://files.example.com/v.mp3",
               "metaData": {"size": 99}}),
        json!({"objectId": "not-an-id", "name": "x.png", "url": "https://files.example.com/x.png", "metaData": {}}),
    ];
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    let path = dir.path().join("_File.jsonl");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let options = |verify| FileOptions {
        path: path.clone(),
        database_url: target.url.clone(),
        app_id: keys.app_id.clone(),
        app_key: Some(keys.app_key.clone()),
        master_key: Some(keys.master_key.clone()),
        verify,
    };
    let report = file::run(options(false))
        .await
        .unwrap_or_else(|e| panic!("import: {e:#}"));
    assert_eq!((report.created, report.skipped.len()), (2, 1), "{report}");
    let checked = file::run(options(true))
        .await
        .unwrap_or_else(|e| panic!("verify: {e:#}"));
    assert!(checked.mismatches.is_empty(), "{checked}");

    let server = Server::start(&target.url, &keys, None).await;
    let file: Value = reqwest::Client::new()
        .get(format!(
            "{}/1.1/files/5f1e4c3b2a1d0c9b8a7f6e5d",
            server.rest.base
        ))
        .header("X-LC-Id", &keys.app_id)
        .header("X-LC-Key", &keys.app_key)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("GET /1.1/files: {e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(file["name"], "cat.png");
    assert_eq!(file["url"], "https://files.example.com/abc.png");
    assert_eq!(file["mime_type"], "image/png");
    assert_eq!(file["metaData"]["size"], 1234);
    assert_eq!(file["createdAt"], "2020-07-27T03:04:05.678Z");
    server.stop().await;
}
