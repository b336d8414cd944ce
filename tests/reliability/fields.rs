//! Custom conversation fields are capped at 64 KiB of JSON (`app::fields::MAX_ATTRS_BYTES`):
//! `conv update` with `Add` used to grow them without limit, and they are parsed on every
//! send. The edge on both doors: exactly 64 KiB is accepted, one byte more is refused with
//! LeanStorage's 116 "object too large".

use crate::gateway_support::{command, Backend, Server};
use reqwest::Method;
use serde_json::{json, Value};
use tidings::gateway::proto::{CommandType, ConvCommand, JsonObjectMessage, OpType};

const CAP: usize = 64 * 1024;
/// `{"big":"` and `"}` around the value.
const OVERHEAD: usize = 10;

async fn conversation(server: &Server) -> String {
    let (status, conv) = server
        .rest(
            Method::POST,
            "/1.2/rtm/conversations",
            Some(json!({"name": "fields", "m": ["alice", "bob"], "c": "alice"})),
        )
        .await;
    assert_eq!(status, 200, "{conv}");
    conv["objectId"].as_str().unwrap().to_owned()
}

/// The conversation as REST lists it (there is no GET by id).
async fn fetch(server: &Server, cid: &str) -> Value {
    let filter = json!({ "objectId": cid }).to_string();
    let (status, body) = server
        .rest(
            Method::GET,
            &format!("/1.2/rtm/conversations?where={}", urlencode(&filter)),
            None,
        )
        .await;
    assert_eq!(status, 200);
    body["results"][0].clone()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn assert_too_large((status, body): &(u16, Value)) {
    assert_eq!(*status, 400, "{body}");
    assert_eq!(body["code"], 116, "{body}");
    assert!(body["error"].as_str().unwrap().contains("65536"), "{body}");
}

async fn rest_update_is_capped(backend: Backend) {
    let server = Server::start(backend).await;
    let cid = conversation(&server).await;
    let path = format!("/1.2/rtm/conversations/{cid}");
    let (status, body) = server
        .rest(
            Method::PUT,
            &path,
            Some(json!({"big": "x".repeat(CAP - OVERHEAD)})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let conv = fetch(&server, &cid).await;
    assert_eq!(conv["big"].as_str().map(str::len), Some(CAP - OVERHEAD));
    assert_too_large(
        &server
            .rest(
                Method::PUT,
                &path,
                Some(json!({"big": "x".repeat(CAP - OVERHEAD + 1)})),
            )
            .await,
    );
    // Shrinking is always possible, and `Add` stops at the cap.
    let (status, body) = server
        .rest(Method::PUT, &path, Some(json!({"big": {"__op": "Delete"}})))
        .await;
    assert_eq!(status, 200, "{body}");
    let item = "y".repeat(30 * 1024);
    let add = json!({"list": {"__op": "Add", "objects": [item]}});
    for _ in 0..2 {
        let (status, body) = server.rest(Method::PUT, &path, Some(add.clone())).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_too_large(&server.rest(Method::PUT, &path, Some(add)).await);
    // A create over the cap is refused too.
    assert_too_large(
        &server
            .rest(
                Method::POST,
                "/1.2/rtm/conversations",
                Some(json!({"m": ["alice"], "big": "x".repeat(CAP)})),
            )
            .await,
    );
    server.stop().await;
}

fn update(cid: &str, key: &str, value: &str) -> tidings::gateway::proto::GenericCommand {
    let mut update = command(CommandType::Conv, Some(OpType::Update));
    update.conv_message = Some(ConvCommand {
        cid: Some(cid.to_owned()),
        attr: Some(JsonObjectMessage {
            data: json!({ key: value }).to_string(),
        }),
        ..Default::default()
    });
    update
}

/// A WebSocket command is at most 5120 bytes, so the fields grow over 14 updates of keys
/// `k00`..`k13`: `{"k00":"v",...}` takes the values plus 9 bytes per key plus 1.
const PIECE: usize = 4700;
const LAST: usize = CAP - 13 * PIECE - 14 * 9 - 1;

async fn websocket_update_is_capped(backend: Backend) {
    let server = Server::start(backend).await;
    let cid = conversation(&server).await;
    let mut alice = server.login("alice").await;
    for k in 0..14 {
        let size = if k == 13 { LAST } else { PIECE };
        let reply = alice
            .request(update(&cid, &format!("k{k:02}"), &"x".repeat(size)))
            .await;
        assert_eq!(
            reply.op,
            Some(OpType::Updated as i32),
            "update {k}: {:?}",
            reply.error_message
        );
    }
    let refused = alice
        .request(update(&cid, "k13", &"x".repeat(LAST + 1)))
        .await;
    assert_eq!(
        refused.cmd,
        Some(CommandType::Error as i32),
        "{:?}",
        refused.cmd
    );
    assert_eq!(refused.error_message.unwrap().code, 116);
    // Still usable, and the stored fields are the accepted ones.
    let echo = alice.request(command(CommandType::Echo, None)).await;
    assert_eq!(echo.cmd, Some(CommandType::Echo as i32));
    let conv = fetch(&server, &cid).await;
    assert_eq!(conv["k13"].as_str().map(str::len), Some(LAST));
    server.stop().await;
}

#[tokio::test]
async fn custom_fields_are_capped_at_64_kib_over_rest_sqlite() {
    rest_update_is_capped(Backend::Sqlite).await;
}

#[tokio::test]
async fn custom_fields_are_capped_at_64_kib_over_rest_postgres() {
    rest_update_is_capped(Backend::Postgres).await;
}

#[tokio::test]
async fn custom_fields_are_capped_at_64_kib_over_the_websocket_sqlite() {
    websocket_update_is_capped(Backend::Sqlite).await;
}

#[tokio::test]
async fn custom_fields_are_capped_at_64_kib_over_the_websocket_postgres() {
    websocket_update_is_capped(Backend::Postgres).await;
}
