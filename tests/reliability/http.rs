//! HTTP deadlines: header-read timeout (slowloris), request timeout, Agora auth before body.

use crate::gateway_support::{Backend, Server, APP_ID, MASTER_KEY};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_TIMEOUT_SECS: u64 = 2;

/// How many trickling connections (`RELIABILITY_SLOWLORIS` overrides; the 2,000).
fn slowloris_count() -> usize {
    std::env::var("RELIABILITY_SLOWLORIS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// Opens a connection that sends a request line and one header line, never finishing.
async fn open_slowloris(addr: std::net::SocketAddr) -> (TcpStream, Instant) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n")
        .await
        .unwrap();
    (tcp, Instant::now())
}

/// Trickles a header line every 500 ms. Returns how long after opening the server closed
/// the connection (None: still open 15 s after opening).
async fn trickle((mut tcp, opened): (TcpStream, Instant)) -> Option<Duration> {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::from_std(opened) + Duration::from_secs(15);
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return None,
            read = tcp.read(&mut buf) => match read {
                // A 408 or a bare close: either way the server let go.
                Ok(0) | Err(_) => return Some(opened.elapsed()),
                Ok(_) => continue,
            },
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                if tcp.write_all(b"X-Trickle: 1\r\n").await.is_err() {
                    return Some(opened.elapsed());
                }
            }
        }
    }
}

/// The slowest of 20 requests from a client whose pool forgets idle connections before the
/// server's keep-alive timeout (the header timeout) closes them, as a client should.
async fn slowest_of_20_requests(server: &Server) -> Duration {
    let http = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let response = http
            .get(format!("http://{}/1.2/rtm/stats", server.addr))
            .header("X-LC-Id", APP_ID)
            .header("X-LC-Key", format!("{MASTER_KEY},master"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        slowest = slowest.max(started.elapsed());
    }
    slowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_within_the_header_timeout_and_do_not_slow_others() {
    let server = Server::start_with(Backend::Sqlite, |config, _| {
        config.http_header_read_timeout_secs = HEADER_TIMEOUT_SECS;
    })
    .await;
    let count = slowloris_count();
    let baseline = slowest_of_20_requests(&server).await;
    // Opened one after another (a burst of thousands of SYNs overflows the listen backlog
    // of any server, which is not what this measures), then all trickle at once.
    let mut opened = Vec::with_capacity(count);
    for _ in 0..count {
        opened.push(open_slowloris(server.addr).await);
    }
    let trickling: Vec<_> = opened
        .into_iter()
        .map(|c| tokio::spawn(trickle(c)))
        .collect();
    let slowest = slowest_of_20_requests(&server).await;
    assert!(
        slowest < baseline.max(Duration::from_millis(100)) * 5,
        "a normal request took {slowest:?} beside {count} slowloris connections (alone: {baseline:?})"
    );
    let mut latest = Duration::ZERO;
    for task in trickling {
        let closed = task.await.unwrap();
        let Some(after) = closed else {
            panic!("a trickling connection was still open after 15 s");
        };
        latest = latest.max(after);
    }
    // The timeout plus scheduling slack for thousands of connections on two shared cores
    // (the trickle loop itself notices within 500 ms); before the fix they stayed open.
    assert!(
        latest <= Duration::from_secs(HEADER_TIMEOUT_SECS + 6),
        "the last slowloris connection closed after {latest:?}"
    );
    eprintln!(
        "slowloris: {count} connections, each closed within {latest:?} of opening; slowest normal request {slowest:?} (alone: {baseline:?})"
    );
    server.stop().await;
}

/// Sends `head` (and no more) on a fresh connection; returns the response's first bytes.
async fn response_to_unfinished(server: &Server, head: String) -> Option<String> {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(6), async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    response.extend_from_slice(&buf[..n]);
                    if response.windows(4).any(|w| w == b"\r\n\r\n") && response.ends_with(b"}") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    (read.is_ok() && !response.is_empty()).then(|| String::from_utf8_lossy(&response).into_owned())
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_fails_with_503_at_the_request_timeout() {
    let server = Server::start_with(Backend::Sqlite, |config, _| {
        config.http_request_timeout_secs = 2;
    })
    .await;
    let started = Instant::now();
    let head = format!(
        "POST /1.2/rtm/conversations HTTP/1.1\r\nHost: x\r\nX-LC-Id: {APP_ID}\r\n\
         X-LC-Key: {MASTER_KEY},master\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"name\":"
    );
    let response = response_to_unfinished(&server, head)
        .await
        .expect("no response within 6 s");
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.contains("\"code\":124"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(4));
    server.stop().await;
}

#[tokio::test]
async fn agora_refuses_an_unauthenticated_upload_before_reading_its_body() {
    let server = Server::start(Backend::Sqlite).await;
    let head = format!(
        "POST /dev/v2/project/{APP_ID}/rtm/users/alice/peer_messages HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/json\r\nContent-Length: 20000000\r\n\r\n"
    );
    let started = Instant::now();
    let response = response_to_unfinished(&server, head)
        .await
        .expect("the server waited for the body before refusing");
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(3));
    server.stop().await;
}
