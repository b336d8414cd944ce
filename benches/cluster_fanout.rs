//! Fan-out across nodes (issue 17): 1, 2 and 3 `tidings` binaries on one Postgres and one
//! Redis, `--members` (300) protobuf clients spread round-robin over the nodes, all in one
//! normal conversation; REST sends always go to the first node, so with more nodes more
//! deliveries cross Redis. Measures the time from a send to its last delivery (p50/p99 over
//! `--samples`) and sustained deliveries per second (`--seconds`, `--in-flight` senders).
//! "1 node" runs without Redis (today's single node); "1 node + Redis" shows the bus's cost
//! when every recipient is local.
//!
//! Run: `cargo bench --bench cluster_fanout -- --members 300 --seconds 5`
//! (Redis at `--redis` redis://127.0.0.1:6379).

mod support;

use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use prost::Message as _;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::ws::{connect, Socket};
use support::{Args, Backend, Database, Latencies};
use tidings::proto::GenericCommand;
use tokio_tungstenite::tungstenite::Message;

const USAGE: &str = "options: --members N (300) --samples N (100) --seconds S (5) \
    --in-flight N (8) --redis URL (redis://127.0.0.1:6379) --server-bin PATH";

struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_node(
    args: &Args,
    db: &Database,
    redis: Option<(&str, &str)>,
    id: &str,
) -> Result<Node> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut command = Command::new(support::server_binary(args));
    command
        .arg("serve")
        .env("TIDINGS_DATABASE_URL", &db.url)
        .env("TIDINGS_LISTEN", format!("127.0.0.1:{port}"))
        .env("TIDINGS_APP_ID", support::APP_ID)
        .env("TIDINGS_APP_KEY", support::APP_KEY)
        .env("TIDINGS_MASTER_KEY", support::MASTER_KEY)
        .env("TIDINGS_NODE_ID", id)
        .env("TIDINGS_REDIS_URL", redis.map_or("", |r| r.0))
        .env("TIDINGS_REDIS_PREFIX", redis.map_or("tidings", |r| r.1))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let node = Node {
        child: command.spawn().context("starting tidings")?,
        base: format!("http://127.0.0.1:{port}"),
    };
    let probe = support::http_client(1)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = probe.get(format!("{}/readyz", node.base)).send().await {
            if r.status().is_success() {
                return Ok(node);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("node {id} not ready")
}

struct Counters {
    origin: Instant,
    seen: Vec<AtomicU64>,
    last_ns: Vec<AtomicU64>,
    total: AtomicU64,
}

async fn read_pushes(mut socket: Socket, counters: Arc<Counters>) {
    while let Some(Ok(Message::Binary(bytes))) = socket.next().await {
        counters.total.fetch_add(1, Ordering::Relaxed);
        let Ok(push) = GenericCommand::decode(bytes) else {
            continue;
        };
        let text = push.direct_message.and_then(|d| d.msg).unwrap_or_default();
        if let Some(n) = text.strip_prefix('L').and_then(|n| n.parse::<usize>().ok()) {
            if n < counters.seen.len() {
                let now = counters.origin.elapsed().as_nanos() as u64;
                counters.last_ns[n].fetch_max(now, Ordering::Relaxed);
                counters.seen[n].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn send(client: &reqwest::Client, base: &str, cid: &str, text: &str) -> Result<()> {
    let url = format!("{base}/1.2/rtm/conversations/{cid}/messages");
    let body = json!({"from_client": "bench", "message": text, "no_sync": true});
    let response = support::master(client.post(url)).json(&body).send().await?;
    if !response.status().is_success() {
        bail!("send failed: {}", response.text().await?);
    }
    Ok(())
}

/// One configuration: returns (label, p50 ms, p99 ms, deliveries/s, % crossing nodes).
async fn measure(
    args: &Args,
    db: &Database,
    nodes: usize,
    redis: Option<&str>,
) -> Result<Vec<String>> {
    let members: usize = args.number("members", 300)?;
    let samples: usize = args.number("samples", 100)?;
    let prefix = format!("bench-{}", tidings::domain::ids::random_alphanumeric(8));
    let mut running = Vec::new();
    for i in 0..nodes {
        let id = format!("n{i}");
        running.push(start_node(args, db, redis.map(|r| (r, prefix.as_str())), &id).await?);
    }
    let client = support::http_client(16)?;
    let ids: Vec<String> = (0..members).map(|i| format!("m{i}")).collect();
    let response =
        support::master(client.post(format!("{}/1.2/rtm/conversations", running[0].base)))
            .json(&json!({"name": "fanout", "m": ids}))
            .send()
            .await?;
    let body: serde_json::Value = response.json().await?;
    let cid = body["objectId"]
        .as_str()
        .context("conversation id")?
        .to_owned();
    let counters = Arc::new(Counters {
        origin: Instant::now(),
        seen: (0..samples).map(|_| AtomicU64::new(0)).collect(),
        last_ns: (0..samples).map(|_| AtomicU64::new(0)).collect(),
        total: AtomicU64::new(0),
    });
    for (i, id) in ids.iter().enumerate() {
        let url = running[i % nodes].base.replacen("http://", "ws://", 1);
        let socket = connect(&url, id).await?;
        tokio::spawn(read_pushes(socket, Arc::clone(&counters)));
    }
    // Presence travels with heartbeats: let every node learn the others' sessions.
    tokio::time::sleep(Duration::from_secs(if nodes > 1 { 3 } else { 1 })).await;
    let base = running[0].base.clone();
    let mut latencies = Latencies::with_capacity(samples);
    for n in 0..samples {
        let start = counters.origin.elapsed().as_nanos() as u64;
        send(&client, &base, &cid, &format!("L{n}")).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while counters.seen[n].load(Ordering::Relaxed) < members as u64 {
            if Instant::now() > deadline {
                bail!(
                    "sample {n}: {} of {members}",
                    counters.seen[n].load(Ordering::Relaxed)
                );
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let last = counters.last_ns[n].load(Ordering::Relaxed);
        latencies.record(Duration::from_nanos(last.saturating_sub(start)));
    }
    let seconds = args.seconds("seconds", 5.0)?;
    let in_flight: usize = args.number("in-flight", 8)?;
    let before = counters.total.load(Ordering::Relaxed);
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..in_flight {
        let (client, base, cid, sent) =
            (client.clone(), base.clone(), cid.clone(), Arc::clone(&sent));
        senders.push(tokio::spawn(async move {
            while started.elapsed() < seconds {
                if send(&client, &base, &cid, "T").await.is_ok() {
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
    while counters.total.load(Ordering::Relaxed) - before < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivered = counters.total.load(Ordering::Relaxed) - before;
    let elapsed = started.elapsed().as_secs_f64();
    let label = match (nodes, redis) {
        (1, None) => "1 node".to_owned(),
        (1, Some(_)) => "1 node + Redis".to_owned(),
        (n, _) => format!("{n} nodes"),
    };
    let crossing = 100.0 * (nodes - 1) as f64 / nodes as f64;
    drop(running);
    Ok(vec![
        label,
        format!("{crossing:.0}%"),
        format!("{:.2}", latencies.percentile_ms(50.0)),
        format!("{:.2}", latencies.percentile_ms(99.0)),
        support::thousands(sent.load(Ordering::Relaxed)),
        format!("{:.0}", delivered as f64 / elapsed),
        format!("{}", expected.saturating_sub(delivered)),
    ])
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if !args.check_bench_mode("cluster_fanout", USAGE) {
        return Ok(());
    }
    support::header("cluster_fanout", &args);
    let redis = args.text("redis", "redis://127.0.0.1:6379");
    let db = Database::fresh(Backend::Postgres, &args).await?;
    support::create_app(&args, &db)?;
    let mut rows = Vec::new();
    for (nodes, clustered) in [(1, false), (1, true), (2, true), (3, true)] {
        let redis = clustered.then_some(redis.as_str());
        rows.push(measure(&args, &db, nodes, redis).await?);
    }
    let members: usize = args.number("members", 300)?;
    support::print_table(
        &format!("REST send on node 1 -> {members} members spread over the nodes"),
        &[
            "nodes",
            "deliveries crossing Redis",
            "last delivery p50 ms",
            "p99 ms",
            "sends",
            "deliveries/s",
            "missing",
        ],
        &rows,
    );
    db.drop_now().await?;
    Ok(())
}
