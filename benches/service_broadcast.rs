//! A service conversation with `--subscribers` (100,000) subscribers, `--online` (10,000) of
//! them connected: per REST broadcast (E35), the time until it is stored (the REST answer) and
//! until the last online subscriber has it, over `--samples` (5) broadcasts.
//!
//! The real `tidings` binary runs as a child process on 127.0.0.1 over a fresh SQLite file;
//! subscriptions are seeded with SQL. `ulimit -n` must exceed `--online` in both processes.
//! Run: `cargo bench --bench service_broadcast -- --subscribers 100000 --online 10000`.

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

const USAGE: &str =
    "options: --subscribers N (100000) --online N (10000) --samples N (5) --server-bin PATH";

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if !args.check_bench_mode("service_broadcast", USAGE) {
        return Ok(());
    }
    support::header("service_broadcast", &args);
    let subscribers: usize = args.number("subscribers", 100_000)?;
    let online: usize = args.number("online", 10_000)?;
    let samples: usize = args.number("samples", 5)?;
    let db = Database::fresh(Backend::Sqlite, &args).await?;
    support::create_app(&args, &db)?;
    let server = Server::start(&args, &db, "broadcast").await?;
    let result = run(&server, &db, subscribers, online.min(subscribers), samples).await;
    server.stop().await?;
    db.drop_now().await?;
    result
}

/// Per sample: deliveries seen and the time (ns since `origin`) of the last one.
struct Arrivals {
    origin: Instant,
    seen: Vec<AtomicU64>,
    last_ns: Vec<AtomicU64>,
}

async fn run(
    server: &Server,
    db: &Database,
    subscribers: usize,
    online: usize,
    samples: usize,
) -> Result<()> {
    let http = support::http_client(4)?;
    let conv = create_service(&http, server).await?;
    let seeded = Instant::now();
    seed_subscriptions(db, &conv, subscribers).await?;
    println!(
        "seeded {subscribers} subscriptions in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let url = server.base.replacen("http://", "ws://", 1);
    let connected = Instant::now();
    // connect_many logs in u0..u{online-1}: all of them subscribers.
    let sockets = connect_many(&url, online).await?;
    println!(
        "{online} subscribers online in {:.1} s",
        connected.elapsed().as_secs_f64()
    );
    let arrivals = Arc::new(Arrivals {
        origin: Instant::now(),
        seen: (0..samples).map(|_| AtomicU64::new(0)).collect(),
        last_ns: (0..samples).map(|_| AtomicU64::new(0)).collect(),
    });
    for socket in sockets {
        tokio::spawn(read_pushes(socket, Arc::clone(&arrivals)));
    }
    let (mut stored, mut delivered) = (
        Latencies::with_capacity(samples),
        Latencies::with_capacity(samples),
    );
    for n in 0..samples {
        let sent_at = arrivals.origin.elapsed();
        let url = format!(
            "{}/1.2/rtm/service-conversations/{conv}/broadcasts",
            server.base
        );
        let response = support::master(http.post(url))
            .json(&json!({"from_client": "news", "message": format!("B{n}")}))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("broadcast failed: {}", response.text().await?);
        }
        stored.record(arrivals.origin.elapsed() - sent_at);
        let deadline = Instant::now() + Duration::from_secs(60);
        while arrivals.seen[n].load(Ordering::Relaxed) < online as u64 {
            if Instant::now() > deadline {
                bail!(
                    "broadcast {n}: only {} of {online} delivered",
                    arrivals.seen[n].load(Ordering::Relaxed)
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let last = Duration::from_nanos(arrivals.last_ns[n].load(Ordering::Relaxed));
        delivered.record(last - sent_at);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("| broadcasts | stored p50 / max (ms) | last of {online} deliveries p50 / max (ms) | load |");
    println!(
        "| {samples} | {:.1} / {:.1} | {:.1} / {:.1} | {} |",
        stored.percentile_ms(50.0),
        stored.percentile_ms(100.0),
        delivered.percentile_ms(50.0),
        delivered.percentile_ms(100.0),
        support::load_average()
    );
    Ok(())
}

async fn create_service(http: &reqwest::Client, server: &Server) -> Result<String> {
    let url = format!("{}/1.2/rtm/service-conversations", server.base);
    let body: serde_json::Value = support::master(http.post(url))
        .json(&json!({"name": "news"}))
        .send()
        .await?
        .json()
        .await?;
    body["objectId"]
        .as_str()
        .map(str::to_owned)
        .context("service conversation id")
}

async fn seed_subscriptions(db: &Database, conv: &str, subscribers: usize) -> Result<()> {
    let pool = db.pool(1).await?;
    let now = tidings::domain::time::now_ms();
    let mut tx = pool.begin().await?;
    for chunk in (0..subscribers).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("('{}', '{conv}', 'u{i}', {now})", support::APP_ID))
            .collect();
        let sql = format!(
            "INSERT INTO subscriptions (app_id, conv_id, client_id, subscribed_at) VALUES {}",
            values.join(",")
        );
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    pool.close().await;
    Ok(())
}

async fn read_pushes(mut socket: Socket, arrivals: Arc<Arrivals>) {
    while let Some(Ok(Message::Binary(bytes))) = socket.next().await {
        let Ok(push) = GenericCommand::decode(bytes) else {
            continue;
        };
        let text = push.direct_message.and_then(|d| d.msg).unwrap_or_default();
        if let Some(n) = text.strip_prefix('B').and_then(|n| n.parse::<usize>().ok()) {
            if n < arrivals.seen.len() {
                let now = arrivals.origin.elapsed().as_nanos() as u64;
                arrivals.last_ns[n].fetch_max(now, Ordering::Relaxed);
                arrivals.seen[n].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
