//! Durability: the real binary is killed with SIGKILL in the middle of a stream of sends and
//! restarted on the same database; every message it acknowledged is in history.

use super::harness::*;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MESSAGES: usize = 2000;
const SENDERS: usize = 32;
const CONVERSATIONS: usize = 4;
/// Kill once this many sends were acknowledged.
const KILL_AFTER: usize = 600;

/// The `tidings` binary serving one database; killed (SIGKILL) when dropped.
struct Binary {
    child: std::process::Child,
    base_url: String,
    log: PathBuf,
}

impl Binary {
    async fn start(database_url: &str, keys: &Keys, log_dir: &Path, name: &str) -> Binary {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free local port")
            .port();
        let log = log_dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("a log file for the binary");
        let err = out.try_clone().expect("the log file again");
        let mut command = Command::new(env!("CARGO_BIN_EXE_tidings"));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("TIDINGS_")) {
            command.env_remove(key);
        }
        let child = command
            .env("TIDINGS_LISTEN", format!("127.0.0.1:{port}"))
            .env("TIDINGS_DATABASE_URL", database_url)
            .env("TIDINGS_APP_ID", &keys.app_id)
            .env("TIDINGS_APP_KEY", &keys.app_key)
            .env("TIDINGS_MASTER_KEY", &keys.master_key)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("starting the tidings binary");
        let mut binary = Binary {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
        };
        binary.wait_until_healthy().await;
        binary
    }

    async fn wait_until_healthy(&mut self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("a client");
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the binary exited with {status} before answering:\n{}",
                    self.log_text()
                );
            }
            if let Ok(reply) = http.get(format!("{}/healthz", self.base_url)).send().await {
                if reply.status().is_success() {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the binary did not answer /healthz in time:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL (what `Child::kill` sends on unix), then reap it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Quotas far above this test's sends, set before the binary starts (it keeps them).
async fn prepare(database_url: &str, keys: &Keys) {
    let mut config = tidings::config::Config::defaults().expect("default configuration");
    config.database_url = database_url.to_owned();
    config.app_id = keys.app_id.clone();
    config.app_key = keys.app_key.clone();
    config.master_key = keys.master_key.clone();
    let (store, _) = tidings::open_store(&config)
        .await
        .unwrap_or_else(|e| panic!("preparing {database_url}: {e:#}"));
    store
        .save_app_settings(&keys.app_id, &test_settings())
        .await
        .unwrap_or_else(|e| panic!("app settings: {e}"));
    store.close().await;
}

/// Sends until `MESSAGES` were tried or the server stops answering; returns the acks.
async fn sender(
    remote: Arc<TestServer>,
    targets: Arc<Vec<String>>,
    task: usize,
    next: Arc<AtomicUsize>,
    acked: Arc<AtomicUsize>,
) -> Vec<(String, Sent)> {
    let mut acks = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= MESSAGES {
            return acks;
        }
        let target = &targets[task % targets.len()];
        let call = remote.master(reqwest::Method::POST, &format!("{target}/messages"));
        let body =
            json!({"from_client": format!("sender{task}"), "message": format!("message {i}")});
        let Ok(response) = call.json(&body).into_builder().send().await else {
            return acks;
        };
        if response.status().as_u16() != 200 {
            return acks;
        }
        let Ok(body) = response.json().await else {
            return acks;
        };
        acks.push((
            target.clone(),
            Sent::from_reply(&Reply { status: 200, body }),
        ));
        acked.fetch_add(1, Ordering::SeqCst);
    }
}

async fn every_acknowledged_message_survives_a_kill_9(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let logs = tempfile::tempdir().expect("a folder for the binary's logs");
    let keys = Keys::random();
    prepare(&database.url, &keys).await;
    let mut first = Binary::start(&database.url, &keys, logs.path(), "first").await;
    let remote = Arc::new(TestServer::attach(backend, &first.base_url, keys.clone()));
    let mut targets = Vec::new();
    for i in 0..CONVERSATIONS {
        targets.push(format!(
            "/conversations/{}",
            remote
                .create_conversation(json!({"name": format!("c{i}"), "m": ["a"]}))
                .await
        ));
    }
    let targets = Arc::new(targets);
    let (next, acked) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..SENDERS {
        tasks.spawn(sender(
            remote.clone(),
            targets.clone(),
            task,
            next.clone(),
            acked.clone(),
        ));
    }
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while acked.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} sends acknowledged in time",
            acked.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    first.kill();
    let mut acks: Vec<(String, Sent)> = Vec::new();
    while let Some(done) = tokio::time::timeout(TIMEOUT, tasks.join_next())
        .await
        .expect("senders stop after the kill")
    {
        acks.extend(done.expect("a sender task"));
    }
    assert!(acks.len() >= KILL_AFTER, "{} acknowledged", acks.len());
    assert!(
        acks.len() < MESSAGES,
        "the kill came in the middle of the stream ({} of {MESSAGES} acknowledged)",
        acks.len()
    );

    let second = Binary::start(&database.url, &keys, logs.path(), "second").await;
    let remote = TestServer::attach(backend, &second.base_url, keys.clone());
    let mut stored: HashMap<String, i64> = HashMap::new();
    for target in targets.iter() {
        let history = remote
            .page_history(&format!("{target}/messages"), true, 1000, &[])
            .await;
        let ids: HashSet<&str> = history
            .iter()
            .filter_map(|i| i["msg-id"].as_str())
            .collect();
        assert_eq!(ids.len(), history.len(), "{target}: no message twice");
        for item in &history {
            stored.insert(
                item["msg-id"].as_str().unwrap_or_default().to_owned(),
                item["timestamp"].as_i64().unwrap_or_default(),
            );
        }
    }
    let lost: Vec<&Sent> = acks
        .iter()
        .map(|(_, s)| s)
        .filter(|s| stored.get(&s.msg_id) != Some(&s.timestamp))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages are missing after the restart: {:?}",
        lost.len(),
        acks.len(),
        &lost[..lost.len().min(5)]
    );
    // The restarted server goes on: a new message lands after everything stored.
    let after = remote.send(&targets[0], "a", "after the restart").await;
    let newest = remote
        .history(&format!("{}/messages", targets[0]), &[("limit", "1")])
        .await;
    assert_eq!(msg_ids(&newest), [after.msg_id]);
    assert!(stored.values().all(|&t| t <= after.timestamp));
    drop(second);
    database.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_a_kill_9_on_sqlite() {
    every_acknowledged_message_survives_a_kill_9(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_a_kill_9_on_postgres() {
    every_acknowledged_message_survives_a_kill_9(Backend::Postgres).await;
}
