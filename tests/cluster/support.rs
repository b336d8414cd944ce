//! Several real nodes (`tidings::run`, distinct node ids, loopback ports) on one database
//! (a SQLite file or a fresh Postgres database) and one Redis: the shared 127.0.0.1:6379
//! with a key prefix of the test's own, or a private `redis-server` the test may stop.

#![allow(dead_code, clippy::unwrap_used)]

use super::gateway_support::{Backend, Server};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tidings::domain::app::AppSettings;

pub const WAIT: Duration = Duration::from_secs(12);

/// Polls `$cond` (an expression that may `.await`) until it holds, or panics naming `$what`.
macro_rules! eventually {
    ($what:expr, $cond:expr) => {{
        let deadline = tokio::time::Instant::now() + $crate::support::WAIT;
        loop {
            if $cond {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {}",
                $what
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }};
}

pub fn shared_redis_url() -> String {
    std::env::var("TIDINGS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Fails (never skips) when Redis does not answer within a few seconds: CI starts it.
pub async fn require_redis(url: &str) {
    let client = redis::Client::open(url).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(1),
            client.get_multiplexed_async_connection(),
        )
        .await;
        if let Ok(Ok(mut conn)) = attempt {
            let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
            if pong.is_ok_and(|p| p == "PONG") {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Redis at {url} is unreachable; scripts/services.sh starts the shared one"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One database the nodes share.
pub struct SharedDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<String>,
}

fn postgres_base() -> String {
    std::env::var("TIDINGS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

impl SharedDb {
    pub async fn create(backend: Backend) -> SharedDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("cluster.db").display());
                SharedDb {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let name =
                    super::gateway_support::create_postgres_database("tidings_cluster").await;
                SharedDb {
                    url: format!("{}/{name}", postgres_base()),
                    _dir: None,
                    postgres: Some(name),
                }
            }
        }
    }

    pub async fn drop_database(&mut self) {
        if let Some(name) = self.postgres.take() {
            if let Ok(mut admin) =
                sqlx::PgConnection::connect(&format!("{}/postgres", postgres_base())).await
            {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}

/// A fresh key prefix: tests (and other builders) sharing a Redis never see each other.
pub fn fresh_prefix() -> String {
    format!(
        "tidings-test-{}",
        tidings::domain::ids::random_alphanumeric(10)
    )
}

/// Starts one node on the shared database.
pub async fn node(
    db: &SharedDb,
    redis_url: &str,
    prefix: &str,
    id: &str,
    settings: impl Fn(&mut AppSettings),
) -> Server {
    let (db_url, redis_url, prefix, id) = (
        db.url.clone(),
        redis_url.to_owned(),
        prefix.to_owned(),
        id.to_owned(),
    );
    Server::start_with(Backend::Sqlite, move |config, app| {
        config.database_url = db_url;
        config.redis_url = redis_url;
        config.redis_prefix = prefix;
        config.node_id = id;
        settings(app);
    })
    .await
}

/// `count` nodes named a, b, c…
pub async fn nodes(
    db: &SharedDb,
    redis_url: &str,
    count: usize,
    settings: impl Fn(&mut AppSettings) + Clone,
) -> Vec<Server> {
    let prefix = fresh_prefix();
    let mut out = Vec::new();
    for name in ["a", "b", "c", "d"].into_iter().take(count) {
        out.push(node(db, redis_url, &prefix, name, settings.clone()).await);
    }
    out
}

pub async fn check_online(node: &Server, clients: &[&str]) -> Vec<String> {
    let (status, body) = node
        .rest(
            reqwest::Method::POST,
            "/1.2/rtm/clients/check-online",
            Some(json!({ "client_ids": clients })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut online: Vec<String> = serde_json::from_value(body["results"].clone()).unwrap();
    online.sort();
    online
}

pub async fn ready_status(node: &Server) -> (u16, Value) {
    let response = node
        .http
        .get(format!("http://{}/readyz", node.addr))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A `redis-server` of the test's own on a free port, which it may stop and restart.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub async fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = PrivateRedis { port, child: None };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is required for the cluster tests");
        self.child = Some(child);
        require_redis(&self.url()).await;
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The official SDK packages of tests/sdk, installed as tests/sdk/run.sh does (`npm ci` when
/// node_modules is missing or older than the lock file).
pub fn ensure_sdk_packages() {
    let script = r#"
set -euo pipefail
cd tests/sdk
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.tidings-lock-sha256
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi
"#;
    let status = Command::new("bash")
        .args(["-c", script])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("bash and npm are required for the SDK cluster test");
    assert!(status.success(), "npm ci in tests/sdk failed");
}
