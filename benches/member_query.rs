//! Member query latency: `GET /1.2/rtm/conversations?where={"m":"client-N"}` over C
//! conversations (default 100,000), each with 2..=10 members drawn from a pool of K clients
//! (default 20,000), seeded directly in the database with multi-row INSERTs (server
//! stopped). Then the real server is started and Q queries (default 1,000) for random N are
//! timed sequentially over one keep-alive connection. Every answer is checked against the
//! seeded membership (count, capped at the default page of 100).
//!
//! `cargo bench --bench member_query -- --backends sqlite,postgres --conversations 100000
//!  --clients 20000 --queries 1000`

mod support;

use anyhow::{bail, Result};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Args, Backend, Cell, Database, Latencies, Server};

const USAGE: &str = "options (or TIDINGS_BENCH_<OPTION>): --backends sqlite,postgres --conversations 100000 \
--clients 20000 --min-members 2 --max-members 10 --queries 1000 --warmup-queries 100 --seed 42 --budget 120 (seconds of timed queries at most) \
--pg-url postgres://postgres@127.0.0.1:5432/postgres --server-bin PATH --server-log warn";

const BASE_TS: i64 = 1_700_000_000_000;
/// The default page of a conversation query.
const PAGE: usize = 100;
/// Conversations per seeding transaction.
const PER_TRANSACTION: usize = 10_000;

#[derive(Clone)]
struct Settings {
    conversations: usize,
    clients: usize,
    min_members: usize,
    max_members: usize,
    queries: usize,
    warmup: usize,
    seed: u64,
    budget: Duration,
}

struct Outcome {
    backend: Backend,
    seed: Duration,
    member_rows: usize,
    mean_hits: f64,
    latencies: Latencies,
    load: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.check_bench_mode("member_query", USAGE) {
        return Ok(());
    }
    let settings = Settings {
        conversations: args.number("conversations", 100_000)?,
        clients: args.number("clients", 20_000)?,
        min_members: args.number("min-members", 2)?,
        max_members: args.number("max-members", 10)?,
        queries: args.number("queries", 1000)?,
        warmup: args.number("warmup-queries", 100)?,
        seed: args.number("seed", 42)?,
        budget: args.seconds("budget", 120.0)?,
    };
    if settings.min_members < 1
        || settings.min_members > settings.max_members
        || settings.max_members > settings.clients
    {
        bail!("need 1 <= --min-members <= --max-members <= --clients");
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(async_main(args, settings))
}

async fn async_main(args: Args, settings: Settings) -> Result<()> {
    support::header("member_query", &args);
    println!(
        "conversations: {}, clients: {}, members per conversation: {}..={}, queries: {} (after {} warm-up)",
        support::thousands(settings.conversations as u64),
        support::thousands(settings.clients as u64),
        settings.min_members,
        settings.max_members,
        settings.queries,
        settings.warmup
    );
    let membership = Arc::new(membership(&settings));
    let args = Arc::new(args);
    let mut outcomes = Vec::new();
    for backend in args.backends()? {
        let (a, s, m) = (args.clone(), settings.clone(), membership.clone());
        outcomes.push(support::with_database(backend, &args, move |db| run(a, s, m, db)).await?);
    }
    let mut rows = Vec::new();
    for o in &mut outcomes {
        rows.push(vec![
            o.backend.name().to_owned(),
            support::thousands(settings.conversations as u64),
            support::thousands(o.member_rows as u64),
            o.latencies.len().to_string(),
            format!("{:.1}", o.mean_hits),
            format!("{:.2}", o.latencies.percentile_ms(50.0)),
            format!("{:.2}", o.latencies.percentile_ms(99.0)),
            format!("{:.2}", o.latencies.mean_ms()),
            format!("{:.2}", o.latencies.percentile_ms(100.0)),
            o.load.clone(),
        ]);
    }
    support::print_table(
        "Member query: GET /1.2/rtm/conversations?where={\"m\":\"client-N\"} (default order and page of 100)",
        &["backend", "convs", "member rows", "queries", "hits/query", "p50 ms", "p99 ms", "mean ms", "max ms", "load (1/5/15)"],
        &rows,
    );
    for o in &outcomes {
        println!(
            "{}: seeded in {:.1} s",
            o.backend.name(),
            o.seed.as_secs_f64()
        );
    }
    Ok(())
}

/// Members of each conversation (client numbers), drawn with a fixed seed.
fn membership(settings: &Settings) -> Vec<Vec<usize>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(settings.seed);
    (0..settings.conversations)
        .map(|_| {
            let size = rng.gen_range(settings.min_members..=settings.max_members);
            sample(&mut rng, settings.clients, size).into_vec()
        })
        .collect()
}

fn conv_id(i: usize) -> String {
    format!("{:024x}", 0x6500_0000_0000_0000_0000_0000u128 + i as u128)
}

async fn run(
    args: Arc<Args>,
    settings: Settings,
    membership: Arc<Vec<Vec<usize>>>,
    db: Arc<Database>,
) -> Result<Outcome> {
    let backend = db.backend;
    support::create_app(&args, &db)?;
    eprintln!(
        "[{}] seeding {} conversations",
        backend.name(),
        support::thousands(settings.conversations as u64)
    );
    let started = Instant::now();
    let member_rows = seed(&db, &membership).await?;
    let seed = started.elapsed();
    eprintln!("[{}] seeded in {:.1} s", backend.name(), seed.as_secs_f64());

    let mut per_client = vec![0usize; settings.clients];
    for members in membership.iter() {
        for &m in members {
            per_client[m] += 1;
        }
    }
    let server = Server::start(&args, &db, "query").await?;
    let client = support::http_client(1)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(settings.seed ^ 0x5eed);
    let picks: Vec<usize> = (0..settings.warmup + settings.queries)
        .map(|_| rng.gen_range(0..settings.clients))
        .collect();
    let url = |i: usize| {
        let filter = format!("{{\"m\":\"client-{}\"}}", picks[i]);
        format!(
            "{}/1.2/rtm/conversations?where={}",
            server.base,
            support::encode(&filter)
        )
    };
    let mut hits = 0usize;
    let load = support::load_average();
    let latencies = support::timed_gets(
        &client,
        url,
        settings.warmup,
        settings.queries,
        settings.budget,
        |i, body| {
            let results = body.get("results").and_then(|r| r.as_array()).map(Vec::len);
            let expected = per_client[picks[i]].min(PAGE);
            if results != Some(expected) {
                bail!(
                    "client-{}: expected {expected} conversations, got {results:?}: {body:.200}",
                    picks[i]
                );
            }
            if i >= settings.warmup {
                hits += expected;
            }
            Ok(())
        },
    )
    .await?;
    server.stop().await?;
    Ok(Outcome {
        backend,
        seed,
        member_rows,
        mean_hits: hits as f64 / latencies.len().max(1) as f64,
        latencies,
        load,
    })
}

/// Conversations and members straight into the database; returns the member rows written.
async fn seed(db: &Database, membership: &[Vec<usize>]) -> Result<usize> {
    let pool = db.pool(1).await?;
    let conv_columns = [
        "app_id",
        "id",
        "kind",
        "name",
        "creator",
        // `attrs` is left to its default ('{}'): text on SQLite, jsonb on Postgres, which
        // refuses a text parameter there.
        "member_count",
        "created_at",
        "updated_at",
    ];
    let member_columns = ["app_id", "conv_id", "client_id", "joined_at"];
    let mut member_rows = 0;
    for (chunk_index, chunk) in membership.chunks(PER_TRANSACTION).enumerate() {
        let mut convs = Vec::with_capacity(chunk.len());
        let mut members = Vec::with_capacity(chunk.len() * 6);
        for (offset, clients) in chunk.iter().enumerate() {
            let i = chunk_index * PER_TRANSACTION + offset;
            let at = BASE_TS + i as i64 * 1000;
            let id = conv_id(i);
            convs.push(vec![
                Cell::Text(support::APP_ID.into()),
                Cell::Text(id.clone()),
                Cell::Int(0),
                Cell::Text(format!("conversation {i}")),
                Cell::Text(format!("client-{}", clients[0])),
                Cell::Int(clients.len() as i64),
                Cell::Int(at),
                Cell::Int(at),
            ]);
            for &m in clients {
                members.push(vec![
                    Cell::Text(support::APP_ID.into()),
                    Cell::Text(id.clone()),
                    Cell::Text(format!("client-{m}")),
                    Cell::Int(at),
                ]);
            }
        }
        member_rows += members.len();
        let mut tx = pool.begin().await?;
        support::insert_rows(&mut tx, "conversations", &conv_columns, &convs, 500).await?;
        support::insert_rows(&mut tx, "members", &member_columns, &members, 1000).await?;
        tx.commit().await?;
    }
    support::analyze(&pool, db.backend).await?;
    pool.close().await;
    Ok(member_rows)
}
