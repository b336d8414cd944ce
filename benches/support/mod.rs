//! Shared plumbing of the REST benchmarks (`rest_send`, `rest_history`, `member_query`):
//! command-line sizes, a fresh database per backend, the real `tidings` binary as a child
//! process on 127.0.0.1, an HTTP client, latency percentiles and the printed table.
//!
//! Every benchmark talks to loopback only, is bounded in time and count, and stops by itself.
//! Run them with `cargo bench --bench NAME -- --key value ...`; `cargo bench` passes
//! `--bench`, without which (as under `cargo test --all-targets`) a benchmark only says how
//! to run it and exits.

#![allow(dead_code)] // each benchmark uses its own subset

pub mod chatroom;
pub mod fanout;
pub mod pusher;
pub mod ws;

use anyhow::{bail, Context, Result};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection, Executor};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

pub const APP_ID: &str = "benchAppId0000000000000a";
pub const APP_KEY: &str = "benchAppKey000000000000b";
pub const MASTER_KEY: &str = "benchMasterKey000000000c";
/// High enough that the per-minute message quota never refuses a benchmark send.
pub const MESSAGE_RATE_PER_MINUTE: u32 = 100_000_000;

pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

// ---------------------------------------------------------------------------------------
// Arguments

/// `--key value` / `--key=value` arguments, each also settable as `TIDINGS_BENCH_KEY`
/// (upper case, `-` as `_`). Unknown positional arguments (cargo's filter) are ignored.
pub struct Args {
    values: HashMap<String, String>,
    /// Whether cargo ran us as a benchmark (`cargo bench` passes `--bench`).
    pub bench_mode: bool,
}

impl Args {
    pub fn parse() -> Args {
        let mut values = HashMap::new();
        let mut bench_mode = false;
        let mut argv = std::env::args().skip(1).peekable();
        while let Some(arg) = argv.next() {
            if arg == "--bench" {
                bench_mode = true;
                continue;
            }
            let Some(key) = arg.strip_prefix("--") else {
                continue;
            };
            if let Some((k, v)) = key.split_once('=') {
                values.insert(k.to_owned(), v.to_owned());
            } else if argv.peek().is_some_and(|next| !next.starts_with("--")) {
                values.insert(key.to_owned(), argv.next().unwrap_or_default());
            } else {
                values.insert(key.to_owned(), "true".to_owned());
            }
        }
        Args { values, bench_mode }
    }

    pub fn text(&self, key: &str, default: &str) -> String {
        if let Some(v) = self.values.get(key) {
            return v.clone();
        }
        let env = format!(
            "TIDINGS_BENCH_{}",
            key.to_ascii_uppercase().replace('-', "_")
        );
        std::env::var(env).unwrap_or_else(|_| default.to_owned())
    }

    pub fn number<T: FromStr>(&self, key: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        let text = self.text(key, "");
        if text.is_empty() {
            return Ok(default);
        }
        let cleaned = text.replace(['_', ','], "");
        cleaned
            .parse()
            .map_err(|e| anyhow::anyhow!("--{key} {text}: {e}"))
    }

    pub fn seconds(&self, key: &str, default: f64) -> Result<Duration> {
        Ok(Duration::from_secs_f64(self.number(key, default)?))
    }

    pub fn backends(&self) -> Result<Vec<Backend>> {
        self.text("backends", "sqlite,postgres")
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(|b| match b {
                "sqlite" => Ok(Backend::Sqlite),
                "postgres" | "pg" => Ok(Backend::Postgres),
                other => bail!("unknown backend {other} (sqlite, postgres)"),
            })
            .collect()
    }

    /// Prints how to run the benchmark and returns false unless run by `cargo bench`.
    pub fn check_bench_mode(&self, name: &str, usage: &str) -> bool {
        if self.bench_mode {
            return true;
        }
        println!("{name}: a benchmark; run it with `cargo bench --bench {name} -- [options]`.");
        println!("{usage}");
        false
    }
}

// ---------------------------------------------------------------------------------------
// Databases

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A fresh, empty database: a SQLite file in a temporary folder, or
/// `tidings_bench_<random>` on the Postgres server (dropped by [`Database::drop_now`]).
pub struct Database {
    pub backend: Backend,
    pub url: String,
    pg: Option<(String, String)>, // (admin url, database name)
    dir: tempfile::TempDir,
}

impl Database {
    pub async fn fresh(backend: Backend, args: &Args) -> Result<Database> {
        sqlx::any::install_default_drivers();
        let dir = tempfile::Builder::new()
            .prefix("tidings-bench-")
            .tempdir()?;
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                Ok(Database {
                    backend,
                    url,
                    pg: None,
                    dir,
                })
            }
            Backend::Postgres => {
                let admin = args.text("pg-url", DEFAULT_PG_ADMIN_URL);
                let name = format!("tidings_bench_{:016x}", rand::random::<u64>());
                let mut conn = sqlx::AnyConnection::connect(&admin)
                    .await
                    .with_context(|| format!("connecting to {admin}"))?;
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await?;
                conn.close().await?;
                let url = match admin.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => bail!("--pg-url {admin} has no database part"),
                };
                Ok(Database {
                    backend,
                    url,
                    pg: Some((admin, name)),
                    dir,
                })
            }
        }
    }

    /// A pool on the database for seeding and verification (the server may be stopped).
    pub async fn pool(&self, connections: u32) -> Result<AnyPool> {
        let url = match self.backend {
            Backend::Sqlite => format!("{}?mode=rw", self.url),
            Backend::Postgres => self.url.clone(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    if conn.backend_name() == "SQLite" {
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(pool)
    }

    /// Where a server's output goes.
    pub fn log_path(&self, label: &str) -> PathBuf {
        self.dir.path().join(format!("server-{label}.log"))
    }

    /// Drops the Postgres database (the SQLite folder goes with `self`).
    pub async fn drop_now(self) -> Result<()> {
        if let Some((admin, name)) = &self.pg {
            let mut conn = sqlx::AnyConnection::connect(admin).await?;
            conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await?;
            conn.close().await?;
        }
        Ok(())
    }

    /// On-disk size of the SQLite database (with its WAL), or of the Postgres database.
    pub async fn size_bytes(&self) -> Result<u64> {
        match &self.pg {
            None => {
                let mut total = 0;
                for entry in std::fs::read_dir(self.dir.path())? {
                    let entry = entry?;
                    if entry.file_name().to_string_lossy().starts_with("bench.db") {
                        total += entry.metadata()?.len();
                    }
                }
                Ok(total)
            }
            Some((admin, name)) => {
                let mut conn = sqlx::AnyConnection::connect(admin).await?;
                let row: (i64,) = sqlx::query_as(&format!("SELECT pg_database_size('{name}')"))
                    .fetch_one(&mut conn)
                    .await?;
                conn.close().await?;
                Ok(row.0 as u64)
            }
        }
    }
}

/// Runs `body` with a fresh database of `backend` and drops the database afterwards, also
/// when `body` fails or panics.
pub async fn with_database<T, F, Fut>(backend: Backend, args: &Args, body: F) -> Result<T>
where
    F: FnOnce(std::sync::Arc<Database>) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let db = std::sync::Arc::new(Database::fresh(backend, args).await?);
    let outcome = tokio::spawn(body(db.clone())).await;
    let db =
        std::sync::Arc::try_unwrap(db).map_err(|_| anyhow::anyhow!("database still in use"))?;
    if args.text("keep", "") == "true" {
        // `--keep`: leave the database and the server logs for a look afterwards.
        let url = db.url.clone();
        let dir = db.dir.keep();
        eprintln!("kept {url} (server logs in {})", dir.display());
    } else if let Err(err) = db.drop_now().await {
        eprintln!("warning: could not drop the benchmark database: {err:#}");
    }
    match outcome {
        Ok(result) => result,
        Err(join) => bail!("benchmark task failed: {join}"),
    }
}

// ---------------------------------------------------------------------------------------
// The server

/// The `tidings` binary: `--server-bin`, else the one cargo built next to this benchmark.
pub fn server_binary(args: &Args) -> PathBuf {
    let given = args.text("server-bin", "");
    if given.is_empty() {
        PathBuf::from(env!("CARGO_BIN_EXE_tidings"))
    } else {
        PathBuf::from(given)
    }
}

fn tidings_command(args: &Args, db: &Database) -> Command {
    // `--server-cpu 0`: the server runs under `taskset -c 0` (pinned from its first thread).
    let cpu = args.text("server-cpu", "");
    let mut command = if cpu.is_empty() {
        Command::new(server_binary(args))
    } else {
        let mut taskset = Command::new("taskset");
        taskset.args(["-c", &cpu]).arg(server_binary(args));
        taskset
    };
    for (key, _) in std::env::vars() {
        if key.starts_with("TIDINGS_") && !key.starts_with("TIDINGS_BENCH_") {
            command.env_remove(key);
        }
    }
    command
        .env("TIDINGS_DATABASE_URL", &db.url)
        .env("RUST_LOG", args.text("server-log", "warn"))
        .stdin(Stdio::null());
    command
}

/// Creates the benchmark app with the CLI (`tidings app create` / `app set`), which also
/// migrates the fresh database, and lifts its message quota.
pub fn create_app(args: &Args, db: &Database) -> Result<()> {
    let steps: [&[&str]; 2] = [
        &[
            "app",
            "create",
            "--app-id",
            APP_ID,
            "--app-key",
            APP_KEY,
            "--master-key",
            MASTER_KEY,
        ],
        &[
            "app",
            "set",
            APP_ID,
            "message_rate_per_minute",
            &MESSAGE_RATE_PER_MINUTE.to_string(),
        ],
    ];
    for step in steps {
        let out = tidings_command(args, db).args(step).output()?;
        if !out.status.success() {
            bail!(
                "tidings {} failed: {}{}",
                step.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    Ok(())
}

/// The real server binary as a child process on 127.0.0.1, stopped by [`Server::stop`]
/// (SIGTERM, then SIGKILL) or killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Server {
    pub async fn start(args: &Args, db: &Database, label: &str) -> Result<Server> {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
            probe.local_addr()?.port()
        };
        let log = db.log_path(label);
        let file = std::fs::File::create(&log)?;
        let child = tidings_command(args, db)
            .arg("serve")
            .env("TIDINGS_LISTEN", format!("127.0.0.1:{port}"))
            .env("TIDINGS_APP_ID", APP_ID)
            .env("TIDINGS_APP_KEY", APP_KEY)
            .env("TIDINGS_MASTER_KEY", MASTER_KEY)
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {}", server_binary(args).display()))?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let probe = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "server exited at start ({status}); log: {}",
                    server.log_tail()
                );
            }
            if let Ok(resp) = probe.get(format!("{}/readyz", server.base)).send().await {
                if resp.status().is_success() {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                bail!("server not ready after 60 s; log: {}", server.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds (user + system) the server process has used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
    }

    /// The last lines of the server's output.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, waits up to 15 s for a graceful exit, then SIGKILL.
    pub async fn stop(mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("warning: server did not stop within 15 s; killing it");
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP

/// A keep-alive HTTP/1.1 client (its own connection pool), never through a proxy.
pub fn http_client(max_idle: usize) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(max_idle)
        .pool_idle_timeout(Duration::from_secs(120))
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// A request with the master-key headers.
pub fn master(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request
        .header("X-LC-Id", APP_ID)
        .header("X-LC-Key", format!("{MASTER_KEY},master"))
        .header("Content-Type", "application/json")
}

/// `GET url` with the master key; the answer's JSON, or an error naming status and body.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Result<serde_json::Value> {
    let resp = master(client.get(url)).send().await?;
    let status = resp.status();
    let body = resp.bytes().await?;
    if !status.is_success() {
        bail!("GET {url}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(serde_json::from_slice(&body)?)
}

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Numbers and output

/// Latency samples in microseconds.
#[derive(Default, Clone)]
pub struct Latencies {
    samples: Vec<u32>,
}

impl Latencies {
    pub fn with_capacity(n: usize) -> Latencies {
        Latencies {
            samples: Vec::with_capacity(n),
        }
    }

    pub fn record(&mut self, elapsed: Duration) {
        self.samples
            .push(elapsed.as_micros().min(u32::MAX as u128) as u32);
    }

    pub fn merge(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Nearest-rank percentile in milliseconds (`p` in 0..=100).
    pub fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.samples.is_empty() {
            return f64::NAN;
        }
        self.samples.sort_unstable();
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        self.samples[rank.clamp(1, self.samples.len()) - 1] as f64 / 1000.0
    }

    pub fn mean_ms(&self) -> f64 {
        if self.samples.is_empty() {
            return f64::NAN;
        }
        self.samples.iter().map(|&s| s as f64).sum::<f64>() / self.samples.len() as f64 / 1000.0
    }
}

/// `/proc/loadavg`'s three load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// CPU model, cores and memory, for the report.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0);
    format!(
        "{model}, {cores} cores, {:.0} GiB RAM",
        mem_kb as f64 / 1024.0 / 1024.0
    )
}

/// A plain-text table with right-aligned columns (Markdown-compatible).
pub fn print_table(title: &str, headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.len());
            }
        }
    }
    println!();
    println!("{title}");
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:>w$}", w = widths[i]))
            .collect();
        println!("| {} |", parts.join(" | "));
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| format!("{}:", "-".repeat(w + 1)))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in rows {
        line(row.clone());
    }
    println!();
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub fn header(name: &str, args: &Args) {
    println!("== {name}");
    println!("machine: {}", machine());
    println!("server:  {}", server_binary(args).display());
    println!("load:    {} (1/5/15 min) at start", load_average());
}

// ---------------------------------------------------------------------------------------
// Seeding

/// A value of a seeded row.
#[derive(Debug, Clone)]
pub enum Cell {
    Int(i64),
    Text(String),
    Null,
}

/// Inserts `rows` into `table` with multi-row INSERTs of `per_statement` rows, inside the
/// caller's transaction.
pub async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &str,
    columns: &[&str],
    rows: &[Vec<Cell>],
    per_statement: usize,
) -> Result<()> {
    let width = columns.len();
    for chunk in rows.chunks(per_statement.max(1)) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        for r in 0..chunk.len() {
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..width {
                if c > 0 {
                    sql.push(',');
                }
                let _ = write!(sql, "${}", r * width + c + 1);
            }
            sql.push(')');
        }
        let mut query = sqlx::query(&sql);
        for row in chunk {
            if row.len() != width {
                bail!(
                    "a row of {table} has {} cells for {width} columns",
                    row.len()
                );
            }
            for cell in row {
                query = match cell {
                    Cell::Int(v) => query.bind(*v),
                    Cell::Text(v) => query.bind(v.clone()),
                    Cell::Null => query.bind(Option::<String>::None),
                };
            }
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `ANALYZE` on Postgres (what autovacuum does soon after a bulk load); nothing on SQLite,
/// whose deployments carry no statistics unless the server gathers them.
pub async fn analyze(pool: &AnyPool, backend: Backend) -> Result<()> {
    if backend == Backend::Postgres {
        pool.execute("ANALYZE").await?;
    }
    Ok(())
}

/// Pins every thread of this process to `cpu` (a `taskset -c` list) with `taskset -a -p`;
/// threads started afterwards inherit it. Call before starting the async runtime.
pub fn pin_self(cpu: &str) -> Result<()> {
    let pid = std::process::id().to_string();
    let out = Command::new("taskset")
        .args(["-a", "-c", "-p", cpu, &pid])
        .output()
        .context("running taskset (util-linux)")?;
    if !out.status.success() {
        bail!("taskset -c {cpu}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// CPU seconds (user + system) process `pid` has used so far, from `/proc/PID/stat` (the
/// counters `getrusage` reports, in 10 ms ticks).
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU seconds this process has used so far.
pub fn self_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU seconds the whole machine has spent busy (all cores, every process), from
/// `/proc/stat`: everything but idle and I/O wait.
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((total - idle) / 100.0) // USER_HZ
}

/// Sequential timed GETs: `warmup` untimed ones, then up to `count` timed ones, stopping
/// early once `budget` has passed (the result says how many were timed). `urls(i)` gives the
/// i-th URL; `check` validates each answer outside the timed span.
pub async fn timed_gets<U, F>(
    client: &reqwest::Client,
    mut urls: U,
    warmup: usize,
    count: usize,
    budget: Duration,
    mut check: F,
) -> Result<Latencies>
where
    U: FnMut(usize) -> String,
    F: FnMut(usize, &serde_json::Value) -> Result<()>,
{
    let mut latencies = Latencies::with_capacity(count);
    let started = Instant::now();
    for i in 0..warmup + count {
        if started.elapsed() > budget {
            eprintln!(
                "time budget of {budget:?} spent after {} timed requests",
                latencies.len()
            );
            break;
        }
        let url = urls(i);
        let begun = Instant::now();
        let body = get_json(client, &url).await?;
        let elapsed = begun.elapsed();
        check(i, &body)?;
        if i >= warmup {
            latencies.record(elapsed);
        }
    }
    Ok(latencies)
}
