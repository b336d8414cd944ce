//! Support for the import tests: in-process Tidings servers over fresh databases (SQLite in a
//! temporary folder, or a new Postgres database), and a small master-key REST client.

#![allow(dead_code)]

pub mod compare;
pub mod files;
pub mod fill;
pub mod flaky;
pub mod records;

use reqwest::Method;
use serde_json::Value;
use sqlx::{Connection, Executor};
use std::time::Duration;
use tidings::config::Config;
use tidings::domain::app::AppSettings;
use tidings::store::Store;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Keys {
    pub app_id: String,
    pub app_key: String,
    pub master_key: String,
}

impl Keys {
    pub fn random() -> Keys {
        let random = || tidings::domain::ids::random_alphanumeric(24);
        Keys {
            app_id: random(),
            app_key: random(),
            master_key: random(),
        }
    }
}

/// A fresh database, removed when dropped.
pub struct Database {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl Database {
    pub fn sqlite() -> Database {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary folder: {e}"));
        let url = format!("sqlite://{}", dir.path().join("tidings.db").display());
        Database {
            url,
            _dir: Some(dir),
            postgres_name: None,
        }
    }

    /// `tidings_import_<random>` on the local Postgres (TIDINGS_TEST_POSTGRES overrides).
    pub async fn postgres() -> Database {
        let name = format!(
            "tidings_import_{}",
            tidings::domain::ids::random_alphanumeric(10).to_lowercase()
        );
        let mut admin = postgres_admin().await;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("creating Postgres database {name}: {e}"));
        let _ = admin.close().await;
        Database {
            url: format!("{}/{name}", postgres_base()),
            _dir: None,
            postgres_name: Some(name),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(name) = self.postgres_name.take() {
            let dropper = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    runtime.block_on(async {
                        let mut admin = postgres_admin().await;
                        let _ = admin
                            .execute(
                                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                            )
                            .await;
                        let _ = admin.close().await;
                    });
                }
            });
            let _ = dropper.join();
        }
    }
}

fn postgres_base() -> String {
    std::env::var("TIDINGS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

async fn postgres_admin() -> sqlx::PgConnection {
    let url = format!("{}/postgres", postgres_base());
    match tokio::time::timeout(TIMEOUT, sqlx::PgConnection::connect(&url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!("Postgres is required for this test and {url} refused: {e}"),
        Err(_) => panic!("Postgres is required for this test and {url} did not answer"),
    }
}

/// Quotas far above what the tests send.
pub fn generous_settings() -> AppSettings {
    AppSettings {
        message_rate_per_minute: 10_000_000,
        subscription_rate_per_minute: 1_000_000,
        subscription_rate_per_day: 1_000_000,
        ..AppSettings::default()
    }
}

/// A running server.
pub struct Server {
    pub rest: Rest,
    pub store: Store,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Opens (migrating) the store at `url` with `keys` as its app and serves it on a random port.
    pub async fn start(url: &str, keys: &Keys, settings: Option<AppSettings>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        Server::start_on(listener, url, keys, settings, |_| {}).await
    }

    /// [`Server::start`] on `listener`, with `configure` changing the configuration first.
    pub async fn start_on(
        listener: TcpListener,
        url: &str,
        keys: &Keys,
        settings: Option<AppSettings>,
        configure: impl FnOnce(&mut Config),
    ) -> Server {
        let mut config = Config::defaults().unwrap_or_else(|e| panic!("default config: {e}"));
        config.listen = "127.0.0.1:0".into();
        config.database_url = url.to_owned();
        config.database_max_connections = 8;
        config.app_id = keys.app_id.clone();
        config.app_key = keys.app_key.clone();
        config.master_key = keys.master_key.clone();
        configure(&mut config);
        let (store, _) = tidings::open_store(&config)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e:#}"));
        if let Some(settings) = settings {
            store
                .save_app_settings(&keys.app_id, &settings)
                .await
                .unwrap_or_else(|e| panic!("settings: {e}"));
        }
        let address = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("address: {e}"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(tidings::run(
            config,
            store.clone(),
            listener,
            shutdown.clone(),
        ));
        let rest = Rest::new(&format!("http://{address}"), keys);
        Server {
            rest,
            store,
            shutdown,
            task,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        match tokio::time::timeout(TIMEOUT, self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("the server did not stop cleanly: {other:?}"),
        }
    }
}

/// A master-key client for one server.
#[derive(Clone)]
pub struct Rest {
    pub base: String,
    pub keys: Keys,
    http: reqwest::Client,
}

impl Rest {
    pub fn new(base: &str, keys: &Keys) -> Rest {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        Rest {
            base: base.to_owned(),
            keys: keys.clone(),
            http,
        }
    }

    /// Any method on `/1.2/rtm{path}`; returns status and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = format!("{}/1.2/rtm{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .query(query)
            .header("X-LC-Id", &self.keys.app_id)
            .header("X-LC-Key", format!("{},master", self.keys.master_key));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A call that must answer 200.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Value {
        let (status, answer) = self.call(method.clone(), path, query, body).await;
        assert_eq!(status, 200, "{method} {path} {query:?} {body:?}: {answer}");
        answer
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Value {
        self.ok(Method::GET, path, query, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Value {
        self.ok(Method::POST, path, &[], Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Value {
        self.ok(Method::PUT, path, &[], Some(body)).await
    }

    /// A history in full, oldest first, `limit` a page.
    pub async fn full_history(&self, path: &str, limit: usize) -> Vec<Value> {
        let mut all: Vec<Value> = Vec::new();
        loop {
            let mut query = vec![
                ("reversed", "true".to_owned()),
                ("limit", limit.to_string()),
            ];
            if let Some(last) = all.last() {
                query.push((
                    "timestamp",
                    last["timestamp"].as_i64().unwrap_or_default().to_string(),
                ));
                query.push((
                    "msgid",
                    last["msg-id"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            let page = self.get(path, &query).await;
            let page = page
                .as_array()
                .unwrap_or_else(|| panic!("{path}: not an array"))
                .clone();
            let done = page.len() < limit;
            all.extend(page);
            if done {
                return all;
            }
        }
    }
}
