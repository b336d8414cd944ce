//! WebSocket deadlines and caps: a client that never reads is still closed on time, and the
//! per-IP cap refuses the upgrade. Also the mention lookup's LIKE escaping, seen at login.

use crate::gateway_support::{command, Backend, Server};
use futures_util::SinkExt;
use std::time::{Duration, Instant};
use tidings::gateway::proto::{CommandType, ConvCommand, DirectCommand, OpType};
use tokio_tungstenite::tungstenite::Message;

/// Connects with a 4 KB receive buffer so the server's writes block soon once the client
/// stops reading.
async fn connect_tiny_buffer(
    server: &Server,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(server.ws_url(), tcp)
        .await
        .unwrap();
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_at_the_login_timeout() {
    let server = Server::start_with(Backend::Sqlite, |config, _| {
        config.ws_login_timeout_secs = 2;
        config.ws_write_timeout_secs = 3;
    })
    .await;
    let mut ws = connect_tiny_buffer(&server).await;
    // Garbage frames each earn an error reply the client never reads: the server's write
    // blocks. It must still close at the login timeout, which the client sees as its own
    // writes failing (the server dropped the socket) rather than blocking forever.
    let started = Instant::now();
    let garbage = Message::Binary(vec![0xff, 0xff, 0xff].into());
    let outcome = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            for _ in 0..256 {
                if ws.feed(garbage.clone()).await.is_err() {
                    return;
                }
            }
            // Blocked (Err) means the server stopped reading too: keep trying until it lets go.
            let flushed = tokio::time::timeout(Duration::from_secs(1), ws.flush()).await;
            if let Ok(Err(_)) = flushed {
                return;
            }
        }
    })
    .await;
    assert!(
        outcome.is_ok(),
        "the server kept a never-reading client open 15 s past a 2 s login timeout"
    );
    let closed_after = started.elapsed();
    assert!(closed_after < Duration::from_secs(8), "{closed_after:?}");
    server.stop().await;
}

#[tokio::test]
async fn websocket_connections_are_capped_per_source_ip() {
    let server = Server::start_with(Backend::Sqlite, |config, _| {
        config.ws_max_connections_per_ip = 3;
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(server.connect("lc.protobuf2.3").await);
    }
    let refused = tokio_tungstenite::connect_async(server.ws_url()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
        }
        other => panic!("a fourth connection from one IP was not refused: {other:?}"),
    }
    // A closed connection frees its slot.
    let mut first = open.remove(0);
    first.ws.close(None).await.unwrap();
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if tokio_tungstenite::connect_async(server.ws_url())
            .await
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}

/// `a_c` must not count as mentioned by a mention of `abc`: `_` is a LIKE wildcard.
async fn mention_of_a_lookalike_is_not_a_mention(backend: Backend) {
    let server = Server::start(backend).await;
    let mut alice = server.login("alice").await;
    let mut start = command(CommandType::Conv, Some(OpType::Start));
    start.conv_message = Some(ConvCommand {
        m: vec!["alice".into(), "abc".into(), "a_c".into()],
        ..Default::default()
    });
    let started = alice.request(start).await;
    let cid = started.conv_message.unwrap().cid.unwrap();
    let mut mention = command(CommandType::Direct, None);
    mention.direct_message = Some(DirectCommand {
        cid: Some(cid.clone()),
        msg: Some(r#"{"_lctype":-1,"_lctext":"hi @abc"}"#.into()),
        mention_pids: vec!["abc".into()],
        ..Default::default()
    });
    let ack = alice.request(mention).await;
    assert_eq!(ack.ack_message.and_then(|a| a.code), None);

    let mut lookalike = server.login("a_c").await;
    let unread = lookalike.expect(CommandType::Unread, None).await;
    let tuple = &unread.unread_message.unwrap().convs[0];
    assert_eq!(tuple.cid, cid);
    assert_ne!(tuple.mentioned, Some(true), "a_c was counted as mentioned");
    let mut mentioned = server.login("abc").await;
    let unread = mentioned.expect(CommandType::Unread, None).await;
    assert_eq!(
        unread.unread_message.unwrap().convs[0].mentioned,
        Some(true)
    );
    server.stop().await;
}

#[tokio::test]
async fn mention_of_a_lookalike_is_not_a_mention_sqlite() {
    mention_of_a_lookalike_is_not_a_mention(Backend::Sqlite).await;
}

#[tokio::test]
async fn mention_of_a_lookalike_is_not_a_mention_postgres() {
    mention_of_a_lookalike_is_not_a_mention(Backend::Postgres).await;
}
