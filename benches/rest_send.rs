//! REST send throughput: N concurrent senders (default 64), each with its own keep-alive
//! HTTP/1.1 client, POST `/1.2/rtm/conversations/{id}/messages` to random conversations
//! among M (default 1,000) on the real server binary, for a warm-up and then a measured
//! window. Reports acknowledged (= persisted: the server answers after the group commit)
//! messages per second and latency percentiles, then stops the server and checks that the
//! database holds exactly the acknowledged messages.
//!
//! `cargo bench --bench rest_send -- --backends sqlite,postgres --senders 64
//!  --conversations 1000 --warmup 2 --duration 10`

mod support;

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Args, Backend, Database, Latencies, Server};

const USAGE: &str = "options (or TIDINGS_BENCH_<OPTION>): --backends sqlite,postgres --senders 64 \
--conversations 1000 --warmup 2 --duration 10 --max-messages 2000000 --client-threads 2 \
--payload-bytes 64 --pg-url postgres://postgres@127.0.0.1:5432/postgres --server-bin PATH --server-log warn";

#[derive(Clone)]
struct Settings {
    senders: usize,
    conversations: usize,
    warmup: Duration,
    duration: Duration,
    max_messages: u64,
    payload_bytes: usize,
}

struct Outcome {
    backend: Backend,
    measured: u64,
    window: Duration,
    latencies: Latencies,
    acked_total: u64,
    errors: u64,
    first_error: Option<String>,
    stored: i64,
    seq_total: i64,
    gapped: i64,
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
    machine_cpu: Option<f64>,
    load: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.check_bench_mode("rest_send", USAGE) {
        return Ok(());
    }
    let settings = Settings {
        senders: args.number("senders", 64)?,
        conversations: args.number("conversations", 1000)?,
        warmup: args.seconds("warmup", 2.0)?,
        duration: args.seconds("duration", 10.0)?,
        max_messages: args.number("max-messages", 2_000_000)?,
        payload_bytes: args.number("payload-bytes", 64)?,
    };
    if settings.senders == 0 || settings.conversations == 0 || settings.duration.is_zero() {
        bail!("--senders, --conversations and --duration must be positive");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.number("client-threads", 2)?)
        .enable_all()
        .build()?;
    runtime.block_on(async_main(args, settings))
}

async fn async_main(args: Args, settings: Settings) -> Result<()> {
    support::header("rest_send", &args);
    println!(
        "senders: {}, conversations: {}, warm-up: {:?}, measured: {:?}, payload: {} bytes, client threads: {}",
        settings.senders,
        settings.conversations,
        settings.warmup,
        settings.duration,
        settings.payload_bytes,
        args.text("client-threads", "2")
    );
    let args = Arc::new(args);
    let mut outcomes = Vec::new();
    for backend in args.backends()? {
        let (args2, settings2) = (args.clone(), settings.clone());
        let outcome =
            support::with_database(backend, &args, move |db| run(args2, settings2, db)).await?;
        outcomes.push(outcome);
    }

    let mut rows = Vec::new();
    let mut failed = false;
    for mut o in outcomes {
        let verified = o.stored as u64 == o.acked_total && o.seq_total == o.stored && o.gapped == 0;
        failed |= !verified || o.errors > 0;
        let secs = o.window.as_secs_f64();
        rows.push(vec![
            o.backend.name().to_owned(),
            settings.senders.to_string(),
            settings.conversations.to_string(),
            format!("{secs:.1}"),
            support::thousands(o.measured),
            format!("{:.0}", o.measured as f64 / secs),
            format!("{:.2}", o.latencies.percentile_ms(50.0)),
            format!("{:.2}", o.latencies.percentile_ms(99.0)),
            format!("{:.2}", o.latencies.percentile_ms(100.0)),
            o.errors.to_string(),
            format!(
                "{}/{}",
                support::thousands(o.stored.max(0) as u64),
                support::thousands(o.acked_total)
            ),
            if verified { "yes".into() } else { "NO".into() },
            o.server_cpu
                .map_or("?".into(), |c| format!("{:.2}", c / secs)),
            o.client_cpu
                .map_or("?".into(), |c| format!("{:.2}", c / secs)),
            o.machine_cpu
                .map_or("?".into(), |c| format!("{:.2}", c / secs)),
            o.load.clone(),
        ]);
        if let Some(err) = &o.first_error {
            println!("{}: first error: {err}", o.backend.name());
        }
    }
    support::print_table(
        "REST send (POST /1.2/rtm/conversations/{id}/messages), persisted",
        &[
            "backend",
            "senders",
            "convs",
            "window s",
            "acked",
            "msgs/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "errors",
            "stored/acked",
            "verified",
            "server cores",
            "client cores",
            "machine busy cores",
            "load (1/5/15)",
        ],
        &rows,
    );
    println!(
        "server / client cores: CPU time of the server process / of this load generator during the \
         window, divided by its length; machine busy cores: the same for every process (database \
         and other users' work included), out of {}.",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    if failed {
        bail!("verification failed or requests were refused");
    }
    Ok(())
}

async fn run(args: Arc<Args>, settings: Settings, db: Arc<Database>) -> Result<Outcome> {
    let backend = db.backend;
    eprintln!(
        "[{}] preparing the database and {} conversations",
        backend.name(),
        settings.conversations
    );
    support::create_app(&args, &db)?;
    let server = Server::start(&args, &db, "send").await?;
    let conversations = create_conversations(&server.base, settings.conversations).await?;

    let payload = "x".repeat(settings.payload_bytes);
    let conversations = Arc::new(conversations);
    let started = Instant::now();
    let measure_from = started + settings.warmup;
    let measure_to = measure_from + settings.duration;
    let acked = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    eprintln!(
        "[{}] {} senders: {:?} warm-up, {:?} measured (load {})",
        backend.name(),
        settings.senders,
        settings.warmup,
        settings.duration,
        support::load_average()
    );

    let mut tasks = Vec::new();
    for sender in 0..settings.senders {
        let client = support::http_client(1)?;
        let base = server.base.clone();
        let conversations = conversations.clone();
        let acked = acked.clone();
        let errors = errors.clone();
        let payload = payload.clone();
        let max = settings.max_messages;
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(sender as u64);
            let mut latencies = Latencies::with_capacity(16_384);
            let mut measured = 0u64;
            let mut first_error = None;
            let from = format!("sender-{sender}");
            let mut n = 0u64;
            while Instant::now() < measure_to && acked.load(Ordering::Relaxed) < max {
                let conv = &conversations[rng.gen_range(0..conversations.len())];
                let url = format!("{base}/1.2/rtm/conversations/{conv}/messages");
                let body = json!({"from_client": from, "message": format!("{n} {payload}")});
                n += 1;
                let begun = Instant::now();
                let result = async {
                    let resp = support::master(client.post(&url))
                        .json(&body)
                        .send()
                        .await?;
                    let status = resp.status();
                    let text = resp.bytes().await?;
                    if !status.is_success() {
                        bail!("{status} {}", String::from_utf8_lossy(&text));
                    }
                    Ok(())
                }
                .await;
                let done = Instant::now();
                match result {
                    Ok(()) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                        if begun >= measure_from && done <= measure_to {
                            measured += 1;
                            latencies.record(done - begun);
                        }
                    }
                    Err(err) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert_with(|| format!("{err:#}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (measured, latencies, first_error)
        }));
    }

    // CPU of the server and of this load generator over the measured window.
    tokio::time::sleep_until(measure_from.into()).await;
    let (server_cpu0, client_cpu0) = (server.cpu_seconds(), support::self_cpu_seconds());
    let machine0 = support::machine_busy_seconds();
    let load = support::load_average();
    tokio::time::sleep_until(measure_to.into()).await;
    let (server_cpu1, client_cpu1) = (server.cpu_seconds(), support::self_cpu_seconds());
    let machine1 = support::machine_busy_seconds();

    let mut latencies = Latencies::default();
    let mut measured = 0;
    let mut first_error = None;
    for task in tasks {
        let (m, l, e) = task.await?;
        measured += m;
        latencies.merge(l);
        if first_error.is_none() {
            first_error = e;
        }
    }
    let window = settings.duration;
    let acked_total = acked.load(Ordering::Relaxed);
    eprintln!(
        "[{}] {} acknowledged; stopping the server to count what is stored",
        backend.name(),
        support::thousands(acked_total)
    );
    server.stop().await?;

    let pool = db.pool(1).await?;
    let (stored,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE app_id = $1")
        .bind(support::APP_ID)
        .fetch_one(&pool)
        .await?;
    let (seq_total,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(last_seq), 0) AS BIGINT) FROM conversations WHERE app_id = $1",
    )
    .bind(support::APP_ID)
    .fetch_one(&pool)
    .await?;
    // Every conversation's messages are exactly seq 1..=last_seq.
    let (gapped,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM conversations c WHERE c.app_id = $1 AND c.last_seq <> \
         (SELECT COUNT(*) FROM messages m WHERE m.app_id = c.app_id AND m.conv_id = c.id AND m.seq BETWEEN 1 AND c.last_seq)",
    )
    .bind(support::APP_ID)
    .fetch_one(&pool)
    .await?;
    pool.close().await;

    Ok(Outcome {
        backend,
        measured,
        window,
        latencies,
        acked_total,
        errors: errors.load(Ordering::Relaxed),
        first_error,
        stored,
        seq_total,
        gapped,
        server_cpu: server_cpu0.zip(server_cpu1).map(|(a, b)| b - a),
        client_cpu: client_cpu0.zip(client_cpu1).map(|(a, b)| b - a),
        machine_cpu: machine0.zip(machine1).map(|(a, b)| b - a),
        load,
    })
}

/// Creates `count` two-member conversations over REST, 16 at a time.
async fn create_conversations(base: &str, count: usize) -> Result<Vec<String>> {
    let client = support::http_client(16)?;
    let mut ids = Vec::with_capacity(count);
    let indexes: Vec<usize> = (0..count).collect();
    for chunk in indexes.chunks(16) {
        let mut pending = Vec::new();
        for &i in chunk {
            let request = support::master(client.post(format!("{base}/1.2/rtm/conversations")))
                .json(&json!({"name": format!("bench-{i}"), "m": [format!("alice-{i}"), format!("bob-{i}")]}));
            pending.push(tokio::spawn(async move {
                let resp = request.send().await?;
                let status = resp.status();
                let body: serde_json::Value = resp.json().await?;
                match body.get("objectId").and_then(|v| v.as_str()) {
                    Some(id) if status.is_success() => Ok(id.to_owned()),
                    _ => bail!("creating a conversation: {status} {body}"),
                }
            }));
        }
        for task in pending {
            ids.push(task.await??);
        }
    }
    Ok(ids)
}
