//! REST history latency: one conversation holding N messages (default 1,000,000), seeded
//! directly in the database with the server stopped (multi-row `INSERT … SELECT` over a
//! generated series, in transactions of `--chunk` rows; `seq` 1..N, timestamps ascending two
//! messages per millisecond, `conversations.last_seq = N`). Then the real server is started
//! and `GET /1.2/rtm/conversations/{id}/messages?limit=100` is timed sequentially over one
//! keep-alive connection at the newest end, in the middle and at the oldest end, each with a
//! `timestamp` + `msgid` cursor. Every answer is checked (100 items, the expected first id).
//!
//! `cargo bench --bench rest_history -- --backends sqlite,postgres --messages 1000000
//!  --requests 500 --warmup-requests 50`

mod support;

use anyhow::{bail, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Args, Backend, Database, Latencies, Server};

const USAGE: &str = "options (or TIDINGS_BENCH_<OPTION>): --backends sqlite,postgres --messages 1000000 \
--requests 500 --warmup-requests 50 --limit 100 --chunk 100000 --budget 60 (seconds per position at most) \
--pg-url postgres://postgres@127.0.0.1:5432/postgres --server-bin PATH --server-log warn";

/// Seeded message `n` was sent at `BASE_TS + (n - 1) / 2`.
const BASE_TS: i64 = 1_700_000_000_000;

fn timestamp_of(seq: i64) -> i64 {
    BASE_TS + (seq - 1) / 2
}

fn msg_id_of(seq: i64) -> String {
    format!("m{seq:021}")
}

#[derive(Clone)]
struct Settings {
    messages: i64,
    requests: usize,
    warmup: usize,
    limit: i64,
    chunk: i64,
    budget: Duration,
}

struct Position {
    name: String,
    /// Query string after `limit=…`.
    query: String,
    /// The seq of the first (newest-first) item expected.
    first_seq: i64,
    expected_len: usize,
}

struct Measured {
    position: String,
    latencies: Latencies,
    load: String,
}

struct Outcome {
    backend: Backend,
    seed: Duration,
    size: u64,
    rows: Vec<Measured>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.check_bench_mode("rest_history", USAGE) {
        return Ok(());
    }
    let settings = Settings {
        messages: args.number("messages", 1_000_000)?,
        requests: args.number("requests", 500)?,
        warmup: args.number("warmup-requests", 50)?,
        limit: args.number("limit", 100)?,
        chunk: args.number("chunk", 100_000)?,
        budget: args.seconds("budget", 60.0)?,
    };
    if settings.messages < 2 * settings.limit + 2 || settings.limit < 1 || settings.chunk < 1 {
        bail!("--messages must be at least 2 * --limit + 2; --limit and --chunk positive");
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(async_main(args, settings))
}

async fn async_main(args: Args, settings: Settings) -> Result<()> {
    support::header("rest_history", &args);
    println!(
        "messages: {}, page: {}, requests per position: {} (after {} warm-up)",
        support::thousands(settings.messages as u64),
        settings.limit,
        settings.requests,
        settings.warmup
    );
    let args = Arc::new(args);
    let mut outcomes = Vec::new();
    for backend in args.backends()? {
        let (a, s) = (args.clone(), settings.clone());
        outcomes.push(support::with_database(backend, &args, move |db| run(a, s, db)).await?);
    }
    let mut rows = Vec::new();
    for outcome in &mut outcomes {
        for m in &mut outcome.rows {
            rows.push(vec![
                outcome.backend.name().to_owned(),
                m.position.clone(),
                m.latencies.len().to_string(),
                format!("{:.2}", m.latencies.percentile_ms(50.0)),
                format!("{:.2}", m.latencies.percentile_ms(99.0)),
                format!("{:.2}", m.latencies.mean_ms()),
                format!("{:.2}", m.latencies.percentile_ms(100.0)),
                m.load.clone(),
            ]);
        }
    }
    support::print_table(
        &format!(
            "REST history: GET /1.2/rtm/conversations/{{id}}/messages?limit={} over {} messages",
            settings.limit,
            support::thousands(settings.messages as u64)
        ),
        &[
            "backend",
            "position",
            "requests",
            "p50 ms",
            "p99 ms",
            "mean ms",
            "max ms",
            "load (1/5/15)",
        ],
        &rows,
    );
    for o in &outcomes {
        println!(
            "{}: seeded in {:.1} s; database size {:.0} MiB",
            o.backend.name(),
            o.seed.as_secs_f64(),
            o.size as f64 / 1048576.0
        );
    }
    Ok(())
}

async fn run(args: Arc<Args>, settings: Settings, db: Arc<Database>) -> Result<Outcome> {
    let backend = db.backend;
    support::create_app(&args, &db)?;

    // The conversation through the API, so its row is exactly what the server makes.
    let server = Server::start(&args, &db, "create").await?;
    let client = support::http_client(1)?;
    let created = support::master(client.post(format!("{}/1.2/rtm/conversations", server.base)))
        .json(&serde_json::json!({"name": "history-bench", "m": ["alice", "bob"]}))
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?;
    let Some(conv) = created
        .get("objectId")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
    else {
        bail!("creating the conversation: {created}");
    };
    server.stop().await?;

    eprintln!(
        "[{}] seeding {} messages",
        backend.name(),
        support::thousands(settings.messages as u64)
    );
    let seed_started = Instant::now();
    seed(&db, &conv, &settings).await?;
    let seed = seed_started.elapsed();
    let size = db.size_bytes().await?;
    eprintln!("[{}] seeded in {:.1} s", backend.name(), seed.as_secs_f64());

    let server = Server::start(&args, &db, "history").await?;
    let n = settings.messages;
    let limit = settings.limit;
    let cursor = |seq: i64| format!("&timestamp={}&msgid={}", timestamp_of(seq), msg_id_of(seq));
    let page = limit as usize;
    let positions = vec![
        Position {
            name: "newest (no cursor)".into(),
            query: String::new(),
            first_seq: n,
            expected_len: page,
        },
        Position {
            name: "newest end (cursor)".into(),
            query: cursor(n),
            first_seq: n - 1,
            expected_len: page,
        },
        Position {
            name: "middle (cursor)".into(),
            query: cursor(n / 2),
            first_seq: n / 2 - 1,
            expected_len: page,
        },
        Position {
            name: "oldest end (cursor)".into(),
            query: cursor(limit + 1),
            first_seq: limit,
            expected_len: page,
        },
    ];
    let mut rows = Vec::new();
    for position in positions {
        let base = format!(
            "{}/1.2/rtm/conversations/{conv}/messages?limit={limit}{}",
            server.base, position.query
        );
        let expected_first = msg_id_of(position.first_seq);
        let load = support::load_average();
        let latencies = support::timed_gets(
            &client,
            |_| base.clone(),
            settings.warmup,
            settings.requests,
            settings.budget,
            |_, body| {
                let items = body.as_array().map(Vec::as_slice).unwrap_or_default();
                let first = items
                    .first()
                    .and_then(|m| m.get("msg-id"))
                    .and_then(|v| v.as_str());
                if items.len() != position.expected_len || first != Some(expected_first.as_str()) {
                    bail!(
                        "{}: expected {} items from {expected_first}, got {} from {first:?}",
                        position.name,
                        position.expected_len,
                        items.len()
                    );
                }
                Ok(())
            },
        )
        .await?;
        rows.push(Measured {
            position: position.name,
            latencies,
            load,
        });
    }
    server.stop().await?;
    Ok(Outcome {
        backend,
        seed,
        size,
        rows,
    })
}

/// Inserts messages 1..=N of `conv` straight into the database (the server is stopped).
async fn seed(db: &Database, conv: &str, settings: &Settings) -> Result<()> {
    let pool = db.pool(1).await?;
    let columns = "app_id, conv_id, seq, msg_id, timestamp, from_client, data, conv_kind";
    let values = "$1, $2, n, {msg_id}, $5 + (n - 1) / 2, 'sender-' || (n % 10), \
         '{\"_lctype\":-1,\"_lctext\":\"history benchmark message number ' || n || '\"}', 0";
    let sql = match db.backend {
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(n) AS (SELECT $3 UNION ALL SELECT n + 1 FROM s WHERE n < $4) \
             INSERT INTO messages ({columns}) SELECT {} FROM s",
            values.replace("{msg_id}", "printf('m%021d', n)")
        ),
        Backend::Postgres => format!(
            "INSERT INTO messages ({columns}) SELECT {} FROM generate_series($3, $4) AS s(n)",
            values.replace("{msg_id}", "'m' || lpad(n::text, 21, '0')")
        ),
    };
    let mut from = 1;
    while from <= settings.messages {
        let to = (from + settings.chunk - 1).min(settings.messages);
        let mut tx = pool.begin().await?;
        sqlx::query(&sql)
            .bind(support::APP_ID)
            .bind(conv)
            .bind(from)
            .bind(to)
            .bind(BASE_TS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        from = to + 1;
    }
    let done = sqlx::query("UPDATE conversations SET last_seq = $1, last_message_at = $2 WHERE app_id = $3 AND id = $4")
        .bind(settings.messages)
        .bind(timestamp_of(settings.messages))
        .bind(support::APP_ID)
        .bind(conv)
        .execute(&pool)
        .await?;
    if done.rows_affected() != 1 {
        bail!("conversation {conv} not found while seeding");
    }
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM messages WHERE app_id = $1 AND conv_id = $2")
            .bind(support::APP_ID)
            .bind(conv)
            .fetch_one(&pool)
            .await?;
    if count != settings.messages {
        bail!("seeded {count} messages, expected {}", settings.messages);
    }
    support::analyze(&pool, db.backend).await?;
    pool.close().await;
    Ok(())
}
