//! Soak (documented, not in CI: `#[ignore]`): many WebSocket connections to the real binary
//! with steady traffic for a long time. Reports, every `RELIABILITY_SOAK_REPORT_SECS` (30):
//! the server's RSS, connections alive, unexpected disconnects, delivery latency p50/p99
//! (sender's `direct` to another member's receipt). At the end: RSS drift from the first
//! report after `RELIABILITY_SOAK_WARMUP_SECS` (600: bounded caches filling) to the last,
//! latency drift, and the asserts (no unexpected disconnect, RSS drift
//! under `RELIABILITY_SOAK_MAX_RSS_DRIFT` (0.05)).
//!
//! `scripts/soak.sh` runs it; knobs: `RELIABILITY_SOAK_CONNECTIONS` (10000),
//! `RELIABILITY_SOAK_SECS` (1800), `RELIABILITY_SOAK_SEND_SECS` (10: each connection sends
//! one message that often, to a conversation of 10), `RELIABILITY_SOAK_BIN` (the server
//! binary, e.g. a release build; default the test's own debug build),
//! `RELIABILITY_SOAK_DATABASE_URL` (default a fresh SQLite file).

use super::binary::{create_conversation, env_number, prepare_app, ws_login, Binary};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use prost::Message as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tidings::gateway::proto::{CommandType, DirectCommand, GenericCommand};
use tokio_tungstenite::tungstenite::Message;

const GROUP: usize = 10;

fn micros() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

#[derive(Default)]
struct Stats {
    latencies: Mutex<Vec<u64>>,
    alive: AtomicU64,
    disconnects: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_default()
}

fn percentile(sorted: &[u64], p: usize) -> Duration {
    let index = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    Duration::from_micros(sorted.get(index).copied().unwrap_or_default())
}

/// One member: sends every `every` (first send at a random phase), reads everything.
async fn member(base: String, name: String, cid: String, every: Duration, stats: Arc<Stats>) {
    let Some(mut ws) = ws_login(&base, &name).await else {
        stats.disconnects.fetch_add(1, Ordering::Relaxed);
        return;
    };
    stats.alive.fetch_add(1, Ordering::Relaxed);
    let phase = Duration::from_millis(rand::random::<u64>() % every.as_millis().max(1) as u64);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + phase, every);
    let mut i = 1;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                i += 1;
                let direct = GenericCommand {
                    cmd: Some(CommandType::Direct as i32),
                    i: Some(i),
                    direct_message: Some(DirectCommand {
                        cid: Some(cid.clone()),
                        msg: Some(format!("{}", micros())),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                if ws.send(Message::Binary(direct.encode_to_vec().into())).await.is_err() {
                    break;
                }
                stats.sent.fetch_add(1, Ordering::Relaxed);
            }
            frame = ws.next() => {
                let bytes = match frame {
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(_)) => continue,
                    _ => break,
                };
                let Ok(command) = GenericCommand::decode(bytes.as_ref()) else { continue };
                let sent = command
                    .direct_message
                    .and_then(|d| d.msg)
                    .and_then(|m| m.parse::<u64>().ok());
                if let Some(sent) = sent {
                    stats.received.fetch_add(1, Ordering::Relaxed);
                    stats.latencies.lock().push(micros().saturating_sub(sent));
                }
            }
        }
    }
    stats.alive.fetch_sub(1, Ordering::Relaxed);
    stats.disconnects.fetch_add(1, Ordering::Relaxed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long; run with scripts/soak.sh"]
async fn soak() {
    let connections = env_number("RELIABILITY_SOAK_CONNECTIONS", 10_000) as usize;
    let duration = Duration::from_secs(env_number("RELIABILITY_SOAK_SECS", 1800));
    let every = Duration::from_secs(env_number("RELIABILITY_SOAK_SEND_SECS", 10));
    let report_every = Duration::from_secs(env_number("RELIABILITY_SOAK_REPORT_SECS", 30));
    let max_drift = std::env::var("RELIABILITY_SOAK_MAX_RSS_DRIFT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.05);
    let dir = tempfile::tempdir().unwrap();
    let database_url = std::env::var("RELIABILITY_SOAK_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("soak.db").display()));
    prepare_app(&database_url).await;
    let mut server =
        Binary::start(&database_url, &[("TIDINGS_WS_MAX_CONNECTIONS_PER_IP", "0")]).await;
    let pid = server.pid().unwrap();
    let base = server.base();
    let http = reqwest::Client::new();
    let mut convs = Vec::new();
    for g in 0..connections.div_ceil(GROUP) {
        let members: Vec<String> = (g * GROUP..((g + 1) * GROUP).min(connections))
            .map(|i| format!("soak{i}"))
            .collect();
        convs.push(create_conversation(&http, &base, &format!("soak{g}"), &members).await);
    }
    let stats = Arc::new(Stats::default());
    let connecting = Instant::now();
    for i in 0..connections {
        tokio::spawn(member(
            base.clone(),
            format!("soak{i}"),
            convs[i / GROUP].clone(),
            every,
            Arc::clone(&stats),
        ));
        // About 500 logins/s: a login storm is another test.
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    while (stats.alive.load(Ordering::Relaxed) as usize)
        + (stats.disconnects.load(Ordering::Relaxed) as usize)
        < connections
    {
        assert!(
            connecting.elapsed() < Duration::from_secs(300),
            "connecting took too long"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "soak: {connections} connected in {:?}, RSS {} MiB",
        connecting.elapsed(),
        rss_kib(pid) / 1024
    );
    let started = Instant::now();
    let mut reports: Vec<(u64, Duration, Duration, u64)> = Vec::new();
    while started.elapsed() < duration {
        tokio::time::sleep(report_every).await;
        let mut latencies = std::mem::take(&mut *stats.latencies.lock());
        latencies.sort_unstable();
        let (p50, p99) = (percentile(&latencies, 50), percentile(&latencies, 99));
        let rss = rss_kib(pid);
        eprintln!(
            "soak t={:>5}s RSS {:>6} KiB alive {} disconnects {} sent {} received {} p50 {p50:?} p99 {p99:?}",
            started.elapsed().as_secs(),
            rss,
            stats.alive.load(Ordering::Relaxed),
            stats.disconnects.load(Ordering::Relaxed),
            stats.sent.load(Ordering::Relaxed),
            stats.received.load(Ordering::Relaxed),
        );
        reports.push((rss, p50, p99, started.elapsed().as_secs()));
    }
    // The steady state starts after the warm-up: until then bounded caches are still
    // filling, the largest being the delivery tracker's 512 recent messages per
    // conversation (`store::delivery`), which at one message/s per conversation (10
    // members sending every 10 s) takes 512 s; then the store's page caches.
    let warm_up = env_number("RELIABILITY_SOAK_WARMUP_SECS", 600);
    let steady = reports
        .iter()
        .position(|r| r.3 >= warm_up)
        .unwrap_or(0)
        .min(reports.len() - 1);
    let first = reports[steady];
    let last = reports[reports.len() - 1];
    let drift = (last.0 as f64 - first.0 as f64) / first.0 as f64;
    let from_start = (last.0 as f64 - reports[0].0 as f64) / reports[0].0 as f64;
    eprintln!(
        "soak done: {connections} connections for {:?}: RSS {} KiB at {} s -> {} KiB ({:+.1} %; {:+.1} % from \
         the first report), p99 {:?} -> {:?}, p50 {:?} -> {:?}, unexpected disconnects {}",
        started.elapsed(),
        first.0,
        first.3,
        last.0,
        drift * 100.0,
        from_start * 100.0,
        first.2,
        last.2,
        first.1,
        last.1,
        stats.disconnects.load(Ordering::Relaxed)
    );
    assert_eq!(
        stats.disconnects.load(Ordering::Relaxed),
        0,
        "unexpected disconnects"
    );
    assert!(drift < max_drift, "RSS drifted {:+.1} %", drift * 100.0);
    server.sigkill().await;
}
