//! A LeanCloud chat room for the fan-out benchmarks: created over REST with the master key,
//! joined by logged-in protobuf clients (`conv add` of oneself), sent to over REST.

use super::ws::{command, reply_to, Socket};
use anyhow::{bail, Context, Result};
use futures_util::SinkExt;
use prost::Message as _;
use serde_json::json;
use tidings::proto::{CommandType, ConvCommand, OpType};
use tokio_tungstenite::tungstenite::Message;

/// `POST /1.2/rtm/chatrooms`; the new room's id.
pub async fn create(base: &str) -> Result<String> {
    let client = super::http_client(1)?;
    let response = super::master(client.post(format!("{base}/1.2/rtm/chatrooms")))
        .json(&json!({"name": "bench"}))
        .send()
        .await?;
    let body: serde_json::Value = response.json().await?;
    body["objectId"]
        .as_str()
        .map(str::to_owned)
        .context("chat room id")
}

/// `conv add` of `client` itself to `room`, waiting for the reply.
pub async fn join(socket: &mut Socket, room: &str, client: &str) -> Result<()> {
    let mut add = command(CommandType::Conv, Some(OpType::Add), 2);
    add.peer_id = Some(client.into());
    add.conv_message = Some(ConvCommand {
        cid: Some(room.into()),
        m: vec![client.into()],
        ..Default::default()
    });
    socket
        .send(Message::Binary(add.encode_to_vec().into()))
        .await?;
    reply_to(socket, 2).await.map(|_| ())
}

/// `POST /1.2/rtm/chatrooms/{room}/messages` from `bench` with the master key.
pub async fn send(
    client: &reqwest::Client,
    base: &str,
    room: &str,
    text: &str,
    transient: bool,
) -> Result<()> {
    let url = format!("{base}/1.2/rtm/chatrooms/{room}/messages");
    let body = json!({"from_client": "bench", "message": text, "transient": transient});
    let response = super::master(client.post(url)).json(&body).send().await?;
    if !response.status().is_success() {
        bail!("send failed: {}", response.text().await?);
    }
    Ok(())
}
