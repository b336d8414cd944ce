//! Pusher-protocol clients for the side-by-side benchmark against Soketi
//! (`benches/room_vs_soketi.rs`): WebSocket subscribers of one public channel, the signed
//! REST trigger (`POST /apps/{id}/events`), and Soketi itself as a child process.
//!
//! Signing follows Pusher's HTTP API: `auth_signature` is the hex HMAC-SHA256, keyed with
//! the app secret, of `METHOD\nPATH\nSORTED_QUERY`, and `body_md5` the hex MD5 of the body.

use super::ws::Socket;
use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

pub const PUSHER_APP_ID: &str = "bench";
pub const PUSHER_KEY: &str = "benchKey0000000000000000";
pub const PUSHER_SECRET: &str = "benchSecret0000000000000";

/// Connects to `/app/{key}`, waits for `pusher:connection_established`, subscribes to
/// `channel` and waits for `pusher_internal:subscription_succeeded`.
pub async fn subscribe(ws_base: &str, channel: &str) -> Result<Socket> {
    let url = format!("{ws_base}/app/{PUSHER_KEY}?protocol=7&client=tidings-bench&version=0.1");
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true).await?;
    expect_event(&mut socket, "pusher:connection_established").await?;
    let subscribe = serde_json::json!({"event": "pusher:subscribe", "data": {"channel": channel}});
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await?;
    expect_event(&mut socket, "pusher_internal:subscription_succeeded").await?;
    Ok(socket)
}

/// `count` subscribers of `channel`, opened 200 at a time.
pub async fn subscribe_many(ws_base: &str, channel: &str, count: usize) -> Result<Vec<Socket>> {
    let mut sockets = Vec::with_capacity(count);
    let mut batch = Vec::new();
    for index in 0..count {
        let (base, channel) = (ws_base.to_owned(), channel.to_owned());
        batch.push(tokio::spawn(
            async move { subscribe(&base, &channel).await },
        ));
        if batch.len() == 200 || index + 1 == count {
            for task in batch.drain(..) {
                sockets.push(task.await??);
            }
        }
    }
    Ok(sockets)
}

async fn expect_event(socket: &mut Socket, event: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .with_context(|| format!("waiting for {event}"))?;
        match frame {
            Some(Ok(Message::Text(text))) => {
                let value: serde_json::Value = serde_json::from_str(text.as_str())?;
                if value["event"] == event {
                    return Ok(());
                }
                if value["event"] == "pusher:error" {
                    bail!("Soketi refused: {text}");
                }
            }
            Some(Ok(_)) => {}
            other => bail!("socket ended waiting for {event}: {other:?}"),
        }
    }
}

/// The query string (without `?`) of a signed Pusher REST request.
pub fn signed_query(method: &str, path: &str, body: &[u8], timestamp: u64) -> String {
    let body_md5 = hex::encode(Md5::digest(body));
    // Keys in alphabetical order, as the signature requires.
    let query = format!(
        "auth_key={PUSHER_KEY}&auth_timestamp={timestamp}&auth_version=1.0&body_md5={body_md5}"
    );
    let to_sign = format!("{method}\n{path}\n{query}");
    let mut mac = Hmac::<Sha256>::new_from_slice(PUSHER_SECRET.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    format!("{query}&auth_signature={signature}")
}

/// Triggers event `msg` on `channel` with `data` through Soketi's REST API.
pub async fn trigger(
    client: &reqwest::Client,
    base: &str,
    channel: &str,
    data: &str,
) -> Result<()> {
    let path = format!("/apps/{PUSHER_APP_ID}/events");
    let body = serde_json::json!({"name": "msg", "channels": [channel], "data": data}).to_string();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let query = signed_query("POST", &path, body.as_bytes(), timestamp);
    let response = client
        .post(format!("{base}{path}?{query}"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await?;
    if !response.status().is_success() {
        let status = response.status();
        bail!("trigger failed: {status} {}", response.text().await?);
    }
    Ok(())
}

/// Soketi (`node bin/server.js start`) on 127.0.0.1, optionally pinned with `taskset -c`;
/// killed when stopped or dropped.
pub struct Soketi {
    child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Soketi {
    pub async fn start(entry: &Path, log_dir: &Path, cpu: Option<&str>) -> Result<Soketi> {
        let port = free_port()?;
        let metrics_port = free_port()?;
        let log = log_dir.join("soketi.log");
        let file = std::fs::File::create(&log)?;
        let mut command = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpu, "node"]);
                c
            }
            None => Command::new("node"),
        };
        let child = command
            .arg(entry)
            .arg("start")
            .env("SOKETI_HOST", "127.0.0.1")
            .env("SOKETI_PORT", port.to_string())
            .env("SOKETI_METRICS_SERVER_PORT", metrics_port.to_string())
            .env("SOKETI_DEFAULT_APP_ID", PUSHER_APP_ID)
            .env("SOKETI_DEFAULT_APP_KEY", PUSHER_KEY)
            .env("SOKETI_DEFAULT_APP_SECRET", PUSHER_SECRET)
            .env("SOKETI_SHUTDOWN_GRACE_PERIOD", "0")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting node {}", entry.display()))?;
        let mut soketi = Soketi {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let probe = super::http_client(1)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = soketi.child.try_wait()? {
                let text = std::fs::read_to_string(&soketi.log).unwrap_or_default();
                bail!("Soketi exited at start ({status}): {text}");
            }
            if let Ok(resp) = probe.get(format!("{}/ready", soketi.base)).send().await {
                if resp.status().is_success() {
                    return Ok(soketi);
                }
            }
            if Instant::now() > deadline {
                bail!("Soketi not ready after 60 s (log {})", soketi.log.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Soketi {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> Result<u16> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(probe.local_addr()?.port())
}
