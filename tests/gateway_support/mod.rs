//! Harness for the WebSocket gateway tests: the real server (`tidings::run`) on port 0 over
//! a fresh SQLite file or a fresh Postgres database, WebSocket clients speaking the
//! protobuf protocol, and a REST helper. Every receive has a timeout; "must not arrive" is
//! a short silence window.

#![allow(dead_code, clippy::unwrap_used)]

use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use serde_json::Value;
use sqlx::{Connection, Executor};
use std::collections::VecDeque;
use std::time::Duration;
use tidings::config::Config;
use tidings::domain::app::AppSettings;
use tidings::gateway::proto::{
    AckCommand, CommandType, GenericCommand, OpType, RcpCommand, SessionCommand,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

pub const RECEIVE_TIMEOUT: Duration = Duration::from_secs(10);
pub const SILENCE: Duration = Duration::from_millis(300);

pub const APP_ID: &str = "gateway-test-app-id";
pub const APP_KEY: &str = "gateway-test-app-key";
pub const MASTER_KEY: &str = "gateway-test-master-key";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Server {
    pub addr: std::net::SocketAddr,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<String>,
}

fn postgres_base() -> String {
    std::env::var("TIDINGS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// Creates a fresh, uniquely named database on the local Postgres and returns its name.
pub async fn create_postgres_database(prefix: &str) -> String {
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        tidings::domain::ids::random_alphanumeric(8).to_lowercase()
    );
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", postgres_base()))
        .await
        .unwrap();
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let _ = admin.close().await;
    name
}

impl Server {
    pub async fn start(backend: Backend) -> Server {
        Server::start_with(backend, |_, _| {}).await
    }

    /// Starts a server; `configure` may change the config and the app's settings first.
    pub async fn start_with(
        backend: Backend,
        configure: impl FnOnce(&mut Config, &mut AppSettings),
    ) -> Server {
        let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(filter)
            .try_init();
        let mut config = Config::defaults().unwrap();
        let (dir, postgres) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                config.database_url =
                    format!("sqlite://{}", dir.path().join("gateway.db").display());
                (Some(dir), None)
            }
            Backend::Postgres => {
                let name = create_postgres_database("tidings_gw").await;
                config.database_url = format!("{}/{name}", postgres_base());
                (None, Some(name))
            }
        };
        config.app_id = APP_ID.into();
        config.app_key = APP_KEY.into();
        config.master_key = MASTER_KEY.into();
        config.listen = "127.0.0.1:0".into();
        let mut settings = AppSettings {
            message_rate_per_minute: 1_000_000,
            ..AppSettings::default()
        };
        configure(&mut config, &mut settings);
        let (store, _) = tidings::open_store(&config).await.unwrap();
        store.save_app_settings(APP_ID, &settings).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(tidings::run(config, store, listener, shutdown.clone()));
        Server {
            addr,
            http: reqwest::Client::new(),
            shutdown,
            task: Some(task),
            _dir: dir,
            postgres,
        }
    }

    /// Cancels the server and waits for it (connections get `goaway` and a close frame).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
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

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    pub async fn connect(&self, protocol: &str) -> Client {
        self.connect_to(&self.ws_url(), Some(protocol)).await.0
    }

    /// Connects, returning the client and the sub-protocol the server echoed.
    pub async fn connect_to(&self, url: &str, protocol: Option<&str>) -> (Client, Option<String>) {
        let mut request = url.into_client_request().unwrap();
        if let Some(protocol) = protocol {
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_str(protocol).unwrap(),
            );
        }
        let (ws, response) =
            tokio::time::timeout(RECEIVE_TIMEOUT, tokio_tungstenite::connect_async(request))
                .await
                .unwrap()
                .unwrap();
        let echoed = response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_owned());
        let base64 = echoed
            .as_deref()
            .is_some_and(|p| p.starts_with("lc.proto2base64"));
        (
            Client {
                ws,
                next_i: 1,
                base64,
                pending: VecDeque::new(),
            },
            echoed,
        )
    }

    /// Connects with `lc.protobuf2.3` and opens a session for `client`.
    pub async fn login(&self, client: &str) -> Client {
        let mut c = self.connect("lc.protobuf2.3").await;
        let opened = c.open(client, SessionCommand::default()).await;
        assert_eq!(opened.op, Some(OpType::Opened as i32), "{opened:?}");
        c
    }

    /// A REST call with the master key.
    pub async fn rest(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.rest_with(method, path, body, &format!("{MASTER_KEY},master"))
            .await
    }

    pub async fn rest_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: &str,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("http://{}{path}", self.addr))
            .header("X-LC-Id", APP_ID)
            .header("X-LC-Key", key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = tokio::time::timeout(RECEIVE_TIMEOUT, request.send())
            .await
            .unwrap()
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_i: i32,
    base64: bool,
    /// Commands received while waiting for something else.
    pending: VecDeque<GenericCommand>,
}

/// What a read from the socket gave.
#[derive(Debug)]
pub enum Received {
    Command(Box<GenericCommand>),
    Closed(Option<u16>),
}

pub fn command(cmd: CommandType, op: Option<OpType>) -> GenericCommand {
    GenericCommand {
        cmd: Some(cmd as i32),
        op: op.map(|o| o as i32),
        ..Default::default()
    }
}

impl Client {
    pub async fn send(&mut self, command: &GenericCommand) {
        let bytes = command.encode_to_vec();
        self.send_raw(bytes).await;
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        use base64::Engine;
        let frame = if self.base64 {
            Message::Text(
                base64::engine::general_purpose::STANDARD
                    .encode(bytes)
                    .into(),
            )
        } else {
            Message::Binary(bytes.into())
        };
        self.ws.send(frame).await.unwrap();
    }

    /// Sends with a fresh `i` and waits for the reply carrying it (pushes are kept).
    pub async fn request(&mut self, mut command: GenericCommand) -> GenericCommand {
        let i = self.next_i;
        self.next_i += 1;
        command.i = Some(i);
        self.send(&command).await;
        let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
        loop {
            match self.read_until(deadline).await {
                Some(Received::Command(reply)) if reply.i == Some(i) => return *reply,
                Some(Received::Command(other)) => self.pending.push_back(*other),
                other => panic!("no reply to i={i} ({command:?}): {other:?}"),
            }
        }
    }

    pub async fn open(&mut self, client: &str, session: SessionCommand) -> GenericCommand {
        let mut open = command(CommandType::Session, Some(OpType::Open));
        open.app_id = Some(APP_ID.into());
        open.peer_id = Some(client.into());
        open.session_message = Some(session);
        self.request(open).await
    }

    async fn read_until(&mut self, deadline: tokio::time::Instant) -> Option<Received> {
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            let message = match frame {
                None | Some(Err(_)) => return Some(Received::Closed(None)),
                Some(Ok(message)) => message,
            };
            let bytes = match message {
                Message::Binary(bytes) => bytes.to_vec(),
                Message::Text(text) => {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .decode(text.as_str())
                        .unwrap()
                }
                Message::Close(frame) => {
                    return Some(Received::Closed(frame.map(|f| u16::from(f.code))))
                }
                _ => continue,
            };
            return Some(Received::Command(Box::new(
                GenericCommand::decode(bytes.as_slice()).unwrap(),
            )));
        }
    }

    /// The next command (pending first), within the receive timeout.
    pub async fn recv(&mut self) -> GenericCommand {
        if let Some(command) = self.pending.pop_front() {
            return command;
        }
        match self
            .read_until(tokio::time::Instant::now() + RECEIVE_TIMEOUT)
            .await
        {
            Some(Received::Command(command)) => *command,
            other => panic!("expected a command, got {other:?}"),
        }
    }

    /// Waits for a command with this `cmd`/`op`, keeping others for later.
    pub async fn expect(&mut self, cmd: CommandType, op: Option<OpType>) -> GenericCommand {
        let matches = |c: &GenericCommand| {
            c.cmd == Some(cmd as i32) && (op.is_none() || c.op == op.map(|o| o as i32))
        };
        if let Some(index) = self.pending.iter().position(matches) {
            return self.pending.remove(index).unwrap();
        }
        let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
        loop {
            match self.read_until(deadline).await {
                Some(Received::Command(c)) if matches(&c) => return *c,
                Some(Received::Command(c)) => self.pending.push_back(*c),
                other => panic!(
                    "expected {cmd:?}/{op:?}, got {other:?}; pending {:?}",
                    self.pending
                ),
            }
        }
    }

    /// The next command with this `cmd` if one arrives within the silence window.
    pub async fn try_expect(&mut self, cmd: CommandType) -> Option<GenericCommand> {
        if let Some(index) = self.pending.iter().position(|c| c.cmd == Some(cmd as i32)) {
            return self.pending.remove(index);
        }
        let deadline = tokio::time::Instant::now() + SILENCE;
        loop {
            match self.read_until(deadline).await {
                Some(Received::Command(c)) if c.cmd == Some(cmd as i32) => return Some(*c),
                Some(Received::Command(c)) => self.pending.push_back(*c),
                _ => return None,
            }
        }
    }

    /// Asserts nothing arrives within the silence window.
    pub async fn silence(&mut self) {
        assert!(
            self.pending.is_empty(),
            "unexpected pending {:?}",
            self.pending
        );
        if let Some(received) = self.read_until(tokio::time::Instant::now() + SILENCE).await {
            panic!("expected silence, got {received:?}");
        }
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Acknowledges one delivered message as the Android and Swift SDKs do (`cid` + `mid`).
    pub async fn acknowledge(&mut self, cid: &str, mid: &str) {
        let mut ack = command(CommandType::Ack, None);
        ack.ack_message = Some(AckCommand {
            cid: Some(cid.to_owned()),
            mid: Some(mid.to_owned()),
            ..Default::default()
        });
        self.send(&ack).await;
    }

    /// The next receipt (`rcp`) pushed to this client.
    pub async fn receipt(&mut self) -> RcpCommand {
        let rcp = self.expect(CommandType::Rcp, None).await;
        rcp.rcp_message.unwrap()
    }

    /// Reads until the server closes; returns its close code.
    pub async fn closed(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
        loop {
            match self.read_until(deadline).await {
                Some(Received::Closed(code)) => return code,
                Some(Received::Command(c)) => self.pending.push_back(*c),
                None => panic!("the server did not close the connection"),
            }
        }
    }
}
