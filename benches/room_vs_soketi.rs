//! Side by side with Soketi 1.6.1: one REST send to a room of `--members` (2,000) online
//! WebSocket clients, timed from just before the request to the last client's delivery.
//!
//! The same load tool drives both servers. Tidings: protobuf clients log in and join one
//! chat room (as `ws_load`), sends are `POST /1.2/rtm/chatrooms/{id}/messages` (stored, or
//! `transient` with the `tidings-transient` backend). Soketi: Pusher clients connect to
//! `/app/{key}` and subscribe to one public channel, sends are the signed
//! `POST /apps/{id}/events`. Payloads are `--payload` (100) bytes carrying a sample marker;
//! `--samples` (200) sends go one at a time after `--warmup` (10) untimed ones.
//!
//! Placement: the server runs under `taskset -c {--server-cpu}` (0) from its first thread;
//! this process pins itself with `taskset -a -c -p {--load-cpu}` (1) before its (single
//! threaded) runtime starts, so the load tool has exactly one core. Its own CPU per delivery
//! (user + system from /proc/self/stat over the timed window, divided by deliveries) is
//! printed with `members x that`: the time the load tool alone needs to take in one sample's
//! fan-out, a floor under every "last delivery" figure.
//!
//! Soketi comes from `scripts/soketi-install.sh` (npm, under ~/.cache/tidings/soketi) unless
//! `--soketi-entry PATH` names its `bin/server.js`.
//! Run: `cargo bench --bench room_vs_soketi -- --members 2000 --samples 200 --runs 3`.

mod support;

use anyhow::{bail, Context, Result};
use std::sync::Arc;
use support::fanout::{measure, read_frames, Counters, Outcome};
use support::pusher::{self, Soketi};
use support::{Args, Backend, Database, Server};

const USAGE: &str = "options: --members N (2000) --samples N (200) --warmup N (10) --runs N (1) \
    --backends tidings,tidings-transient,soketi (tidings,soketi) --payload BYTES (100) \
    --gap-ms MS (20) --server-cpu LIST (0) --load-cpu LIST (1; `none` leaves either unpinned) \
    --soketi-entry PATH --server-bin PATH";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Tidings { transient: bool },
    Soketi,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Tidings { transient: false } => "tidings",
            Target::Tidings { transient: true } => "tidings-transient",
            Target::Soketi => "soketi",
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.check_bench_mode("room_vs_soketi", USAGE) {
        return Ok(());
    }
    // Before pinning, so the machine line counts every core.
    support::header("room_vs_soketi", &args);
    // Read by support's server start (`taskset -c`); set before any thread exists.
    let server_cpu = args.text("server-cpu", "0");
    std::env::set_var(
        "TIDINGS_BENCH_SERVER_CPU",
        if server_cpu == "none" {
            ""
        } else {
            &server_cpu
        },
    );
    let load_cpu = args.text("load-cpu", "1");
    if load_cpu != "none" {
        support::pin_self(&load_cpu)?;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run_all(args))
}

async fn run_all(args: Args) -> Result<()> {
    let targets = targets(&args)?;
    let runs: usize = args.number("runs", 1)?;
    let server_cpu = args.text("server-cpu", "0");
    println!(
        "pinning: server `taskset -c {server_cpu}`, load tool `taskset -a -c -p {}` (one thread)",
        args.text("load-cpu", "1")
    );
    let entry = if targets.contains(&Target::Soketi) {
        Some(soketi_entry(&args)?)
    } else {
        None
    };
    let mut rows = Vec::new();
    let mut outcomes = Vec::new();
    for run in 1..=runs {
        for &target in &targets {
            let outcome = match target {
                Target::Tidings { transient } => run_tidings(&args, transient).await?,
                Target::Soketi => {
                    let cpu = (server_cpu != "none").then_some(server_cpu.as_str());
                    run_soketi(&args, entry.as_deref().context("soketi entry")?, cpu).await?
                }
            };
            rows.push(row(&outcome, target, run));
            eprintln!("{}", rows.last().map(|r| r.join(" | ")).unwrap_or_default());
            outcomes.push((run, target, outcome));
        }
    }
    support::print_table(
        &format!(
            "REST send -> last delivery, {} online members (ms)",
            args.text("members", "2000")
        ),
        &[
            "backend",
            "run",
            "samples",
            "first p50",
            "last p50",
            "last p99",
            "last max",
            "load tool µs/delivery",
            "load-tool floor ms",
            "server µs/delivery",
            "load avg (1 min) before/after",
        ],
        &rows,
    );
    print_ratios(&outcomes);
    Ok(())
}

fn targets(args: &Args) -> Result<Vec<Target>> {
    args.text("backends", "tidings,soketi")
        .split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| match b {
            "tidings" => Ok(Target::Tidings { transient: false }),
            "tidings-transient" => Ok(Target::Tidings { transient: true }),
            "soketi" => Ok(Target::Soketi),
            other => bail!("unknown backend {other} (tidings, tidings-transient, soketi)"),
        })
        .collect()
}

/// Per run: each Tidings p99 over Soketi's p99 of the same run (target <= 0.5).
fn print_ratios(outcomes: &[(usize, Target, Outcome)]) {
    let mut rows = Vec::new();
    for (run, target, outcome) in outcomes {
        if *target == Target::Soketi {
            continue;
        }
        let soketi = outcomes
            .iter()
            .find(|(r, t, _)| r == run && *t == Target::Soketi);
        if let Some((_, _, soketi)) = soketi {
            let ratio = outcome.last_p99 / soketi.last_p99;
            rows.push(vec![
                target.name().to_owned(),
                run.to_string(),
                format!("{:.2}", outcome.last_p99),
                format!("{:.2}", soketi.last_p99),
                format!("{ratio:.2}"),
                if ratio <= 0.5 { "met" } else { "missed" }.to_owned(),
            ]);
        }
    }
    if !rows.is_empty() {
        support::print_table(
            "p99 against Soketi's in the same run (target: ratio <= 0.50)",
            &[
                "backend",
                "run",
                "p99 ms",
                "soketi p99 ms",
                "ratio",
                "target",
            ],
            &rows,
        );
    }
}

fn soketi_entry(args: &Args) -> Result<String> {
    let given = args.text("soketi-entry", "");
    if !given.is_empty() {
        return Ok(given);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/soketi-install.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running scripts/soketi-install.sh")?;
    if !out.status.success() {
        bail!("scripts/soketi-install.sh failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn run_tidings(args: &Args, transient: bool) -> Result<Outcome> {
    let members: usize = args.number("members", 2_000)?;
    let db = Database::fresh(Backend::Sqlite, args).await?;
    support::create_app(args, &db)?;
    let server = Server::start(args, &db, "room").await?;
    let outcome = tidings_room(args, &server, members, transient).await;
    server.stop().await?;
    db.drop_now().await?;
    outcome
}

async fn tidings_room(
    args: &Args,
    server: &Server,
    members: usize,
    transient: bool,
) -> Result<Outcome> {
    let url = server.base.replacen("http://", "ws://", 1);
    let mut sockets = support::ws::connect_many(&url, members).await?;
    let room = support::chatroom::create(&server.base).await?;
    for (index, socket) in sockets.iter_mut().enumerate() {
        support::chatroom::join(socket, &room, &format!("u{index}")).await?;
    }
    let counters = Arc::new(Counters::new(args, members)?);
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|s| tokio::spawn(read_frames(s, Arc::clone(&counters))))
        .collect();
    let client = support::http_client(2)?;
    let base = server.base.clone();
    let outcome = measure(args, &counters, server.pid(), |text| {
        let (client, base, room) = (client.clone(), base.clone(), room.clone());
        async move { support::chatroom::send(&client, &base, &room, &text, transient).await }
    })
    .await;
    for reader in readers {
        reader.abort();
    }
    outcome
}

async fn run_soketi(args: &Args, entry: &str, cpu: Option<&str>) -> Result<Outcome> {
    let members: usize = args.number("members", 2_000)?;
    let dir = tempfile::Builder::new()
        .prefix("tidings-bench-soketi-")
        .tempdir()?;
    let soketi = Soketi::start(std::path::Path::new(entry), dir.path(), cpu).await?;
    let ws_base = soketi.base.replacen("http://", "ws://", 1);
    let sockets = pusher::subscribe_many(&ws_base, "bench-room", members).await?;
    let counters = Arc::new(Counters::new(args, members)?);
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|s| tokio::spawn(read_frames(s, Arc::clone(&counters))))
        .collect();
    let client = support::http_client(2)?;
    let base = soketi.base.clone();
    let outcome = measure(args, &counters, soketi.pid(), |text| {
        let (client, base) = (client.clone(), base.clone());
        async move { pusher::trigger(&client, &base, "bench-room", &text).await }
    })
    .await;
    for reader in readers {
        reader.abort();
    }
    soketi.stop()?;
    outcome
}

fn row(outcome: &Outcome, target: Target, run: usize) -> Vec<String> {
    vec![
        target.name().to_owned(),
        run.to_string(),
        outcome.samples.to_string(),
        format!("{:.2}", outcome.first_p50),
        format!("{:.2}", outcome.last_p50),
        format!("{:.2}", outcome.last_p99),
        format!("{:.2}", outcome.last_max),
        format!("{:.2}", outcome.load_us_per_delivery),
        format!(
            "{:.1}",
            outcome.load_us_per_delivery * outcome.members as f64 / 1000.0
        ),
        format!("{:.2}", outcome.server_us_per_delivery),
        format!("{} / {}", outcome.load_before, outcome.load_after),
    ]
}
