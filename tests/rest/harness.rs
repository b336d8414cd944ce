//! The test harness: every test gets the real server (`tidings::run_with_clock`) on a random
//! port over a fresh database, SQLite (a file in a temporary folder) or Postgres (a new
//! database on the local server), plus a reqwest client and helpers that speak LeanCloud's
//! REST API. Tests advance `server.clock` instead of sleeping through quota windows.
//!
//! Postgres: `TIDINGS_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`) names the
//! server; each test creates `tidings_test_<pid>_<random>` and drops it when done. When
//! Postgres is unreachable the Postgres tests fail: they are never skipped.

use md5::{Digest, Md5};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tidings::clock::ServerClock;
use tidings::config::Config;
use tidings::domain::app::AppSettings;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Every HTTP call and every wait on the server gives up after this long.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Generates one `#[tokio::test]` per backend for a scenario
/// `async fn scenario(server: &TestServer)`, in a module named after the scenario:
/// `both_backends!(a_scenario)` gives `a_scenario::sqlite` and `a_scenario::postgres`.
/// A second argument, `fn(&mut Setup)`, changes the server's configuration first.
macro_rules! both_backends {
    ($scenario:ident) => {
        both_backends!($scenario, |_: &mut $crate::rest::harness::Setup| {});
    };
    ($scenario:ident, $configure:expr) => {
        backend_tests!($scenario, $configure, &);
    };
}

/// [`both_backends!`] for scenarios that take `&mut TestServer` (e.g. to restart it).
macro_rules! both_backends_mut {
    ($scenario:ident) => {
        both_backends_mut!($scenario, |_: &mut $crate::rest::harness::Setup| {});
    };
    ($scenario:ident, $configure:expr) => {
        backend_tests!($scenario, $configure, &mut);
    };
}

macro_rules! backend_tests {
    ($scenario:ident, $configure:expr, $($borrow:tt)+) => {
        mod $scenario {
            #[allow(unused_imports)]
            use super::*;
            use $crate::rest::harness::{Backend, TestServer};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                #[allow(unused_mut)]
                let mut server = TestServer::start(Backend::Sqlite, $configure).await;
                super::$scenario($($borrow)+ server).await;
                server.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                #[allow(unused_mut)]
                let mut server = TestServer::start(Backend::Postgres, $configure).await;
                super::$scenario($($borrow)+ server).await;
                server.stop().await;
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An app's credentials.
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

/// What a test may change before the server starts.
pub struct Setup {
    /// Starts from `Config::defaults()`; `listen` and `database_url` are filled in by the harness.
    pub config: Config,
    /// The app the helpers talk to.
    pub app: Keys,
    /// A second app, for cross-app isolation.
    pub other_app: Keys,
    /// Settings of the main app; by default quotas far above what any test sends. The
    /// second app always has those defaults.
    pub settings: AppSettings,
}

/// A fresh database: a temporary SQLite file or a Postgres database dropped afterwards.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder for the SQLite database");
                let url = format!("sqlite://{}", dir.path().join("tidings.db").display());
                TestDatabase {
                    url,
                    _dir: Some(dir),
                    postgres_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!("tidings_test_{}_{}", std::process::id(), random_hex(8));
                let mut admin = postgres_admin().await;
                drop_leftover_databases(&mut admin).await;
                admin
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap_or_else(|e| panic!("creating Postgres database {name}: {e}"));
                let _ = admin.close().await;
                let url = format!("{}/{name}", postgres_base());
                TestDatabase {
                    url,
                    _dir: None,
                    postgres_name: Some(name),
                }
            }
        }
    }

    /// Drops the Postgres database (SQLite's folder goes with the value).
    pub async fn remove(mut self) {
        if let Some(name) = self.postgres_name.take() {
            drop_database(&name).await;
        }
    }
}

impl Drop for TestDatabase {
    /// A test that panicked still drops its database, from a helper thread (we may be inside
    /// the test's runtime, which cannot block on itself).
    fn drop(&mut self) {
        if let Some(name) = self.postgres_name.take() {
            let dropper = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    runtime.block_on(drop_database(&name));
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
        Ok(Err(e)) => panic!("Postgres is required for these tests and {url} refused: {e}"),
        Err(_) => panic!(
            "Postgres is required for these tests and {url} did not answer within {TIMEOUT:?}"
        ),
    }
}

async fn drop_database(name: &str) {
    let mut admin = postgres_admin().await;
    if let Err(e) = admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
    {
        eprintln!("could not drop test database {name}: {e}");
    }
    let _ = admin.close().await;
}

/// Databases of earlier runs whose process is gone (a killed `cargo test`), once per process.
async fn drop_leftover_databases(admin: &mut sqlx::PgConnection) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'tidings_test_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for (name,) in names {
        // Only names this harness makes: tidings_test_<pid>_<16 hex>.
        let parts: Vec<&str> = name.split('_').collect();
        let ours = parts.len() == 4
            && parts[3].len() == 16
            && parts[3].bytes().all(|b| b.is_ascii_hexdigit());
        let Some(pid) = parts.get(2).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        if ours && !alive {
            let _ = admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await;
        }
    }
}

/// A running server and the client to talk to it.
pub struct TestServer {
    pub backend: Backend,
    pub base_url: String,
    pub app: Keys,
    pub other_app: Keys,
    pub http: reqwest::Client,
    /// The server's clock for quotas; tests advance it instead of sleeping.
    pub clock: ServerClock,
    config: Option<Config>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    database: Option<TestDatabase>,
}

/// Per-app settings for tests: message quotas far above what any test sends, so a test never
/// meets a rate limit it is not about.
pub fn test_settings() -> AppSettings {
    AppSettings {
        message_rate_per_minute: 1_000_000,
        ..AppSettings::default()
    }
}

impl TestServer {
    pub async fn start(backend: Backend, configure: impl FnOnce(&mut Setup)) -> TestServer {
        let database = TestDatabase::create(backend).await;
        let mut setup = Setup {
            config: Config::defaults().expect("the embedded default configuration parses"),
            app: Keys::random(),
            other_app: Keys::random(),
            settings: test_settings(),
        };
        configure(&mut setup);
        let mut config = setup.config;
        config.listen = "127.0.0.1:0".into();
        config.database_url = database.url.clone();
        config.database_max_connections = config.database_max_connections.min(8);
        config.app_id = setup.app.app_id.clone();
        config.app_key = setup.app.app_key.clone();
        config.master_key = setup.app.master_key.clone();
        let (store, _) = tidings::open_store(&config)
            .await
            .unwrap_or_else(|e| panic!("opening the {backend:?} store at {}: {e:#}", database.url));
        let other = &setup.other_app;
        store
            .upsert_app(&other.app_id, &other.app_key, &other.master_key)
            .await
            .unwrap_or_else(|e| panic!("creating the second app: {e}"));
        let apps = [
            (&setup.app.app_id, &setup.settings),
            (&other.app_id, &test_settings()),
        ];
        for (app, settings) in apps {
            store
                .save_app_settings(app, settings)
                .await
                .unwrap_or_else(|e| panic!("saving app settings: {e}"));
        }
        let mut server = TestServer {
            backend,
            base_url: String::new(),
            app: setup.app,
            other_app: setup.other_app,
            http: client(),
            clock: ServerClock::default(),
            config: Some(config),
            shutdown: CancellationToken::new(),
            task: None,
            database: Some(database),
        };
        server.serve(store).await;
        server
    }

    /// Runs the server over `store` on a new random port.
    async fn serve(&mut self, store: tidings::store::Store) {
        let config = self
            .config
            .clone()
            .expect("a server started by the harness");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a random local port");
        let address = listener.local_addr().expect("the bound address");
        self.shutdown = CancellationToken::new();
        let run = tidings::run_with_clock(
            config,
            store,
            listener,
            self.shutdown.clone(),
            self.clock.clone(),
        );
        self.task = Some(tokio::spawn(run));
        self.base_url = format!("http://{address}");
        self.assert_healthy().await;
    }

    /// Stops the server gracefully and starts it again on the same database and clock (on a
    /// new port).
    pub async fn restart(&mut self) {
        self.halt().await;
        let config = self
            .config
            .clone()
            .expect("a server started by the harness");
        let (store, _) = tidings::open_store(&config)
            .await
            .unwrap_or_else(|e| panic!("reopening the store: {e:#}"));
        self.serve(store).await;
    }

    /// Cancels the server and waits for it to finish.
    async fn halt(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let backend = self.backend;
            match tokio::time::timeout(TIMEOUT, task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => panic!("the {backend:?} server stopped with an error: {e:#}"),
                Ok(Err(e)) => panic!("the {backend:?} server task failed: {e}"),
                Err(_) => panic!("the {backend:?} server did not shut down within {TIMEOUT:?}"),
            }
        }
    }

    /// Helpers for a server running elsewhere (the binary in the durability test); `stop`
    /// leaves it alone.
    pub fn attach(backend: Backend, base_url: &str, app: Keys) -> TestServer {
        TestServer {
            backend,
            base_url: base_url.to_owned(),
            app,
            other_app: Keys::random(),
            http: client(),
            clock: ServerClock::default(),
            config: None,
            shutdown: CancellationToken::new(),
            task: None,
            database: None,
        }
    }

    /// Shuts the server down gracefully and removes its database.
    pub async fn stop(mut self) {
        self.halt().await;
        if let Some(database) = self.database.take() {
            database.remove().await;
        }
    }

    /// `http://127.0.0.1:port/1.2/rtm{path}`
    pub fn rtm(&self, path: &str) -> String {
        format!("{}/1.2/rtm{path}", self.base_url)
    }

    /// A request with no credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> Call {
        Call {
            builder: self.http.request(method, self.rtm(path)),
        }
    }

    /// A request with this app's master key (`X-LC-Key: {masterkey},master`).
    pub fn master(&self, method: Method, path: &str) -> Call {
        self.anonymous(method, path).as_master_of(&self.app)
    }

    /// A request with this app's app key only.
    pub fn with_app_key(&self, method: Method, path: &str) -> Call {
        self.anonymous(method, path)
            .header("X-LC-Id", &self.app.app_id)
            .header("X-LC-Key", &self.app.app_key)
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.master(Method::GET, path).query(query).send().await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.master(Method::POST, path).json(&body).send().await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.master(Method::PUT, path).json(&body).send().await
    }

    pub async fn delete(&self, path: &str, body: Option<Value>) -> Reply {
        let call = self.master(Method::DELETE, path);
        match body {
            Some(body) => call.json(&body).send().await,
            None => call.send().await,
        }
    }

    /// GET /healthz answers 200 and a normal request works.
    pub async fn assert_healthy(&self) {
        let health = tokio::time::timeout(
            TIMEOUT,
            self.http.get(format!("{}/healthz", self.base_url)).send(),
        )
        .await
        .expect("/healthz answered in time")
        .expect("/healthz answered");
        assert_eq!(health.status().as_u16(), 200, "/healthz");
        let listing = self.get("/all-conversations", &[("limit", "1")]).await;
        assert_eq!(listing.status, 200, "a normal request after: {listing:?}");
        assert!(listing.body["results"].is_array(), "{listing:?}");
    }

    /// E01 with the master key; returns the new (or existing) conversation's id.
    pub async fn create_conversation(&self, body: Value) -> String {
        let reply = self.post("/conversations", body.clone()).await;
        reply.assert_success(&format!("creating conversation {body}"));
        reply.id()
    }

    pub async fn create_chat_room(&self, name: &str) -> String {
        let reply = self.post("/chatrooms", json!({ "name": name })).await;
        reply.assert_success("creating a chat room");
        reply.id()
    }

    pub async fn create_service_conversation(&self, name: &str) -> String {
        let reply = self
            .post("/service-conversations", json!({ "name": name }))
            .await;
        reply.assert_success("creating a service conversation");
        reply.id()
    }

    /// Sends `body` to `{family}/{id}/messages` (e.g. `/conversations/ID`) and returns the ack.
    pub async fn send_json(&self, target: &str, body: Value) -> Sent {
        let reply = self.post(&format!("{target}/messages"), body.clone()).await;
        assert_eq!(reply.status, 200, "sending {body} to {target}: {reply:?}");
        Sent::from_reply(&reply)
    }

    /// Sends a plain text message from `from` to `{family}/{id}`.
    pub async fn send(&self, target: &str, from: &str, message: &str) -> Sent {
        self.send_json(target, json!({ "from_client": from, "message": message }))
            .await
    }

    /// Creates `count` conversations `c0`.. with 16 concurrent requests.
    pub async fn create_many_conversations(&self, count: usize) {
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (next, http, url) = (next.clone(), self.http.clone(), self.rtm("/conversations"));
            let (app_id, master) = (
                self.app.app_id.clone(),
                format!("{},master", self.app.master_key),
            );
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= count {
                        return;
                    }
                    let body = json!({"name": format!("c{i}"), "m": ["a"]});
                    let request = http
                        .post(&url)
                        .header("X-LC-Id", &app_id)
                        .header("X-LC-Key", &master)
                        .json(&body);
                    let response = request
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("create {i}: {e}"));
                    assert!(
                        response.status().is_success(),
                        "create {i}: {}",
                        response.status()
                    );
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap_or_else(|e| panic!("a create task failed: {e}"));
        }
    }

    /// Sends messages `"0"`..`"{count-1}"` from `from` to `{family}/{id}` with `workers`
    /// concurrent senders (so group commit batches them); returns every ack, in no order.
    pub async fn send_concurrently(
        &self,
        target: &str,
        from: &str,
        count: usize,
        workers: usize,
    ) -> Vec<Sent> {
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let (next, http, url) = (
                next.clone(),
                self.http.clone(),
                self.rtm(&format!("{target}/messages")),
            );
            let (app_id, master) = (
                self.app.app_id.clone(),
                format!("{},master", self.app.master_key),
            );
            let from = from.to_owned();
            tasks.spawn(async move {
                let mut acks = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= count {
                        return acks;
                    }
                    let body = json!({"from_client": from, "message": i.to_string()});
                    let request = http
                        .post(&url)
                        .header("X-LC-Id", &app_id)
                        .header("X-LC-Key", &master)
                        .json(&body);
                    let response = request
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("send {i}: {e}"));
                    let status = response.status().as_u16();
                    let body: Value = response
                        .json()
                        .await
                        .unwrap_or_else(|e| panic!("send {i} answer: {e}"));
                    let reply = Reply { status, body };
                    assert_eq!(reply.status, 200, "send {i}: {reply:?}");
                    acks.push(Sent::from_reply(&reply));
                }
            });
        }
        let mut acks = Vec::with_capacity(count);
        while let Some(done) = tasks.join_next().await {
            acks.extend(done.unwrap_or_else(|e| panic!("a sender task failed: {e}")));
        }
        assert_eq!(acks.len(), count);
        acks
    }

    /// Pages through a history listing `limit` items at a time, each page starting after the
    /// last item of the previous one (`msgid` + `timestamp`), until a page comes back empty.
    pub async fn page_history(
        &self,
        path: &str,
        reversed: bool,
        limit: usize,
        extra: &[(&str, &str)],
    ) -> Vec<Value> {
        let mut all: Vec<Value> = Vec::new();
        let limit_text = limit.to_string();
        loop {
            let mut query: Vec<(&str, String)> = vec![("limit", limit_text.clone())];
            if reversed {
                query.push(("reversed", "true".into()));
            }
            if let Some(last) = all.last() {
                query.push((
                    "msgid",
                    last["msg-id"].as_str().unwrap_or_default().to_owned(),
                ));
                query.push((
                    "timestamp",
                    last["timestamp"].as_i64().unwrap_or_default().to_string(),
                ));
            }
            query.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
            let borrowed: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = self.history(path, &borrowed).await;
            assert!(
                page.len() <= limit,
                "a page holds at most {limit} items, got {}",
                page.len()
            );
            if page.is_empty() {
                return all;
            }
            all.extend(page);
            assert!(all.len() <= 100_000, "paging {path} does not end");
        }
    }

    /// A history listing (E12, E23, E45, E52) that must succeed; returns the items.
    pub async fn history(&self, path: &str, query: &[(&str, &str)]) -> Vec<Value> {
        let reply = self.get(path, query).await;
        assert_eq!(reply.status, 200, "history {path} {query:?}: {reply:?}");
        reply
            .body
            .as_array()
            .unwrap_or_else(|| panic!("history is a JSON array: {reply:?}"))
            .clone()
    }

    /// A conversation listing (E02, E17, E28, E48) that must succeed; returns `results`.
    pub async fn list(&self, path: &str, query: &[(&str, &str)]) -> Vec<Value> {
        let reply = self.get(path, query).await;
        assert_eq!(reply.status, 200, "listing {path} {query:?}: {reply:?}");
        reply.body["results"]
            .as_array()
            .unwrap_or_else(|| panic!("results is an array: {reply:?}"))
            .clone()
    }

    /// One conversation as `/all-conversations` shows it.
    pub async fn find_conversation(&self, id: &str) -> Option<Value> {
        let all = self.list("/all-conversations", &[("limit", "1000")]).await;
        all.into_iter().find(|c| c["objectId"] == id)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("building the HTTP client")
}

/// A request being built.
pub struct Call {
    builder: reqwest::RequestBuilder,
}

impl Call {
    pub fn header(self, name: &str, value: &str) -> Call {
        Call {
            builder: self.builder.header(name, value),
        }
    }

    #[allow(clippy::wrong_self_convention)] // reads as English: `.as_master_of(&app)`
    pub fn as_master_of(self, keys: &Keys) -> Call {
        self.header("X-LC-Id", &keys.app_id)
            .header("X-LC-Key", &format!("{},master", keys.master_key))
    }

    pub fn query(self, pairs: &[(&str, &str)]) -> Call {
        Call {
            builder: self.builder.query(pairs),
        }
    }

    pub fn json(self, body: &Value) -> Call {
        Call {
            builder: self.builder.json(body),
        }
    }

    /// A body sent as is, labelled JSON.
    pub fn raw(self, body: impl Into<String>) -> Call {
        Call {
            builder: self
                .builder
                .header("Content-Type", "application/json")
                .body(body.into()),
        }
    }

    pub fn into_builder(self) -> reqwest::RequestBuilder {
        self.builder
    }

    pub async fn send(self) -> Reply {
        self.send_with_headers().await.0
    }

    /// The reply and the response headers.
    pub async fn send_with_headers(self) -> (Reply, reqwest::header::HeaderMap) {
        let response = self
            .builder
            .send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {}", e.without_url()));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("reading the response body: {e}"));
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (Reply { status, body }, headers)
    }
}

/// What the server answered: the status and the body (JSON, or the raw text as a string).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn assert_success(&self, what: &str) {
        assert!((200..300).contains(&self.status), "{what}: {self:?}");
    }

    /// The `objectId` of a create answer.
    pub fn id(&self) -> String {
        let id = self.body["objectId"]
            .as_str()
            .unwrap_or_else(|| panic!("objectId in {self:?}"));
        id.to_owned()
    }

    /// LeanCloud's error shape: exactly `{"code": N, "error": "..."}` with this status and code.
    pub fn assert_error(&self, status: u16, code: i64, what: &str) {
        assert_eq!(self.status, status, "{what}: {self:?}");
        self.assert_error_shape(what);
        assert_eq!(self.body["code"], code, "{what}: {self:?}");
    }

    /// A client error (4xx) in LeanCloud's shape, whatever the code.
    pub fn assert_client_error(&self, what: &str) {
        assert!(
            (400..500).contains(&self.status),
            "{what}: expected a 4xx, got {self:?}"
        );
        self.assert_error_shape(what);
    }

    pub fn assert_error_shape(&self, what: &str) {
        let object = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("{what}: error body is a JSON object: {self:?}"));
        assert_eq!(
            keys_of(&self.body),
            set(&["code", "error"]),
            "{what}: {self:?}"
        );
        assert!(
            object["code"].is_i64(),
            "{what}: code is an integer: {self:?}"
        );
        assert!(
            object["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: error is a message: {self:?}"
        );
    }

    pub fn assert_unauthorized(&self, what: &str) {
        assert_eq!(self.status, 401, "{what}: {self:?}");
        assert_eq!(
            self.body,
            json!({"code": 401, "error": "Unauthorized."}),
            "{what}"
        );
    }
}

/// A send's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sent {
    pub msg_id: String,
    pub timestamp: i64,
}

impl Sent {
    pub fn from_reply(reply: &Reply) -> Sent {
        let msg_id = reply.body["msg-id"]
            .as_str()
            .unwrap_or_else(|| panic!("msg-id in {reply:?}"));
        let timestamp = reply.body["timestamp"]
            .as_i64()
            .unwrap_or_else(|| panic!("timestamp in {reply:?}"));
        Sent {
            msg_id: msg_id.to_owned(),
            timestamp,
        }
    }

    /// The query pairs that start a history scan at this message.
    pub fn start(&self) -> [(&'static str, String); 2] {
        [
            ("msgid", self.msg_id.clone()),
            ("timestamp", self.timestamp.to_string()),
        ]
    }

    /// The query pairs that end a history scan at this message.
    pub fn stop(&self) -> [(&'static str, String); 2] {
        [
            ("till_msgid", self.msg_id.clone()),
            ("till_timestamp", self.timestamp.to_string()),
        ]
    }
}

/// Borrowed query pairs from owned ones.
pub fn pairs<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    owned.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The keys of a JSON object.
pub fn keys_of(value: &Value) -> HashSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

pub fn set(items: &[&str]) -> HashSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The `msg-id`s of history items, in order.
pub fn msg_ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["msg-id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The `objectId`s of listed conversations, sorted.
pub fn object_ids(results: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = results
        .iter()
        .map(|r| r["objectId"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`
pub fn assert_iso_date(value: &Value, what: &str) {
    let pattern = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
        .expect("a valid pattern");
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is a string: {value}"));
    assert!(
        pattern.is_match(text),
        "{what} is ISO-8601 UTC with milliseconds: {text}"
    );
}

/// The milliseconds of an ISO date string.
pub fn parse_iso(value: &Value) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a date string: {value}"));
    tidings::domain::time::parse_iso(text).unwrap_or_else(|| panic!("an ISO date: {text}"))
}

/// `{"__type":"Date","iso":...}` for milliseconds.
pub fn date(ms: i64) -> Value {
    json!({"__type": "Date", "iso": tidings::domain::time::iso(ms)})
}

pub fn assert_object_id(value: &Value) {
    let id = value
        .as_str()
        .unwrap_or_else(|| panic!("objectId is a string: {value}"));
    assert!(
        id.len() == 24
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "24-hex objectId: {id}"
    );
}

pub fn assert_msg_id(value: &Value) {
    let id = value
        .as_str()
        .unwrap_or_else(|| panic!("msg-id is a string: {value}"));
    assert!(
        id.len() == 22
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "22-character URL-safe msg-id: {id}"
    );
}

pub fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

pub fn now_ms() -> i64 {
    tidings::domain::time::now_ms()
}

/// An object id that names nothing.
pub fn unknown_id() -> String {
    random_hex(12)
}

/// Waits until the clock has moved past `ms`, so the next send gets a later timestamp.
pub async fn pass_millisecond(ms: i64) {
    while now_ms() <= ms {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
