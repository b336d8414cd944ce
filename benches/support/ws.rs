//! WebSocket clients for the benchmarks: protobuf logins in bulk and request/reply.

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use std::time::Duration;
use tidings::proto::{CommandType, GenericCommand, OpType, SessionCommand};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

pub async fn connect(url: &str, client: &str) -> Result<Socket> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("lc.protobuf2.3"),
    );
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(client_config()), true).await?;
    let mut open = command(CommandType::Session, Some(OpType::Open), 1);
    open.app_id = Some(super::APP_ID.into());
    open.peer_id = Some(client.into());
    open.session_message = Some(SessionCommand::default());
    socket
        .send(Message::Binary(open.encode_to_vec().into()))
        .await?;
    let reply = reply_to(&mut socket, 1).await?;
    if reply.op != Some(OpType::Opened as i32) {
        bail!("login of {client} failed: {reply:?}");
    }
    Ok(socket)
}

pub async fn connect_many(url: &str, count: usize) -> Result<Vec<Socket>> {
    let mut sockets = Vec::with_capacity(count);
    let mut batch = Vec::new();
    for index in 0..count {
        let url = url.to_owned();
        batch.push(tokio::spawn(async move {
            connect(&url, &format!("u{index}")).await
        }));
        if batch.len() == 200 || index + 1 == count {
            for task in batch.drain(..) {
                sockets.push(task.await??);
            }
        }
    }
    Ok(sockets)
}

pub fn command(cmd: CommandType, op: Option<OpType>, i: i32) -> GenericCommand {
    GenericCommand {
        cmd: Some(cmd as i32),
        op: op.map(|o| o as i32),
        i: Some(i),
        ..Default::default()
    }
}

pub async fn reply_to(socket: &mut Socket, i: i32) -> Result<GenericCommand> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .context("reply timed out")?;
        let Some(Ok(Message::Binary(bytes))) = frame else {
            bail!("socket ended: {frame:?}")
        };
        let command = GenericCommand::decode(bytes)?;
        if command.i == Some(i) {
            return Ok(command);
        }
    }
}
