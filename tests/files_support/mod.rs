//! Where a file test keeps the bytes: a temporary folder, or a bucket on a local
//! S3-compatible server (moto, `pip install 'moto[server]'`; `scripts/test.sh` installs it).
//! The S3 tests fail, never skip, when moto cannot start.

use crate::rest::harness::{Setup, TestServer, TIMEOUT};
use reqwest::Method;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BUCKET: &str = "tidings-test";

pub enum FilesAt {
    Local(tempfile::TempDir),
    S3(Moto),
}

impl FilesAt {
    pub fn local() -> FilesAt {
        FilesAt::Local(tempfile::tempdir().expect("a temporary folder for file bytes"))
    }

    pub async fn s3() -> FilesAt {
        FilesAt::S3(Moto::start().await)
    }

    /// Points the server's `files_url` here.
    pub fn configure(&self, setup: &mut Setup) {
        setup.config.files_url = match self {
            FilesAt::Local(dir) => dir.path().display().to_string(),
            FilesAt::S3(moto) => format!(
                "s3://{BUCKET}/app-files?aws_endpoint=http://127.0.0.1:{}&aws_allow_http=true\
                 &aws_access_key_id=test&aws_secret_access_key=test&aws_region=us-east-1",
                moto.port
            ),
        };
    }

    /// How many objects the storage holds (a refused upload must leave none).
    pub async fn object_count(&self) -> usize {
        match self {
            FilesAt::Local(dir) => count_files(dir.path()),
            FilesAt::S3(moto) => {
                let url = format!("http://127.0.0.1:{}/{BUCKET}?list-type=2", moto.port);
                let text = reqwest::get(&url)
                    .await
                    .and_then(|r| r.error_for_status())
                    .unwrap_or_else(|e| panic!("listing the test bucket: {e}"))
                    .text()
                    .await
                    .unwrap_or_default();
                text.matches("<Key>").count()
            }
        }
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                count_files(&path)
            } else {
                1
            }
        })
        .sum()
}

/// A moto S3 server on a free local port, killed when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    async fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free local port for moto");
        let program = std::env::var("TIDINGS_TEST_MOTO").unwrap_or_else(|_| "moto_server".into());
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("the S3 file tests need {program} (pip install 'moto[server]'): {e}")
            });
        let moto = Moto { child, port };
        let http = reqwest::Client::new();
        let bucket = format!("http://127.0.0.1:{port}/{BUCKET}");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match http.put(&bucket).send().await {
                Ok(r) if r.status().is_success() => break,
                _ if Instant::now() > deadline => panic!("moto did not start on port {port}"),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `/1.1/...` request with the app key.
pub fn storage_call(server: &TestServer, method: Method, path: &str) -> reqwest::RequestBuilder {
    storage_call_as(
        server,
        &server.app.app_id,
        &server.app.app_key,
        method,
        path,
    )
}

/// A `/1.1/...` request with these credentials (`X-LC-Key` as given).
pub fn storage_call_as(
    server: &TestServer,
    app_id: &str,
    key: &str,
    method: Method,
    path: &str,
) -> reqwest::RequestBuilder {
    server
        .http
        .request(method, format!("{}/1.1{path}", server.base_url))
        .header("X-LC-Id", app_id)
        .header("X-LC-Key", key)
}

/// A client of its own, for requests the server may answer before reading the whole body
/// (413): the server then closes the connection, which must not be reused for other calls.
pub fn one_off_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
        .expect("an HTTP client")
}

/// Status and JSON body of a response.
pub async fn reply(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("request failed: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// `POST /1.1/fileTokens` for `name`: the answer (asserted 200).
pub async fn file_token(server: &TestServer, name: &str, mime: &str) -> Value {
    let body = json!({"name": name, "mime_type": mime, "metaData": {"owner": "unknown"}});
    let (status, token) =
        reply(storage_call(server, Method::POST, "/fileTokens").json(&body)).await;
    assert_eq!(status, 200, "fileTokens for {name}: {token}");
    token
}

/// PUTs `bytes` to an upload URL: the status.
pub async fn put_bytes(server: &TestServer, upload_url: &str, mime: &str, bytes: Vec<u8>) -> u16 {
    let response = server
        .http
        .put(upload_url)
        .header("Content-Type", mime)
        .body(bytes)
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload failed: {e}"));
    response.status().as_u16()
}

/// The whole SDK flow: token, upload, callback. The token answer.
pub async fn save_file(server: &TestServer, name: &str, mime: &str, bytes: &[u8]) -> Value {
    let token = file_token(server, name, mime).await;
    let upload_url = token["upload_url"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        put_bytes(server, &upload_url, mime, bytes.to_vec()).await,
        200,
        "upload of {name}"
    );
    let callback = json!({"token": token["token"], "result": true});
    let (status, body) =
        reply(storage_call(server, Method::POST, "/fileCallback").json(&callback)).await;
    assert_eq!((status, body), (200, json!({})), "fileCallback");
    token
}

/// Deterministic bytes that are not all alike (so a wrong slice shows).
pub fn sample_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}
