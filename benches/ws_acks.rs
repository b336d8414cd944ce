//! Acks at load: `--members` (500, the member limit) online members of a **normal**
//! conversation, every receiver acknowledging each message the moment it arrives as the
//! Android SDK does (`ack {cid, mid}`), while REST sends arrive at `--rate` messages/s for
//! `--seconds`. Reports deliveries/s, what is missing, and send -> delivery latency
//! (p50/p99/max over every delivery), plus the server's CPU time.
//!
//! `--pin` puts the server on CPU 0 and this process on CPU 1 (`taskset`).
//! Run: `cargo bench --bench ws_acks -- --members 500 --rate 200 --seconds 10 --pin`.

mod support;

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::ws::{command, connect_many, Socket};
use support::{Args, Backend, Database, Latencies, Server};
use tidings::proto::{AckCommand, CommandType, GenericCommand};
use tokio_tungstenite::tungstenite::Message;

const USAGE: &str = "options: --members N (500) --rate MSGS_PER_S (200) --seconds S (10) \
    --backends sqlite|postgres (sqlite) --pin --server-bin PATH";

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if !args.check_bench_mode("ws_acks", USAGE) {
        return Ok(());
    }
    support::header("ws_acks", &args);
    let members: usize = args.number("members", 500)?;
    let rate: u64 = args.number("rate", 200)?;
    let seconds: u64 = args.number("seconds", 10)?;
    let backend = match args.text("backends", "sqlite").as_str() {
        "postgres" => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let db = Database::fresh(backend, &args).await?;
    support::create_app(&args, &db)?;
    let server = Server::start(&args, &db, "acks").await?;
    if args.text("pin", "") == "true" || std::env::args().any(|a| a == "--pin") {
        pin(server.pid(), "0")?;
        pin(std::process::id(), "1")?;
    }
    let result = run(&server, backend, members, rate, seconds).await;
    server.stop().await?;
    db.drop_now().await?;
    result
}

fn pin(pid: u32, cpu: &str) -> Result<()> {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-cp", cpu, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        bail!("taskset failed for {pid}");
    }
    Ok(())
}

struct Shared {
    origin: Instant,
    /// Send start of message n, ns since `origin`.
    sent_ns: Vec<AtomicU64>,
    delivered: AtomicU64,
    /// Set when the run is over: readers stop and hand back their latencies.
    done: std::sync::atomic::AtomicBool,
}

async fn run(
    server: &Server,
    backend: Backend,
    members: usize,
    rate: u64,
    seconds: u64,
) -> Result<()> {
    let url = server.base.replacen("http://", "ws://", 1);
    let sockets = connect_many(&url, members).await?;
    let client = support::http_client(64)?;
    let ids: Vec<String> = (0..members).map(|i| format!("u{i}")).collect();
    let response = support::master(client.post(format!("{}/1.2/rtm/conversations", server.base)))
        .json(&json!({"name": "acks", "m": ids}))
        .send()
        .await?;
    let body: serde_json::Value = response.json().await?;
    let conv = body["objectId"]
        .as_str()
        .context("conversation id")?
        .to_owned();
    let total = (rate * seconds) as usize;
    let shared = Arc::new(Shared {
        origin: Instant::now(),
        sent_ns: (0..total).map(|_| AtomicU64::new(0)).collect(),
        delivered: AtomicU64::new(0),
        done: std::sync::atomic::AtomicBool::new(false),
    });
    let mut readers = Vec::new();
    for socket in sockets {
        readers.push(tokio::spawn(read_and_ack(
            socket,
            conv.clone(),
            Arc::clone(&shared),
            total,
        )));
    }
    let cpu_before = server.cpu_seconds();
    let started = Instant::now();
    let mut every = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    let mut sends = Vec::with_capacity(total);
    let mut late_sends = 0_u64;
    for n in 0..total {
        every.tick().await;
        let (client, url, shared) = (
            client.clone(),
            format!("{}/1.2/rtm/conversations/{conv}/messages", server.base),
            Arc::clone(&shared),
        );
        sends.push(tokio::spawn(async move {
            let at = shared.origin.elapsed().as_nanos() as u64;
            shared.sent_ns[n].store(at, Ordering::Relaxed);
            let body = json!({"from_client": "bench", "message": format!("A{n}")});
            let response = support::master(client.post(url)).json(&body).send().await?;
            if !response.status().is_success() {
                bail!("send failed: {}", response.text().await?);
            }
            anyhow::Ok(shared.origin.elapsed().as_nanos() as u64 - at)
        }));
    }
    let send_secs = started.elapsed().as_secs_f64();
    let mut send_latency = Latencies::with_capacity(total);
    for send in sends {
        let ns = send.await??;
        if ns > 1_000_000_000 / rate.max(1) * 50 {
            late_sends += 1;
        }
        send_latency.record(Duration::from_nanos(ns));
    }
    let expected = (total * members) as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while shared.delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = match (cpu_before, server.cpu_seconds()) {
        (Some(a), Some(b)) => format!("{:.1} s", b - a),
        _ => "-".into(),
    };
    shared.done.store(true, Ordering::Relaxed);
    let mut latency = Latencies::with_capacity(expected as usize);
    for reader in readers {
        if let Ok(Ok(found)) = tokio::time::timeout(Duration::from_secs(2), reader).await {
            latency.merge(found);
        }
    }
    let delivered = shared.delivered.load(Ordering::Relaxed);
    support::print_table(
        &format!(
            "{members} members acking each message, {rate} msgs/s for {seconds} s ({})",
            backend.name()
        ),
        &[
            "sent",
            "deliveries",
            "missing",
            "deliveries/s",
            "delivery p50",
            "p99",
            "max",
            "send p99",
            "server CPU",
            "load",
        ],
        &[vec![
            support::thousands(total as u64),
            support::thousands(delivered),
            support::thousands(expected.saturating_sub(delivered)),
            format!("{:.0}", delivered as f64 / elapsed.max(send_secs)),
            format!("{:.1} ms", latency.percentile_ms(50.0)),
            format!("{:.1} ms", latency.percentile_ms(99.0)),
            format!("{:.1} ms", latency.percentile_ms(100.0)),
            format!("{:.1} ms", send_latency.percentile_ms(99.0)),
            cpu,
            support::load_average(),
        ]],
    );
    if late_sends > 0 {
        println!("{late_sends} sends took over 50 send intervals (the sender was held back)");
    }
    Ok(())
}

/// Reads pushes, acks each at once (Android form), records its latency.
async fn read_and_ack(
    mut socket: Socket,
    conv: String,
    shared: Arc<Shared>,
    total: usize,
) -> Latencies {
    let mut latency = Latencies::with_capacity(total);
    let mut seen = 0;
    while seen < total && !shared.done.load(Ordering::Relaxed) {
        let Ok(next) = tokio::time::timeout(Duration::from_millis(200), socket.next()).await else {
            continue;
        };
        let Some(Ok(frame)) = next else { break };
        let Message::Binary(bytes) = frame else {
            continue;
        };
        let Ok(push) = GenericCommand::decode(bytes) else {
            continue;
        };
        if push.cmd != Some(CommandType::Direct as i32) {
            continue;
        }
        let Some(direct) = push.direct_message else {
            continue;
        };
        let now = shared.origin.elapsed().as_nanos() as u64;
        let n = direct
            .msg
            .as_deref()
            .and_then(|t| t.strip_prefix('A'))
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(n) = n.filter(|n| *n < total) {
            let sent = shared.sent_ns[n].load(Ordering::Relaxed);
            latency.record(Duration::from_nanos(now.saturating_sub(sent)));
            shared.delivered.fetch_add(1, Ordering::Relaxed);
            seen += 1;
        }
        let mut ack = command(CommandType::Ack, None, 0);
        ack.i = None;
        ack.ack_message = Some(AckCommand {
            cid: Some(conv.clone()),
            mid: direct.id,
            ..Default::default()
        });
        if socket
            .send(Message::Binary(ack.encode_to_vec().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    latency
}
