//! `_clientOffline` for sessions ended by a kick, over real WebSocket clients on both
//! stores: a second login with the same single-device `tag` ends the first (closeCode 3,
//! errorCode 4111) and the REST kick E43 ends every session (closeCode 4, the kick's reason
//! as closeMsg, errorCode 4115); each is reported once.

use super::answer;
use super::receiver::{Receiver, HOOK_KEY};
use crate::gateway_support::{self, Client, Server, APP_ID, MASTER_KEY};
use crate::rest::harness::Backend;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use tidings::gateway::proto::{OpType, SessionCommand};

/// The WebSocket harness's name for the store the suite's `on_both!` picked.
fn gateway_backend(backend: Backend) -> gateway_support::Backend {
    match backend {
        Backend::Sqlite => gateway_support::Backend::Sqlite,
        Backend::Postgres => gateway_support::Backend::Postgres,
    }
}

async fn login_with_tag(server: &Server, client: &str, tag: &str) -> Client {
    let mut ws = server.connect("lc.protobuf2.3").await;
    let session = SessionCommand {
        tag: Some(tag.to_owned()),
        ..Default::default()
    };
    let opened = ws.open(client, session).await;
    assert_eq!(opened.op, Some(OpType::Opened as i32), "{opened:?}");
    ws
}

async fn kicks_reach_client_offline_with_their_close_codes(backend: Backend) {
    let receiver = Receiver::start(APP_ID, MASTER_KEY, answer(|_, _| json!({}))).await;
    let url = receiver.url.clone();
    let server = Server::start_with(gateway_backend(backend), |_, settings| {
        settings.hook_url = Some(url);
        settings.hook_key = Some(HOOK_KEY.to_owned());
        settings.hooks = "_clientOffline".to_owned();
    })
    .await;

    // A second login with the same tag ends the first.
    let mut phone = login_with_tag(&server, "alice", "mobile").await;
    let mut tablet = login_with_tag(&server, "alice", "mobile").await;
    assert_eq!(phone.closed().await, Some(4111));
    let calls = receiver.wait_for("_clientOffline", 1).await;
    assert_eq!(calls[0]["peerId"], "alice", "{calls:?}");
    assert_eq!(calls[0]["closeCode"], 3, "{calls:?}");
    assert_eq!(calls[0]["closeMsg"], "SESSION_CONFLICT", "{calls:?}");
    assert_eq!(calls[0]["errorCode"], 4111, "{calls:?}");
    assert_eq!(calls[0]["tag"], "mobile", "{calls:?}");

    // The REST kick ends the other.
    let (status, body) = server
        .rest(
            Method::POST,
            "/1.2/rtm/clients/alice/kick",
            Some(json!({"reason": "banned"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(tablet.closed().await, Some(4115));
    let calls = receiver.wait_for("_clientOffline", 2).await;
    assert_eq!(calls[1]["peerId"], "alice", "{calls:?}");
    assert_eq!(calls[1]["closeCode"], 4, "{calls:?}");
    assert_eq!(calls[1]["closeMsg"], "banned", "{calls:?}");
    assert_eq!(calls[1]["errorCode"], 4115, "{calls:?}");
    assert_eq!(calls[1]["tag"], "mobile", "{calls:?}");

    // Each kick is reported once (not again as a disconnect).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.calls("_clientOffline").len(), 2);
    server.stop().await;
}
on_both!(kicks_reach_client_offline_with_their_close_codes);
