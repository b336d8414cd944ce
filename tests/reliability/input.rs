//! U+0000 on every door, and made-up app ids. A NUL used to reach Postgres (which refuses
//! it) inside a group-commit batch and fail every message batched with it; SQLite stored it.

use crate::gateway_support::{command, Backend, Server};
use reqwest::Method;
use serde_json::{json, Value};
use tidings::gateway::proto::{CommandType, ConvCommand, DirectCommand, JsonObjectMessage, OpType};

async fn conversation(server: &Server) -> String {
    let (status, conv) = server
        .rest(
            Method::POST,
            "/1.2/rtm/conversations",
            Some(json!({"name": "nul", "m": ["alice", "bob"], "c": "alice"})),
        )
        .await;
    assert_eq!(status, 200, "{conv}");
    conv["objectId"].as_str().unwrap().to_owned()
}

fn assert_refused((status, body): &(u16, Value)) {
    assert_eq!(*status, 400, "{body}");
    assert_eq!(body["code"], 1, "{body}");
    assert!(body["error"].as_str().unwrap().contains("U+0000"), "{body}");
}

async fn rest_bodies_and_queries_refuse_nul(backend: Backend) {
    let server = Server::start(backend).await;
    let cid = conversation(&server).await;
    let path = format!("/1.2/rtm/conversations/{cid}/messages");
    // Good sends racing bad ones: every good one is stored, every bad one refused alone.
    let mut sends = Vec::new();
    for i in 0..32 {
        let body = json!({"from_client": "alice", "message": format!("good {i}")});
        sends.push(server.rest(Method::POST, &path, Some(body)));
    }
    let bad = [
        json!({"from_client": "alice", "message": "bad\u{0}text"}),
        json!({"from_client": "alice", "message": "ok", "push_data": {"alert": "\u{0}"}}),
        json!({"from_client": "alice\u{0}", "message": "ok"}),
    ];
    let mut refusals = Vec::new();
    for body in bad {
        refusals.push(server.rest(Method::POST, &path, Some(body)));
    }
    let (sent, refused) = futures_util::future::join(
        futures_util::future::join_all(sends),
        futures_util::future::join_all(refusals),
    )
    .await;
    for (status, body) in &sent {
        assert_eq!(*status, 200, "{body}");
    }
    refused.iter().for_each(assert_refused);
    let (status, history) = server
        .rest(Method::GET, &format!("{path}?limit=100"), None)
        .await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history.as_array().map(Vec::len), Some(32), "{history}");

    // Attributes and query parameters too.
    assert_refused(
        &server
            .rest(
                Method::PUT,
                &format!("/1.2/rtm/conversations/{cid}"),
                Some(json!({"name": "\u{0}"})),
            )
            .await,
    );
    assert_refused(
        &server
            .rest(
                Method::GET,
                "/1.2/rtm/conversations?where=%7B%22name%22%3A%22%5Cu0000%22%7D",
                None,
            )
            .await,
    );
    assert_refused(
        &server
            .rest(Method::GET, &format!("{path}?msgid=%00"), None)
            .await,
    );
    server.stop().await;
}

async fn websocket_commands_refuse_nul(backend: Backend) {
    let server = Server::start(backend).await;
    let cid = conversation(&server).await;
    let mut alice = server.login("alice").await;
    let mut send = command(CommandType::Direct, None);
    send.direct_message = Some(DirectCommand {
        cid: Some(cid.clone()),
        msg: Some("{\"_lctype\":-1,\"_lctext\":\"a\u{0}b\"}".into()),
        ..Default::default()
    });
    let ack = alice.request(send.clone()).await;
    assert_eq!(ack.cmd, Some(CommandType::Ack as i32), "{ack:?}");
    assert_eq!(ack.ack_message.unwrap().code, Some(1));
    send.direct_message.as_mut().unwrap().msg = Some("fine".into());
    send.direct_message.as_mut().unwrap().push_data = Some("{\"alert\":\"\u{0}\"}".into());
    let ack = alice.request(send.clone()).await;
    assert_eq!(ack.ack_message.unwrap().code, Some(1));

    let mut start = command(CommandType::Conv, Some(OpType::Start));
    start.conv_message = Some(ConvCommand {
        m: vec!["bob".into()],
        attr: Some(JsonObjectMessage {
            data: "{\"name\":\"\u{0}\"}".into(),
        }),
        ..Default::default()
    });
    let refused = alice.request(start).await;
    assert_eq!(refused.cmd, Some(CommandType::Error as i32), "{refused:?}");
    assert_eq!(refused.error_message.unwrap().code, 1);

    // The connection still works.
    send.direct_message.as_mut().unwrap().push_data = None;
    let ack = alice.request(send).await;
    assert_eq!(ack.ack_message.unwrap().code, None);
    server.stop().await;
}

#[tokio::test]
async fn rest_bodies_and_queries_refuse_nul_sqlite() {
    rest_bodies_and_queries_refuse_nul(Backend::Sqlite).await;
}

#[tokio::test]
async fn rest_bodies_and_queries_refuse_nul_postgres() {
    rest_bodies_and_queries_refuse_nul(Backend::Postgres).await;
}

#[tokio::test]
async fn websocket_commands_refuse_nul_sqlite() {
    websocket_commands_refuse_nul(Backend::Sqlite).await;
}

#[tokio::test]
async fn websocket_commands_refuse_nul_postgres() {
    websocket_commands_refuse_nul(Backend::Postgres).await;
}

/// Resident memory of a process, from `/proc`.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The real binary in its own process, so its memory is measured alone.
#[tokio::test]
async fn a_flood_of_huge_made_up_app_ids_is_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .env("TIDINGS_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "TIDINGS_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("flood.db").display()),
        )
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let before = rss_kib(pid);
    for i in 0..400 {
        let id = format!("{i:04}{}", "x".repeat(200 * 1024));
        let response = http
            .get(format!("{base}/1.2/rtm/conversations"))
            .header("X-LC-Id", id)
            .header("X-LC-Key", "whatever")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
    }
    let grown_mib = rss_kib(pid).saturating_sub(before) / 1024;
    // 400 cached 200 KB ids were 80 MB; transient request buffers are far less.
    assert!(grown_mib < 30, "RSS grew {grown_mib} MiB");
    eprintln!("app-id flood: RSS grew {grown_mib} MiB");
    child.kill().await.unwrap();
}
