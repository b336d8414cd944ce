//! Slow consumer: a chat room with many members receiving ~100 messages/s. First a run where
//! every member reads, then one where one member stops reading. The others' delivery p99
//! (REST send to WebSocket receipt) must stay close to the first run's; the slow member is
//! closed by the server (its writes miss `ws_write_timeout_secs` or its queue overflows)
//! and, reconnecting, catches up from history (`logs` from the last message it saw) with
//! nothing missing.
//!
//! Bounded (CI): `RELIABILITY_ROOM_MEMBERS` (50) members, `RELIABILITY_ROOM_RATE` (100)
//! messages/s, `RELIABILITY_ROOM_SECS` (8) s per run, and a loose bound:
//! p99 with the slow member <= `RELIABILITY_ROOM_P99_RATIO` (3.0) x p99 without +
//! `RELIABILITY_ROOM_SLACK_MS` (1000). Loose because a shared 2-core CI machine moves a
//! debug build's p99 by seconds between two runs; it still catches the failure it guards
//! against, fan-out waiting on the stalled socket, which delays every message by the write
//! deadline and grows without bound over the run. Long form (issue 11: 1,000 members, 20 %):
//! `RELIABILITY_ROOM_MEMBERS=1000 RELIABILITY_ROOM_SECS=30 RELIABILITY_ROOM_P99_RATIO=1.2
//! RELIABILITY_ROOM_SLACK_MS=0 RELIABILITY_ROOM_WARMUP_SECS=10 cargo test --release --test
//! reliability slow_consumer -- --nocapture`. The warm-up (`RELIABILITY_ROOM_WARMUP_SECS`,
//! 1 s) is sent first and not measured. With 1,000 members the first run stayed far slower
//! than the second even after 10 s of it (p99 3.1 s against 150 ms, docs/reliability.md):
//! there the bound is met against an inflated baseline, and the second run's own p99 is the
//! figure that shows the room is not held up.

use super::binary::{one_load_test_at_a_time, ws_login, ws_login_with, ws_request, Socket};
use crate::gateway_support::{Backend, Server};
use futures_util::StreamExt;
use parking_lot::Mutex;
use prost::Message as _;
use reqwest::Method;
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tidings::gateway::proto::{CommandType, ConvCommand, GenericCommand, LogsCommand, OpType};
use tokio_tungstenite::tungstenite::Message;

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn micros() -> u64 {
    epoch().elapsed().as_micros() as u64
}

/// What one member received: (run, latency in µs) per message, and the last message seen.
#[derive(Default)]
struct Inbox {
    latencies: Mutex<Vec<(u8, u64)>>,
    texts: Mutex<HashSet<String>>,
    last: Mutex<Option<(i64, String)>>,
    closed: AtomicBool,
}

/// Reads `ws` until it ends; pauses while `paused` is set (the socket is then not read at
/// all, so the kernel buffers fill and the server's writes stall).
async fn read_member(mut ws: Socket, inbox: Arc<Inbox>, paused: Arc<AtomicBool>) {
    loop {
        while paused.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let bytes = match ws.next().await {
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => continue,
        };
        let Ok(command) = GenericCommand::decode(bytes.as_ref()) else {
            continue;
        };
        let Some(direct) = command.direct_message else {
            continue;
        };
        let text = direct.msg.unwrap_or_default();
        // "RUN-N-MICROS-padding"
        let mut parts = text.splitn(4, '-');
        let (Some(run), Some(_), Some(sent)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(run), Ok(sent)) = (run.parse::<u8>(), sent.parse::<u64>()) else {
            continue;
        };
        inbox
            .latencies
            .lock()
            .push((run, micros().saturating_sub(sent)));
        *inbox.last.lock() = Some((
            direct.timestamp.unwrap_or_default(),
            direct.id.unwrap_or_default(),
        ));
        inbox.texts.lock().insert(text);
    }
    inbox.closed.store(true, Ordering::Relaxed);
}

async fn online(server: &Server, client: &str) -> bool {
    let (status, body) = server
        .rest(
            Method::POST,
            "/1.2/rtm/clients/check-online",
            Some(json!({ "client_ids": [client] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["results"]
        .as_array()
        .is_some_and(|ids| ids.iter().any(|id| id == client))
}

async fn join(ws: &mut Socket, cid: &str, name: &str, i: i32) {
    let mut join = crate::gateway_support::command(CommandType::Conv, Some(OpType::Add));
    join.i = Some(i);
    join.conv_message = Some(ConvCommand {
        cid: Some(cid.to_owned()),
        m: vec![name.to_owned()],
        ..Default::default()
    });
    let joined = ws_request(ws, &join).await.expect("join failed");
    assert_eq!(joined.cmd, Some(CommandType::Conv as i32), "{joined:?}");
}

/// Sends `count` messages at `rate`/s, each spawned so a slow one does not delay the next;
/// returns the texts the server acknowledged.
async fn send_run(server: &Server, cid: &str, run: u8, count: u64, rate: f64) -> Vec<String> {
    let padding = "p".repeat(2000);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::new();
    for n in 0..count {
        ticker.tick().await;
        let text = format!("{run}-{n}-{}-{padding}", micros());
        let request = server
            .http
            .post(format!(
                "http://{}/1.2/rtm/chatrooms/{cid}/messages",
                server.addr
            ))
            .header("X-LC-Id", crate::gateway_support::APP_ID)
            .header(
                "X-LC-Key",
                format!("{},master", crate::gateway_support::MASTER_KEY),
            )
            .json(&json!({"from_client": "sender", "message": text}));
        sends.push(tokio::spawn(async move {
            let ok = matches!(request.send().await, Ok(r) if r.status().as_u16() == 200);
            ok.then_some(text)
        }));
    }
    let mut acked = Vec::new();
    for send in sends {
        acked.extend(send.await.unwrap());
    }
    acked
}

fn p99(mut values: Vec<u64>) -> Duration {
    values.sort_unstable();
    let index = (values.len() * 99 / 100).min(values.len().saturating_sub(1));
    Duration::from_micros(values.get(index).copied().unwrap_or_default())
}

/// Waits until every inbox (but `skip`) holds all of `texts`; panics after a minute.
async fn wait_delivered(inboxes: &[Arc<Inbox>], skip: usize, texts: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for (m, inbox) in inboxes.iter().enumerate().filter(|(m, _)| *m != skip) {
        loop {
            let missing = texts
                .iter()
                .filter(|t| !inbox.texts.lock().contains(*t))
                .count();
            if missing == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "member {m} misses {missing} messages"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_reading_does_not_slow_the_room_and_catches_up() {
    let _turn = one_load_test_at_a_time().await;
    let members = env_f64("RELIABILITY_ROOM_MEMBERS", 50.0) as usize;
    let rate = env_f64("RELIABILITY_ROOM_RATE", 100.0);
    let secs = env_f64("RELIABILITY_ROOM_SECS", 8.0);
    let ratio = env_f64("RELIABILITY_ROOM_P99_RATIO", 3.0);
    let slack = Duration::from_millis(env_f64("RELIABILITY_ROOM_SLACK_MS", 1000.0) as u64);
    let count = (rate * secs) as u64;
    let warm_up_count = (rate * env_f64("RELIABILITY_ROOM_WARMUP_SECS", 1.0)).max(1.0) as u64;
    epoch();
    let server = Server::start_with(Backend::Sqlite, |config, _| {
        config.ws_write_timeout_secs = 2;
        config.ws_queue_capacity = 256;
    })
    .await;
    let (status, room) = server
        .rest(
            Method::POST,
            "/1.2/rtm/chatrooms",
            Some(json!({"name": "busy"})),
        )
        .await;
    assert_eq!(status, 200, "{room}");
    let cid = room["objectId"].as_str().unwrap().to_owned();
    let base = format!("http://{}", server.addr);
    let slow = 0;
    let mut inboxes = Vec::new();
    let mut pauses = Vec::new();
    for m in 0..members {
        let name = format!("member{m}");
        // The slow one is on a slow link: a 4 KB receive buffer, so the server's writes
        // stall within a second of it not reading (default buffers take minutes to fill).
        let buffer = (m == slow).then_some(4096);
        let mut ws = ws_login_with(&base, &name, buffer)
            .await
            .expect("login failed");
        join(&mut ws, &cid, &name, 2).await;
        let inbox = Arc::new(Inbox::default());
        let paused = Arc::new(AtomicBool::new(false));
        tokio::spawn(read_member(ws, Arc::clone(&inbox), Arc::clone(&paused)));
        inboxes.push(inbox);
        pauses.push(paused);
    }

    // Warm-up (not measured: first connections, caches, the allocator), then run 1:
    // everyone reads.
    let warm_up = send_run(&server, &cid, 0, warm_up_count, rate).await;
    wait_delivered(&inboxes, usize::MAX, &warm_up).await;
    let sent_1 = send_run(&server, &cid, 1, count, rate).await;
    wait_delivered(&inboxes, usize::MAX, &sent_1).await;
    // Run 2: member 0 stops reading. Sent second by second until the server has closed it
    // (it is then offline) and at least as many messages as run 1 went out.
    pauses[slow].store(true, Ordering::Relaxed);
    let stalled_at = Instant::now();
    let mut sent_2 = Vec::new();
    let mut closed_after = None;
    while closed_after.is_none() || (sent_2.len() as u64) < count {
        assert!(
            stalled_at.elapsed() < Duration::from_secs(120),
            "the slow member was not closed within 120 s"
        );
        sent_2.extend(send_run(&server, &cid, 2, rate as u64, rate).await);
        if closed_after.is_none() && !online(&server, "member0").await {
            closed_after = Some(stalled_at.elapsed());
        }
    }
    let closed_after = closed_after.unwrap_or_default();
    wait_delivered(&inboxes, slow, &sent_2).await;

    let latencies = |run: u8| -> Vec<u64> {
        inboxes
            .iter()
            .enumerate()
            .filter(|(m, _)| *m != slow)
            .flat_map(|(_, inbox)| {
                inbox
                    .latencies
                    .lock()
                    .iter()
                    .filter(|(r, _)| *r == run)
                    .map(|(_, l)| *l)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (p99_1, p99_2) = (p99(latencies(1)), p99(latencies(2)));

    // Closed by the server: once it reads again it finds the end of the stream.
    pauses[slow].store(false, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !inboxes[slow].closed.load(Ordering::Relaxed) {
        assert!(
            Instant::now() < deadline,
            "the slow member's socket did not end"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got_live = inboxes[slow].texts.lock().len();

    // Reconnect and catch up from the last message it saw.
    let name = format!("member{slow}");
    let mut ws = ws_login(&base, &name).await.expect("relogin failed");
    join(&mut ws, &cid, &name, 2).await;
    let mut have: HashSet<String> = inboxes[slow].texts.lock().clone();
    // From a little before the last message it saw: sends of different senders fan out
    // concurrently, so the last frame queued before the cut-off may have overtaken an
    // earlier message that found the queue full (the SDKs resync from the server's
    // positions instead). `have` drops the repeats.
    let mut from = inboxes[slow]
        .last
        .lock()
        .clone()
        .map(|(timestamp, _)| (timestamp - 5_000, String::new()));
    let mut i = 3;
    loop {
        let mut logs = crate::gateway_support::command(CommandType::Logs, None);
        logs.i = Some(i);
        i += 1;
        logs.logs_message = Some(LogsCommand {
            cid: Some(cid.clone()),
            limit: Some(1000),
            t: from.as_ref().map(|f| f.0),
            mid: from
                .as_ref()
                .map(|f| f.1.clone())
                .filter(|mid| !mid.is_empty()),
            direction: Some(tidings::gateway::proto::logs_command::QueryDirection::New as i32),
            ..Default::default()
        });
        let page = ws_request(&mut ws, &logs).await.expect("logs failed");
        let items = page.logs_message.map(|l| l.logs).unwrap_or_default();
        let Some(newest) = items.last() else { break };
        from = Some((
            newest.timestamp.unwrap_or_default(),
            newest.msg_id.clone().unwrap_or_default(),
        ));
        have.extend(items.into_iter().filter_map(|item| item.data));
    }
    let missing = sent_1
        .iter()
        .chain(&sent_2)
        .filter(|t| !have.contains(*t))
        .count();
    eprintln!(
        "slow consumer: {members} members, {rate} msg/s, {count} messages per run; others' \
         p99 {p99_1:?} without, {p99_2:?} with a member not reading; the slow one closed \
         within {closed_after:?} of stalling, having read {got_live} of {} live; missing after \
         catch-up: {missing}",
        warm_up.len() + sent_1.len() + sent_2.len()
    );
    assert_eq!(missing, 0, "the slow member did not catch up");
    assert!(
        got_live < warm_up.len() + sent_1.len() + sent_2.len(),
        "the slow member was not cut off"
    );
    assert!(
        p99_2 <= p99_1.mul_f64(ratio) + slack,
        "p99 {p99_2:?} with a slow member, {p99_1:?} without"
    );
    server.stop().await;
}
