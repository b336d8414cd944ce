//! The real `tidings` binary in its own process, so it can be SIGKILLed and restarted on the
//! same port and database, and senders that keep going through every crash. The senders
//! never panic on a failed request: a crash makes requests fail, and only what the server
//! acknowledged is recorded (the ledger is what the checks compare the store against).

use crate::gateway_support::{APP_ID, APP_KEY, MASTER_KEY};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use prost::Message as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tidings::config::Config;
use tidings::domain::app::AppSettings;
use tidings::gateway::proto::{CommandType, DirectCommand, GenericCommand, OpType, SessionCommand};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// The load tests (SIGKILL, Postgres restart, slow consumer) take this in turn: run side by
/// side on a 2-core machine they would measure each other.
pub async fn one_load_test_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
        .lock()
        .await
}

/// A free port (bound once and released; the binary binds it again).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A number from the environment (a knob of the long forms), else `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Creates a conversation of `members` on the binary at `base` (master key); its id.
pub async fn create_conversation(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    members: &[String],
) -> String {
    let body: serde_json::Value = http
        .post(format!("{base}/1.2/rtm/conversations"))
        .header("X-LC-Id", APP_ID)
        .header("X-LC-Key", format!("{MASTER_KEY},master"))
        .json(&serde_json::json!({"name": name, "m": members}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["objectId"].as_str().unwrap().to_owned()
}

/// Creates the test app in `database_url` with rate limits out of the way (the load here is
/// far above an app's default quota).
pub async fn prepare_app(database_url: &str) {
    let mut config = Config::defaults().unwrap();
    config.database_url = database_url.to_owned();
    config.app_id = APP_ID.into();
    config.app_key = APP_KEY.into();
    config.master_key = MASTER_KEY.into();
    let (store, _) = tidings::open_store(&config).await.unwrap();
    let settings = AppSettings {
        message_rate_per_minute: 10_000_000,
        client_message_rate_per_second: 100_000,
        connection_command_rate_per_second: 100_000,
        ..AppSettings::default()
    };
    store.save_app_settings(APP_ID, &settings).await.unwrap();
}

pub struct Binary {
    pub port: u16,
    database_url: String,
    env: Vec<(String, String)>,
    child: Option<tokio::process::Child>,
}

impl Binary {
    /// Starts the binary and waits until `/readyz` answers 200.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Binary {
        let mut binary = Binary {
            port: free_port(),
            database_url: database_url.to_owned(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            child: None,
        };
        binary.spawn();
        let took = binary.wait_ready(Duration::from_secs(60)).await;
        assert!(took.is_some(), "the server did not become ready");
        binary
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        // The soak may run a release build under the debug test harness.
        let program = std::env::var("RELIABILITY_SOAK_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_tidings").to_owned());
        let mut command = tokio::process::Command::new(program);
        command
            .env("TIDINGS_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("TIDINGS_DATABASE_URL", &self.database_url)
            .env("TIDINGS_APP_ID", APP_ID)
            .env("TIDINGS_APP_KEY", APP_KEY)
            .env("TIDINGS_MASTER_KEY", MASTER_KEY)
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        self.child = Some(command.spawn().unwrap());
    }

    /// How long until `/readyz` answered 200, if it did within `within`. Panics if the
    /// process exited meanwhile (a restart that is not clean).
    pub async fn wait_ready(&mut self, within: Duration) -> Option<Duration> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("the server exited: {status}");
                }
            }
            if let Ok(response) = http.get(format!("{}/readyz", self.base())).send().await {
                if response.status().as_u16() == 200 {
                    return Some(started.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// SIGKILL: no shutdown code runs, the database sees the connection vanish.
    pub async fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().unwrap();
            let _ = child.wait().await;
        }
    }

    /// Starts it again on the same port and database; returns how long until ready.
    pub async fn restart(&mut self) -> Duration {
        self.spawn();
        self.wait_ready(Duration::from_secs(60))
            .await
            .expect("the server did not become ready after a restart")
    }
}

/// What the server acknowledged: conversation, message id, the text sent.
#[derive(Debug, Clone)]
pub struct Acked {
    pub conv: String,
    pub msg_id: String,
    pub text: String,
}

#[derive(Default)]
pub struct Ledger {
    pub acked: Mutex<Vec<Acked>>,
    pub failed: std::sync::atomic::AtomicU64,
}

impl Ledger {
    fn ack(&self, conv: &str, msg_id: &str, text: String) {
        self.acked.lock().push(Acked {
            conv: conv.to_owned(),
            msg_id: msg_id.to_owned(),
            text,
        });
    }
    fn fail(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }
}

/// A REST sender: posts `NAME-N` to `conv` until `stop`, recording every 200.
pub async fn rest_sender(
    base: String,
    name: String,
    conv: String,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let url = format!("{base}/1.2/rtm/conversations/{conv}/messages");
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let text = format!("{name}-{n}");
        let sent = http
            .post(&url)
            .header("X-LC-Id", APP_ID)
            .header("X-LC-Key", format!("{MASTER_KEY},master"))
            .json(&serde_json::json!({"from_client": name, "message": text}))
            .send()
            .await;
        let acked = match sent {
            Ok(response) if response.status().as_u16() == 200 => response
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|body| body["msg-id"].as_str().map(str::to_owned)),
            _ => None,
        };
        match acked {
            Some(msg_id) => ledger.ack(&conv, &msg_id, text),
            None => {
                ledger.fail();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn ws_request(ws: &mut Socket, command: &GenericCommand) -> Option<GenericCommand> {
    ws.send(Message::Binary(command.encode_to_vec().into()))
        .await
        .ok()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Binary(bytes) = frame {
            let reply = GenericCommand::decode(bytes.as_ref()).ok()?;
            if reply.i == command.i {
                return Some(reply);
            }
        } else if let Message::Close(_) = frame {
            return None;
        }
    }
}

pub async fn ws_login(base: &str, name: &str) -> Option<Socket> {
    ws_login_with(base, name, None).await
}

/// Logs in on a socket whose kernel receive buffer is `receive_buffer` bytes when given (a
/// client on a slow link: the server's writes stall once it stops reading).
pub async fn ws_login_with(base: &str, name: &str, receive_buffer: Option<u32>) -> Option<Socket> {
    let address = base.trim_start_matches("http://").to_owned();
    let mut request = format!("ws://{address}/").into_client_request().ok()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("lc.protobuf2.3"),
    );
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size).ok()?;
    }
    let connect = async {
        let tcp = socket.connect(address.parse().ok()?).await.ok()?;
        let stream = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
        tokio_tungstenite::client_async(request, stream).await.ok()
    };
    let (mut ws, _) = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .ok()??;
    let open = GenericCommand {
        cmd: Some(CommandType::Session as i32),
        op: Some(OpType::Open as i32),
        i: Some(1),
        app_id: Some(APP_ID.into()),
        peer_id: Some(name.into()),
        session_message: Some(SessionCommand::default()),
        ..Default::default()
    };
    let opened = ws_request(&mut ws, &open).await?;
    (opened.op == Some(OpType::Opened as i32)).then_some(ws)
}

/// A raw WebSocket sender (protobuf, as the SDKs speak it): logs in as `name`, sends
/// `direct` messages to `conv` and records each ack without an error code; reconnects after
/// every crash.
pub async fn ws_sender(
    base: String,
    name: String,
    conv: String,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0u64;
    let mut i = 1;
    while !stop.load(Ordering::Relaxed) {
        let Some(mut ws) = ws_login(&base, &name).await else {
            ledger.fail();
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            i += 1;
            let text = format!("{name}-{n}");
            let direct = GenericCommand {
                cmd: Some(CommandType::Direct as i32),
                i: Some(i),
                direct_message: Some(DirectCommand {
                    cid: Some(conv.clone()),
                    msg: Some(text.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let Some(ack) = ws_request(&mut ws, &direct).await else {
                ledger.fail();
                break;
            };
            match ack.ack_message {
                Some(a) if a.code.is_none() && a.uid.is_some() => {
                    ledger.ack(&conv, a.uid.as_deref().unwrap_or_default(), text)
                }
                _ => ledger.fail(),
            }
        }
    }
}
