//! WebSocket load: the real `tidings` binary as a child process on 127.0.0.1, driven by many
//! protobuf WebSocket clients in this process. Three measurements:
//!
//! 1. memory: server RSS growth per idle, logged-in connection (`--connections`, 10,000);
//! 2. latency: a chat room with `--members` (2,000) online; time from one REST send to the
//!    last of its deliveries, p50/p99 over `--samples` sends;
//! 3. throughput: `--seconds` of sustained REST sends of `--payload`-byte messages to the
//!    room (`--in-flight` concurrent), deliveries per second.
//!
//! `ulimit -n` must exceed the connection count in both processes (the server inherits it).
//! Run: `cargo bench --bench ws_load -- --connections 10000 --members 2000`.

mod support;

use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use prost::Message as _;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::ws::{connect_many, Socket};
use support::{Args, Backend, Database, Latencies, Server};
use tidings::proto::GenericCommand;
use tokio_tungstenite::tungstenite::Message;

const USAGE: &str = "options: --connections N (10000) --members N (2000) --samples N (200) \
    --seconds S (10) --payload BYTES (100) --in-flight N (16) --hold-secs S (0) --server-bin PATH";

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if !args.check_bench_mode("ws_load", USAGE) {
        return Ok(());
    }
    support::header("ws_load", &args);
    let connections: usize = args.number("connections", 10_000)?;
    let members: usize = args.number("members", 2_000)?;
    let db = Database::fresh(Backend::Sqlite, &args).await?;
    support::create_app(&args, &db)?;
    let server = Server::start(&args, &db, "ws").await?;
    let result = run(&args, &server, connections, members.min(connections)).await;
    server.stop().await?;
    db.drop_now().await?;
    result
}

async fn run(args: &Args, server: &Server, connections: usize, members: usize) -> Result<()> {
    let url = server.base.replacen("http://", "ws://", 1);
    let before = rss_kb(server.pid())?;
    let started = Instant::now();
    let mut sockets = connect_many(&url, connections).await?;
    let connect_secs = started.elapsed().as_secs_f64();
    // Idle means settled: past one of the server's allocator trims (src/malloc.rs), which
    // hands back what the logins' transient buffers left behind.
    tokio::time::sleep(tidings::malloc::TRIM_INTERVAL + Duration::from_secs(1)).await;
    let after = rss_kb(server.pid())?;
    let per_conn = (after.saturating_sub(before)) as f64 * 1024.0 / connections as f64;
    support::print_table(
        "memory per idle logged-in connection",
        &[
            "connections",
            "RSS before",
            "RSS after",
            "bytes/conn",
            "login time",
        ],
        &[vec![
            support::thousands(connections as u64),
            format!("{} KB", support::thousands(before)),
            format!("{} KB", support::thousands(after)),
            format!("{per_conn:.0}"),
            format!("{connect_secs:.1} s"),
        ]],
    );
    // Keeps every idle connection open a while, so a heap profiler attached to the server
    // (heaptrack, `docs/benchmarks.md`) can snapshot exactly the idle state.
    tokio::time::sleep(args.seconds("hold-secs", 0.0)?).await;
    // Only the room members stay; the rest close. `--members 0` measures memory only.
    sockets.truncate(members);
    if members == 0 {
        return Ok(());
    }
    let room = support::chatroom::create(&server.base).await?;
    for (index, socket) in sockets.iter_mut().enumerate() {
        support::chatroom::join(socket, &room, &format!("u{index}")).await?;
    }
    let counters = Arc::new(Counters::new(args.number("samples", 200)?));
    let mut readers = Vec::new();
    for socket in sockets {
        readers.push(tokio::spawn(read_pushes(socket, Arc::clone(&counters))));
    }
    latency(args, server, &room, members, &counters).await?;
    throughput(args, server, &room, members, &counters).await?;
    for reader in readers {
        reader.abort();
    }
    Ok(())
}

fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("VmRSS value")?
        .parse()?)
}

/// Per latency sample: deliveries seen and the time (ns since `origin`) of the last one;
/// plus every delivery for throughput.
struct Counters {
    origin: Instant,
    seen: Vec<AtomicU64>,
    first_ns: Vec<AtomicU64>,
    last_ns: Vec<AtomicU64>,
    total: AtomicU64,
    closed: AtomicU64,
}

impl Counters {
    fn new(samples: usize) -> Counters {
        Counters {
            origin: Instant::now(),
            seen: (0..samples).map(|_| AtomicU64::new(0)).collect(),
            first_ns: (0..samples).map(|_| AtomicU64::new(u64::MAX)).collect(),
            last_ns: (0..samples).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
            closed: AtomicU64::new(0),
        }
    }
}

/// Counts pushes; latency samples carry `L<n>` as their text, throughput messages `T`.
async fn read_pushes(mut socket: Socket, counters: Arc<Counters>) {
    while let Some(frame) = socket.next().await {
        let Ok(Message::Binary(bytes)) = frame else {
            counters.closed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        counters.total.fetch_add(1, Ordering::Relaxed);
        // Throughput messages are not decoded: only latency samples need their number.
        if bytes.len() < 200 {
            if let Ok(push) = GenericCommand::decode(bytes) {
                let text = push.direct_message.and_then(|d| d.msg).unwrap_or_default();
                if let Some(n) = text.strip_prefix('L').and_then(|n| n.parse::<usize>().ok()) {
                    if n < counters.seen.len() {
                        let now = counters.origin.elapsed().as_nanos() as u64;
                        counters.first_ns[n].fetch_min(now, Ordering::Relaxed);
                        counters.last_ns[n].fetch_max(now, Ordering::Relaxed);
                        counters.seen[n].fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

async fn latency(
    args: &Args,
    server: &Server,
    room: &str,
    members: usize,
    counters: &Counters,
) -> Result<()> {
    let client = support::http_client(4)?;
    let mut rows = Vec::new();
    let samples = counters.seen.len();
    for (label, transient, range) in [
        ("stored", false, 0..samples / 2),
        ("transient", true, samples / 2..samples),
    ] {
        let mut to_last = Latencies::with_capacity(range.len());
        let mut to_first = Latencies::with_capacity(range.len());
        let sends = range.len() as f64;
        let cpu_before = server.cpu_seconds().unwrap_or_default();
        for n in range {
            let start_ns = counters.origin.elapsed().as_nanos() as u64;
            support::chatroom::send(&client, &server.base, room, &format!("L{n}"), transient)
                .await?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while counters.seen[n].load(Ordering::Relaxed) < members as u64 {
                if Instant::now() > deadline {
                    bail!(
                        "sample {n}: {} of {members} deliveries",
                        counters.seen[n].load(Ordering::Relaxed)
                    );
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            let last = counters.last_ns[n].load(Ordering::Relaxed);
            to_last.record(Duration::from_nanos(last.saturating_sub(start_ns)));
            let first = counters.first_ns[n].load(Ordering::Relaxed);
            to_first.record(Duration::from_nanos(first.saturating_sub(start_ns)));
            tokio::time::sleep(Duration::from_millis(args.number("gap-ms", 20)?)).await;
        }
        let cpu = server.cpu_seconds().unwrap_or_default() - cpu_before;
        rows.push(vec![
            label.to_owned(),
            support::thousands(members as u64),
            format!("{:.1}", cpu * 1e6 / (sends * members as f64)),
            to_last.len().to_string(),
            format!("{:.2}", to_first.percentile_ms(50.0)),
            format!("{:.2}", to_first.percentile_ms(99.0)),
            format!("{:.2}", to_last.percentile_ms(50.0)),
            format!("{:.2}", to_last.percentile_ms(99.0)),
        ]);
    }
    support::print_table(
        "REST send -> last delivery in a chat room (ms)",
        &[
            "message",
            "online members",
            "server CPU µs/delivery",
            "sends",
            "first p50",
            "first p99",
            "last p50",
            "last p99",
        ],
        &rows,
    );
    Ok(())
}

async fn throughput(
    args: &Args,
    server: &Server,
    room: &str,
    members: usize,
    counters: &Counters,
) -> Result<()> {
    let seconds = args.seconds("seconds", 10.0)?;
    let payload: usize = args.number("payload", 100)?;
    let in_flight: usize = args.number("in-flight", 16)?;
    let client = support::http_client(in_flight)?;
    let text = format!("T{}", "x".repeat(payload.saturating_sub(1)));
    let mut rows = Vec::new();
    for transient in [false, true] {
        let before = counters.total.load(Ordering::Relaxed);
        let cpu_before = server.cpu_seconds().unwrap_or_default();
        let started = Instant::now();
        let sent = Arc::new(AtomicU64::new(0));
        let mut senders = Vec::new();
        for _ in 0..in_flight {
            let (client, base, room, text, sent) = (
                client.clone(),
                server.base.clone(),
                room.to_owned(),
                text.clone(),
                Arc::clone(&sent),
            );
            senders.push(tokio::spawn(async move {
                let url = format!("{base}/1.2/rtm/chatrooms/{room}/messages");
                let body = json!({"from_client": "bench", "message": text, "transient": transient});
                while started.elapsed() < seconds {
                    let response = support::master(client.post(&url)).json(&body).send().await;
                    if response.is_ok_and(|r| r.status().is_success()) {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for sender in senders {
            sender.await?;
        }
        let expected = sent.load(Ordering::Relaxed) * members as u64;
        let deadline = Instant::now() + Duration::from_secs(30);
        while counters.total.load(Ordering::Relaxed) - before < expected
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let delivered = counters.total.load(Ordering::Relaxed) - before;
        let cpu = server.cpu_seconds().unwrap_or_default() - cpu_before;
        rows.push(vec![
            if transient { "transient" } else { "stored" }.to_owned(),
            support::thousands(sent.load(Ordering::Relaxed)),
            support::thousands(delivered),
            format!("{:.0}", delivered as f64 / elapsed),
            format!("{:.1}", elapsed),
            format!("{:.2}", cpu * 1e6 / delivered.max(1) as f64),
            counters.closed.load(Ordering::Relaxed).to_string(),
        ]);
    }
    support::print_table(
        &format!("fan-out throughput, {payload}-byte messages, {members} members"),
        &[
            "message",
            "sends",
            "deliveries",
            "deliveries/s",
            "seconds",
            "server CPU µs/delivery",
            "clients closed",
        ],
        &rows,
    );
    Ok(())
}
