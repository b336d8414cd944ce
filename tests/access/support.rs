//! Small helpers shared by the access-control scenarios.

use crate::gateway_support::{command, Client, Server};
use reqwest::Method;
use serde_json::{json, Value};
use tidings::gateway::proto::{
    CommandType, ConvCommand, DirectCommand, GenericCommand, JsonObjectMessage, LogsCommand, OpType,
};

pub fn start(members: &[&str]) -> GenericCommand {
    let mut start = command(CommandType::Conv, Some(OpType::Start));
    start.conv_message = Some(ConvCommand {
        m: members.iter().map(|m| (*m).to_owned()).collect(),
        attr: Some(JsonObjectMessage {
            data: json!({"name": "private"}).to_string(),
        }),
        ..Default::default()
    });
    start
}

/// Starts a conversation as `client`'s session and returns its id.
pub async fn conversation(client: &mut Client, members: &[&str]) -> String {
    let started = client.request(start(members)).await;
    assert_eq!(started.op, Some(OpType::Started as i32), "{started:?}");
    started.conv_message.unwrap().cid.unwrap()
}

pub fn direct(cid: &str, text: &str) -> GenericCommand {
    let mut send = command(CommandType::Direct, None);
    send.direct_message = Some(DirectCommand {
        cid: Some(cid.to_owned()),
        msg: Some(json!({"_lctype": -1, "_lctext": text}).to_string()),
        ..Default::default()
    });
    send
}

/// The code of a failed `direct` ack (None when it succeeded).
pub async fn send_code(client: &mut Client, send: GenericCommand) -> Option<i32> {
    let ack = client.request(send).await;
    assert_eq!(ack.cmd, Some(CommandType::Ack as i32), "{ack:?}");
    ack.ack_message.unwrap().code
}

/// The code of an `error` reply, or None when the reply is not an error.
pub fn error_code(reply: &GenericCommand) -> Option<i32> {
    (reply.cmd == Some(CommandType::Error as i32))
        .then(|| reply.error_message.as_ref().map(|e| e.code))
        .flatten()
}

pub fn conv_command(op: OpType, body: ConvCommand) -> GenericCommand {
    let mut c = command(CommandType::Conv, Some(op));
    c.conv_message = Some(body);
    c
}

/// A `conv` command naming clients: `add`, `remove`, `add_shutup`, `check_shutup`...
pub fn members_command(op: OpType, cid: &str, ids: &[&str]) -> GenericCommand {
    conv_command(
        op,
        ConvCommand {
            cid: Some(cid.to_owned()),
            m: ids.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        },
    )
}

pub fn logs(cid: &str) -> GenericCommand {
    let mut c = command(CommandType::Logs, None);
    c.logs_message = Some(LogsCommand {
        cid: Some(cid.to_owned()),
        limit: Some(100),
        ..Default::default()
    });
    c
}

/// The texts of a conversation's stored history, read by the admin over REST.
pub async fn history_texts(server: &Server, cid: &str) -> Vec<String> {
    let (status, body) = server
        .rest(
            Method::GET,
            &format!("/1.2/rtm/conversations/{cid}/messages?limit=1000"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let data = m["data"].as_str().unwrap_or_default();
            serde_json::from_str::<Value>(data)
                .ok()
                .and_then(|v| v["_lctext"].as_str().map(str::to_owned))
                .unwrap_or_else(|| data.to_owned())
        })
        .collect()
}

/// Members of a conversation, read by the admin over REST.
pub async fn members(server: &Server, cid: &str) -> Vec<String> {
    let (status, body) = server
        .rest(
            Method::GET,
            &format!("/1.2/rtm/conversations/{cid}/members"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut found: Vec<String> = body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    found.sort();
    found
}

/// Number of conversations of the app, read by the admin.
pub async fn conversation_count(server: &Server) -> i64 {
    let (status, body) = server
        .rest(Method::GET, "/1.2/rtm/all-conversations?limit=1000", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["results"].as_array().unwrap().len() as i64
}
